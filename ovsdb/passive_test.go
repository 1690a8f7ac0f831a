package ovsdb

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests play the host with a scripted JSON-RPC peer, to control the
// byte stream exactly; passive_ovs_test.go uses real ovsdb-servers.

type passiveOpts struct {
	accept   func(string) bool
	identify func(context.Context, *RawConn) (string, error)
	timeout  time.Duration
	probe    time.Duration
	pending  int // MaxPending
	log      *slog.Logger
	changes  chan struct{}
}

// startPassive runs a Passive on ptcp:0:127.0.0.1 until the test ends and
// checks then that nothing of it is left behind.
func startPassive(t *testing.T, o passiveOpts) *Passive {
	t.Helper()
	if o.accept == nil {
		o.accept = func(string) bool { return true }
	}
	if o.log == nil {
		o.log = testLogger(t)
	}
	dir := filepath.Join(shortTempDir(t), "relay")
	p, err := NewPassive(PassiveConfig{
		Listen:          Target{Scheme: PTCP, Host: "127.0.0.1"},
		Identify:        o.identify,
		Accept:          o.accept,
		Logger:          o.log,
		RelayDir:        dir,
		IdentifyTimeout: o.timeout,
		MaxPending:      o.pending,
		OnChange: func() {
			if o.changes != nil {
				select {
				case o.changes <- struct{}{}:
				default:
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.probe > 0 {
		p.probe = o.probe
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(context.Background()) }()
	t.Cleanup(func() {
		p.Close()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
		checkPassiveGone(t, p)
	})
	return p
}

// checkPassiveGone fails if a relay socket or a goroutine of p's survived
// Close.
func checkPassiveGone(t *testing.T, p *Passive) {
	t.Helper()
	entries, err := os.ReadDir(p.cfg.RelayDir)
	if err != nil {
		t.Error(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in the relay directory: %s", e.Name())
	}
	// Goroutines that Close does not wait for (context.AfterFunc's) may
	// take a moment to end.
	var left []string
	for range 100 {
		left = left[:0]
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for g := range strings.SplitSeq(string(buf), "\n\n") {
			if strings.Contains(g, "ovsdb.(*session)") || strings.Contains(g, "ovsdb.(*Passive)") {
				left = append(left, g)
			}
		}
		if len(left) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, g := range left {
		t.Errorf("goroutine left running after Close:\n%s", g)
	}
	if c, err := net.DialTimeout("tcp", p.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("still listening after Close")
	}
}

// fakeHost is the host end of an inbound connection.
type fakeHost struct {
	t   *testing.T
	c   net.Conn
	dec *json.Decoder
}

type rpcMsg struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

func dialHost(t *testing.T, p *Passive) *fakeHost {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fakeHost{t: t, c: c, dec: json.NewDecoder(c)}
}

// dialIdentified connects and answers IdentifyBySystemID's query.
func dialIdentified(t *testing.T, p *Passive, systemID string) *fakeHost {
	t.Helper()
	h := dialHost(t, p)
	m := h.recv()
	if m.Method != "transact" || !strings.Contains(string(m.Params), `"Open_vSwitch"`) || !strings.Contains(string(m.Params), `"external_ids"`) {
		t.Fatalf("identification request = %s %s", m.Method, m.Params)
	}
	h.send(`{"id":` + string(m.ID) + `,"result":[{"rows":[{"external_ids":["map",[["hostname","x"],["system-id","` + systemID + `"]]]}]}],"error":null}`)
	return h
}

func (h *fakeHost) send(s string) {
	h.t.Helper()
	if _, err := io.WriteString(h.c, s); err != nil {
		h.t.Fatal(err)
	}
}

func (h *fakeHost) recv() rpcMsg {
	h.t.Helper()
	_ = h.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m rpcMsg
	if err := h.dec.Decode(&m); err != nil {
		h.t.Fatalf("host: no message: %v", err)
	}
	return m
}

// closed waits until ferry closes the connection.
func (h *fakeHost) closed() {
	h.t.Helper()
	_ = h.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m rpcMsg
	err := h.dec.Decode(&m)
	if err == nil {
		h.t.Fatalf("host received %s %s, want the connection closed", m.Method, m.ID)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		h.t.Fatalf("host: %v, want the connection closed", err)
	}
}

func (h *fakeHost) echo(id string) {
	h.t.Helper()
	h.send(`{"method":"echo","params":["` + id + `"],"id":"` + id + `"}`)
	m := h.recv()
	if string(m.ID) != `"`+id+`"` || string(m.Result) != `["`+id+`"]` {
		h.t.Fatalf("echo %s answered with id %s result %s error %s", id, m.ID, m.Result, m.Error)
	}
}

func dialRelay(t *testing.T, p *Passive, name string) net.Conn {
	t.Helper()
	ep, ok := p.Endpoint(name)
	if !ok {
		t.Fatalf("no endpoint for %s", name)
	}
	c, err := ep.Dial(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readExactly reads len(want) bytes from c and compares them.
func readExactly(t *testing.T, c net.Conn, want string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("client read: %v (after %q)", err, got)
	}
	if string(got) != want {
		t.Fatalf("client received %q, want %q", got, want)
	}
}

// nothingMore checks that c receives nothing for a while.
func nothingMore(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	b := make([]byte, 1)
	if n, err := c.Read(b); n > 0 || err == nil {
		t.Fatalf("client received %q, want nothing", b[:n])
	}
}

// waitSwitched waits until the host's bytes go to the attached client
// (dialing the relay returns before Passive has accepted the client).
func waitSwitched(t *testing.T, p *Passive, name string) {
	t.Helper()
	eventually(t, 5*time.Second, "relay switched", func() bool {
		s := sessionOf(p, name)
		if s == nil {
			return false
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.switched
	})
}

func sessionOf(p *Passive, name string) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hosts[name]
}

func TestPassiveRelaySwitchesAtMessageBoundary(t *testing.T) {
	changes := make(chan struct{}, 1)
	p := startPassive(t, passiveOpts{changes: changes})
	h := dialIdentified(t, p, "hv1")
	eventually(t, 5*time.Second, "hv1 connected", func() bool { return p.Connected("hv1") })
	kicked(t, changes, "connect")
	ep, _ := p.Endpoint("hv1")
	if ep.Scheme != Unix || filepath.Dir(ep.Path) != p.cfg.RelayDir {
		t.Fatalf("Endpoint = %v", ep)
	}
	if _, err := os.Stat(ep.Path); err != nil {
		t.Fatal(err)
	}

	// Nobody attached: ferry answers the host's probes itself.
	h.echo("e1")

	// A client attaches while the host is in the middle of an echo
	// request: that request is still ferry's to answer, and the client
	// must see none of it.
	msg := `{"method":"echo","params":["e2"],"id":"e2"}`
	h.send(msg[:17])
	time.Sleep(50 * time.Millisecond) // let the reader consume it
	c := dialRelay(t, p, "hv1")
	s := sessionOf(p, "hv1")
	eventually(t, 5*time.Second, "client pending", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pending != nil
	})
	s.mu.Lock()
	switched := s.switched
	s.mu.Unlock()
	if switched {
		t.Fatal("relay switched in the middle of a message")
	}
	// The rest of the request, and in the same segment the first message
	// for the client.
	update := `{"id":null,"method":"update3","params":[["m"],"txn",{"Bridge":{}}]}`
	h.send(msg[17:] + "\n" + update)
	if m := h.recv(); string(m.ID) != `"e2"` || string(m.Result) != `["e2"]` {
		t.Fatalf("echo e2 answered with %s %s", m.ID, m.Result)
	}
	readExactly(t, c, "\n"+update)

	// From now on bytes flow unchanged both ways, echo included.
	req := `{"method":"transact","params":["Open_vSwitch"],"id":0}`
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	if m := h.recv(); m.Method != "transact" || string(m.ID) != "0" {
		t.Fatalf("host received %s %s", m.Method, m.ID)
	}
	h.send(`{"method":"echo","params":[],"id":"echo"}`)
	readExactly(t, c, `{"method":"echo","params":[],"id":"echo"}`)
	nothingMore(t, c)

	// A second client is turned away while the first is attached.
	c2 := dialRelay(t, p, "hv1")
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c2.Read(make([]byte, 1)); err == nil || n > 0 {
		t.Fatal("second client not turned away")
	}

	// The client leaves: the host's session, which holds that client's
	// monitors, is dropped so that it dials in afresh.
	drain(changes)
	c.Close()
	h.closed()
	kicked(t, changes, "disconnect")
	if p.Connected("hv1") {
		t.Fatal("still connected after the client left")
	}
	if _, ok := p.Endpoint("hv1"); ok {
		t.Fatal("endpoint after disconnect")
	}
	if _, err := os.Stat(ep.Path); !os.IsNotExist(err) {
		t.Fatalf("relay socket after disconnect: %v", err)
	}

	// The host dials in again: same endpoint.
	dialIdentified(t, p, "hv1")
	eventually(t, 5*time.Second, "hv1 reconnected", func() bool { return p.Connected("hv1") })
	if ep2, _ := p.Endpoint("hv1"); ep2 != ep {
		t.Fatalf("endpoint changed from %v to %v", ep, ep2)
	}
}

func TestPassiveHostGoneClosesClient(t *testing.T) {
	p := startPassive(t, passiveOpts{})
	h := dialIdentified(t, p, "hv1")
	eventually(t, 5*time.Second, "connected", func() bool { return p.Connected("hv1") })
	c := dialRelay(t, p, "hv1")
	waitSwitched(t, p, "hv1")
	h.c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("client read after host left: %v, want EOF", err)
	}
	eventually(t, 5*time.Second, "disconnected", func() bool { return !p.Connected("hv1") })
}

func TestPassiveWaitsForProbeAnswerBeforeSwitching(t *testing.T) {
	p := startPassive(t, passiveOpts{probe: 200 * time.Millisecond})
	h := dialIdentified(t, p, "hv1")
	eventually(t, 5*time.Second, "connected", func() bool { return p.Connected("hv1") })
	// Silent host: ferry probes.
	probe := h.recv()
	if probe.Method != "echo" || !strings.HasPrefix(string(probe.ID), `"ferry-`) {
		t.Fatalf("probe = %s %s", probe.Method, probe.ID)
	}
	// A client attaching now must not get the answer to ferry's probe.
	c := dialRelay(t, p, "hv1")
	s := sessionOf(p, "hv1")
	eventually(t, 5*time.Second, "client pending", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pending != nil
	})
	time.Sleep(50 * time.Millisecond)
	s.mu.Lock()
	switched := s.switched
	s.mu.Unlock()
	if switched {
		t.Fatal("switched with a probe in flight")
	}
	h.send(`{"id":` + string(probe.ID) + `,"result":[],"error":null}{"id":null,"method":"update","params":[]}`)
	readExactly(t, c, `{"id":null,"method":"update","params":[]}`)
	// Attached: no more probes from ferry, even after a silence.
	time.Sleep(500 * time.Millisecond)
	if _, err := io.WriteString(c, `{"method":"echo","params":[],"id":7}`); err != nil {
		t.Fatal(err)
	}
	if m := h.recv(); string(m.ID) != "7" {
		t.Fatalf("host received %s %s, want the client's echo", m.Method, m.ID)
	}
}

func TestPassiveDropsSilentHost(t *testing.T) {
	p := startPassive(t, passiveOpts{probe: 100 * time.Millisecond})
	h := dialIdentified(t, p, "hv1")
	eventually(t, 5*time.Second, "connected", func() bool { return p.Connected("hv1") })
	if m := h.recv(); m.Method != "echo" {
		t.Fatalf("got %s, want a probe", m.Method)
	}
	h.closed()
	eventually(t, 5*time.Second, "disconnected", func() bool { return !p.Connected("hv1") })
}

// syncBuffer is a log destination tests can read while Passive writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestPassiveRefusesUnregisteredHost(t *testing.T) {
	var logs syncBuffer
	p := startPassive(t, passiveOpts{
		accept: func(name string) bool { return name == "hv1" },
		log:    slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	for i := range 3 {
		h := dialIdentified(t, p, "intruder")
		h.closed()
		if got := p.Refused(); got != uint64(i+1) {
			t.Fatalf("Refused = %d after %d refusals", got, i+1)
		}
	}
	if p.Connected("intruder") {
		t.Fatal("unregistered host connected")
	}
	if _, ok := p.Endpoint("intruder"); ok {
		t.Fatal("endpoint for an unregistered host")
	}
	// Warned about, once (it retries forever), with address and name.
	out := logs.String()
	if n := strings.Count(out, "refusing unregistered host"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "name=intruder") || !strings.Contains(out, "addr=127.0.0.1:") {
		t.Fatalf("warning lacks name or address:\n%s", out)
	}
	// A registered host still gets in.
	dialIdentified(t, p, "hv1")
	eventually(t, 5*time.Second, "hv1 connected", func() bool { return p.Connected("hv1") })
}

func TestPassiveRefusesUnidentifiableHost(t *testing.T) {
	p := startPassive(t, passiveOpts{timeout: 300 * time.Millisecond})
	// No system-id.
	h := dialHost(t, p)
	m := h.recv()
	h.send(`{"id":` + string(m.ID) + `,"result":[{"rows":[{"external_ids":["map",[]]}]}],"error":null}`)
	h.closed()
	// Not the Open_vSwitch database.
	h = dialHost(t, p)
	m = h.recv()
	h.send(`{"id":` + string(m.ID) + `,"result":null,"error":{"error":"unknown database"}}`)
	h.closed()
	// No answer: identification times out.
	h = dialHost(t, p)
	h.recv()
	h.closed()
	// Not JSON-RPC.
	h = dialHost(t, p)
	h.recv()
	h.send("GET / HTTP/1.0\r\n\r\n")
	h.closed()
	eventually(t, 5*time.Second, "4 refusals", func() bool { return p.Refused() == 4 })
	if len(p.Hosts()) != 0 {
		t.Fatalf("hosts %v", p.Hosts())
	}
}

func TestPassiveEchoDuringIdentification(t *testing.T) {
	p := startPassive(t, passiveOpts{})
	h := dialHost(t, p)
	m := h.recv()
	// The host probes before answering.
	h.echo("early")
	h.send(`{"id":` + string(m.ID) + `,"result":[{"rows":[{"external_ids":["map",[["system-id","hv1"]]]}]}],"error":null}`)
	eventually(t, 5*time.Second, "connected", func() bool { return p.Connected("hv1") })
}

func TestPassiveNewConnectionReplacesOld(t *testing.T) {
	p := startPassive(t, passiveOpts{})
	h1 := dialIdentified(t, p, "hv1")
	eventually(t, 5*time.Second, "connected", func() bool { return p.Connected("hv1") })
	old := sessionOf(p, "hv1")
	h2 := dialIdentified(t, p, "hv1")
	h1.closed()
	eventually(t, 5*time.Second, "replaced", func() bool {
		s := sessionOf(p, "hv1")
		return s != nil && s != old
	})
	c := dialRelay(t, p, "hv1")
	if _, err := io.WriteString(c, `{"method":"echo","params":[],"id":1}`); err != nil {
		t.Fatal(err)
	}
	if m := h2.recv(); string(m.ID) != "1" {
		t.Fatalf("new host connection received %s", m.ID)
	}
}

func TestPassiveRecheck(t *testing.T) {
	var mu sync.Mutex
	registered := map[string]bool{"hv1": true, "hv2": true}
	p := startPassive(t, passiveOpts{accept: func(n string) bool {
		mu.Lock()
		defer mu.Unlock()
		return registered[n]
	}})
	h1 := dialIdentified(t, p, "hv1")
	dialIdentified(t, p, "hv2")
	eventually(t, 5*time.Second, "connected", func() bool { return len(p.Hosts()) == 2 })
	mu.Lock()
	delete(registered, "hv1")
	mu.Unlock()
	p.Recheck()
	h1.closed()
	if p.Connected("hv1") || !p.Connected("hv2") {
		t.Fatalf("hosts after Recheck: %v", p.Hosts())
	}
	if p.Refused() != 1 {
		t.Fatalf("Refused = %d", p.Refused())
	}
}

func TestPassiveCloseWithClientsAttached(t *testing.T) {
	dir := filepath.Join(shortTempDir(t), "relay")
	p, err := NewPassive(PassiveConfig{
		Listen:   Target{Scheme: PTCP, Host: "127.0.0.1"},
		Accept:   func(string) bool { return true },
		RelayDir: dir,
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx) }()
	h := dialIdentified(t, p, "hv1")
	dialIdentified(t, p, "hv2")
	eventually(t, 5*time.Second, "connected", func() bool { return len(p.Hosts()) == 2 })
	c := dialRelay(t, p, "hv1")
	// A half-open connection that never identifies.
	dialHost(t, p).recv()
	// Cancelling Serve's context closes everything.
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	p.Close()
	h.closed()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("client after Close: %v", err)
	}
	checkPassiveGone(t, p)
}

func TestPassiveTLS(t *testing.T) {
	ca, caKey := newCA(t, "ferry test CA")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	dir := filepath.Join(shortTempDir(t), "relay")
	p, err := NewPassive(PassiveConfig{
		Listen: Target{Scheme: PSSL, Host: "127.0.0.1"},
		TLS:    PeerTLSConfig(newLeaf(t, ca, caKey, "controller"), pool),
		// The certificate can vouch for the name the database claims.
		Identify: func(ctx context.Context, c *RawConn) (string, error) {
			name, err := IdentifyBySystemID(ctx, c)
			if err != nil {
				return "", err
			}
			if st := c.TLS(); st == nil || st.PeerCertificates[0].Subject.CommonName != name {
				return "", errors.New("certificate does not match the system-id")
			}
			return name, nil
		},
		Accept:   func(string) bool { return true },
		RelayDir: dir,
		Logger:   testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(context.Background())
	t.Cleanup(func() { p.Close(); checkPassiveGone(t, p) })
	dialTLS := func(cert tls.Certificate, systemID string) *fakeHost {
		c, err := tls.Dial("tcp", p.Addr().String(), PeerTLSConfig(cert, pool))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		h := &fakeHost{t: t, c: c, dec: json.NewDecoder(c)}
		m := h.recv()
		h.send(`{"id":` + string(m.ID) + `,"result":[{"rows":[{"external_ids":["map",[["system-id","` + systemID + `"]]]}]}],"error":null}`)
		return h
	}
	h := dialTLS(newLeaf(t, ca, caKey, "hv1"), "hv1")
	eventually(t, 5*time.Second, "hv1 connected", func() bool { return p.Connected("hv1") })
	c := dialRelay(t, p, "hv1")
	waitSwitched(t, p, "hv1")
	h.send(`{"method":"update","params":[],"id":null}`)
	readExactly(t, c, `{"method":"update","params":[],"id":null}`)

	// A valid certificate claiming another host's name.
	dialTLS(newLeaf(t, ca, caKey, "hv2"), "hv1").closed()
	if p.Refused() != 1 {
		t.Fatalf("Refused = %d", p.Refused())
	}
	// No certificate at all: the handshake fails.
	raw, err := tls.Dial("tcp", p.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		raw.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = raw.Read(make([]byte, 1))
		raw.Close()
	}
	if err == nil {
		t.Fatal("host without a certificate not refused")
	}
	eventually(t, 5*time.Second, "2 refusals", func() bool { return p.Refused() == 2 })
}

func TestNewPassiveChecks(t *testing.T) {
	dir := shortTempDir(t)
	ok := PassiveConfig{Listen: Target{Scheme: PTCP, Host: "127.0.0.1"}, Accept: func(string) bool { return true }, RelayDir: dir}
	for name, mod := range map[string]func(*PassiveConfig){
		"active target": func(c *PassiveConfig) { c.Listen = Target{Scheme: TCP, Host: "127.0.0.1", Port: 1} },
		"no accept":     func(c *PassiveConfig) { c.Accept = nil },
		"no relay dir":  func(c *PassiveConfig) { c.RelayDir = "" },
		"long dir":      func(c *PassiveConfig) { c.RelayDir = "/" + strings.Repeat("d", 100) },
		"pssl no TLS":   func(c *PassiveConfig) { c.Listen = Target{Scheme: PSSL, Host: "127.0.0.1"} },
	} {
		cfg := ok
		mod(&cfg)
		if p, err := NewPassive(cfg); err == nil {
			p.Close()
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "ovsdb: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
	p, err := NewPassive(ok)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := p.Serve(context.Background()); err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
}

func TestSplitter(t *testing.T) {
	stream := ` {"a":"}{\"]"} ` + "\n" + `{"b":[1,{"c":"\\"}],"d":{}}{"e":"\u007d"}`
	want := []string{`{"a":"}{\"]"}`, `{"b":[1,{"c":"\\"}],"d":{}}`, `{"e":"\u007d"}`}
	// Fed whole and byte by byte, the same messages come out.
	for _, chunk := range []int{len(stream), 1, 3} {
		var sp splitter
		var got []string
		for i := 0; i < len(stream); i += chunk {
			data := []byte(stream[i:min(i+chunk, len(stream))])
			for len(data) > 0 {
				msg, rest, err := sp.feed(data)
				if err != nil {
					t.Fatal(err)
				}
				if msg != nil {
					got = append(got, string(msg))
				}
				data = rest
			}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("chunk %d: got %q", chunk, got)
		}
		if !sp.boundary() {
			t.Errorf("chunk %d: not at a boundary at the end", chunk)
		}
	}
	var sp splitter
	if _, _, err := sp.feed([]byte("[1]")); err == nil {
		t.Error("array accepted as a message")
	}
}

// A panic while a host is being served (here in the Identify callback, as
// a bug would) closes that host's connection and is reported; the
// listener goes on serving other hosts.
func TestPassiveRecoversPanic(t *testing.T) {
	var calls atomic.Int32
	panics := make(chan any, 1)
	p := startPassive(t, passiveOpts{identify: func(ctx context.Context, c *RawConn) (string, error) {
		if calls.Add(1) == 1 {
			panic("bug in identify")
		}
		return IdentifyBySystemID(ctx, c)
	}})
	p.cfg.OnPanic = func(r any) { panics <- r }
	h := dialHost(t, p)
	h.closed()
	select {
	case r := <-panics:
		if r != "bug in identify" {
			t.Errorf("OnPanic got %v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the panic was not reported")
	}
	// The next host is served.
	h2 := dialIdentified(t, p, "hv2")
	h2.echo("still-here")
}
