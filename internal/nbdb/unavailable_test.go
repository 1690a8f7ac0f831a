package nbdb_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	ferryovsdb "github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// A write in flight when the northbound connection drops fails with
// ErrUnavailable at once, and a write while it is down is refused without
// waiting: the REST layer turns both into a 503 instead of a hang.
func TestWriteFailsFastWhenConnectionDrops(t *testing.T) {
	srv, c := runNorthbound(t)
	var up atomic.Bool
	up.Store(true)
	db := nbdb.New(c, nil, nbdb.WithConnected(up.Load))
	if _, err := db.CreateSwitch(ctx(t), model.Switch{Name: "before"}); err != nil {
		t.Fatal(err)
	}

	// The server freezes with a write on its way; then the connection is
	// declared lost (as ovsdb.Conn's probe does).
	if err := syscall.Kill(srv.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(srv.Pid(), syscall.SIGCONT) })
	time.AfterFunc(300*time.Millisecond, func() { up.Store(false) })
	wctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, err := db.CreateSwitch(wctx, model.Switch{Name: "in-flight"})
	if !errors.Is(err, nbdb.ErrUnavailable) {
		t.Fatalf("write in flight: err = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("write in flight failed after %v: it waited for the server", took)
	}
	if db.Healthy() {
		t.Error("Healthy while the connection is down")
	}

	start = time.Now()
	_, err = db.CreateSwitch(wctx, model.Switch{Name: "while-down"})
	if !errors.Is(err, nbdb.ErrUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("write while down: err = %v after %v, want ErrUnavailable at once", err, time.Since(start))
	}
}

// A write in flight when the server dies (the connection closes under the
// transaction before anything declared it lost) is ErrUnavailable too,
// never an internal error: the soak saw "unexpected EOF" answered as 500.
func TestWriteFailsUnavailableWhenServerDies(t *testing.T) {
	srv, c := runNorthbound(t)
	// Always "connected": only the transaction's own error can tell.
	db := nbdb.New(c, nil, nbdb.WithConnected(func() bool { return true }))
	if _, err := db.CreateSwitch(ctx(t), model.Switch{Name: "before"}); err != nil {
		t.Fatal(err)
	}
	pid := srv.Pid()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(300*time.Millisecond, func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := db.CreateSwitch(wctx, model.Switch{Name: "in-flight"})
	if !errors.Is(err, nbdb.ErrUnavailable) {
		t.Fatalf("write in flight when the server died: err = %v, want ErrUnavailable", err)
	}
}

// runNorthbound runs a real ovsdb-server with the northbound schema as
// ferryd runs its own (skipping without OVS unless FERRY_REQUIRE_OVS=1),
// and connects a client to it.
func runNorthbound(t *testing.T) (*ferryovsdb.Server, client.Client) {
	t.Helper()
	if _, err := exec.LookPath("ovsdb-server"); err != nil {
		if os.Getenv("FERRY_REQUIRE_OVS") == "1" {
			t.Fatal("no ovsdb-server and FERRY_REQUIRE_OVS=1")
		}
		t.Skip("no ovsdb-server")
	}
	dir, err := os.MkdirTemp("", "nbu")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	srv, err := ferryovsdb.RunServer(context.Background(), ferryovsdb.ServerConfig{DataDir: dir, Schema: nb.SchemaJSON})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return srv, nbdbtest.Connect(t, srv.Target().String())
}
