package openflow

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	of "antrea.io/libOpenflow/openflow15"
)

// dialFrom connects to addr from the loopback address local (the whole of
// 127/8 is this host), so that tests can tell peers apart by address.
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// onlyFrom authorizes the peers at one address.
func onlyFrom(ip string) Authorize {
	want := netip.MustParseAddr(ip)
	return func(p Peer) (string, string) {
		if p.Addr != want {
			return RefusedAddress, p.Addr.String() + " is not " + ip
		}
		return "", ""
	}
}

// answerEchoes makes f a live switch: it answers every echo request until
// its connection closes.
func (f *fakeSwitch) answerEchoes() {
	go func() {
		for {
			m, err := readMsg(f.br)
			if err != nil {
				return
			}
			if m[1] == of.Type_EchoRequest {
				m[1] = of.Type_EchoReply
				if _, err := f.conn.Write(m); err != nil {
					return
				}
			}
		}
	}()
}

// closed reports whether the server closed f's connection (EOF within 5s,
// skipping whatever it sent before).
func (f *fakeSwitch) closed() bool {
	_ = f.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := readMsg(f.br); err != nil {
			return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset")
		}
	}
}

// TestBindAuthorizesPeer: a session that claims a datapath is handed out
// only once the datapath's authorization accepts its peer. A session from
// another address claiming the same datapath is refused and closed,
// counted, recorded for the datapath and logged once however often it
// retries; the authorized one is bound.
func TestBindAuthorizesPeer(t *testing.T) {
	srv, addr, logs := startServer(t, nil)
	impostor := handshakeFake(t, dialFrom(t, "127.0.0.2", addr), 0x11)
	waitFor(t, "impostor waiting", func() bool { return len(srv.Sessions()) == 1 })
	if s := srv.Bind(0x11, onlyFrom("127.0.0.1")); s != nil {
		t.Fatalf("impostor from %s bound", s.Peer())
	}
	if !impostor.closed() {
		t.Error("impostor's connection not closed")
	}
	r, ok := srv.Refused(0x11)
	if !ok || r.Reason != RefusedAddress || r.Peer != "127.0.0.2" || r.Count != 1 || r.At.IsZero() {
		t.Errorf("refusal %+v %v, want the impostor's, by address", r, ok)
	}

	// Once the datapath has an authorization, a new impostor is refused as
	// soon as its handshake ends, without waiting for Bind.
	for range 3 {
		again := handshakeFake(t, dialFrom(t, "127.0.0.2", addr), 0x11)
		if !again.closed() {
			t.Fatal("returning impostor not closed")
		}
	}
	waitFor(t, "refusals counted", func() bool { return srv.Stats().Refused[RefusedAddress] == 4 })
	if r, _ := srv.Refused(0x11); r.Count != 4 {
		t.Errorf("refusal count %d, want 4", r.Count)
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"openflow: refusing connection"); n != 1 {
		t.Errorf("%d warnings for one refused peer retrying, want 1:\n%s", n, logs.String())
	}

	real := dialFake(t, addr, 0x11) // from 127.0.0.1
	var s *Session
	waitFor(t, "bound", func() bool { s = srv.Bind(0x11, onlyFrom("127.0.0.1")); return s != nil })
	if p := s.Peer(); p.Addr != netip.MustParseAddr("127.0.0.1") || p.TLS || p.Unix {
		t.Errorf("peer %+v", p)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Barrier(context.Background()) }()
	b := real.readSkippingEchoes()
	real.send(header(of.Type_BarrierReply, xidOf(b), 8))
	if err := <-errc; err != nil {
		t.Fatal(err)
	}

	// A policy that no longer accepts the bound peer closes it.
	if srv.Bind(0x11, onlyFrom("127.0.0.9")) != nil {
		t.Error("session kept by a policy that refuses it")
	}
	if !real.closed() {
		t.Error("bound session refused by the new policy not closed")
	}
}

// TestDuplicateRefusedWhileBoundAnswers: a second connection claiming a
// datapath whose bound session still answers echo requests is refused,
// even from an authorized address; the bound session keeps the datapath.
func TestDuplicateRefusedWhileBoundAnswers(t *testing.T) {
	srv, addr, _ := startServer(t, nil)
	real := dialFake(t, addr, 0x22)
	s := sessionOf(t, srv, 0x22)
	real.answerEchoes()
	dup := dialFake(t, addr, 0x22)
	if !dup.closed() {
		t.Fatal("duplicate not closed")
	}
	r, ok := srv.Refused(0x22)
	if !ok || r.Reason != RefusedDuplicate || !strings.Contains(r.Detail, "answered an echo request") {
		t.Errorf("refusal %+v, want a duplicate", r)
	}
	if got := srv.Bind(0x22, AcceptAny); got != s {
		t.Errorf("bound session changed")
	}
	select {
	case <-s.Done():
		t.Error("the live bound session was closed")
	default:
	}
}

// TestUnboundSessionTimesOut: a session that no device binds (no chassis
// has its datapath ID) is closed after the unbound timeout and counted.
func TestUnboundSessionTimesOut(t *testing.T) {
	srv, addr, logs := startServer(t, nil, WithUnboundTimeout(200*time.Millisecond))
	f := dialFake(t, addr, 0x33)
	if !f.closed() {
		t.Fatal("unbound session not closed")
	}
	if n := srv.Stats().Refused[RefusedUnbound]; n != 1 {
		t.Errorf("refused unbound %d, want 1", n)
	}
	if !strings.Contains(logs.String(), "no registered chassis took datapath 0000000000000033") {
		t.Errorf("no log line naming the datapath:\n%s", logs.String())
	}
	waitFor(t, "no sessions", func() bool { return len(srv.Sessions()) == 0 })
}

// TestUnboundCap: connections that are not bound (here: stalled in their
// handshake) are capped; further ones wait to be accepted, and get in once
// one goes. A bound session does not hold a slot.
func TestUnboundCap(t *testing.T) {
	srv, addr, _ := startServer(t, nil, WithMaxUnbound(2))
	bound := dialFake(t, addr, 0x44)
	sessionOf(t, srv, 0x44)
	bound.answerEchoes()
	var stalled []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if m, err := readMsg(bufio.NewReader(c)); err != nil || m[1] != of.Type_Hello {
			t.Fatalf("hello: %v", err)
		}
		stalled = append(stalled, c)
	}
	third, err := net.Dial("tcp", addr) // completes in the kernel's backlog
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	br := bufio.NewReader(third)
	_ = third.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := readMsg(br); err == nil {
		t.Fatal("a third unbound connection was served past the cap of 2")
	}
	if srv.Stats().Waits == 0 {
		t.Error("no wait counted")
	}
	stalled[0].Close()
	_ = third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if m, err := readMsg(br); err != nil || m[1] != of.Type_Hello {
		t.Fatalf("third connection after a slot freed: %v", err)
	}
	if st := srv.Stats(); st.Bound != 1 {
		t.Errorf("stats %+v, want 1 bound", st)
	}
}

// TestUnboundPerHostCap: one host cannot hold more unbound connections than
// its share, so it cannot fill the server's cap and lock other bridges
// out: its next connection is refused at once (not left waiting), and
// counted; when one of its connections goes, it may connect again.
func TestUnboundPerHostCap(t *testing.T) {
	srv, addr, _ := startServer(t, nil, WithMaxUnboundPerHost(2))
	var stalled []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if m, err := readMsg(bufio.NewReader(c)); err != nil || m[1] != of.Type_Hello {
			t.Fatalf("hello: %v", err)
		}
		stalled = append(stalled, c)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	_ = third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := readMsg(bufio.NewReader(third)); err == nil {
		t.Fatal("a third unbound connection from one host was served past its share of 2")
	}
	waitFor(t, "the refusal counted", func() bool { return srv.Stats().Refused[RefusedBusy] == 1 })
	stalled[0].Close()
	waitFor(t, "the closed connection's share given back", func() bool { return srv.Stats().Unbound == 1 })
	// A bridge of the host gets in again, and binds.
	sw := dialFake(t, addr, 0x77)
	sessionOf(t, srv, 0x77)
	sw.answerEchoes()
}

// TestPanicClosesOnlyItsConnection: a panic while handling one connection's
// message closes that connection and is counted; the process and the other
// sessions carry on.
func TestPanicClosesOnlyItsConnection(t *testing.T) {
	srv, addr, logs := startServer(t, nil, func(c *config) {
		c.testHook = func(msg []byte) {
			if msg[1] == of.Type_EchoRequest && len(msg) > 8 && string(msg[8:]) == "boom" {
				panic("test panic")
			}
		}
	})
	victim := dialFake(t, addr, 0x55)
	sessionOf(t, srv, 0x55)
	other := dialFake(t, addr, 0x66)
	os := sessionOf(t, srv, 0x66)
	boom := append(header(of.Type_EchoRequest, 9, 8), "boom"...)
	binary.BigEndian.PutUint16(boom[2:4], uint16(len(boom)))
	victim.send(boom)
	if !victim.closed() {
		t.Fatal("connection not closed after a panic in its handler")
	}
	if n := srv.Stats().Panics; n != 1 {
		t.Errorf("panics %d, want 1", n)
	}
	if !strings.Contains(logs.String(), "openflow: panic in reader; connection closed") {
		t.Errorf("panic not logged:\n%s", logs.String())
	}
	errc := make(chan error, 1)
	go func() { errc <- os.Barrier(context.Background()) }()
	b := other.readSkippingEchoes()
	other.send(header(of.Type_BarrierReply, xidOf(b), 8))
	if err := <-errc; err != nil {
		t.Errorf("other session after the panic: %v", err)
	}
}

// A panic while decoding a dump, in the caller's goroutine, fails that
// request, closes its session and is counted.
func TestPanicDecodingDumpClosesSession(t *testing.T) {
	srv, addr, _ := startServer(t, nil)
	dialFake(t, addr, 0x57)
	s := sessionOf(t, srv, 0x57)
	_, err := decodeGuarded(s, [][]byte{{1}}, func([]byte, []FlowStat) ([]FlowStat, error) { panic("test panic") })
	if err == nil || !strings.Contains(err.Error(), "internal error") {
		t.Errorf("err = %v", err)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session not closed")
	}
	if n := srv.Stats().Panics; n != 1 {
		t.Errorf("panics %d, want 1", n)
	}
}
