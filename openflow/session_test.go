package openflow

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	of "antrea.io/libOpenflow/openflow15"
)

type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer runs a Server on a loopback listener (wrapped by wrap, if
// given) and returns it with its address and log.
func startServer(t *testing.T, wrap func(net.Listener) net.Listener, opts ...Option) (*Server, string, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	srv := NewServer(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), opts...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return srv, addr, logs
}

// fakeSwitch is a scripted OpenFlow switch.
type fakeSwitch struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
	dpid uint64
}

func dialFake(t *testing.T, addr string, dpid uint64) *fakeSwitch {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return handshakeFake(t, conn, dpid)
}

func handshakeFake(t *testing.T, conn net.Conn, dpid uint64) *fakeSwitch {
	t.Helper()
	f := &fakeSwitch{t: t, conn: conn, br: bufio.NewReader(conn), dpid: dpid}
	t.Cleanup(func() { conn.Close() })
	if m := f.read(); m[1] != of.Type_Hello {
		t.Fatalf("first message %s, want hello", msgTypeName(m[1]))
	}
	f.send(helloMsg(1))
	req := f.read()
	if req[1] != of.Type_FeaturesRequest {
		t.Fatalf("got %s, want features request", msgTypeName(req[1]))
	}
	r := header(of.Type_FeaturesReply, xidOf(req), 32)
	binary.BigEndian.PutUint64(r[8:16], dpid)
	r[20] = 254
	f.send(r)
	return f
}

func xidOf(m []byte) uint32 { return binary.BigEndian.Uint32(m[4:8]) }

func (f *fakeSwitch) read() []byte {
	f.t.Helper()
	_ = f.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := readMsg(f.br)
	if err != nil {
		f.t.Fatalf("fake switch read: %v", err)
	}
	return m
}

// readSkippingEchoes reads the next message that is not an echo request or
// reply (the server's liveness probes and answers may interleave).
func (f *fakeSwitch) readSkippingEchoes() []byte {
	f.t.Helper()
	for {
		if m := f.read(); m[1] != of.Type_EchoRequest && m[1] != of.Type_EchoReply {
			return m
		}
	}
}

func (f *fakeSwitch) send(b []byte) {
	f.t.Helper()
	if _, err := f.conn.Write(b); err != nil {
		f.t.Fatalf("fake switch write: %v", err)
	}
}

func (f *fakeSwitch) sendError(xid uint32, typ, code uint16) {
	e := header(of.Type_Error, xid, 12)
	binary.BigEndian.PutUint16(e[8:10], typ)
	binary.BigEndian.PutUint16(e[10:12], code)
	f.send(e)
}

// mpReply is one part of the OFPT_MULTIPART_REPLY to req, of req's
// multipart type, carrying body.
func mpReply(req []byte, more bool, body ...[]byte) []byte {
	m := header(of.Type_MultiPartReply, xidOf(req), multipartHeaderLen)
	copy(m[8:10], req[8:10])
	if more {
		binary.BigEndian.PutUint16(m[10:12], multipartReplyMore)
	}
	for _, b := range body {
		m = append(m, b...)
	}
	binary.BigEndian.PutUint16(m[2:4], uint16(len(m)))
	return m
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sessionOf(t *testing.T, srv *Server, dpid uint64) *Session {
	t.Helper()
	var s *Session
	waitFor(t, "session", func() bool { s = srv.Bind(dpid, AcceptAny); return s != nil })
	return s
}

func TestSessionRequestsAndReplies(t *testing.T) {
	srv, addr, _ := startServer(t, nil)
	notes, cancel := srv.Subscribe()
	defer cancel()
	f := dialFake(t, addr, 0xabc)
	s := sessionOf(t, srv, 0xabc)
	select {
	case <-notes:
	case <-time.After(time.Second):
		t.Error("no notification for the new session")
	}
	if s.DatapathID() != 0xabc || s.NumTables() != 254 {
		t.Errorf("dpid %x tables %d", s.DatapathID(), s.NumTables())
	}
	ctx := context.Background()

	// The switch's echo request is answered with its xid and payload.
	echo := append(header(of.Type_EchoRequest, 77, 8), "ping"...)
	binary.BigEndian.PutUint16(echo[2:4], uint16(len(echo)))
	f.send(echo)
	r := f.read()
	for r[1] == of.Type_EchoRequest {
		r = f.read()
	}
	if r[1] != of.Type_EchoReply || xidOf(r) != 77 || string(r[8:]) != "ping" {
		t.Errorf("echo reply % x", r)
	}

	// Replies are matched by xid, whatever their order.
	errs := make(chan error, 2)
	go func() { errs <- s.Barrier(ctx) }()
	b1 := f.readSkippingEchoes()
	go func() { errs <- s.Barrier(ctx) }()
	b2 := f.readSkippingEchoes()
	if xidOf(b1) == xidOf(b2) {
		t.Fatal("two requests share an xid")
	}
	f.send(header(of.Type_BarrierReply, xidOf(b2), 8))
	f.send(header(of.Type_BarrierReply, xidOf(b1), 8))
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}

	// An OFPT_ERROR with a request's xid is that request's error.
	go func() { errs <- s.Barrier(ctx) }()
	b := f.readSkippingEchoes()
	f.sendError(xidOf(b), 1, 1)
	err := <-errs
	var ofErr *Error
	if !errors.As(err, &ofErr) || ofErr.Name() != "OFPBRC_BAD_TYPE" {
		t.Errorf("barrier error %v", err)
	}

	// A multipart reply in three parts, with asynchronous messages and an
	// echo request in between, is reassembled in order.
	type result struct {
		fs  []FlowStat
		err error
	}
	res := make(chan result, 1)
	go func() { fs, err := s.DumpFlows(ctx); res <- result{fs, err} }()
	req := f.readSkippingEchoes()
	if req[1] != of.Type_MultiPartRequest || binary.BigEndian.Uint16(req[8:10]) != of.MultipartType_FlowDesc || req[16] != of.OFPTT_ALL {
		t.Fatalf("flow dump request % x", req)
	}
	part := func(more bool, cookies ...uint64) []byte {
		var entries [][]byte
		for _, c := range cookies {
			entries = append(entries, flowDescEntry(c, statsHeaderLen))
		}
		return mpReply(req, more, entries...)
	}
	f.send(part(true, 1, 2))
	f.send(header(of.Type_PortStatus, 0, 8))
	f.send(header(of.Type_EchoRequest, 5, 8))
	f.send(part(true, 3))
	f.send(part(false, 4))
	dumped := <-res
	if dumped.err != nil {
		t.Fatal(dumped.err)
	}
	var cookies []uint64
	for _, fs := range dumped.fs {
		cookies = append(cookies, fs.Cookie)
	}
	if len(cookies) != 4 || cookies[0] != 1 || cookies[3] != 4 {
		t.Errorf("cookies %v, want [1 2 3 4]", cookies)
	}

	// A cancelled request returns at once and leaves the session usable;
	// its late reply is ignored.
	cctx, ccancel := context.WithCancel(ctx)
	go func() { errs <- s.Barrier(cctx) }()
	late := f.readSkippingEchoes()
	ccancel()
	if err := <-errs; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled barrier: %v", err)
	}
	f.send(header(of.Type_BarrierReply, xidOf(late), 8))
	go func() { errs <- s.Barrier(ctx) }()
	b = f.readSkippingEchoes()
	f.send(header(of.Type_BarrierReply, xidOf(b), 8))
	if err := <-errs; err != nil {
		t.Error(err)
	}

	// Disconnect: waiting requests fail, Done closes, the server forgets.
	go func() { errs <- s.Barrier(ctx) }()
	f.readSkippingEchoes()
	f.conn.Close()
	if err := <-errs; !IsDisconnected(err) {
		t.Errorf("pending barrier on disconnect: %v", err)
	}
	select {
	case <-s.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed")
	}
	if srv.Bind(0xabc, AcceptAny) != nil {
		t.Error("dead session still registered")
	}
	if err := s.Barrier(ctx); !IsDisconnected(err) {
		t.Errorf("barrier after disconnect: %v", err)
	}
}

// TestSessionReplacedBySameDatapath: OVS reconnecting while ferry still
// holds its old connection (a partition where OVS timed out first). The old
// session does not answer the echo probe, so it is closed and the new one
// takes the datapath.
func TestSessionReplacedBySameDatapath(t *testing.T) {
	srv, addr, logs := startServer(t, nil)
	f1 := dialFake(t, addr, 7)
	s1 := sessionOf(t, srv, 7)
	dialFake(t, addr, 7)
	waitFor(t, "replacement", func() bool { s := srv.Bind(7, AcceptAny); return s != nil && s != s1 })
	select {
	case <-s1.Done():
	case <-time.After(time.Second):
		t.Fatal("old session not closed")
	}
	// The old connection is really closed.
	_ = f1.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		if _, err := readMsg(f1.br); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Errorf("old connection: %v, want EOF", err)
			}
			break
		}
	}
	if !strings.Contains(logs.String(), "did not answer while a new connection claims its datapath") {
		t.Errorf("no log line about the replacement:\n%s", logs.String())
	}
	if n := len(srv.Sessions()); n != 1 {
		t.Errorf("%d sessions", n)
	}
}

func TestHelloWithoutOpenFlow15Or13(t *testing.T) {
	srv, addr, logs := startServer(t, nil)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	if _, err := readMsg(br); err != nil {
		t.Fatal(err)
	}
	h := header(of.Type_Hello, 1, 16)
	h[0] = 5 // OpenFlow 1.4, bitmap 1.0 + 1.4
	binary.BigEndian.PutUint16(h[8:10], 1)
	binary.BigEndian.PutUint16(h[10:12], 8)
	binary.BigEndian.PutUint32(h[12:16], 1<<1|1<<5)
	if _, err := conn.Write(h); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := readMsg(br)
	if err != nil {
		t.Fatal(err)
	}
	if m[1] != of.Type_Error || m[0] != 5 {
		t.Fatalf("got %s version %d, want an OpenFlow 1.4 error", msgTypeName(m[1]), m[0])
	}
	if e, err := parseError(m); err != nil || e.Name() != "OFPHFC_INCOMPATIBLE" || !strings.Contains(string(e.Data), "OpenFlow15 or OpenFlow13") {
		t.Errorf("error %v %v", e, err)
	}
	if _, err := readMsg(br); !errors.Is(err, io.EOF) {
		t.Errorf("connection not closed: %v", err)
	}
	waitFor(t, "log line", func() bool {
		return strings.Contains(logs.String(), "speaks neither OpenFlow 1.5 nor 1.3 (it offers OpenFlow10,OpenFlow14)")
	})
	if len(srv.Sessions()) != 0 {
		t.Error("session registered")
	}
}

func TestHandshakeTimeout(t *testing.T) {
	srv, addr, logs := startServer(t, nil, WithHandshakeTimeout(100*time.Millisecond))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	if m, err := readMsg(br); err != nil || m[1] != of.Type_Hello {
		t.Fatalf("hello: %v", err)
	}
	// Say nothing: the server gives up.
	if _, err := readMsg(br); !errors.Is(err, io.EOF) {
		t.Errorf("read after silence: %v, want EOF", err)
	}
	waitFor(t, "log line", func() bool { return strings.Contains(logs.String(), "handshake failed") })
	if len(srv.Sessions()) != 0 {
		t.Error("session registered")
	}
}

func TestCommitWireProtocol(t *testing.T) {
	srv, addr, _ := startServer(t, nil)
	f := dialFake(t, addr, 1)
	s := sessionOf(t, srv, 1)
	flows := []Flow{{Table: 0, Priority: 1}, {Table: 0, Priority: 2}}
	bundleReply := func(req []byte, typ uint16) []byte {
		r := append([]byte(nil), req[:16]...)
		binary.BigEndian.PutUint16(r[2:4], 16)
		binary.BigEndian.PutUint16(r[12:14], typ)
		return r
	}
	for _, reject := range []bool{false, true} {
		errc := make(chan error, 1)
		go func() { errc <- s.Commit(context.Background(), Changes{AddFlows: flows}) }()
		open := f.readSkippingEchoes()
		if open[1] != of.Type_BundleControl || binary.BigEndian.Uint16(open[12:14]) != of.BCT_OPEN_REQUEST {
			t.Fatalf("first message % x, want bundle open", open)
		}
		var adds [][]byte
		for range flows {
			adds = append(adds, f.readSkippingEchoes())
		}
		cl := f.readSkippingEchoes()
		if binary.BigEndian.Uint16(cl[12:14]) != of.BCT_CLOSE_REQUEST {
			t.Fatalf("after the adds: % x, want bundle close", cl)
		}
		f.send(bundleReply(open, of.BCT_OPEN_REPLY))
		if reject {
			// Rejected at add time: the close still succeeds, but the
			// bundle must be discarded rather than committed.
			f.sendError(xidOf(adds[1]), 5, 6) // OFPFMFC_BAD_COMMAND
			f.send(bundleReply(cl, of.BCT_CLOSE_REPLY))
			d := f.readSkippingEchoes()
			if binary.BigEndian.Uint16(d[12:14]) != of.BCT_DISCARD_REQUEST {
				t.Fatalf("after a rejected add: % x, want discard", d)
			}
			f.send(bundleReply(d, of.BCT_DISCARD_REPLY))
			err := <-errc
			var be *BundleError
			if !errors.As(err, &be) || be.Stage != "add" || !strings.Contains(err.Error(), "priority=2") ||
				!strings.Contains(err.Error(), "OFPFMFC_BAD_COMMAND") {
				t.Errorf("commit error: %v", err)
			}
			continue
		}
		f.send(bundleReply(cl, of.BCT_CLOSE_REPLY))
		commit := f.readSkippingEchoes()
		if binary.BigEndian.Uint16(commit[12:14]) != of.BCT_COMMIT_REQUEST || binary.BigEndian.Uint16(commit[14:16]) != of.BF_ATOMIC|of.BF_ORDERED {
			t.Fatalf("after close: % x, want atomic ordered commit", commit)
		}
		f.send(bundleReply(commit, of.BCT_COMMIT_REPLY))
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if c := srv.Counters(); c.Bundles != 2 || c.FlowMods != 4 || c.BundleErrors != 1 {
		t.Errorf("counters %+v", c)
	}
}

// TestTLS runs the session over a tls.Listener that requires client
// certificates, as an ssl: controller target would.
func TestTLS(t *testing.T) {
	ca, caKey := newCert(t, "ferry test CA", nil, nil)
	srvCert, srvKey := newCert(t, "ferry", ca, caKey)
	swCert, swKey := newCert(t, "br0", ca, caKey)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	serverConf := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}
	srv, addr, logs := startServer(t, func(ln net.Listener) net.Listener { return tls.NewListener(ln, serverConf) })

	conn, err := tls.Dial("tcp", addr, &tls.Config{
		RootCAs:      pool,
		ServerName:   "ferry",
		Certificates: []tls.Certificate{{Certificate: [][]byte{swCert.Raw}, PrivateKey: swKey}},
	})
	if err != nil {
		t.Fatal(err)
	}
	handshakeFake(t, conn, 99)
	s := sessionOf(t, srv, 99)
	if err := func() error {
		errc := make(chan error, 1)
		go func() { errc <- s.Barrier(context.Background()) }()
		f := &fakeSwitch{t: t, conn: conn, br: bufio.NewReader(conn)}
		b := f.readSkippingEchoes()
		f.send(header(of.Type_BarrierReply, xidOf(b), 8))
		return <-errc
	}(); err != nil {
		t.Fatal(err)
	}

	// Without a client certificate the handshake fails and no session
	// appears.
	bad, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "ferry"})
	if err == nil {
		_ = bad.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = bad.Read(make([]byte, 1))
		bad.Close()
	}
	if err == nil {
		t.Fatal("connection without a client certificate accepted")
	}
	waitFor(t, "tls log line", func() bool { return strings.Contains(logs.String(), "tls:") })
	if n := len(srv.Sessions()); n != 1 {
		t.Errorf("%d sessions", n)
	}
}

func newCert(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
	} else {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

// TestMalformedDumpRepliesAreErrors is the reported attack end to end: a
// peer completes the handshake with a managed bridge's datapath ID and
// answers ferry's dumps with replies that do not parse. Each dump must fail
// with an error, not a panic; the session, the server and other bridges'
// sessions carry on.
func TestMalformedDumpRepliesAreErrors(t *testing.T) {
	srv, addr, _ := startServer(t, nil)
	bad := dialFake(t, addr, 0xbad)
	s := sessionOf(t, srv, 0xbad)
	ctx := context.Background()

	dumpFlows := func() error { _, err := s.DumpFlows(ctx); return err }
	dumpGroups := func() error { _, err := s.DumpGroups(ctx); return err }
	overrun := make([]byte, 16+8) // a group_desc whose only bucket claims 64 bytes
	binary.BigEndian.PutUint16(overrun[0:2], uint16(len(overrun)))
	binary.BigEndian.PutUint16(overrun[8:10], 8)
	binary.BigEndian.PutUint16(overrun[16:18], 64)
	for _, tc := range []struct {
		name  string
		dump  func() error
		reply func(req []byte) []byte
		want  string
	}{
		{"flow stats length 0 (the reported crash)", dumpFlows,
			func(req []byte) []byte { return mpReply(req, false, flowDescEntry(1, 0)) }, "bad stats length 0"},
		{"flow stats past the entry", dumpFlows,
			func(req []byte) []byte { return mpReply(req, false, flowDescEntry(1, 200)) }, "bad stats length 200"},
		{"flow_desc past the part", dumpFlows,
			func(req []byte) []byte { return mpReply(req, false, flowDescEntry(1, 4)[:36]) }, "truncated"},
		{"group bucket past the group", dumpGroups,
			func(req []byte) []byte { return mpReply(req, false, overrun) }, "bad bucket length 64"},
		{"multipart reply without its header", dumpFlows,
			func(req []byte) []byte { return header(of.Type_MultiPartReply, xidOf(req), 12) }, "shorter than its 16-byte header"},
		{"reply of another multipart type", dumpGroups, func(req []byte) []byte {
			m := mpReply(req, false)
			binary.BigEndian.PutUint16(m[8:10], of.MultipartType_FlowDesc)
			return m
		}, "multipart reply of type 1 to a request of type 7"},
		{"barrier reply to a dump", dumpFlows,
			func(req []byte) []byte { return header(of.Type_BarrierReply, xidOf(req), 8) }, "unexpected reply OFPT_BARRIER_REPLY"},
		{"error without type and code", dumpFlows,
			func(req []byte) []byte { return header(of.Type_Error, xidOf(req), 10) }, "OFPT_ERROR of 10 bytes"},
	} {
		errc := make(chan error, 1)
		go func() { errc <- tc.dump() }()
		req := bad.readSkippingEchoes()
		bad.send(tc.reply(req))
		select {
		case err := <-errc:
			if err == nil || !strings.HasPrefix(err.Error(), "openflow: dump ") || !strings.Contains(err.Error(), tc.want) ||
				strings.Contains(err.Error(), "openflow: openflow:") || IsDisconnected(err) {
				t.Errorf("%s: err = %v, want an openflow: error containing %q", tc.name, err, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: dump did not return", tc.name)
		}
	}

	// The bad peer's session is still usable: the error was reported, not
	// turned into a disconnect.
	errc := make(chan error, 1)
	go func() { errc <- s.Barrier(ctx) }()
	b := bad.readSkippingEchoes()
	bad.send(header(of.Type_BarrierReply, xidOf(b), 8))
	if err := <-errc; err != nil {
		t.Errorf("barrier after malformed dumps: %v", err)
	}

	// A well-behaved bridge connecting afterwards is served as usual.
	good := dialFake(t, addr, 0x900d)
	gs := sessionOf(t, srv, 0x900d)
	res := make(chan []FlowStat, 1)
	go func() {
		fs, err := gs.DumpFlows(ctx)
		if err != nil {
			t.Errorf("good dump: %v", err)
		}
		res <- fs
	}()
	req := good.readSkippingEchoes()
	good.send(mpReply(req, false, flowDescEntry(7, statsHeaderLen)))
	if fs := <-res; len(fs) != 1 || fs[0].Cookie != 7 {
		t.Errorf("good dump = %+v, want cookie 7", fs)
	}
	if n := len(srv.Sessions()); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
}

// TestEndlessDumpIsBounded: a switch that never clears OFPMPF_REPLY_MORE
// must not grow ferryd's memory without bound. Past the limit the dump fails
// and the connection is dropped (the switch would go on streaming); the
// bridge's next connection works.
func TestEndlessDumpIsBounded(t *testing.T) {
	const limit = 4 << 10
	srv, addr, _ := startServer(t, nil, func(c *config) { c.maxDumpBytes = limit })
	f := dialFake(t, addr, 5)
	s := sessionOf(t, srv, 5)
	errc := make(chan error, 1)
	go func() { _, err := s.DumpFlows(context.Background()); errc <- err }()
	req := f.readSkippingEchoes()
	part := mpReply(req, true, flowDescEntry(1, statsHeaderLen), flowDescEntry(2, statsHeaderLen))
	for sent := 0; sent <= limit; sent += len(part) {
		f.send(part)
	}
	if err := <-errc; !errors.Is(err, errReplyTooLarge) || !strings.Contains(err.Error(), "more than 4096 bytes") {
		t.Errorf("endless dump: err = %v, want the reply-size limit", err)
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("session with an endless dump not closed")
	}
	dialFake(t, addr, 5)
	waitFor(t, "new session", func() bool { n := srv.Bind(5, AcceptAny); return n != nil && n != s })
}
