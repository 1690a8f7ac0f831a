package nbdb_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	ferryovsdb "github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// clusterDB connects to every member of c the way ferryd does with
// --nb A,B,C (leader only, reconnecting) and returns the DB on it.
func clusterDB(t *testing.T, c *nbdbtest.Cluster) *nbdb.DB {
	t.Helper()
	targets, err := ferryovsdb.ParseActiveTargets(c.NB())
	if err != nil {
		t.Fatal(err)
	}
	m, err := nb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	tw := &testWriter{t: t}
	conn, err := ferryovsdb.NewConn(ferryovsdb.ConnConfig{Targets: targets, Model: m, LeaderOnly: true,
		Logger: slog.New(slog.NewTextHandler(tw, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	t.Cleanup(func() { tw.done.Store(true) }) // runs first: the Conn logs on after Close
	select {
	case <-conn.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("no connection to the cluster")
	}
	return nbdb.New(conn.Client(), nil, nbdb.WithConnected(conn.Connected))
}

// testWriter logs to the test until it ends.
type testWriter struct {
	t    *testing.T
	done atomic.Bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	if !w.done.Load() {
		w.t.Logf("%s", p)
	}
	return len(p), nil
}

// writes creates switches name0000.. one after another, like REST clients
// in a row; a failed write waits a moment (a client backing off) and the
// next one goes on with the next name. during runs once, in its own
// goroutine, when the write numbered at is about to start.
type writes struct {
	acked, failed []string
	errs          []error
	// resumed is the time from during's end to the end of the first
	// write that succeeded after it.
	resumed time.Duration
}

func runWrites(t *testing.T, db *nbdb.DB, n, at int, during func()) *writes {
	t.Helper()
	w := &writes{}
	var doneAt atomic.Pointer[time.Time]
	for i := range n {
		if i == at {
			go func() {
				during()
				now := time.Now()
				doneAt.Store(&now)
			}()
		}
		name := fmt.Sprintf("s%04d", i)
		wctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		_, err := db.CreateSwitch(wctx, model.Switch{Name: name})
		cancel()
		end := time.Now()
		if err != nil {
			w.failed = append(w.failed, name)
			w.errs = append(w.errs, err)
			time.Sleep(20 * time.Millisecond)
			continue
		}
		w.acked = append(w.acked, name)
		if d := doneAt.Load(); d != nil && w.resumed == 0 {
			w.resumed = max(end.Sub(*d), time.Nanosecond)
		}
	}
	return w
}

// switchesAt reads the switches from member n through a fresh connection.
func switchesAt(t *testing.T, c *nbdbtest.Cluster, n int) map[string]bool {
	t.Helper()
	cl := nbdbtest.Connect(t, c.Target(n))
	var rows []nb.LogicalSwitch
	if err := cl.List(ctx(t), &rows); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range rows {
		got[r.Name] = true
	}
	return got
}

// The Raft leader killed (SIGKILL) during 1,000 sequential writes: every
// write that returned success is in the database afterwards, read through
// a fresh connection to a surviving member; the writes that failed failed
// as ErrUnavailable (a 503 saying the outcome is unknown), never as a
// conflict with themselves or an internal error; writes resume.
func TestClusterLeaderKilledDuringWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("a Raft cluster and 1,000 writes")
	}
	c := nbdbtest.StartCluster(t)
	db := clusterDB(t, c)
	leader := c.Leader(t)
	killed := time.Time{}
	w := runWrites(t, db, 1000, 300, func() {
		c.Kill(t, leader)
		killed = time.Now()
	})
	if killed.IsZero() {
		t.Fatal("the leader was not killed")
	}
	t.Logf("killed leader member %d; %d writes acknowledged, %d failed; writes resumed %v after the kill",
		leader, len(w.acked), len(w.failed), w.resumed.Round(time.Millisecond))
	for i, err := range w.errs {
		if !errors.Is(err, nbdb.ErrUnavailable) {
			t.Errorf("write %s failed with %v, want ErrUnavailable (outcome unknown)", w.failed[i], err)
		}
	}
	if w.resumed == 0 {
		t.Fatal("no write succeeded after the leader was killed")
	}

	survivor := c.Leader(t)
	got := switchesAt(t, c, survivor)
	for _, name := range w.acked {
		if !got[name] {
			t.Errorf("acknowledged switch %s is not in the database", name)
		}
	}
	applied := 0
	for _, name := range w.failed {
		if got[name] {
			applied++
		}
	}
	t.Logf("member %d holds %d switches; %d of the %d failed writes were applied after all",
		survivor, len(got), applied, len(w.failed))
	if len(got) != len(w.acked)+applied {
		t.Errorf("database holds %d switches, want the %d acknowledged + %d applied failed ones", len(got), len(w.acked), applied)
	}
}

// A member that is not the leader dies during writes: not one write fails.
func TestClusterFollowerKilledWritesGoOn(t *testing.T) {
	if testing.Short() {
		t.Skip("a Raft cluster")
	}
	c := nbdbtest.StartCluster(t)
	db := clusterDB(t, c)
	leader := c.Leader(t)
	follower := leader%3 + 1
	w := runWrites(t, db, 300, 100, func() { c.Kill(t, follower) })
	for i, err := range w.errs {
		t.Errorf("write %s failed while follower %d died: %v", w.failed[i], follower, err)
	}
	if len(w.acked) != 300 {
		t.Errorf("%d of 300 writes acknowledged", len(w.acked))
	}
	if got := switchesAt(t, c, leader); len(got) != 300 {
		t.Errorf("leader holds %d switches, want 300", len(got))
	}
}

// replayOnce runs the next transaction twice and answers with the second
// run's result: what a clustered ovsdb-server does when it loses
// leadership while committing (it retries the transaction itself, and the
// retry's wait fails against the first run's commit).
type replayOnce struct {
	client.Client
	armed atomic.Bool
}

func (r *replayOnce) Transact(ctx context.Context, ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	if !r.armed.CompareAndSwap(true, false) {
		return r.Client.Transact(ctx, ops...)
	}
	if _, err := r.Client.Transact(ctx, ops...); err != nil {
		return nil, err
	}
	return r.Client.Transact(ctx, ops...)
}

// A write the server committed, then reported as failed because its own
// second run found the generation moved, is a success: retrying it would
// answer "switch already exists" for the caller's own switch.
func TestOwnCommitRunTwiceIsSuccess(t *testing.T) {
	servers(t, func(t *testing.T, endpoint string) {
		rc := &replayOnce{Client: nbdbtest.Connect(t, endpoint)}
		db := nbdb.New(rc, nil)
		mustSwitch(t, db, model.Switch{Name: "first"}) // NB_Global exists
		rc.armed.Store(true)
		sw, err := db.CreateSwitch(ctx(t), model.Switch{Name: "twice", VNI: 77})
		if err != nil {
			t.Fatalf("create run twice by the server: %v", err)
		}
		if sw.Name != "twice" || sw.VNI != 77 || sw.Generation == 0 {
			t.Errorf("created %+v", sw)
		}
		if got := switchNames(db.Snapshot()); len(got) != 2 {
			t.Errorf("switches %v, want first and twice", got)
		}
	})
}
