package nbdbtest

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/database/inmemory"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/server"

	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// shortDir returns a new directory short enough for unix socket paths
// (108 bytes), removed when the test ends.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ferrynb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// InMemory starts libovsdb's in-memory OVSDB server with the northbound
// schema on a unix socket and returns its endpoint ("unix:PATH"). The
// server stops when the test ends.
func InMemory(t testing.TB) string {
	t.Helper()
	clientModel, err := nb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	dbModel, errs := model.NewDatabaseModel(nb.Schema(), clientModel)
	if len(errs) > 0 {
		t.Fatalf("nbdbtest: database model: %v", errs)
	}
	discard := logr.Discard()
	db := inmemory.NewDatabase(map[string]model.ClientDBModel{dbModel.Schema.Name: clientModel}, &discard)
	srv, err := server.NewOvsdbServer(db, &discard, dbModel)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(shortDir(t), "nb.sock")
	go func() { _ = srv.Serve("unix", sock) }()
	t.Cleanup(srv.Close)
	waitFor(t, func() bool { return srv.Ready() }, "in-memory server to listen")
	return "unix:" + sock
}

// OVSDBServer starts a real ovsdb-server serving a fresh northbound
// database on a unix socket and returns its endpoint ("unix:PATH"). It
// skips the test when OVS is not installed, unless FERRY_REQUIRE_OVS=1. The
// server runs as a child process and is stopped by pid when the test ends.
func OVSDBServer(t testing.TB) string {
	t.Helper()
	for _, bin := range []string{"ovsdb-server", "ovsdb-tool"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("FERRY_REQUIRE_OVS") == "1" {
				t.Fatalf("nbdbtest: %s not found and FERRY_REQUIRE_OVS=1", bin)
			}
			t.Skipf("nbdbtest: %s not installed", bin)
		}
	}
	dir := shortDir(t)
	env := append(os.Environ(), "OVS_RUNDIR="+dir, "OVS_DBDIR="+dir, "OVS_LOGDIR="+dir)
	schema := filepath.Join(dir, "nb.ovsschema")
	if err := os.WriteFile(schema, nb.SchemaJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	dbFile := filepath.Join(dir, "nb.db")
	create := exec.Command("ovsdb-tool", "create", dbFile, schema)
	create.Env = env
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("nbdbtest: ovsdb-tool create: %v: %s", err, out)
	}
	sock := filepath.Join(dir, "nb.sock")
	logFile := filepath.Join(dir, "ovsdb-server.log")
	cmd := exec.Command("ovsdb-server", dbFile,
		"--remote=punix:"+sock,
		"--unixctl="+filepath.Join(dir, "ovsdb-server.ctl"),
		"--log-file="+logFile,
		"--no-chdir")
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		t.Fatalf("nbdbtest: start ovsdb-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			if b, err := os.ReadFile(logFile); err == nil {
				t.Logf("ovsdb-server log:\n%s", b)
			}
		}
	})
	waitFor(t, func() bool {
		select {
		case <-exited:
			t.Fatalf("nbdbtest: ovsdb-server exited early")
		default:
		}
		// The socket file exists between bind and listen: dial it.
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	}, "ovsdb-server socket")
	return "unix:" + sock
}

// Connect returns a libovsdb client of endpoint that monitors all
// northbound tables, closed when the test ends.
func Connect(t testing.TB, endpoint string) client.Client {
	t.Helper()
	clientModel, err := nb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	discard := logr.Discard()
	c, err := client.NewOVSDBClient(clientModel, client.WithEndpoint(endpoint), client.WithLogger(&discard))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("nbdbtest: connect %s: %v", endpoint, err)
	}
	t.Cleanup(c.Close)
	if _, err := c.MonitorAll(ctx); err != nil {
		t.Fatalf("nbdbtest: monitor %s: %v", endpoint, err)
	}
	return c
}

// New returns an nbdb.DB on endpoint.
func New(t testing.TB, endpoint string) *nbdb.DB {
	t.Helper()
	return nbdb.New(Connect(t, endpoint), nil)
}

func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(errors.New("nbdbtest: timed out waiting for " + what))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
