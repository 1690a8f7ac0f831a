package ovsdb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// lockClient is a Locks whose events a test can wait for.
type lockClient struct {
	*Locks
	events chan LockEvent
}

func newLockClient(t *testing.T, name string, targets ...Target) *lockClient {
	t.Helper()
	c := &lockClient{events: make(chan LockEvent, 4096)}
	l, err := NewLocks(LocksConfig{
		Targets:       targets,
		Database:      "Ferry_Northbound",
		Logger:        testLogger(t).With("client", name),
		MinBackoff:    20 * time.Millisecond,
		MaxBackoff:    200 * time.Millisecond,
		Timeout:       2 * time.Second,
		ProbeInterval: 100 * time.Millisecond,
		ProbeTimeout:  400 * time.Millisecond,
		OnEvent:       func(ev LockEvent) { c.events <- ev },
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Locks = l
	t.Cleanup(l.Close)
	eventually(t, 10*time.Second, name+" connected", l.Connected)
	return c
}

// expect waits for the next event, which must be want.
func (c *lockClient) expect(t *testing.T, want LockEvent) {
	t.Helper()
	select {
	case ev := <-c.events:
		if ev != want {
			t.Fatalf("event %v, want %v", ev, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no event after 5s, want %v", want)
	}
}

// quiet checks that no event arrives for a while.
func (c *lockClient) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev := <-c.events:
		t.Fatalf("unexpected event %v", ev)
	case <-time.After(d):
	}
}

// waits checks that the lock is requested but not granted: Acquire does
// not return in time.
func (c *lockClient) waits(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := c.Acquire(ctx, name); err == nil {
		t.Fatalf("%s acquired, want it to wait", name)
	}
}

func TestLocksWaitReleaseSteal(t *testing.T) {
	requireOVS(t)
	srv := startServer(t, shortTempDir(t), nb.SchemaJSON)
	a := newLockClient(t, "a", srv.Target())
	b := newLockClient(t, "b", srv.Target())

	if err := a.Acquire(testCtx(t), "hv1"); err != nil {
		t.Fatal(err)
	}
	a.expect(t, LockEvent{"hv1", LockAcquired})
	b.waits(t, "hv1")
	if !a.Held("hv1") || b.Held("hv1") {
		t.Fatalf("held: a %v, b %v", a.Held("hv1"), b.Held("hv1"))
	}

	// A releases: B, queued, gets the locked notification.
	a.Release("hv1")
	if a.Held("hv1") {
		t.Fatal("a holds hv1 after Release")
	}
	b.expect(t, LockEvent{"hv1", LockAcquired})

	// A steals it back: B is told at once, and B, still wanting it, is
	// queued again, so A's release hands it back to B.
	if err := a.Steal(testCtx(t), "hv1"); err != nil {
		t.Fatal(err)
	}
	a.expect(t, LockEvent{"hv1", LockAcquired})
	b.expect(t, LockEvent{"hv1", LockStolen})
	if b.Held("hv1") {
		t.Fatal("b holds hv1 after it was stolen")
	}
	a.Release("hv1")
	b.expect(t, LockEvent{"hv1", LockAcquired})

	// Nobody wants it: released for good; A can take it without a wait.
	b.Release("hv1")
	if err := a.Acquire(testCtx(t), "hv1"); err != nil {
		t.Fatal(err)
	}
	a.expect(t, LockEvent{"hv1", LockAcquired})
	a.quiet(t, 200*time.Millisecond)
	b.quiet(t, 0)
}

// cutter relays unix connections to a server and can cut them (the
// session ends) or freeze them (nothing passes, nothing closes: a server
// that lost power or a partition).
type cutter struct {
	ln     net.Listener
	server Target
	mu     sync.Mutex
	conns  []net.Conn
	frozen bool
}

func startCutter(t *testing.T, server Target) *cutter {
	ln, err := net.Listen("unix", filepath.Join(shortTempDir(t), "cut.sock"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln, server: server}
	t.Cleanup(func() { ln.Close(); c.cut() })
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("unix", server.Path)
			if err != nil {
				down.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, down, up)
			c.mu.Unlock()
			go c.pipe(down, up)
			go c.pipe(up, down)
		}
	}()
	return c
}

func (c *cutter) pipe(dst, src net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := src.Read(buf)
		c.mu.Lock()
		frozen := c.frozen
		c.mu.Unlock()
		if n > 0 && !frozen {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				return
			}
			dst.Close()
			return
		}
	}
}

func (c *cutter) target() Target { return Target{Scheme: Unix, Path: c.ln.Addr().String()} }

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
	c.frozen = false
}

func (c *cutter) freeze() {
	c.mu.Lock()
	c.frozen = true
	c.mu.Unlock()
}

// A's session ends (connection closed, or the server stops answering):
// A loses the lock at once, the server hands it to B, and A, reconnected,
// waits behind B.
func TestLocksSessionEnds(t *testing.T) {
	requireOVS(t)
	srv := startServer(t, shortTempDir(t), nb.SchemaJSON)
	for _, how := range []string{"closed", "silent"} {
		t.Run(how, func(t *testing.T) {
			name := "dev_" + how
			cut := startCutter(t, srv.Target())
			a := newLockClient(t, "a", cut.target())
			b := newLockClient(t, "b", srv.Target())
			if err := a.Acquire(testCtx(t), name); err != nil {
				t.Fatal(err)
			}
			a.expect(t, LockEvent{name, LockAcquired})
			b.waits(t, name)

			if how == "closed" {
				cut.cut()
			} else {
				cut.freeze()
			}
			a.expect(t, LockEvent{name, LockLost})
			if a.Held(name) {
				t.Fatal("a still holds the lock after its session ended")
			}
			if how == "silent" {
				// The server still sees a live session (it probes every
				// 5 s): it hands the lock over when the connection ends.
				cut.cut()
			}
			b.expect(t, LockEvent{name, LockAcquired})
			eventually(t, 5*time.Second, "a reconnected", a.Connected)
			a.waits(t, name)
			if !slices.Equal(a.Wanted(), []string{name}) {
				t.Fatalf("a wants %v", a.Wanted())
			}
		})
	}
}

// The server restarts: both clients lose everything, reconnect, and
// exactly one of them holds the lock again.
func TestLocksServerRestart(t *testing.T) {
	requireOVS(t)
	dir := shortTempDir(t)
	srv := startServer(t, dir, nb.SchemaJSON)
	a := newLockClient(t, "a", srv.Target())
	b := newLockClient(t, "b", srv.Target())
	if err := a.Acquire(testCtx(t), "gw1"); err != nil {
		t.Fatal(err)
	}
	a.expect(t, LockEvent{"gw1", LockAcquired})
	if err := b.Want("gw1"); err != nil {
		t.Fatal(err)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	a.expect(t, LockEvent{"gw1", LockLost})
	eventually(t, 5*time.Second, "both disconnected", func() bool { return !a.Connected() && !b.Connected() })
	if a.Held("gw1") || b.Held("gw1") {
		t.Fatal("a lock is held with no server")
	}
	time.Sleep(200 * time.Millisecond) // a few failed attempts
	startServer(t, dir, nb.SchemaJSON)
	eventually(t, 10*time.Second, "one holder", func() bool { return a.Held("gw1") != b.Held("gw1") })
	time.Sleep(300 * time.Millisecond)
	if a.Held("gw1") == b.Held("gw1") {
		t.Fatalf("held: a %v, b %v", a.Held("gw1"), b.Held("gw1"))
	}
}

// Hundreds of names on one session: wanted by two replicas, each lock has
// exactly one holder; giving half up moves exactly that half.
func TestLocksManyNames(t *testing.T) {
	requireOVS(t)
	srv := startServer(t, shortTempDir(t), nb.SchemaJSON)
	a := newLockClient(t, "a", srv.Target())
	b := newLockClient(t, "b", srv.Target())
	var names []string
	for i := range 500 {
		names = append(names, LockName(fmt.Sprintf("hv-%03d.example", i)))
	}
	slices.Sort(names)
	if err := a.SetWanted(names); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a holds every lock", func() bool { return len(a.HeldNames()) == len(names) })
	if err := b.SetWanted(names); err != nil {
		t.Fatal(err)
	}
	b.quiet(t, 300*time.Millisecond)

	half := names[:250]
	if err := a.SetWanted(half); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "b holds the other half", func() bool { return len(b.HeldNames()) == 250 })
	if got := a.HeldNames(); !slices.Equal(got, half) {
		t.Fatalf("a holds %d locks, want the first 250", len(got))
	}
	if got := b.HeldNames(); !slices.Equal(got, names[250:]) {
		t.Fatalf("b holds %d locks, not the second half", len(got))
	}
	if !slices.Equal(b.Wanted(), names) {
		t.Fatalf("b wants %d names", len(b.Wanted()))
	}
}

// A server that sends a malformed message has its session closed; the
// client reconnects.
func TestLocksMalformedMessage(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(shortTempDir(t), "bad.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			go func() {
				defer c.Close()
				c.Write([]byte(`{"method":"stolen","params":[1,2],"id":null}`))
				io.Copy(io.Discard, c)
			}()
		}
	}()
	l, err := NewLocks(LocksConfig{
		Targets:    []Target{{Scheme: Unix, Path: ln.Addr().String()}},
		Logger:     testLogger(t),
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	for range 3 {
		select {
		case <-accepted:
		case <-time.After(5 * time.Second):
			t.Fatal("the client did not reconnect after a malformed message")
		}
	}
}

func TestLockName(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []string{"", "hv1", "hv-1", "hv_1", "hv_2d1", "hv.1", "Ä", "_", "1"} {
		n := LockName(s)
		if !ValidLockName(n) {
			t.Errorf("LockName(%q) = %q, not valid", s, n)
		}
		if other, dup := seen[n]; dup {
			t.Errorf("LockName(%q) = LockName(%q) = %q", s, other, n)
		}
		seen[n] = s
	}
	for _, bad := range []string{"", "1a", "a-b", "a b", "a.b"} {
		if ValidLockName(bad) {
			t.Errorf("ValidLockName(%q) = true", bad)
		}
	}
	l := &Locks{}
	if err := l.Want("a-b"); err == nil {
		t.Error("Want accepted an invalid name")
	}
}

func TestNewLocksErrors(t *testing.T) {
	a := Target{Scheme: Unix, Path: "/nonexistent/a.sock"}
	for _, cfg := range []LocksConfig{
		{},
		{Targets: []Target{a, a}},
		{Targets: []Target{{Scheme: PTCP, Port: 6640}}},
		{Targets: []Target{{Scheme: SSL, Host: "127.0.0.1", Port: 6640}}},
	} {
		if l, err := NewLocks(cfg); err == nil {
			l.Close()
			t.Errorf("NewLocks(%+v) succeeded", cfg)
		}
	}
}

var testDiscard = slog.New(slog.DiscardHandler)

// fuzzSession is a ready session with no connection behind it, and a few
// names in every state.
func fuzzSession() *lockSession {
	client, _ := net.Pipe()
	l := &Locks{
		cfg:     LocksConfig{Database: "Ferry_Northbound", MaxMessage: 1 << 16},
		log:     testDiscard,
		names:   map[string]*lockState{},
		bcast:   make(chan struct{}),
		evWake:  make(chan struct{}, 1),
		changes: make(chan struct{}, 1),
	}
	s := &lockSession{l: l, conn: client, calls: map[string]lockCall{}, wake: make(chan struct{}, 1),
		ready: make(chan struct{}), done: make(chan struct{}), servers: map[string]serverDatabase{}}
	s.setReadyLocked()
	l.names["held"] = &lockState{wanted: true, onServer: true, held: true}
	l.names["waiting"] = &lockState{wanted: true, onServer: true}
	l.wantLocked("fresh")
	s.callLocked("monitor", nil, lockCall{method: "monitor"}) // ferry-2
	return s
}

// FuzzLockMessage feeds any message to a session's decoder and handler:
// it must answer with an error or a state change, never panic, and leave
// the state consistent.
//
// Run with: go test ./ovsdb/ -run '^$' -fuzz '^FuzzLockMessage$' -fuzztime 1m
func FuzzLockMessage(f *testing.F) {
	for _, m := range []string{
		`{"method":"locked","params":["waiting"],"id":null}`,
		`{"method":"stolen","params":["held"],"id":null}`,
		`{"method":"stolen","params":[],"id":null}`,
		`{"method":"locked","params":"x","id":null}`,
		`{"id":"ferry-1","result":{"locked":true},"error":null}`,
		`{"id":"ferry-1","result":{"locked":"yes"},"error":null}`,
		`{"id":"ferry-1","result":null,"error":"syntax error"}`,
		`{"id":"ferry-2","result":{"Database":{"u":{"new":{"name":"Ferry_Northbound","model":"clustered","connected":true,"leader":false}}}},"error":null}`,
		`{"method":"update","params":["ferry-locks-server",{"Database":{"u":{"old":{}}}}],"id":null}`,
		`{"method":"update","params":["ferry-locks-server",{"Database":[1]}],"id":null}`,
		`{"method":"echo","params":[],"id":"e1"}`,
		`{"method":"transact","params":[],"id":7}`,
		`{"id":{"a":1},"result":1}`,
		`{}`, `[]`, `{"method":null}`, `{"id":"ferry-9"}`,
	} {
		f.Add([]byte(m))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		s := fuzzSession()
		_ = s.handleLocked(msg)
		for n, st := range s.l.names {
			if st.outstanding < 0 {
				t.Fatalf("%s: %d outstanding requests", n, st.outstanding)
			}
			if st.held && !st.onServer {
				t.Fatalf("%s held but not requested", n)
			}
		}
	})
}

// target is the server the client's session is on, zero while down.
func (c *lockClient) target() Target {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess == nil {
		return Target{}
	}
	return c.sess.target
}

// Locks live in each ovsdb-server process, not in the Raft log: clients
// on two members could both hold one lock. So Locks uses the leader only,
// and after the leader dies both clients meet again on the new one, where
// exactly one holds the lock.
func TestLocksCluster(t *testing.T) {
	requireOVS(t)
	cl := startTestCluster(t)
	old := cl.targets[cl.leader]

	// Followers alone: never connected.
	var followers []Target
	for _, n := range cl.names {
		if n != cl.leader {
			followers = append(followers, cl.targets[n])
		}
	}
	f, err := NewLocks(LocksConfig{Targets: followers, Database: "Ferry_Northbound", Logger: testLogger(t),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)

	a := newLockClient(t, "a", cl.leaderLast()...)
	b := newLockClient(t, "b", cl.leaderLast()...)
	if a.target() != old || b.target() != old {
		t.Fatalf("sessions on %s and %s, want the leader %s", a.target(), b.target(), old)
	}
	if f.Connected() {
		t.Fatal("a client of the followers only is connected")
	}
	if err := a.Acquire(testCtx(t), "hv1"); err != nil {
		t.Fatal(err)
	}
	a.expect(t, LockEvent{"hv1", LockAcquired})
	b.waits(t, "hv1")

	cl.procs[cl.leader].Process.Kill()
	cl.procs[cl.leader].Wait()
	a.expect(t, LockEvent{"hv1", LockLost})
	eventually(t, 20*time.Second, "both on the new leader, one holding the lock", func() bool {
		return a.Connected() && b.Connected() && a.Held("hv1") != b.Held("hv1")
	})
	for _, c := range []*lockClient{a, b} {
		got := c.target()
		if got == old || got == (Target{}) {
			t.Fatalf("session on %s after the leader %s died", got, old)
		}
		if role := clusterRole(cl.dir, strings.TrimSuffix(filepath.Base(got.Path), ".sock")); role != "leader" {
			t.Fatalf("session on %s, whose role is %q", got, role)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if a.Held("hv1") == b.Held("hv1") {
		t.Fatalf("held: a %v, b %v", a.Held("hv1"), b.Held("hv1"))
	}
}

// The leader stops leading while its process lives on (it leaves the
// cluster): the session on it ends, with its locks, as soon as _Server
// says so, and the client moves to the new leader.
func TestLocksClusterLeaderLeaves(t *testing.T) {
	requireOVS(t)
	cl := startTestCluster(t)
	old := cl.targets[cl.leader]
	a := newLockClient(t, "a", cl.leaderLast()...)
	if err := a.Acquire(testCtx(t), "hv1"); err != nil {
		t.Fatal(err)
	}
	a.expect(t, LockEvent{"hv1", LockAcquired})
	out, err := exec.Command("ovs-appctl", "-t", filepath.Join(cl.dir, cl.leader+".ctl"), "cluster/leave", "Ferry_Northbound").CombinedOutput()
	if err != nil {
		t.Fatalf("cluster/leave: %v: %s", err, out)
	}
	a.expect(t, LockEvent{"hv1", LockLost})
	a.expect(t, LockEvent{"hv1", LockAcquired})
	if got := a.target(); got == old {
		t.Fatalf("session still on %s, which left the cluster", got)
	}
}

// The _Server rows decide whether a session may hold locks, from its
// first reply to every later update.
func TestLocksLeaderCheck(t *testing.T) {
	row := func(model string, connected, leader bool) string {
		return fmt.Sprintf(`{"Database":{"u1":{"new":{"name":"Ferry_Northbound","model":%q,"connected":%v,"leader":%v}},"u2":{"new":{"name":"_Server","model":"standalone","connected":true,"leader":true}}}}`, model, connected, leader)
	}
	for _, tc := range []struct {
		first, update string
		firstOK, ok   bool
	}{
		{row("clustered", true, true), row("clustered", true, false), true, false},
		{row("clustered", true, true), row("clustered", false, true), true, false},
		{row("clustered", true, true), row("clustered", true, true), true, true},
		{row("standalone", true, true), row("standalone", true, true), true, true},
		{row("clustered", true, false), "", false, false},
		{row("relay", true, true), "", false, false},
		{`{"Database":{"u2":{"new":{"name":"_Server","model":"standalone","connected":true,"leader":true}}}}`, "", false, false},
	} {
		s := fuzzSession()
		err := s.handleLocked([]byte(`{"id":"ferry-2","result":` + tc.first + `,"error":null}`))
		if (err == nil) != tc.firstOK {
			t.Errorf("first rows %s: err %v", tc.first, err)
		}
		if tc.update == "" {
			continue
		}
		err = s.handleLocked([]byte(`{"method":"update","params":["` + lockMonitorID + `",` + tc.update + `],"id":null}`))
		if (err == nil) != tc.ok {
			t.Errorf("after %s, update %s: err %v", tc.first, tc.update, err)
		}
	}
}
