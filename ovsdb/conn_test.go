package ovsdb

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// kicked waits for a value on ch.
func kicked(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("no notification for %s", what)
	}
}

// drain empties ch and waits until nothing more arrives for a while, so
// that the next value is caused by what the test does next.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(200 * time.Millisecond):
			return
		}
	}
}

func ovsdbClientTransact(t *testing.T, target Target, ops string) {
	t.Helper()
	out, err := exec.Command("ovsdb-client", "transact", target.String(), `["Ferry_Northbound",`+ops+`]`).CombinedOutput()
	if err != nil || strings.Contains(string(out), `"error"`) {
		t.Fatalf("ovsdb-client transact: %v: %s", err, out)
	}
}

func TestConnWaitsForServer(t *testing.T) {
	requireOVS(t)
	dir := shortTempDir(t)
	target := Target{Scheme: Unix, Path: filepath.Join(dir, "nb.sock")}
	c := connectNB(t, target)
	time.Sleep(300 * time.Millisecond)
	if c.Connected() {
		t.Fatal("connected to nothing")
	}
	select {
	case <-c.Ready():
		t.Fatal("ready without a server")
	default:
	}

	startServer(t, dir, nb.SchemaJSON)
	waitReady(t, c)
	kicked(t, c.Changes(), "connect")
	if c.Endpoint() != "unix:"+target.Path {
		t.Errorf("Endpoint = %q", c.Endpoint())
	}
}

func TestConnNotifiesAndSurvivesRestart(t *testing.T) {
	requireOVS(t)
	skipIfRace(t)
	dir := shortTempDir(t)
	srv := startServer(t, dir, nb.SchemaJSON)
	calls := make(chan struct{}, 1)
	m, _ := nb.FullDatabaseModel()
	c, err := NewConn(ConnConfig{
		Targets:       []Target{srv.Target()},
		Model:         m,
		Logger:        testLogger(t),
		MinBackoff:    20 * time.Millisecond,
		MaxBackoff:    200 * time.Millisecond,
		Timeout:       time.Second,
		ProbeInterval: 2 * time.Second,
		OnChange: func() {
			select {
			case calls <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitReady(t, c)

	// A change made by another client shows in the cache and kicks.
	drain(c.Changes())
	drain(calls)
	// The event handler runs after the cache update: on the kick, the row
	// is there.
	ovsdbClientTransact(t, srv.Target(), `{"op":"insert","table":"Logical_Switch","row":{"name":"red","vni":1,"encap":"vxlan"}}`)
	kicked(t, c.Changes(), "insert")
	kicked(t, calls, "insert (callback)")
	if names := switchNames(t, c); !slices.Equal(names, []string{"red"}) {
		t.Fatalf("cache has %v, want [red]", names)
	}

	// Server down: the Conn notices and says so.
	drain(c.Changes())
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "disconnect", func() bool { return !c.Connected() })
	kicked(t, c.Changes(), "disconnect")
	if c.Endpoint() != "" {
		t.Errorf("Endpoint while down = %q", c.Endpoint())
	}

	// Change the database while no server runs, so that the restarted one
	// serves different content: red deleted, green added.
	out, err := exec.Command("ovsdb-tool", "transact", filepath.Join(dir, "nb.db"),
		`["Ferry_Northbound",{"op":"delete","table":"Logical_Switch","where":[["name","==","red"]]},`+
			`{"op":"insert","table":"Logical_Switch","row":{"name":"green","vni":2,"encap":"gre"}}]`).CombinedOutput()
	if err != nil {
		t.Fatalf("ovsdb-tool transact: %v: %s", err, out)
	}
	time.Sleep(300 * time.Millisecond) // a few failed reconnection attempts
	srv = startServer(t, dir, nb.SchemaJSON)
	eventually(t, 10*time.Second, "reconnect", c.Connected)
	kicked(t, c.Changes(), "reconnect")
	if names := switchNames(t, c); !slices.Equal(names, []string{"green"}) {
		t.Fatalf("cache after restart has %v, want [green]", names)
	}

	// The monitor is live again, and transactions go through.
	drain(c.Changes())
	createSwitch(t, c, "yellow", 3)
	kicked(t, c.Changes(), "insert after reconnect")
	if names := switchNames(t, c); !slices.Equal(names, []string{"green", "yellow"}) {
		t.Fatalf("cache has %v", names)
	}
}

// TestConnEndpoints checks that a list of targets (a clustered database's
// members) is tried in order and that the Conn fails over.
func TestConnEndpoints(t *testing.T) {
	requireOVS(t)
	skipIfRace(t)
	dirA, dirB := shortTempDir(t), shortTempDir(t)
	a := Target{Scheme: Unix, Path: filepath.Join(dirA, "nb.sock")}
	srvB := startServer(t, dirB, nb.SchemaJSON)
	c := connectNB(t, a, srvB.Target())
	waitReady(t, c)
	if c.Endpoint() != "unix:"+srvB.Target().Path {
		t.Fatalf("connected to %q, want B", c.Endpoint())
	}
	createSwitch(t, c, "on-b", 1)

	startServer(t, dirA, nb.SchemaJSON)
	if err := srvB.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "failover to A", func() bool { return c.Endpoint() == "unix:"+a.Path })
	// Standalone servers do not share data: the cache now mirrors A.
	eventually(t, 5*time.Second, "cache of A", func() bool { return len(switchNames(t, c)) == 0 })
}

func TestConnClose(t *testing.T) {
	requireOVS(t)
	skipIfRace(t)
	dir := shortTempDir(t)
	srv := startServer(t, dir, nb.SchemaJSON)
	c := connectNB(t, srv.Target())
	waitReady(t, c)
	c.Close()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Fatal("Conn goroutine still running after Close")
	}
	if c.Connected() || c.Client().Cache() != nil {
		t.Error("client still connected after Close")
	}
	c.Close() // idempotent

	// Closed while libovsdb is reconnecting: it connects once the server is
	// back, and the Conn closes that connection.
	c2 := connectNB(t, srv.Target())
	waitReady(t, c2)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "disconnect", func() bool { return !c2.Connected() })
	c2.Close()
	startServer(t, dir, nb.SchemaJSON)
	select {
	case <-c2.done:
	case <-time.After(15 * time.Second):
		t.Fatal("Conn closed during reconnection never finished")
	}
	if c2.Client().Cache() != nil || c2.Connected() {
		t.Error("client still connected after Close")
	}

	// Never connected at all.
	c3 := connectNB(t, Target{Scheme: Unix, Path: filepath.Join(dir, "none.sock")})
	c3.Close()
	select {
	case <-c3.done:
	case <-time.After(5 * time.Second):
		t.Fatal("Conn goroutine still running after Close")
	}
}

func TestNewConnErrors(t *testing.T) {
	m, _ := nb.FullDatabaseModel()
	unix := Target{Scheme: Unix, Path: "/nonexistent.sock"}
	for name, cfg := range map[string]ConnConfig{
		"no targets":    {Model: m},
		"no model":      {Targets: []Target{unix}},
		"passive":       {Targets: []Target{{Scheme: PTCP, Port: 1}}, Model: m},
		"ssl no tls":    {Targets: []Target{{Scheme: SSL, Host: "127.0.0.1", Port: 1}}, Model: m},
		"unknown table": {Targets: []Target{unix}, Model: m, Tables: []string{"Bridge"}},
	} {
		if c, err := NewConn(cfg); err == nil {
			c.Close()
			t.Errorf("%s: NewConn succeeded", name)
		}
	}
}

func TestConnTables(t *testing.T) {
	requireOVS(t)
	dir := shortTempDir(t)
	srv := startServer(t, dir, nb.SchemaJSON)
	ovsdbClientTransact(t, srv.Target(), `{"op":"insert","table":"Logical_Switch","row":{"name":"red","vni":1,"encap":"vxlan"}},`+
		`{"op":"insert","table":"Chassis","row":{"name":"hv1","ovsdb":"tcp:192.0.2.1:6640","tunnel_ip":"192.0.2.1","bridge":"br-int","kind":"kvm","encaps":"vxlan"}}`)
	m, _ := nb.FullDatabaseModel()
	c, err := NewConn(ConnConfig{Targets: []Target{srv.Target()}, Model: m, Tables: []string{nb.ChassisTable}, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitReady(t, c)
	var ch []nb.Chassis
	if err := c.Client().List(testCtx(t), &ch); err != nil || len(ch) != 1 {
		t.Errorf("chassis = %v, %v", ch, err)
	}
	// Logical_Switch is outside the Conn's model, and not in its cache.
	var ls []nb.LogicalSwitch
	if err := c.Client().List(testCtx(t), &ls); err == nil {
		t.Errorf("List of an unmonitored table succeeded: %v", ls)
	}
	if rc := c.Client().Cache().Table(nb.LogicalSwitchTable); rc != nil && len(rc.Rows()) != 0 {
		t.Errorf("unmonitored table has %d rows in the cache", len(rc.Rows()))
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startClusterMember runs ovsdb-server on a clustered database file.
func startClusterMember(t *testing.T, dir, name string) (Target, *exec.Cmd) {
	t.Helper()
	sock := filepath.Join(dir, name+".sock")
	cmd := exec.Command("ovsdb-server", "-vconsole:off", filepath.Join(dir, name+".db"),
		"--remote=punix:"+sock, "--pidfile="+filepath.Join(dir, name+".pid"),
		"--unixctl="+filepath.Join(dir, name+".ctl"), "--log-file="+filepath.Join(dir, name+".log"), "--no-chdir")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return Target{Scheme: Unix, Path: sock}, cmd
}

// clusterRole returns a member's role once it has fully joined the cluster:
// a joining server already calls itself a follower, but until the join
// commits the cluster cannot count it for a majority.
func clusterRole(dir, name string) string {
	out, _ := exec.Command("ovs-appctl", "-t", filepath.Join(dir, name+".ctl"), "cluster/status", "Ferry_Northbound").Output()
	var role string
	member := false
	for line := range strings.SplitSeq(string(out), "\n") {
		if r, ok := strings.CutPrefix(line, "Role: "); ok {
			role = strings.TrimSpace(r)
		}
		if strings.TrimSpace(line) == "Status: cluster member" {
			member = true
		}
	}
	if !member {
		return ""
	}
	return role
}

// TestConnClusterLeader runs a three-member clustered database and checks
// that LeaderOnly finds the leader among the targets and follows the
// leadership when the leader dies.
func TestConnClusterLeader(t *testing.T) {
	requireOVS(t)
	skipIfRace(t)
	cl := startTestCluster(t)
	dir, targets, procs, leader := cl.dir, cl.targets, cl.procs, cl.leader

	// The leader last in the list: followers must be skipped.
	list := cl.leaderLast()
	m, _ := nb.FullDatabaseModel()
	c, err := NewConn(ConnConfig{
		Targets: list, Model: m, LeaderOnly: true, Logger: testLogger(t),
		MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitReady(t, c)
	if c.Endpoint() != "unix:"+targets[leader].Path {
		t.Fatalf("connected to %s, want the leader %s", c.Endpoint(), leader)
	}
	createSwitch(t, c, "blue", 1)

	// Kill the leader: the Conn must find the new one, with the data.
	procs[leader].Process.Kill()
	procs[leader].Wait()
	eventually(t, 20*time.Second, "a connection to the new leader", func() bool {
		ep := c.Endpoint()
		return c.Connected() && ep != "" && ep != "unix:"+targets[leader].Path
	})
	newLeader := strings.TrimSuffix(filepath.Base(c.Endpoint()), ".sock")
	if role := clusterRole(dir, newLeader); role != "leader" {
		t.Errorf("connected to %s, whose role is %q", newLeader, role)
	}
	if names := switchNames(t, c); !slices.Equal(names, []string{"blue"}) {
		t.Errorf("cache after failover: %v", names)
	}
	createSwitch(t, c, "green", 2)
}

// TestConnProbe freezes the server (SIGSTOP): the connection stays open but
// nothing answers, as with a hypervisor that lost power. The echo probe
// must notice, and the Conn must come back when the server does.
func TestConnProbe(t *testing.T) {
	requireOVS(t)
	skipIfRace(t)
	srv := startServer(t, shortTempDir(t), nb.SchemaJSON)
	m, _ := nb.FullDatabaseModel()
	c, err := NewConn(ConnConfig{
		Targets: []Target{srv.Target()}, Model: m, Logger: testLogger(t),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Timeout: 300 * time.Millisecond, ProbeInterval: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitReady(t, c)
	if err := syscall.Kill(srv.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(srv.Pid(), syscall.SIGCONT) })
	eventually(t, 5*time.Second, "the probe to notice a frozen server", func() bool { return !c.Connected() })
	syscall.Kill(srv.Pid(), syscall.SIGCONT)
	eventually(t, 10*time.Second, "reconnect", c.Connected)
	createSwitch(t, c, "after-freeze", 9)
}

// TestConnQuickReconnect drops the connection from the client side; libovsdb
// reconnects at once, faster than the Conn's state poll, and fetches the
// database anew. The consumer must still hear of it: rows may have gone
// without delete events.
func TestConnQuickReconnect(t *testing.T) {
	requireOVS(t)
	skipIfRace(t)
	srv := startServer(t, shortTempDir(t), nb.SchemaJSON)
	c := connectNB(t, srv.Target())
	waitReady(t, c)
	drain(c.Changes())
	c.Client().Disconnect()
	kicked(t, c.Changes(), "reconnect")
	eventually(t, 5*time.Second, "connected", c.Connected)
}

// TestConnTablesOlderServer connects to a server whose schema lacks a table
// of the model, as an older Open vSwitch lacks tables of the generated
// vswitch models: monitoring a subset must work.
func TestConnTablesOlderServer(t *testing.T) {
	requireOVS(t)
	var s map[string]any
	if err := json.Unmarshal(nb.SchemaJSON, &s); err != nil {
		t.Fatal(err)
	}
	delete(s["tables"].(map[string]any), nb.ChassisTable)
	older, _ := json.Marshal(s)
	srv := startServer(t, shortTempDir(t), older)
	m, _ := nb.FullDatabaseModel()
	c, err := NewConn(ConnConfig{
		Targets: []Target{srv.Target()}, Model: m, Logger: testLogger(t),
		Tables: []string{nb.LogicalSwitchTable, nb.LogicalPortTable, nb.NBGlobalTable},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitReady(t, c)
	createSwitch(t, c, "blue", 1)
}

// A call made under WhileConnected on a server that freezes fails once the
// probe declares the connection lost, not when its own (long) context
// ends; and WhileConnected on a connection that is down is cancelled at
// once.
func TestConnWhileConnected(t *testing.T) {
	requireOVS(t)
	skipIfRace(t)
	srv := startServer(t, shortTempDir(t), nb.SchemaJSON)
	m, _ := nb.FullDatabaseModel()
	c, err := NewConn(ConnConfig{
		Targets: []Target{srv.Target()}, Model: m, Logger: testLogger(t), Guard: true,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		Timeout: 5 * time.Second, ProbeInterval: 300 * time.Millisecond, ProbeTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitReady(t, c)
	long, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx, done := c.WhileConnected(long)
	defer done()
	if err := syscall.Kill(srv.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(srv.Pid(), syscall.SIGCONT) })
	start := time.Now()
	op := `{"op":"insert","table":"Logical_Switch","row":{"name":"frozen","vni":5,"encap":"vxlan"}}`
	var ops []libovsdb.Operation
	if err := json.Unmarshal([]byte("["+op+"]"), &ops); err != nil {
		t.Fatal(err)
	}
	_, err = c.Client().Transact(ctx, ops...)
	if err == nil || !errors.Is(context.Cause(ctx), ErrConnectionLost) {
		t.Fatalf("transaction on a frozen server: %v (cause %v), want it cut by the lost connection", err, context.Cause(ctx))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the call waited %v on the frozen server", took)
	}
	down, done2 := c.WhileConnected(long)
	defer done2()
	if !errors.Is(context.Cause(down), ErrConnectionLost) {
		t.Errorf("WhileConnected while down: cause %v, want ErrConnectionLost at once", context.Cause(down))
	}
	syscall.Kill(srv.Pid(), syscall.SIGCONT)
	eventually(t, 10*time.Second, "reconnect", c.Connected)
	up, done3 := c.WhileConnected(long)
	defer done3()
	if up.Err() != nil {
		t.Errorf("WhileConnected after the reconnect is cancelled: %v", context.Cause(up))
	}
}
