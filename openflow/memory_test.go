package openflow

import (
	"bufio"
	"net"
	"runtime"
	"testing"
	"time"

	of "antrea.io/libOpenflow/openflow15"

	"github.com/ferry-sdn/ferry/openflow/oftest"
)

// floodBytes is what each test pours into ferry: the 256 MB.
const floodBytes = 256 << 20

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func totalAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc
}

// TestFloodAllocatesNothing: 256 MB of messages nobody asked for
// (asynchronous messages, oversized echo requests, unsolicited replies,
// errors and multipart parts, most of them 64 KiB), half from a session
// that waits for a chassis and half from a bound one that never reads what
// ferry writes back, are skipped in the read buffer: the server allocates
// a small fraction of what it receives, keeps nothing, and both sessions
// stay up.
func TestFloodAllocatesNothing(t *testing.T) {
	srv, addr, _ := startServer(t, nil)
	dial := func(dpid uint64) *oftest.Switch {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		sw, err := oftest.Handshake(conn, dpid, oftest.Options{Silent: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sw.Close)
		return sw
	}
	waiting := dial(0x77)
	bound := dial(0x78)
	sessionOf(t, srv, 0x78)
	waitFor(t, "both sessions", func() bool { return len(srv.Sessions()) == 2 })

	round := oftest.Flood()
	heap0, alloc0 := heapInUse(), totalAlloc()
	done := make(chan error, 2)
	for _, sw := range []*oftest.Switch{waiting, bound} {
		go func() {
			for sent := 0; sent < floodBytes/2; sent += len(round) {
				if err := sw.Write(round); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("flood: %v", err)
		}
	}
	// What was sent last is read by now once an echo is answered.
	s := srv.Bind(0x78, AcceptAny)
	if s == nil {
		t.Fatal("the bound session did not survive the flood")
	}
	allocated := totalAlloc() - alloc0
	grown := int64(heapInUse()) - int64(heap0)
	t.Logf("flooded %d MiB: allocated %d KiB, heap grew %d KiB", floodBytes>>20, allocated>>10, grown>>10)
	if allocated > floodBytes/20 {
		t.Errorf("the server allocated %d MiB for a %d MiB flood, want under 5%%", allocated>>20, floodBytes>>20)
	}
	if grown > 4<<20 {
		t.Errorf("the heap grew by %d KiB over the flood", grown>>10)
	}
	if len(srv.Sessions()) != 2 {
		t.Errorf("%d sessions after the flood, want 2", len(srv.Sessions()))
	}
}

// TestStalledConnectionsAreCheap: connections stuck in their handshake
// (the issue measured 2,000 of them at 284 MB) each cost a few KiB of
// buffers, not 128 KiB.
func TestStalledConnectionsAreCheap(t *testing.T) {
	const n = 200
	srv, addr, _ := startServer(t, nil, WithMaxUnboundPerHost(n)) // all from loopback
	heap0 := heapInUse()
	for range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if m, err := readMsg(bufio.NewReader(conn)); err != nil || m[1] != of.Type_Hello {
			t.Fatalf("hello: %v", err)
		}
	}
	per := (int64(heapInUse()) - int64(heap0)) / n
	t.Logf("%d stalled handshakes: %d bytes of heap each", n, per)
	if per > 32<<10 {
		t.Errorf("a stalled handshake holds %d KiB of heap, want under 32", per>>10)
	}
	if st := srv.Stats(); st.Unbound != n {
		t.Errorf("stats %+v, want %d unbound", st, n)
	}
}

// TestRedialsLeaveNothing: peers that handshake, claim a datapath nobody
// binds and hang up, two thousand times over, leave nothing behind: not their
// buffers, not the timers that would have refused them.
func TestRedialsLeaveNothing(t *testing.T) {
	const n = 2000
	// The server notices a close a little after it, so closed connections
	// may still hold the host's share of unbound ones for a moment: lift
	// the per-host cap, which would refuse the next dial (the server-wide
	// one makes Serve wait instead).
	srv, addr, _ := startServer(t, nil, WithMaxUnboundPerHost(DefaultMaxUnbound))
	heap0 := heapInUse()
	for i := range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		sw, err := oftest.Handshake(conn, uint64(0x5000+i), oftest.Options{Silent: true})
		if err != nil {
			t.Fatal(err)
		}
		sw.Close()
	}
	waitFor(t, "every session gone", func() bool { return srv.Stats().Unbound == 0 })
	grown := int64(heapInUse()) - int64(heap0)
	t.Logf("%d redials: heap grew %d KiB", n, grown>>10)
	if grown > n<<9 {
		t.Errorf("%d sessions that ended unbound left %d KiB on the heap", n, grown>>10)
	}
}
