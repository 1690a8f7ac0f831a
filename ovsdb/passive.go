package ovsdb

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-sdn/ferry/ovsdb/target"
	"github.com/ferry-sdn/ferry/ratelog"
)

// DefaultIdentifyTimeout bounds the TLS handshake and identification of a
// host that dialed in.
const DefaultIdentifyTimeout = 10 * time.Second

// DefaultMaxPending bounds the connections being identified at once. A
// connection that is not identified yet holds a goroutine, a 64 KiB read
// buffer and up to maxUnattachedMessage of a partial message for up to
// IdentifyTimeout; identification takes one round trip, so 64 at once
// still admit hundreds of hosts a second after a restart of ferryd.
const DefaultMaxPending = 64

// passiveProbe is how long a host that dialed in may stay silent, while no
// local client is attached, before ferry sends it an echo request; it is
// dropped if it stays silent as long again. ovsdb-server probes an idle
// connection every 5 s by default, so a live host is rarely asked.
const passiveProbe = 15 * time.Second

// maxUnattachedMessage bounds one JSON-RPC message from a host that no
// local client is attached to: ferry only expects echo requests and the
// answers to its small identification queries then.
const maxUnattachedMessage = 4 << 20

// PassiveConfig configures a Passive.
type PassiveConfig struct {
	// Listen is where hosts dial in (ptcp:, pssl:, punix:); ferryd's
	// --ovsdb-listen.
	Listen Target
	// TLS is the configuration for pssl: (see LoadTLSConfig).
	TLS *tls.Config
	// Identify names the host behind a new connection, typically by asking
	// its database (IdentifyBySystemID, IdentifyByPhysicalSwitch). It must
	// wait for the answers to the calls it makes. Nil means
	// IdentifyBySystemID.
	Identify func(ctx context.Context, c *RawConn) (name string, err error)
	// Accept reports whether a host of this name is registered. Hosts it
	// refuses are disconnected, counted (Refused) and logged; nothing is
	// adopted silently. Required. It is called from connection
	// goroutines, and again for every connected host by Recheck.
	Accept func(name string) bool
	// Logger receives connections, refusals and disconnections; nil
	// discards them.
	Logger *slog.Logger
	// OnPanic, if set, is told of a panic recovered in a connection's
	// goroutine (the connection is closed; Passive goes on). Nil logs it
	// with the stack.
	OnPanic func(r any)
	// OnChange, if set, is called after a host connected or disconnected.
	// It must not block (kick a channel).
	OnChange func()
	// RelayDir is the directory of the per-host unix relay sockets. It is
	// created (mode 0700) if missing. Anyone who can connect to a relay
	// socket controls that host's Open vSwitch: keep it private. Its path
	// must be short (unix socket paths are limited to 107 bytes; each
	// socket adds 22).
	RelayDir string
	// IdentifyTimeout bounds the TLS handshake plus Identify; zero means
	// DefaultIdentifyTimeout.
	IdentifyTimeout time.Duration
	// MaxPending bounds the connections in their handshake or
	// identification at once; while that many are, Serve accepts no
	// more (they wait in the kernel's backlog). Identified hosts do not
	// count: their number is bounded by the registrations. Zero means
	// DefaultMaxPending.
	MaxPending int
}

// Passive accepts OVSDB connections that hosts open to ferry (a host
// configured with `ovs-vsctl set-manager tcp:FERRY:6640`, a XenServer pool
// with a pool-wide controller, a host behind NAT) and makes each one usable
// by an ordinary Conn: libovsdb can only dial, so ferry identifies the host
// over the inbound connection and then relays it to a unix socket that a
// Conn dials (Endpoint).
//
// The relay socket of a host has the same path every time the host
// connects, so one Conn per host can live across the host's reconnections:
// it retries while the host is away and reconnects when it is back.
//
// Each inbound connection serves one local client. When that client
// disconnects (a Conn that reconnects, or is closed), ferry drops the
// inbound connection too, because the host's ovsdb-server still holds that
// client's monitors and would keep sending their updates; the host dials
// in again (OVS retries after about a second) and a fresh session starts.
// Until a local client attaches, ferry answers the host's echo requests
// itself, and it hands the byte stream over at a JSON-RPC message boundary
// with none of its own requests in flight, so the client sees a clean
// session.
type Passive struct {
	cfg       PassiveConfig
	log       *slog.Logger
	ln        net.Listener
	idTimeout time.Duration
	probe     time.Duration // passiveProbe; shorter in tests
	refused   atomic.Uint64
	refusals  ratelog.Limiter
	pending   chan struct{} // a slot per connection not yet identified, taken before Accept
	unknown   atomic.Int64  // connections being identified
	waits     atomic.Uint64
	fullLog   ratelog.Limiter

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	regMu    sync.Mutex // serialises registrations, so relay sockets are replaced in order
	mu       sync.Mutex
	hosts    map[string]*session // identified, accepted, relay listening
	sessions map[*session]struct{}
	closed   bool

	wg   sync.WaitGroup
	once sync.Once
}

// NewPassive validates cfg, prepares RelayDir and listens on cfg.Listen;
// Serve accepts the connections.
func NewPassive(cfg PassiveConfig) (*Passive, error) {
	if cfg.Listen.Active() || cfg.Listen.Scheme == "" {
		return nil, fmt.Errorf("ovsdb: passive: %q is not a passive target (ptcp:, pssl:, punix:)", cfg.Listen)
	}
	if cfg.Accept == nil {
		return nil, errors.New("ovsdb: passive: no Accept function (unknown hosts must be refused)")
	}
	if cfg.Identify == nil {
		cfg.Identify = IdentifyBySystemID
	}
	if cfg.IdentifyTimeout <= 0 {
		cfg.IdentifyTimeout = DefaultIdentifyTimeout
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.RelayDir == "" {
		return nil, errors.New("ovsdb: passive: no relay directory")
	}
	dir, err := filepath.Abs(cfg.RelayDir)
	if err != nil {
		return nil, fmt.Errorf("ovsdb: passive: relay directory: %w", err)
	}
	cfg.RelayDir = dir
	if p := relayPath(dir, ""); len(p) > maxUnixPath {
		return nil, fmt.Errorf("ovsdb: passive: relay directory %q is too long for unix sockets (%d bytes with the socket name, at most %d)", dir, len(p), maxUnixPath)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ovsdb: passive: relay directory: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ln, err := cfg.Listen.Listen(cfg.TLS)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Passive{
		cfg:       cfg,
		log:       logger.With("listen", cfg.Listen.String()),
		ln:        ln,
		idTimeout: cfg.IdentifyTimeout,
		probe:     passiveProbe,
		ctx:       ctx,
		cancel:    cancel,
		hosts:     map[string]*session{},
		sessions:  map[*session]struct{}{},
		pending:   make(chan struct{}, cfg.MaxPending),
	}, nil
}

// relayPath is the relay socket of a host: a hash of its name, which may be
// long or contain any character.
func relayPath(dir, name string) string {
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(dir, hex.EncodeToString(sum[:8])+".sock")
}

// Addr is the address Passive listens on (to learn the port of ptcp:0).
func (p *Passive) Addr() net.Addr { return p.ln.Addr() }

// Serve accepts hosts until ctx is cancelled or Close is called, then
// closes everything (as Close does) and returns nil. It returns an error
// only if accepting fails for good. Call it once.
func (p *Passive) Serve(ctx context.Context) error {
	// Unblock Accept on cancellation; the loop then closes everything.
	stop := context.AfterFunc(ctx, func() { p.ln.Close() })
	defer stop()
	defer p.Close()
	var fails retryLog
	for {
		if !p.acquirePending(ctx) {
			return nil
		}
		c, err := p.ln.Accept()
		if err != nil {
			<-p.pending
			if p.isClosed() || ctx.Err() != nil {
				return nil
			}
			if !errors.Is(err, net.ErrClosed) {
				// EMFILE and the like pass; keep serving.
				fails.failed(p.log, "ovsdb: passive: accept failed", err)
				select {
				case <-p.ctx.Done():
					return nil
				case <-time.After(100 * time.Millisecond):
				}
				continue
			}
			return fmt.Errorf("ovsdb: passive: %w", err)
		}
		s := p.newSession(c)
		if s == nil {
			c.Close()
			return nil
		}
		p.unknown.Add(1)
		go func() {
			p.handle(s)
			p.unknown.Add(-1)
			<-p.pending // identified (and relayed) or refused
		}()
	}
}

// acquirePending takes a slot for the next connection, waiting while
// MaxPending connections are being identified (a flood of stalled
// handshakes); false once ctx is done or Passive is closed.
func (p *Passive) acquirePending(ctx context.Context) bool {
	select {
	case p.pending <- struct{}{}:
		return true
	default:
	}
	p.waits.Add(1)
	if ok, suppressed := p.fullLog.Allow(""); ok {
		p.log.Warn("ovsdb: passive: too many connections being identified; new ones wait",
			"max_pending", cap(p.pending), "suppressed", suppressed)
	}
	select {
	case p.pending <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	case <-p.ctx.Done():
		return false
	}
}

// Pending is the number of connections being identified now.
func (p *Passive) Pending() int { return int(p.unknown.Load()) }

// Waits counts the times Serve waited because MaxPending connections were
// being identified.
func (p *Passive) Waits() uint64 { return p.waits.Load() }

func (p *Passive) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Endpoint returns the relay target of a connected host, for a Conn
// (ConnConfig.Targets). The path depends only on the name: it stays valid
// across the host's reconnections, though it answers only while the host
// is connected.
func (p *Passive) Endpoint(name string) (Target, bool) {
	if !p.Connected(name) {
		return Target{}, false
	}
	return Target{Scheme: Unix, Path: relayPath(p.cfg.RelayDir, name)}, true
}

// RelayTarget returns the relay endpoint a host will have, connected or
// not: the path depends only on the name, so a Conn created before the host
// dials in simply retries until it does, and reconnects after it comes back.
func (p *Passive) RelayTarget(name string) Target {
	return Target{Scheme: Unix, Path: relayPath(p.cfg.RelayDir, name)}
}

// Connected reports whether the named host is connected and accepted.
func (p *Passive) Connected(name string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.hosts[name]
	return ok
}

// RemoteAddr returns the IP address the named host dialed in from, while it
// is connected: the address its other connections (its bridge's OpenFlow
// connection) come from too, unless something in between translates.
func (p *Passive) RemoteAddr(name string) (netip.Addr, bool) {
	p.mu.Lock()
	s := p.hosts[name]
	p.mu.Unlock()
	if s == nil {
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(s.addr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// Hosts returns the names of the connected hosts, in no particular order.
func (p *Passive) Hosts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make([]string, 0, len(p.hosts))
	for n := range p.hosts {
		names = append(names, n)
	}
	return names
}

// Refused counts the connections refused since NewPassive: hosts that
// Accept did not know, and connections that could not be identified (TLS
// handshake or Identify failed).
func (p *Passive) Refused() uint64 { return p.refused.Load() }

// Recheck calls Accept again for every connected host and disconnects the
// ones it now refuses (a chassis deregistered while its host is
// connected). Call it after the registrations change.
func (p *Passive) Recheck() {
	p.mu.Lock()
	hosts := make(map[string]*session, len(p.hosts))
	for n, s := range p.hosts {
		hosts[n] = s
	}
	p.mu.Unlock()
	for name, s := range hosts {
		if !p.cfg.Accept(name) {
			p.refused.Add(1)
			p.log.Warn("ovsdb: passive: disconnecting host no longer registered", "name", name, "addr", s.addr)
			s.shutdown("no longer registered", nil)
		}
	}
}

// Close stops listening, disconnects every host, removes the relay sockets
// and waits for Passive's goroutines to end.
func (p *Passive) Close() {
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		sessions := make([]*session, 0, len(p.sessions))
		for s := range p.sessions {
			sessions = append(sessions, s)
		}
		p.mu.Unlock()
		p.cancel()
		p.ln.Close()
		for _, s := range sessions {
			s.shutdown("ferry is shutting down", nil)
		}
	})
	p.wg.Wait()
}

// newSession tracks a new inbound connection; nil once Passive is closed.
func (p *Passive) newSession(c net.Conn) *session {
	s := &session{
		p:        p,
		conn:     c,
		addr:     c.RemoteAddr().String(),
		calls:    map[string]chan rawReply{},
		switchCh: make(chan struct{}),
		done:     make(chan struct{}),
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.sessions[s] = struct{}{}
	// Counted under p.mu so that Close's Wait cannot start before.
	p.wg.Add(1)
	return s
}

// handle identifies a new connection and registers or refuses it.
func (p *Passive) handle(s *session) {
	defer p.wg.Done()
	defer s.recoverPanic()
	ctx, cancel := context.WithTimeout(p.ctx, p.idTimeout)
	defer cancel()
	if tc, ok := s.conn.(*tls.Conn); ok {
		if err := tc.HandshakeContext(ctx); err != nil {
			p.refuse(s, "", "ovsdb: passive: refusing host: TLS handshake failed", err)
			return
		}
	}
	p.wg.Add(1)
	go s.read()
	name, err := p.cfg.Identify(ctx, &RawConn{s: s})
	cancel()
	if err != nil {
		p.refuse(s, "", "ovsdb: passive: refusing host that cannot be identified", err)
		return
	}
	if !p.cfg.Accept(name) {
		p.refuse(s, name, "ovsdb: passive: refusing unregistered host", nil)
		return
	}
	if err := p.register(s, name); err != nil {
		if !errors.Is(err, errSessionClosed) {
			p.log.Error("ovsdb: passive: cannot relay host", "name", name, "addr", s.addr, "err", err)
		}
		s.shutdown("cannot relay", err)
	}
}

func (p *Passive) refuse(s *session, name, msg string, err error) {
	// A peer that hung up while being identified (a load balancer's
	// health check, a host restarting) is not worth a warning, nor a
	// refusal; nor is a connection cut short by Close.
	if s.hungUp.Load() || p.ctx.Err() != nil {
		p.log.Debug("ovsdb: passive: host disconnected while being identified", "addr", s.addr, "err", err)
		s.shutdown("", nil)
		return
	}
	n := p.refused.Add(1)
	key := name
	if key == "" {
		key, _, _ = net.SplitHostPort(s.addr)
	}
	attrs := []any{"addr", s.addr, "refused_total", n}
	if name != "" {
		attrs = append(attrs, "name", name)
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	// Refused hosts retry every few seconds forever: warn once a minute
	// per host.
	if ok, suppressed := p.refusals.Allow(key); ok {
		if suppressed > 0 {
			attrs = append(attrs, "suppressed", suppressed)
		}
		p.log.Warn(msg, attrs...)
	} else {
		p.log.Debug(msg, attrs...)
	}
	s.shutdown("", nil)
}

var errSessionClosed = errors.New("ovsdb: passive: connection closed")

// register publishes an accepted host: it replaces the host's previous
// connection, if any, and listens on its relay socket.
func (p *Passive) register(s *session, name string) error {
	p.regMu.Lock()
	defer p.regMu.Unlock()
	p.mu.Lock()
	old := p.hosts[name]
	p.mu.Unlock()
	if old != nil {
		// Synchronous: its relay socket is gone when this returns.
		old.shutdown("replaced by a new connection from the host", nil)
	}
	path := relayPath(p.cfg.RelayDir, name)
	target.RemoveStaleSocket(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("ovsdb: passive: relay socket: %w", err)
	}
	p.mu.Lock()
	s.mu.Lock()
	if s.closed || p.closed {
		s.mu.Unlock()
		p.mu.Unlock()
		l.Close()
		return errSessionClosed
	}
	s.name, s.relay = name, l
	p.hosts[name] = s
	p.wg.Add(1)
	s.mu.Unlock()
	p.mu.Unlock()
	go s.serveRelay(l)
	p.log.Info("ovsdb: passive: host connected", "name", name, "addr", s.addr, "relay", path)
	p.changed()
	return nil
}

// unregister forgets a closed session.
func (p *Passive) unregister(s *session, name, reason string, err error) {
	p.mu.Lock()
	delete(p.sessions, s)
	was := name != "" && p.hosts[name] == s
	if was {
		delete(p.hosts, name)
	}
	closed := p.closed
	p.mu.Unlock()
	if !was {
		return
	}
	attrs := []any{"name", name, "addr", s.addr, "reason", reason}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	p.log.Info("ovsdb: passive: host disconnected", attrs...)
	if !closed {
		p.changed()
	}
}

func (p *Passive) changed() {
	if p.cfg.OnChange != nil {
		p.cfg.OnChange()
	}
}

// session is one inbound connection: identified, then relayed to at most
// one local client.
type session struct {
	p    *Passive
	conn net.Conn
	addr string

	wmu    sync.Mutex  // ferry's own writes to conn, before the switch
	hungUp atomic.Bool // the host closed the connection

	mu         sync.Mutex
	name       string
	calls      map[string]chan rawReply // ferry's requests awaiting an answer
	nextID     uint64
	readerIdle bool // the reader waits for data at a message boundary
	relay      net.Listener
	pending    net.Conn // local client waiting for the switch
	client     net.Conn // local client the host's bytes go to
	switched   bool     // bytes flow raw both ways
	switchCh   chan struct{}
	closed     bool

	done chan struct{} // closed by shutdown
	once sync.Once
}

// read owns the reading side of the inbound connection for its whole life:
// JSON-RPC messages until the switch, raw bytes to the client after.
func (s *session) read() {
	defer s.p.wg.Done()
	defer s.recoverPanic()
	buf := make([]byte, 64<<10)
	var sp splitter
	probing := false
	for {
		s.mu.Lock()
		if sp.boundary() {
			s.maybeSwitchLocked()
		}
		sw := s.switched
		s.readerIdle = !sw && sp.boundary()
		s.mu.Unlock()
		if !sw {
			_ = s.conn.SetReadDeadline(time.Now().Add(s.p.probe))
		}
		n, err := s.conn.Read(buf)
		s.mu.Lock()
		s.readerIdle = false
		s.mu.Unlock()
		data := buf[:n]
		for len(data) > 0 {
			s.mu.Lock()
			sw, client := s.switched, s.client
			s.mu.Unlock()
			if sw {
				if _, werr := client.Write(data); werr != nil {
					s.shutdown("local client gone", werr)
					return
				}
				break
			}
			msg, rest, perr := sp.feed(data)
			data = rest
			if perr != nil {
				s.shutdown("protocol error", perr)
				return
			}
			if msg != nil {
				if herr := s.handleMessage(msg); herr != nil {
					s.shutdown("protocol error", herr)
					return
				}
				s.mu.Lock()
				s.maybeSwitchLocked()
				s.mu.Unlock()
			}
		}
		if n > 0 {
			probing = false
		}
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			s.mu.Lock()
			sw := s.switched
			s.mu.Unlock()
			if sw {
				continue // the deadline of the unattached phase
			}
			if probing {
				s.shutdown("host stopped answering", nil)
				return
			}
			probing = true
			if perr := s.probe(); perr != nil {
				s.shutdown("cannot probe host", perr)
				return
			}
			continue
		}
		if !errors.Is(err, net.ErrClosed) {
			s.hungUp.Store(true)
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		s.shutdown("host closed the connection", err)
		return
	}
}

// maybeSwitchLocked hands the stream to the waiting client if the reader
// is at a message boundary (the caller knows) and ferry awaits no answer.
func (s *session) maybeSwitchLocked() {
	if s.switched || s.pending == nil || len(s.calls) > 0 || s.closed {
		return
	}
	s.client, s.pending = s.pending, nil
	s.switched = true
	close(s.switchCh)
	// The reader may sit in a Read with the probe deadline.
	_ = s.conn.SetReadDeadline(time.Time{})
}

// serveRelay accepts local clients on the relay socket: the first one is
// attached, later ones are turned away.
func (s *session) serveRelay(l net.Listener) {
	defer s.p.wg.Done()
	defer s.recoverPanic()
	for {
		c, err := l.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		s.mu.Lock()
		if s.closed || s.pending != nil || s.client != nil {
			s.mu.Unlock()
			s.p.log.Debug("ovsdb: passive: refusing a second local client", "name", s.name)
			c.Close()
			continue
		}
		s.pending = c
		if s.readerIdle {
			s.maybeSwitchLocked()
		}
		s.p.wg.Add(1)
		s.mu.Unlock()
		go s.pump(c)
	}
}

// pump copies the client's bytes to the host once the stream is switched.
func (s *session) pump(c net.Conn) {
	defer s.p.wg.Done()
	defer s.recoverPanic()
	t := time.NewTimer(s.p.idTimeout)
	defer t.Stop()
	select {
	case <-s.switchCh:
	case <-s.done:
		c.Close()
		return
	case <-t.C:
		s.shutdown("host did not reach a point where the relay can start", nil)
		return
	}
	s.p.log.Debug("ovsdb: passive: local client attached", "name", s.name, "addr", s.addr)
	_, err := io.Copy(s.conn, c)
	// The host still holds this client's monitors: start afresh.
	s.shutdown("local client disconnected", err)
}

// recoverPanic, deferred in each of a session's goroutines, turns a panic
// (a bug, reached by one host) into the end of that session: its
// connection is closed and the panic reported; ferryd goes on. shutdown
// runs apart, as the panicking goroutine may hold the session's lock.
func (s *session) recoverPanic() {
	r := recover()
	if r == nil {
		return
	}
	if s.p.cfg.OnPanic != nil {
		s.p.cfg.OnPanic(r)
	} else {
		s.p.log.Error("ovsdb: passive: recovered from a panic; closing the connection", "addr", s.addr, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
	_ = s.conn.Close()
	go s.shutdown("internal error", fmt.Errorf("ovsdb: passive: panic: %v", r))
}

// shutdown closes everything of the session, once; it returns when the
// relay socket is gone.
func (s *session) shutdown(reason string, err error) {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		name, relay, pending, client := s.name, s.relay, s.pending, s.client
		for id, ch := range s.calls {
			close(ch)
			delete(s.calls, id)
		}
		s.mu.Unlock()
		close(s.done)
		s.conn.Close()
		if relay != nil {
			relay.Close() // removes the socket file
		}
		if pending != nil {
			pending.Close()
		}
		if client != nil {
			client.Close()
		}
		s.p.unregister(s, name, reason, err)
	})
}
