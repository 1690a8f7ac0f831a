package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// nsRelay makes a loopback TCP port of the harness's network namespace
// reachable at the same address inside another process's namespace (an
// ovs-vswitchd of the probe step dialling ferryd's OpenFlow listener).
// It costs the harness, not ferryd: ferryd sees loopback connections as
// in the other steps.
type nsRelay struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	done  bool
}

// listenInNetns opens a TCP listener on addr in the network namespace of
// pid. The socket stays in that namespace; the thread that entered it is
// never unlocked, so the runtime discards it instead of reusing it.
func listenInNetns(pid int, addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			ch <- result{nil, fmt.Errorf("bench: netns of %d: %w", pid, err)}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{nil, fmt.Errorf("bench: setns to %d: %w", pid, err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		ch <- result{ln, err}
	}()
	r := <-ch
	return r.ln, r.err
}

// startRelay relays connections to addr inside pid's namespace to addr in
// the harness's.
func startRelay(pid int, addr string) (*nsRelay, error) {
	ln, err := listenInNetns(pid, addr)
	if err != nil {
		return nil, err
	}
	r := &nsRelay{ln: ln, conns: map[net.Conn]bool{}}
	go r.serve(addr)
	return r, nil
}

func (r *nsRelay) serve(addr string) {
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		go func() {
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				return
			}
			if !r.track(in, out) {
				return
			}
			var wg sync.WaitGroup
			wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				_, _ = io.Copy(dst, src)
				// Either side gone: both go, so the bridge redials.
				dst.Close()
				src.Close()
			}
			go pipe(out, in)
			go pipe(in, out)
			wg.Wait()
			r.mu.Lock()
			delete(r.conns, in)
			delete(r.conns, out)
			r.mu.Unlock()
		}()
	}
}

func (r *nsRelay) track(cs ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		r.conns[c] = true
	}
	return true
}

// Close stops the relay and its connections.
func (r *nsRelay) Close() error {
	r.mu.Lock()
	r.done = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	err := r.ln.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
