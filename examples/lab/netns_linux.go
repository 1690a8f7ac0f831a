package lab

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"syscall"
	"time"
)

// DialContext opens a connection from inside the lab's management namespace,
// where ferryd listens, although the caller runs in the root namespace.
func (l *Lab) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return DialInNamespace(ctx, "/var/run/netns/"+l.Namespace("mgmt"), network, addr)
}

// HTTPClient returns a client whose connections are opened inside the
// management namespace, so tests reach ferryd's REST API at
// http://127.0.0.1:PORT even though that loopback is not the test's.
func (l *Lab) HTTPClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil, // never route lab traffic through an outside proxy
			DialContext:         l.DialContext,
			MaxIdleConnsPerHost: 4,
			IdleConnTimeout:     30 * time.Second,
		},
	}
}

// DialInNamespace dials addr from inside the network namespace at nsPath
// (e.g. /var/run/netns/NAME). A socket belongs to the namespace it was
// created in for its whole life, so only socket creation and connect need to
// happen there: a dedicated goroutine locks its OS thread, enters the
// namespace, dials, and returns to the original namespace.
func DialInNamespace(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		conn, err := dialLocked(ctx, nsPath, network, addr)
		ch <- result{conn, err}
	}()
	r := <-ch
	return r.conn, r.err
}

// dialLocked must run on its own goroutine: if the thread cannot be put back
// into its namespace it stays locked, and Go discards a thread whose
// goroutine exits while locked, instead of reusing it elsewhere.
func dialLocked(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("lab: dial: %w", err)
	}
	defer orig.Close()
	target, err := os.Open(nsPath)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("lab: dial: %w", err)
	}
	defer target.Close()
	if err := setns(target); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("lab: dial: enter %s: %w", nsPath, err)
	}
	var d net.Dialer
	conn, dialErr := d.DialContext(ctx, network, addr)
	if err := setns(orig); err != nil {
		// Leave the thread locked: it dies with this goroutine.
		if conn != nil {
			conn.Close()
		}
		return nil, fmt.Errorf("lab: dial: leave %s: %w", nsPath, err)
	}
	runtime.UnlockOSThread()
	if dialErr != nil {
		return nil, fmt.Errorf("lab: dial %s in %s: %w", addr, nsPath, dialErr)
	}
	return conn, nil
}

// Send writes raw Ethernet frames out of iface inside lab namespace ns,
// as the guest's kernel would send them, whatever their addresses say.
func (l *Lab) Send(ns, iface string, frames ...[]byte) error {
	errc := make(chan error, 1)
	go func() { errc <- sendLocked("/var/run/netns/"+l.Namespace(ns), iface, frames) }()
	return <-errc
}

// sendLocked must run on its own goroutine, for the reason dialLocked
// gives. The packet socket and the interface lookup belong to the
// namespace they are made in.
func sendLocked(nsPath, iface string, frames [][]byte) error {
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: send: %w", err)
	}
	defer orig.Close()
	target, err := os.Open(nsPath)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: send: %w", err)
	}
	defer target.Close()
	if err := setns(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("lab: send: enter %s: %w", nsPath, err)
	}
	sendErr := sendFrames(iface, frames)
	if err := setns(orig); err != nil {
		return fmt.Errorf("lab: send: leave %s: %w", nsPath, err) // the thread dies locked
	}
	runtime.UnlockOSThread()
	if sendErr != nil {
		return fmt.Errorf("lab: send on %s in %s: %w", iface, nsPath, sendErr)
	}
	return nil
}

func sendFrames(iface string, frames [][]byte) error {
	ifc, err := net.InterfaceByName(iface)
	if err != nil {
		return err
	}
	const ethPAll = 0x0003
	proto := ethPAll<<8&0xff00 | ethPAll>>8 // network byte order
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, proto)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: ifc.Index}); err != nil {
		return err
	}
	for _, f := range frames {
		if _, err := syscall.Write(fd, f); err != nil {
			return err
		}
	}
	return nil
}

func setns(f *os.File) error {
	_, _, errno := syscall.Syscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
