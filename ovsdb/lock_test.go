package ovsdb

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

func newLocks(t *testing.T, targets ...Target) *Locks {
	t.Helper()
	l, err := NewLocks(LockConfig{Targets: targets, Database: "Ferry_Northbound", Logger: testLogger(t),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// waitHeld waits until l holds exactly names.
func waitHeld(t *testing.T, l *Locks, what string, names ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := l.HeldNames()
		if slices.Equal(got, names) || len(got) == 0 && len(names) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: holds %v, want %v", what, got, names)
		}
		select {
		case <-l.Changed():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestLocks drives two sessions on a real ovsdb-server through RFC 7047's
// lock table: one holder at a time, the other queued and granted on
// unlock, on the holder's session ending, and again after the server
// restarts.
func TestLocks(t *testing.T) {
	requireOVS(t)
	dir := shortTempDir(t)
	srv := startServer(t, dir, nb.SchemaJSON)
	a, b := newLocks(t, srv.Target()), newLocks(t, srv.Target())

	a.Want([]string{"x", "y"})
	waitHeld(t, a, "a asks for x and y", "x", "y")
	b.Want([]string{"x", "z"})
	waitHeld(t, b, "b asks for x (a's) and z", "z")

	a.Want([]string{"y"})
	waitHeld(t, a, "a gives up x", "y")
	waitHeld(t, b, "b is granted x", "x", "z")

	// A session that ends releases everything: a holds x after b closes.
	a.Want([]string{"x", "y"})
	time.Sleep(50 * time.Millisecond)
	if a.Held("x") {
		t.Fatal("a holds x while b does")
	}
	b.Close()
	waitHeld(t, a, "b's session ended", "x", "y")

	// The server restarts: a reconnects and asks again.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	waitHeld(t, a, "server down")
	srv = startServer(t, dir, nb.SchemaJSON)
	waitHeld(t, a, "server back", "x", "y")
	if !a.Connected() {
		t.Error("a not connected")
	}
}

// TestLocksMany: hundreds of locks on one session, shared out between two.
func TestLocksMany(t *testing.T) {
	requireOVS(t)
	srv := startServer(t, shortTempDir(t), nb.SchemaJSON)
	a, b := newLocks(t, srv.Target()), newLocks(t, srv.Target())
	var all, evens, odds []string
	for i := range 300 {
		name := fmt.Sprintf("ferry/device/chassis/hv%03d", i)
		all = append(all, name)
		if i%2 == 0 {
			evens = append(evens, name)
		} else {
			odds = append(odds, name)
		}
	}
	a.Want(all)
	waitHeld(t, a, "a asks for 300", all...)
	b.Want(odds)
	a.Want(evens)
	waitHeld(t, a, "a keeps the evens", evens...)
	waitHeld(t, b, "b gets the odds", odds...)
}

// TestLocksCutOff: a session whose connection goes silent (the server
// still up) holds nothing once the probe gives up.
func TestLocksCutOff(t *testing.T) {
	requireOVS(t)
	srv := startServer(t, shortTempDir(t), nb.SchemaJSON)
	// A relay the test can freeze, standing for a network cut.
	relay := newFreezer(t, srv.Target())
	l, err := NewLocks(LockConfig{Targets: []Target{relay.target}, Database: "Ferry_Northbound", Logger: testLogger(t),
		ProbeInterval: 100 * time.Millisecond, ProbeTimeout: 200 * time.Millisecond, MinBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	l.Want([]string{"x"})
	waitHeld(t, l, "before the cut", "x")
	relay.freeze()
	start := time.Now()
	waitHeld(t, l, "after the cut")
	t.Logf("lock given up %v after the cut", time.Since(start))
}

// freezer relays TCP to a unix target and can stop forwarding.
type freezer struct {
	target Target
	mu     sync.Mutex
	frozen bool
}

func newFreezer(t *testing.T, to Target) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tg, err := ParseActive("tcp:" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{target: tg}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := to.Dial(testCtx(t), nil)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go f.pipe(c, s)
			go f.pipe(s, c)
		}
	}()
	return f
}

func (f *freezer) freeze() {
	f.mu.Lock()
	f.frozen = true
	f.mu.Unlock()
}

func (f *freezer) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		f.mu.Lock()
		frozen := f.frozen
		f.mu.Unlock()
		if frozen {
			continue // dropped, as by a firewall
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}

// FuzzLockMessage: whatever the server sends, the session survives or
// ends with an error; it never panics.
func FuzzLockMessage(f *testing.F) {
	for _, seed := range []string{
		`{"method":"locked","params":["ferry_78"],"id":null}`,
		`{"method":"stolen","params":["ferry_78"],"id":null}`,
		`{"method":"locked","params":["ferry_zz"],"id":null}`,
		`{"method":"update","params":["ferry-locks",{"Database":{"u1":{"new":{"name":"Ferry_Northbound","model":"clustered","leader":false}}}}],"id":null}`,
		`{"method":"echo","params":[],"id":"e1"}`,
		`{"result":{"locked":true},"error":null,"id":"ferry-1"}`,
		`{"method":"locked","params":[1,2],"id":null}`,
		`{"method":"update","params":"x","id":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		l := &Locks{cfg: LockConfig{Database: "Ferry_Northbound", ProbeTimeout: time.Second}, want: map[string]bool{"x": true},
			held: map[string]bool{}, changed: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
		l.log = testLoggerDiscard()
		c1, c2 := net.Pipe()
		defer c1.Close()
		defer c2.Close()
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := c2.Read(buf); err != nil {
					return
				}
			}
		}()
		s := &lockSession{l: l, conn: c1, calls: map[string]chan rawReply{"ferry-1": make(chan rawReply, 1)},
			dead: make(chan struct{}), asked: map[string]bool{}, leader: make(chan bool, 16)}
		err := s.handle(msg)
		if err == nil && strings.Contains(string(msg), `"stolen"`) && l.Held("x") {
			t.Errorf("held after %s", msg)
		}
	})
}

func testLoggerDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
