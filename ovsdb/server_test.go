package ovsdb

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

func startServer(t *testing.T, dir string, schema []byte) *Server {
	t.Helper()
	srv, err := RunServer(testCtx(t), ServerConfig{DataDir: dir, Schema: schema, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv
}

// connectNB returns a connected Conn with the nb models.
func connectNB(t *testing.T, targets ...Target) *Conn {
	t.Helper()
	m, err := nb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConn(ConnConfig{
		Targets:    targets,
		Model:      m,
		Logger:     testLogger(t),
		MinBackoff: 20 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond,
		Timeout:    2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func waitReady(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case <-c.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("connection not ready after 10s")
	}
	eventually(t, 5*time.Second, "connected", c.Connected)
}

func switchNames(t *testing.T, c *Conn) []string {
	t.Helper()
	var ls []nb.LogicalSwitch
	if err := c.Client().List(testCtx(t), &ls); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range ls {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

func createSwitch(t *testing.T, c *Conn, name string, vni int) {
	t.Helper()
	ops, err := c.Client().Create(&nb.LogicalSwitch{Name: name, Vni: vni, Encap: nb.LogicalSwitchEncapVxlan})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Transact(testCtx(t), c.Client(), ops...); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "switch "+name+" in the cache", func() bool {
		return slices.Contains(switchNames(t, c), name)
	})
}

// rawSelect reads a table with ovsdb-client, independently of libovsdb.
func rawSelect(t *testing.T, target Target, table string, columns ...string) []map[string]any {
	t.Helper()
	q, _ := json.Marshal([]any{"Ferry_Northbound", map[string]any{"op": "select", "table": table, "where": []any{}, "columns": columns}})
	out, err := exec.Command("ovsdb-client", "transact", target.String(), string(q)).CombinedOutput()
	if err != nil {
		t.Fatalf("ovsdb-client transact: %v: %s", err, out)
	}
	var res []struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != 1 {
		t.Fatalf("bad select result %s: %v", out, err)
	}
	return res[0].Rows
}

func TestServerCreateAndReuse(t *testing.T) {
	requireOVS(t)
	dir := filepath.Join(shortTempDir(t), "data") // RunServer creates it
	srv := startServer(t, dir, nb.SchemaJSON)
	if want := "unix:" + filepath.Join(dir, "nb.sock"); srv.Target().String() != want {
		t.Errorf("Target = %s, want %s", srv.Target(), want)
	}
	for _, f := range []string{"nb.db", "nb.ovsschema", "nb.pid", "nb.log", "nb.sock", "nb.ctl"} {
		// The control socket may come a moment after the database socket.
		eventually(t, 5*time.Second, f, func() bool {
			_, err := os.Stat(filepath.Join(dir, f))
			return err == nil
		})
	}
	c := connectNB(t, srv.Target())
	waitReady(t, c)
	createSwitch(t, c, "blue", 100)

	pid := srv.Pid()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	// Stop leaves no process (it was reaped: not even a zombie), no socket
	// and no pidfile.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("ovsdb-server pid %d still exists after Stop: kill(0) = %v", pid, err)
	}
	for _, f := range []string{"nb.sock", "nb.pid"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s left behind after Stop", f)
		}
	}
	select {
	case <-srv.Done():
	default:
		t.Error("Done not closed after Stop")
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	srv2 := startServer(t, dir, nb.SchemaJSON)
	rows := rawSelect(t, srv2.Target(), "Logical_Switch", "name", "vni")
	if len(rows) != 1 || rows[0]["name"] != "blue" || rows[0]["vni"] != float64(100) {
		t.Errorf("after restart Logical_Switch = %v, want blue/100", rows)
	}
}

// schemaVersions returns the version of nb.ovsschema and the next minor
// version, which nbSchemaNext ships.
func schemaVersions(t *testing.T) (cur, next string) {
	t.Helper()
	var s struct{ Version string }
	if err := json.Unmarshal(nb.SchemaJSON, &s); err != nil {
		t.Fatal(err)
	}
	var major, minor, patch int
	if _, err := fmt.Sscanf(s.Version, "%d.%d.%d", &major, &minor, &patch); err != nil {
		t.Fatalf("schema version %q: %v", s.Version, err)
	}
	return s.Version, fmt.Sprintf("%d.%d.0", major, minor+1)
}

// nbSchemaV11 is nb.ovsschema with a new Logical_Switch column and the next
// minor version, as a later ferry would ship it.
func nbSchemaV11(t *testing.T) []byte {
	t.Helper()
	var s map[string]any
	if err := json.Unmarshal(nb.SchemaJSON, &s); err != nil {
		t.Fatal(err)
	}
	_, next := schemaVersions(t)
	s["version"] = next
	cols := s["tables"].(map[string]any)["Logical_Switch"].(map[string]any)["columns"].(map[string]any)
	cols["description"] = map[string]any{"type": "string"}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServerConvertsSchema(t *testing.T) {
	requireOVS(t)
	dir := shortTempDir(t)
	srv := startServer(t, dir, nb.SchemaJSON)
	c := connectNB(t, srv.Target())
	waitReady(t, c)
	createSwitch(t, c, "blue", 100)
	createSwitch(t, c, "red", 200)
	c.Close()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	srv = startServer(t, dir, nbSchemaV11(t))
	rows := rawSelect(t, srv.Target(), "Logical_Switch", "name", "vni", "description")
	got := map[string]any{}
	for _, r := range rows {
		got[r["name"].(string)] = r["vni"]
		if r["description"] != "" {
			t.Errorf("new column of %v = %q, want its default", r["name"], r["description"])
		}
	}
	if len(got) != 2 || got["blue"] != float64(100) || got["red"] != float64(200) {
		t.Errorf("after conversion rows = %v", rows)
	}
	cur, next := schemaVersions(t)
	out, err := exec.Command("ovsdb-tool", "db-version", filepath.Join(dir, "nb.db")).Output()
	if err != nil || strings.TrimSpace(string(out)) != next {
		t.Errorf("db-version = %q, %v; want %s", out, err, next)
	}
	if _, err := os.Stat(filepath.Join(dir, "nb.db."+cur+".bak")); err != nil {
		t.Errorf("no backup of the %s database: %v", cur, err)
	}

	// The 1.0.0 models still work against the newer schema.
	c2 := connectNB(t, srv.Target())
	waitReady(t, c2)
	if names := switchNames(t, c2); !slices.Equal(names, []string{"blue", "red"}) {
		t.Errorf("nb models read %v", names)
	}
	c2.Close()

	// Starting an older ferry on the converted database must not drop the
	// new column's data.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err = RunServer(testCtx(t), ServerConfig{DataDir: dir, Schema: nb.SchemaJSON, Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "refusing to downgrade") {
		t.Errorf("downgrade: %v", err)
	}
}

func TestServerStopsStaleServer(t *testing.T) {
	requireOVS(t)
	dir := shortTempDir(t)
	srv := startServer(t, dir, nb.SchemaJSON)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	// An ovsdb-server that outlived its ferryd: detached, holding the
	// database lock, the pidfile and the socket.
	db := filepath.Join(dir, "nb.db")
	out, err := exec.Command("ovsdb-server", db,
		"--remote=punix:"+filepath.Join(dir, "nb.sock"),
		"--pidfile="+filepath.Join(dir, "nb.pid"),
		"--unixctl="+filepath.Join(dir, "nb.ctl"),
		"--log-file="+filepath.Join(dir, "nb.log"),
		"--no-chdir", "--detach").CombinedOutput()
	if err != nil {
		t.Fatalf("start stale ovsdb-server: %v: %s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "nb.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var stale int
	fmt.Sscan(string(b), &stale)
	t.Cleanup(func() {
		if alive(stale) {
			syscall.Kill(stale, syscall.SIGKILL)
		}
	})
	if !servesDB(stale, db) {
		t.Fatalf("pid %d does not look like the stale server", stale)
	}

	srv = startServer(t, dir, nb.SchemaJSON)
	if alive(stale) {
		t.Errorf("stale ovsdb-server pid %d still running", stale)
	}
	if srv.Pid() == stale {
		t.Fatal("RunServer reused the stale server")
	}
	rawSelect(t, srv.Target(), "Logical_Switch") // the new one serves
}

func TestServerIgnoresUnrelatedPid(t *testing.T) {
	requireOVS(t)
	dir := shortTempDir(t)
	// A pidfile naming a live process that is not our ovsdb-server (a
	// recycled pid) must not get that process killed.
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	if err := os.WriteFile(filepath.Join(dir, "nb.pid"), fmt.Appendf(nil, "%d\n", sleeper.Process.Pid), 0o644); err != nil {
		t.Fatal(err)
	}
	startServer(t, dir, nb.SchemaJSON)
	if !alive(sleeper.Process.Pid) {
		t.Error("RunServer killed an unrelated process named in the pidfile")
	}
}

func TestServerErrors(t *testing.T) {
	requireOVS(t)
	base := shortTempDir(t)
	long := filepath.Join(base, strings.Repeat("d", 100))
	_, err := RunServer(testCtx(t), ServerConfig{DataDir: long, Schema: nb.SchemaJSON})
	if err == nil || !strings.Contains(err.Error(), "use a shorter data directory") {
		t.Errorf("long data dir: %v", err)
	}
	if _, err := os.Stat(long); err == nil {
		t.Error("RunServer created the data directory before refusing it")
	}
	if _, err := RunServer(testCtx(t), ServerConfig{DataDir: base, Schema: []byte("{")}); err == nil {
		t.Error("accepted a broken schema")
	}
	if _, err := RunServer(testCtx(t), ServerConfig{DataDir: base, Schema: nb.SchemaJSON, File: "../x.db"}); err == nil {
		t.Error("accepted a database file outside the data directory")
	}
	// A database of another schema in the way.
	other := shortTempDir(t)
	if out, err := exec.Command("ovsdb-tool", "create", filepath.Join(other, "nb.db"), "/usr/share/openvswitch/vswitch.ovsschema").CombinedOutput(); err != nil {
		t.Skipf("cannot create a vswitch database: %v: %s", err, out)
	}
	_, err = RunServer(testCtx(t), ServerConfig{DataDir: other, Schema: nb.SchemaJSON})
	if err == nil || !strings.Contains(err.Error(), `holds database "Open_vSwitch"`) {
		t.Errorf("foreign database: %v", err)
	}
}

// TestServerDiesWithParent kills a process running RunServer with SIGKILL,
// as a crash would, and expects its ovsdb-server to go too.
func TestServerDiesWithParent(t *testing.T) {
	requireOVS(t)
	dir := shortTempDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerHelperProcess$")
	cmd.Env = append(os.Environ(), "FERRY_OVSDB_HELPER_DIR="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	pids := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var pid int
			if _, err := fmt.Sscanf(sc.Text(), "ovsdb-server pid %d", &pid); err == nil {
				pids <- pid
				return
			}
		}
	}()
	var pid int
	select {
	case pid = <-pids:
	case <-time.After(15 * time.Second):
		t.Fatal("helper did not start ovsdb-server")
	}
	t.Cleanup(func() {
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	if !alive(pid) {
		t.Fatalf("ovsdb-server pid %d not running", pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	eventually(t, 5*time.Second, "ovsdb-server to die with its parent", func() bool { return !alive(pid) })
}

// TestServerHelperProcess is the parent killed by TestServerDiesWithParent.
func TestServerHelperProcess(t *testing.T) {
	dir := os.Getenv("FERRY_OVSDB_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestServerDiesWithParent")
	}
	srv, err := RunServer(testCtx(t), ServerConfig{DataDir: dir, Schema: nb.SchemaJSON})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Churn threads the way netns code does (goroutines that exit locked
	// to their thread make Go terminate the thread): the server must
	// survive that and die only with the process.
	for range 20 {
		done := make(chan struct{})
		go func() {
			lockThreadAndExit()
			close(done)
		}()
		<-done
	}
	time.Sleep(200 * time.Millisecond)
	if !alive(srv.Pid()) {
		fmt.Fprintln(os.Stderr, "ovsdb-server died with a thread")
		os.Exit(1)
	}
	fmt.Printf("ovsdb-server pid %d\n", srv.Pid())
	time.Sleep(time.Minute)
	os.Exit(0)
}

// lockThreadAndExit returns with the calling goroutine locked to its
// thread; when that goroutine exits, Go terminates the thread.
func lockThreadAndExit() { runtime.LockOSThread() }
