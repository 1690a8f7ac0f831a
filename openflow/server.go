package openflow

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	of "antrea.io/libOpenflow/openflow15"
)

type config struct {
	echoInterval     time.Duration
	echoMisses       int
	handshakeTimeout time.Duration
	writeTimeout     time.Duration
	maxDumpBytes     int // bounds one multipart reply: maxDumpBytes, lowered by tests
}

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

// Server accepts connections from switches (OVS bridges dial their
// controller target, e.g. tcp:IP:6653 or ssl:IP:6653) and keeps one Session
// per datapath ID.
type Server struct {
	log *slog.Logger
	cfg config

	mu        sync.Mutex
	sessions  map[uint64]*Session
	conns     map[*Session]struct{} // every connection, handshaking or not
	listeners map[net.Listener]struct{}
	subs      map[chan struct{}]struct{}
	closed    bool

	counters counters
}

// NewServer returns a Server logging to logger.
func NewServer(logger *slog.Logger, opts ...Option) *Server {
	cfg := config{
		echoInterval:     5 * time.Second,
		echoMisses:       3,
		handshakeTimeout: 10 * time.Second,
		writeTimeout:     30 * time.Second,
		maxDumpBytes:     maxDumpBytes,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		log:       logger,
		cfg:       cfg,
		sessions:  make(map[uint64]*Session),
		conns:     make(map[*Session]struct{}),
		listeners: make(map[net.Listener]struct{}),
		subs:      make(map[chan struct{}]struct{}),
	}
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
		conn, err := ln.Accept()
		if err != nil {
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

// Session returns the live session for a datapath ID, or nil.
func (s *Server) Session(dpid uint64) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[dpid]
}

// Sessions returns every live session.
func (s *Server) Sessions() []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, ss)
	}
	return out
}

// Subscribe returns a channel that receives a value whenever a session is
// established, replaced or gone. The channel has capacity one and sends never
// block, so notifications coalesce: a receiver learns that something changed
// and looks at Session/Sessions for what. cancel stops the notifications.
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

func (s *Server) notifyLocked() {
	for c := range s.subs {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// register publishes an established session. dpid and nTables are set here,
// under s.mu, because the reader goroutine may concurrently be tearing the
// session down and unregister reads them under the same lock.
func (s *Server) register(ss *Session, dpid uint64, nTables uint8) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("server closed")
	}
	if ss.isClosed() {
		s.mu.Unlock()
		return ss.Err()
	}
	ss.dpid, ss.nTables = dpid, nTables
	old := s.sessions[ss.dpid]
	s.sessions[ss.dpid] = ss
	s.notifyLocked()
	s.mu.Unlock()
	if old != nil {
		// OVS reconnecting (or a second bridge with the same datapath ID,
		// which is a configuration error worth a log line): newest wins.
		old.log().Info("openflow: session replaced by a new connection", "dpid", dpidString(ss.dpid), "new_remote", ss.remote)
		old.close(errors.New("replaced by a new connection from the same datapath"))
	}
	return nil
}

func (s *Server) unregister(ss *Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, ss)
	if s.sessions[ss.dpid] == ss {
		delete(s.sessions, ss.dpid)
		s.notifyLocked()
	}
}

// handle runs one connection from accept to close.
func (s *Server) handle(conn net.Conn) {
	ss := newSession(s, conn)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	s.conns[ss] = struct{}{}
	s.mu.Unlock()

	dpid, nTables, err := ss.handshake()
	if err != nil {
		ss.log().Warn("openflow: handshake failed", "error", err)
		ss.close(fmt.Errorf("handshake: %w", err))
		return
	}
	ss.logp.Store(ss.log().With("dpid", dpidString(dpid)))
	if err := s.register(ss, dpid, nTables); err != nil {
		ss.log().Info("openflow: switch gone before its session started", "error", err)
		ss.close(err)
		return
	}
	ss.log().Info("openflow: switch connected", "tables", ss.nTables)
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
	if ok, versions := negotiate(msg); !ok {
		text := "ferry speaks only OpenFlow 1.5 (add OpenFlow15 to the bridge's protocols)"
		e := header(of.Type_Error, binary.BigEndian.Uint32(msg[4:8]), 12+len(text))
		binary.BigEndian.PutUint16(e[8:10], 0)  // OFPET_HELLO_FAILED
		binary.BigEndian.PutUint16(e[10:12], 0) // OFPHFC_INCOMPATIBLE
		copy(e[12:], text)
		e[0] = min(msg[0], of.VERSION) // so that the peer can parse it
		_ = ss.write(e)
		return 0, 0, fmt.Errorf("switch does not speak OpenFlow 1.5 (it offers %s); set the bridge's protocols to include OpenFlow15", versions)
	}
	_ = ss.conn.SetDeadline(time.Time{})
	go ss.readLoop()

	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	c, err := ss.roundTrip(ctx, header(of.Type_FeaturesRequest, ss.nextXid(), 8), false)
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

// helloMsg is an OpenFlow 1.5 hello whose version bitmap offers only 1.5.
func helloMsg(xid uint32) []byte {
	b := header(of.Type_Hello, xid, 16)
	binary.BigEndian.PutUint16(b[8:10], 1) // OFPHET_VERSIONBITMAP
	binary.BigEndian.PutUint16(b[10:12], 8)
	binary.BigEndian.PutUint32(b[12:16], 1<<of.VERSION)
	return b
}

// negotiate applies OpenFlow's rule to the peer's hello: with a version
// bitmap the peer must list 1.5; without one its header version must be at
// least 1.5. It also describes what the peer offered, for the log.
func negotiate(hello []byte) (ok bool, offered string) {
	if len(hello) < 8 {
		return false, "a truncated hello"
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
		return hello[0] >= of.VERSION, fmt.Sprintf("wire versions up to %#x", hello[0])
	}
	var names []string
	for v, in := range seen {
		if in {
			names = append(names, versionName(v))
		}
	}
	if len(names) == 0 {
		return false, "no version"
	}
	return seen[of.VERSION], strings.Join(names, ",")
}

func versionName(wire int) string {
	switch wire {
	case 1:
		return "OpenFlow10"
	case 2, 3, 4, 5, 6:
		return fmt.Sprintf("OpenFlow1%d", wire-1)
	}
	return fmt.Sprintf("wire version %#x", wire)
}

// Counters are monotonic counts of what was sent, for metrics.
type Counters struct {
	FlowMods     uint64 // flow_mods sent inside bundles
	GroupMods    uint64 // group_mods sent inside bundles
	Bundles      uint64 // bundles sent (committed or not)
	BundleErrors uint64 // bundles the switch rejected
}

type counters struct {
	flowMods, groupMods, bundles, bundleErrors atomic.Uint64
}

func (c *counters) snapshot() Counters {
	return Counters{
		FlowMods:     c.flowMods.Load(),
		GroupMods:    c.groupMods.Load(),
		Bundles:      c.bundles.Load(),
		BundleErrors: c.bundleErrors.Load(),
	}
}
