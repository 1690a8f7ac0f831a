package openflow

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	of "antrea.io/libOpenflow/openflow15"

	"github.com/ferry-sdn/ferry/ratelog"
)

type config struct {
	echoInterval     time.Duration
	echoMisses       int
	handshakeTimeout time.Duration
	writeTimeout     time.Duration
	maxDumpBytes     int           // bounds one multipart reply
	maxConns         int           // connections open at once
	maxUnbound       int           // connections not bound to a datapath yet
	maxUnboundHost   int           // of those, from one peer host
	unboundTimeout   time.Duration // how long a handshaken session may wait to be bound
	probeTimeout     time.Duration // how long a bound session has to answer when another claims its datapath
	onPanic          func(r any)
	testHook         func(msg []byte)
}

// Defaults of the limits a Server applies (see the With… options).
const (
	DefaultMaxConns   = 4096
	DefaultMaxUnbound = 256
	// DefaultMaxUnboundPerHost bounds the unbound connections of one peer
	// host, so that one host cannot fill DefaultMaxUnbound and lock every
	// bridge out (a hypervisor has a handful of bridges).
	DefaultMaxUnboundPerHost = 32
	DefaultMaxDumpBytes      = 16 << 20 // see errReplyTooLarge
	DefaultUnboundTimeout    = 60 * time.Second
	duplicateProbeTimeout    = time.Second
)

// Option configures a Server.
type Option func(*config)

// WithEchoInterval sets how often an idle switch is probed with an echo
// request (default 5s); after three silent intervals the connection is
// dropped.
func WithEchoInterval(d time.Duration) Option {
	return func(c *config) { c.echoInterval = d }
}

// WithHandshakeTimeout bounds TLS handshake, hello and features exchange
// (default 10s).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) { c.handshakeTimeout = d }
}

// WithMaxConns bounds the connections open at once (default
// DefaultMaxConns); while that many are, Serve accepts no more and new ones
// wait in the kernel's backlog.
func WithMaxConns(n int) Option {
	return func(c *config) { c.maxConns = n }
}

// WithMaxUnbound bounds the connections that are not bound to a datapath
// (in their handshake, or handshaken and waiting for Bind; default
// DefaultMaxUnbound); while that many are, Serve accepts no more. Bound
// sessions do not count: there is at most one per datapath ferry drives.
func WithMaxUnbound(n int) Option {
	return func(c *config) { c.maxUnbound = n }
}

// WithMaxUnboundPerHost bounds the unbound connections from one peer host
// (IP address; unix-socket peers are one host; default
// DefaultMaxUnboundPerHost). A connection beyond it is refused at once
// (reason RefusedBusy) instead of waiting: the host is not locked out of
// anything it has not already filled.
func WithMaxUnboundPerHost(n int) Option {
	return func(c *config) { c.maxUnboundHost = n }
}

// WithUnboundTimeout sets how long a handshaken session may wait for Bind
// before it is closed (default DefaultUnboundTimeout). It must outlast
// ferryd's start: bridges reconnect at once, before their chassis has been
// observed.
func WithUnboundTimeout(d time.Duration) Option {
	return func(c *config) { c.unboundTimeout = d }
}

// WithMaxDumpBytes bounds one multipart reply, all its parts included
// (default DefaultMaxDumpBytes); a flow or group dump past it fails and
// ends the connection.
func WithMaxDumpBytes(n int) Option {
	return func(c *config) { c.maxDumpBytes = n }
}

// WithOnPanic has fn told of every panic recovered while handling a
// connection (ferryd counts them in ferry_panics_recovered_total); fn logs
// it. Without it the server logs it with the stack itself.
func WithOnPanic(fn func(r any)) Option {
	return func(c *config) { c.onPanic = fn }
}

// Server accepts connections from switches (OVS bridges dial their
// controller target, e.g. tcp:IP:6653 or ssl:IP:6653). A connection that
// completes the handshake claims a datapath ID; it is bound to that
// datapath only when Bind's authorization accepts its peer, and only a
// bound session is handed out.
type Server struct {
	log *slog.Logger
	cfg config

	connSlots    chan struct{} // one per open connection
	unboundSlots chan struct{} // one per connection not bound

	mu        sync.Mutex
	dps       map[uint64]*datapath  // datapaths Bind was asked for
	waiting   map[uint64][]*Session // handshaken, not bound, by claimed datapath ID
	conns     map[*Session]struct{} // every connection, handshaking or not
	unboundBy map[string]int        // unbound connections by peer host (Peer.key)
	listeners map[net.Listener]struct{}
	subs      map[chan struct{}]struct{}
	closed    bool

	counters counters
	refusals ratelog.Limiter
}

// datapath is a datapath ID someone asked Bind for: its session, the
// authorization that bound it, and its last refusal.
type datapath struct {
	session   *Session
	authorize Authorize
	refused   *Refusal
}

// NewServer returns a Server logging to logger.
func NewServer(logger *slog.Logger, opts ...Option) *Server {
	cfg := config{
		echoInterval:     5 * time.Second,
		echoMisses:       3,
		handshakeTimeout: 10 * time.Second,
		writeTimeout:     30 * time.Second,
		maxDumpBytes:     DefaultMaxDumpBytes,
		maxConns:         DefaultMaxConns,
		maxUnbound:       DefaultMaxUnbound,
		maxUnboundHost:   DefaultMaxUnboundPerHost,
		unboundTimeout:   DefaultUnboundTimeout,
		probeTimeout:     duplicateProbeTimeout,
	}
	for _, o := range opts {
		o(&cfg)
	}
	cfg.maxConns = max(cfg.maxConns, 1)
	cfg.maxUnbound = min(max(cfg.maxUnbound, 1), cfg.maxConns)
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		log:          logger,
		cfg:          cfg,
		connSlots:    make(chan struct{}, cfg.maxConns),
		unboundSlots: make(chan struct{}, cfg.maxUnbound),
		dps:          make(map[uint64]*datapath),
		waiting:      make(map[uint64][]*Session),
		conns:        make(map[*Session]struct{}),
		unboundBy:    make(map[string]int),
		listeners:    make(map[net.Listener]struct{}),
		subs:         make(map[chan struct{}]struct{}),
	}
}

// unboundDone gives back a session's place among its host's unbound
// connections (bound, or ended unbound).
func (s *Server) unboundDone(host string) {
	if host == "" {
		return
	}
	s.mu.Lock()
	if s.unboundBy[host]--; s.unboundBy[host] <= 0 {
		delete(s.unboundBy, host)
	}
	s.mu.Unlock()
}

// Serve accepts switch connections on ln until ln is closed (then it returns
// nil) or Close is called. ln may be a TCP or unix listener, or a
// tls.Listener: the TLS handshake is part of the session handshake, and the
// listener's tls.Config decides whether client certificates are required.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("openflow: server closed")
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()

	var delay time.Duration
	for {
		// Slots first: at the caps, connections wait in the backlog
		// rather than each holding buffers and goroutines here.
		if !s.acquire(s.connSlots, "connections", ln) {
			return nil
		}
		if !s.acquire(s.unboundSlots, "connections not bound to a datapath", ln) {
			<-s.connSlots
			return nil
		}
		conn, err := ln.Accept()
		if err != nil {
			<-s.unboundSlots
			<-s.connSlots
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return nil
			}
			// Typically EMFILE: back off like net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("openflow: accept failed", "error", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		go s.handle(conn)
	}
}

// acquire takes a slot, waiting (and logging, rate-limited) while none is
// free; false once the server or ln is closed.
func (s *Server) acquire(slots chan struct{}, what string, ln net.Listener) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	s.counters.waits.Add(1)
	if ok, suppressed := s.refusals.Allow("limit:" + what); ok {
		s.log.Warn("openflow: too many "+what+"; new ones wait", "max", cap(slots), "suppressed", suppressed)
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case slots <- struct{}{}:
			return true
		case <-t.C:
			s.mu.Lock()
			_, open := s.listeners[ln]
			closed := s.closed
			s.mu.Unlock()
			if closed || !open {
				return false
			}
		}
	}
}

// Close stops every Serve loop (closing their listeners) and drops every
// connection. Switches keep their flows (fail_mode=secure) and will redial.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	lns := make([]net.Listener, 0, len(s.listeners))
	for ln := range s.listeners {
		lns = append(lns, ln)
	}
	conns := make([]*Session, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, ln := range lns {
		_ = ln.Close()
	}
	for _, c := range conns {
		c.close(errors.New("server closed"))
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Authorize decides whether a peer is the device whose datapath it claims:
// "" when it is; otherwise the reason (RefusedAddress, RefusedCertificate)
// and why, for the log and the device's status. It is called with the
// server's lock held: it must not call the Server.
type Authorize func(Peer) (reason, why string)

// AcceptAny authorizes every peer: for tests, and for setups where
// whoever can reach the listener is trusted.
func AcceptAny(Peer) (string, string) { return "", "" }

// Bind returns the session bound to datapath dpid, or nil. A bound session
// that authorize no longer accepts (the device's addresses changed) is
// refused and closed. With none bound, the newest waiting session that
// authorize accepts is bound; waiting sessions it refuses are closed and
// recorded (Refused). Sessions that claim dpid later are checked against
// authorize as soon as their handshake ends. Call it whenever the session
// is needed: it is cheap.
func (s *Server) Bind(dpid uint64, authorize Authorize) *Session {
	var refused []refusal
	var superseded []*Session
	s.mu.Lock()
	d := s.dps[dpid]
	if d == nil {
		d = &datapath{}
		s.dps[dpid] = d
	}
	d.authorize = authorize
	if b := d.session; b != nil {
		if reason, why := authorize(b.peer); reason != "" {
			d.session = nil
			refused = append(refused, refusal{b, reason, why})
			s.notifyLocked()
		}
	}
	w := s.waiting[dpid]
	delete(s.waiting, dpid)
	for i := len(w) - 1; i >= 0; i-- {
		c := w[i]
		if c.isClosed() {
			continue
		}
		if reason, why := authorize(c.peer); reason != "" {
			refused = append(refused, refusal{c, reason, why})
			continue
		}
		if d.session != nil {
			superseded = append(superseded, c)
			continue
		}
		d.session = c
		c.bound.Store(true)
		s.notifyLocked()
	}
	for _, r := range refused {
		s.recordLocked(d, r)
	}
	bound := d.session
	s.mu.Unlock()

	for _, r := range refused {
		s.refuse(r)
	}
	for _, c := range superseded {
		c.log().Info("openflow: closing an older connection of the same datapath")
		c.close(errors.New("superseded by a newer connection from the same datapath"))
	}
	if bound != nil {
		bound.becameBound()
	}
	return bound
}

// Bound returns the session bound to datapath dpid, or nil; unlike Bind it
// binds nothing.
func (s *Server) Bound(dpid uint64) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.dps[dpid]; d != nil {
		return d.session
	}
	return nil
}

// Refused returns the last refusal of a connection that claimed datapath
// dpid, once Bind has been asked for it.
func (s *Server) Refused(dpid uint64) (Refusal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.dps[dpid]; d != nil && d.refused != nil {
		return *d.refused, true
	}
	return Refusal{}, false
}

// Sessions returns every session past its handshake, bound or waiting.
func (s *Server) Sessions() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Session
	for _, d := range s.dps {
		if d.session != nil {
			out = append(out, d.session)
		}
	}
	for _, w := range s.waiting {
		out = append(out, w...)
	}
	return out
}

// Subscribe returns a channel that receives a value whenever a session is
// bound or gone, or a session waits for a datapath that Bind was asked for.
// The channel has capacity one and sends never block, so notifications
// coalesce: a receiver learns that something changed and calls Bind for
// what. cancel stops the notifications.
func (s *Server) Subscribe() (ch <-chan struct{}, cancel func()) {
	c := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[c] = struct{}{}
	s.mu.Unlock()
	return c, func() {
		s.mu.Lock()
		delete(s.subs, c)
		s.mu.Unlock()
	}
}

// Counters returns what all sessions, past and present, have sent.
func (s *Server) Counters() Counters { return s.counters.snapshot() }

// Stats returns what the server refused and recovered from, and the
// connections open now.
func (s *Server) Stats() Stats {
	c := Stats{
		Refused: make(map[string]uint64, len(reasons)),
		Panics:  s.counters.panics.Load(),
		Waits:   s.counters.waits.Load(),
	}
	for i, r := range reasons {
		c.Refused[r] = s.counters.refusedBy[i].Load()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dps {
		if d.session != nil {
			c.Bound++
		}
	}
	c.Unbound = len(s.conns) - c.Bound
	return c
}

func (s *Server) notifyLocked() {
	for c := range s.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// register publishes a handshaken session as waiting for Bind. dpid and
// nTables are set here, under s.mu, because the reader goroutine may
// concurrently be tearing the session down and unregister reads them under
// the same lock. A session claiming a datapath that has a bound session is
// checked at once: refused if that datapath's authorization refuses its
// peer; if the bound session answers an echo within probeTimeout, refused
// as a duplicate; else the bound one is taken for dead and closed.
func (s *Server) register(ss *Session, dpid uint64, nTables uint8) error {
	s.mu.Lock()
	ss.dpid, ss.nTables = dpid, nTables
	s.mu.Unlock()
	for range 3 {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return errors.New("server closed")
		}
		if ss.isClosed() {
			s.mu.Unlock()
			return ss.Err()
		}
		d := s.dps[dpid]
		if d != nil && d.authorize != nil {
			if reason, why := d.authorize(ss.peer); reason != "" {
				r := refusal{ss, reason, why}
				s.recordLocked(d, r)
				s.mu.Unlock()
				s.refuse(r)
				return errRefused
			}
		}
		if d == nil || d.session == nil {
			s.waiting[dpid] = append(s.waiting[dpid], ss)
			if d != nil {
				s.notifyLocked() // its device binds it on its next pass
			}
			s.mu.Unlock()
			ss.waitForBind()
			return nil
		}
		old := d.session
		s.mu.Unlock()
		if old.answers(s.cfg.probeTimeout) {
			r := refusal{ss, RefusedDuplicate, fmt.Sprintf("datapath %s already has a live session from %s, which answered an echo request", dpidString(dpid), old.peer)}
			s.mu.Lock()
			if d.session == old {
				s.recordLocked(d, r)
				s.mu.Unlock()
				s.refuse(r)
				return errRefused
			}
			s.mu.Unlock()
			continue // the old one went meanwhile: look again
		}
		old.log().Info("openflow: session did not answer while a new connection claims its datapath; closing it", "new_remote", ss.remote)
		old.close(errors.New("no answer to an echo request while a new connection claimed the same datapath"))
	}
	return errors.New("datapath contended by several connections")
}

var errRefused = errors.New("refused")

func (s *Server) unregister(ss *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, ss)
	if d := s.dps[ss.dpid]; d != nil && d.session == ss {
		d.session = nil
		s.notifyLocked()
	}
	if w := s.waiting[ss.dpid]; len(w) > 0 {
		w = slices.DeleteFunc(w, func(c *Session) bool { return c == ss })
		if len(w) == 0 {
			delete(s.waiting, ss.dpid)
		} else {
			s.waiting[ss.dpid] = w
		}
	}
}

// handle runs one connection from accept to close.
func (s *Server) handle(conn net.Conn) {
	ss := newSession(s, conn)
	defer func() { <-s.connSlots }()
	defer ss.releaseUnbound()
	defer ss.recoverPanic("connection handler")
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	host := peerOf(conn).key()
	if s.unboundBy[host] >= max(s.cfg.maxUnboundHost, 1) {
		s.mu.Unlock()
		ss.peer = peerOf(conn)
		s.refuse(refusal{s: ss, reason: RefusedBusy,
			why: fmt.Sprintf("the host already has %d connections not bound to a datapath", s.cfg.maxUnboundHost)})
		return
	}
	s.unboundBy[host]++
	ss.host = host
	s.conns[ss] = struct{}{}
	s.mu.Unlock()

	dpid, nTables, err := ss.handshake()
	if err != nil {
		s.handshakeFailed(ss, err)
		ss.close(fmt.Errorf("handshake: %w", err))
		return
	}
	ss.logp.Store(ss.log().With("dpid", dpidString(dpid)))
	if err := s.register(ss, dpid, nTables); err != nil {
		if !errors.Is(err, errRefused) {
			ss.log().Info("openflow: switch gone before its session started", "error", err)
		}
		ss.close(err)
		return
	}
	ss.log().Info("openflow: switch connected", "tables", ss.nTables, "peer", ss.peer.String())
	go ss.keepalive()
	<-ss.done
	ss.log().Info("openflow: switch disconnected", "reason", ss.Err())
}

// handshake does TLS (if any), hello with version negotiation, and the
// features request that tells the datapath ID; then it starts the reader.
func (ss *Session) handshake() (dpid uint64, nTables uint8, err error) {
	cfg := ss.srv.cfg
	deadline := time.Now().Add(cfg.handshakeTimeout)
	_ = ss.conn.SetDeadline(deadline)
	if tc, ok := ss.conn.(*tls.Conn); ok {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			return 0, 0, fmt.Errorf("tls: %w", err)
		}
	}
	ss.peer = peerOf(ss.conn)
	if err := ss.write(helloMsg(ss.nextXid())); err != nil {
		return 0, 0, err
	}
	msg, err := readMsg(ss.br)
	if err != nil {
		return 0, 0, fmt.Errorf("waiting for hello: %w", err)
	}
	if msg[1] != of.Type_Hello {
		return 0, 0, fmt.Errorf("expected hello, got %s", msgTypeName(msg[1]))
	}
	version, versions := negotiate(msg)
	if version == 0 {
		text := "ferry speaks OpenFlow 1.5 and 1.3 (add OpenFlow15 or OpenFlow13 to the bridge's protocols)"
		e := header(of.Type_Error, binary.BigEndian.Uint32(msg[4:8]), 12+len(text))
		binary.BigEndian.PutUint16(e[8:10], 0)  // OFPET_HELLO_FAILED
		binary.BigEndian.PutUint16(e[10:12], 0) // OFPHFC_INCOMPATIBLE
		copy(e[12:], text)
		e[0] = min(msg[0], Version15) // so that the peer can parse it
		_ = ss.write(e)
		return 0, 0, fmt.Errorf("switch speaks neither OpenFlow 1.5 nor 1.3 (it offers %s); set the bridge's protocols to include OpenFlow15 or OpenFlow13", versions)
	}
	ss.version = version
	_ = ss.conn.SetDeadline(time.Time{})
	go ss.readLoop()

	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	c, err := ss.roundTrip(ctx, ss.header(of.Type_FeaturesRequest, ss.nextXid(), 8), false)
	if err != nil {
		return 0, 0, fmt.Errorf("features request: %w", err)
	}
	return parseFeaturesReply(c.reply)
}

// featuresReplyLen is an OpenFlow 1.5 ofp_switch_features.
const featuresReplyLen = 32

// parseFeaturesReply reads the datapath ID and table count from the reply to
// the features request, which the switch may have answered with anything.
func parseFeaturesReply(r []byte) (dpid uint64, nTables uint8, err error) {
	if len(r) < 8 || r[1] != of.Type_FeaturesReply {
		typ := "a truncated message"
		if len(r) >= 2 {
			typ = msgTypeName(r[1])
		}
		return 0, 0, fmt.Errorf("features request: unexpected reply %s", typ)
	}
	if len(r) < featuresReplyLen {
		return 0, 0, fmt.Errorf("features request: reply of %d bytes, want %d", len(r), featuresReplyLen)
	}
	return binary.BigEndian.Uint64(r[8:16]), r[20], nil
}

// helloMsg is an OpenFlow 1.5 hello whose version bitmap offers 1.5 and
// 1.3, the versions ferry speaks.
func helloMsg(xid uint32) []byte {
	b := header(of.Type_Hello, xid, 16)
	binary.BigEndian.PutUint16(b[8:10], 1) // OFPHET_VERSIONBITMAP
	binary.BigEndian.PutUint16(b[10:12], 8)
	binary.BigEndian.PutUint32(b[12:16], 1<<Version15|1<<Version13)
	return b
}

// negotiate applies OpenFlow's rule to the peer's hello (chooseVersion)
// and returns the version of the session, 0 for none. It also describes
// what the peer offered, for the log.
func negotiate(hello []byte) (version uint8, offered string) {
	if len(hello) < 8 {
		return 0, "a truncated hello"
	}
	// Versions are a uint8 on the wire, so only the first 256 bits of a
	// bitmap can name one. A hostile hello may carry 64 KiB of bitmap:
	// collecting and printing half a million "versions" from it would pin
	// a core and megabytes per connection.
	var seen [256]bool
	hasBitmap := false
	for b := hello[8:]; len(b) >= 4; {
		t := binary.BigEndian.Uint16(b[0:2])
		l := int(binary.BigEndian.Uint16(b[2:4]))
		if l < 4 || l > len(b) {
			break
		}
		if t == 1 {
			hasBitmap = true
			for i := 4; i+4 <= l && (i-4)*8 < len(seen); i += 4 {
				word := binary.BigEndian.Uint32(b[i : i+4])
				for bit := 0; bit < 32; bit++ {
					if word&(1<<bit) != 0 {
						seen[(i-4)*8+bit] = true
					}
				}
			}
		}
		if n := pad8(l); n <= len(b) {
			b = b[n:]
		} else {
			break
		}
	}
	if !hasBitmap {
		return chooseVersion(&seen, false, hello[0]), fmt.Sprintf("wire versions up to %#x", hello[0])
	}
	var names []string
	for v, in := range seen {
		if in {
			names = append(names, versionName(v))
		}
	}
	if len(names) == 0 {
		return 0, "no version"
	}
	return chooseVersion(&seen, true, hello[0]), strings.Join(names, ",")
}

// versionName names a version the way a bridge's protocols column does
// ("OpenFlow13").
func versionName(wire int) string {
	if wire < 1 || wire > 6 {
		return fmt.Sprintf("wire version %#x", wire)
	}
	return "OpenFlow" + strings.ReplaceAll(VersionName(uint8(wire)), ".", "")
}

// Counters are monotonic counts of what was sent and received, for metrics.
type Counters struct {
	FlowMods     uint64 // flow_mods sent inside bundles
	GroupMods    uint64 // group_mods sent inside bundles
	Bundles      uint64 // bundles sent (committed or not)
	BundleErrors uint64 // bundles the switch rejected

	PacketOuts      uint64 // packet-outs sent
	PacketOutErrors uint64 // packet-outs the switch rejected (OFPT_ERROR)
	PacketIns       uint64 // packet-ins delivered on PacketIns
	// PacketInDrops counts packet-ins dropped because the consumer of
	// PacketIns had PacketInQueue waiting; PacketInErrors those that did
	// not decode. Packet-ins before the first PacketIns call are not
	// counted: nobody asked for them.
	PacketInDrops  uint64
	PacketInErrors uint64
}

// Stats are what the server refused and recovered from, and the
// connections it has open, for metrics.
type Stats struct {
	// Refused counts refused connections by reason (RefusalReasons).
	Refused map[string]uint64
	// Panics counts panics recovered in connection handlers; each closed
	// its connection.
	Panics uint64
	// Waits counts the times Serve waited because a connection cap was
	// reached.
	Waits uint64
	// Bound and Unbound are the connections open now: bound to a
	// datapath, or not (handshaking or waiting for Bind).
	Bound, Unbound int
}

type counters struct {
	flowMods, groupMods, bundles, bundleErrors atomic.Uint64
	packetOuts, packetOutErrors                atomic.Uint64
	packetIns, packetInDrops, packetInErrors   atomic.Uint64
	panics, waits                              atomic.Uint64
	refusedBy                                  [len(reasons)]atomic.Uint64
}

func (c *counters) refused(reason string) {
	if i := slices.Index(reasons[:], reason); i >= 0 {
		c.refusedBy[i].Add(1)
	}
}

func (c *counters) snapshot() Counters {
	return Counters{
		FlowMods:     c.flowMods.Load(),
		GroupMods:    c.groupMods.Load(),
		Bundles:      c.bundles.Load(),
		BundleErrors: c.bundleErrors.Load(),

		PacketOuts:      c.packetOuts.Load(),
		PacketOutErrors: c.packetOutErrors.Load(),
		PacketIns:       c.packetIns.Load(),
		PacketInDrops:   c.packetInDrops.Load(),
		PacketInErrors:  c.packetInErrors.Load(),
	}
}
