package main

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
)

// freezer is a TCP proxy to an ovsdb-server that can freeze the
// connections that monitored the database (the northbound cache) while
// the others (the lock session) go on: a northbound client reconnecting
// with its cache kept, its lock session up.
type freezer struct {
	ln     net.Listener
	to     string
	frozen atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
}

func newFreezer(t *testing.T, to string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, to: strings.TrimPrefix(to, "tcp:")}
	go f.serve()
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.conns {
			c.Close()
		}
	})
	return f
}

func (f *freezer) target() string { return "tcp:" + f.ln.Addr().String() }

func (f *freezer) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", f.to)
		if err != nil {
			c.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, c, s)
		f.mu.Unlock()
		var monitors atomic.Bool
		go f.pipe(s, c, &monitors, true)
		go f.pipe(c, s, &monitors, false)
	}
}

// pipe copies from src to dst; fromClient marks the connection as the
// cache's when the client asks for its monitor. A frozen monitor forwards
// nothing, either way.
func (f *freezer) pipe(dst, src net.Conn, monitors *atomic.Bool, fromClient bool) {
	defer dst.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			// libovsdb's cache asks for monitor_cond(_since); the lock
			// session only monitors _Server, with plain monitor.
			if fromClient && bytes.Contains(buf[:n], []byte(`"monitor_cond`)) {
				monitors.Store(true)
			}
			for f.frozen.Load() && monitors.Load() {
				time.Sleep(10 * time.Millisecond)
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestNorthboundFrozenOwnsNothing: a replica whose northbound cache
// connection stops answering, while its lock session (another
// connection) goes on, drives no device from the frozen cache: it owns
// nothing until the connection is back, then takes its devices again.
func TestNorthboundFrozenOwnsNothing(t *testing.T) {
	needOVSDB(t)
	cluster := nbdbtest.StartCluster(t)
	var proxies []*freezer
	var targets []string
	for n := 1; n <= 3; n++ {
		p := newFreezer(t, cluster.Target(n))
		proxies = append(proxies, p)
		targets = append(targets, p.target())
	}
	r := startReplicaProc(t, strings.Join(targets, ","), "r1")
	for i := range 3 {
		// Unreachable on purpose: ownership is of registrations.
		post(t, r.api+"/v1/chassis", fmt.Sprintf(`{"name":"hv%d","ovsdb":"tcp:198.18.255.%d:6640","tunnel_ip":"198.18.1.%d"}`, i+1, i+11, i+11))
	}
	shares(t, r, map[string]int{"r1": 3}, 20*time.Second)

	for _, p := range proxies {
		p.frozen.Store(true)
	}
	took := shares(t, r, map[string]int{"r1": 0}, 15*time.Second)
	t.Logf("cache connection frozen: r1 owns nothing after %v", took)
	for _, p := range proxies {
		p.frozen.Store(false)
	}
	took = shares(t, r, map[string]int{"r1": 3}, 30*time.Second)
	t.Logf("thawed: r1 owns its devices again after %v", took)
}
