package openflow

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	of "antrea.io/libOpenflow/openflow15"
)

// Session is one live OpenFlow 1.5 connection to a bridge, established
// (hello and features exchanged) and bound to the datapath ID it claimed
// (Server.Bind). All methods
// are safe for concurrent use. A Session is never revived: when its
// connection goes, Done is closed and every request fails with
// ErrDisconnected; the bridge's next connection is a new Session.
type Session struct {
	srv     *Server
	logp    atomic.Pointer[slog.Logger]
	conn    net.Conn
	br      *bufio.Reader
	remote  string
	peer    Peer // set by the handshake
	dpid    uint64
	nTables uint8
	bound   atomic.Bool // bound to its datapath by Server.Bind
	// unbound is released once: when the session is bound, or ends.
	unbound   sync.Once
	host      string                     // Peer.key counted in Server.unboundBy until bound
	bindTimer atomic.Pointer[time.Timer] // refuses the session unless it is bound in time
	lastWarn  atomic.Int64               // unix nanoseconds of the last unsolicited-error warning

	wmu sync.Mutex // serialises writers; held for a whole batch
	bw  *bufio.Writer

	mu      sync.Mutex
	pending map[uint32]*call
	closed  bool
	err     error
	role    RoleStatus    // as the switch last reported it
	roleCh  chan struct{} // kicked when role changes

	xid        atomic.Uint32
	bundleID   atomic.Uint32
	unanswered atomic.Int32
	control    chan []byte // replies the reader wants written (echo replies)
	done       chan struct{}
	closeOnce  sync.Once
	counters   counters
	// pins is the packet-in channel, made by the first PacketIns call
	// (nil until then: packet-ins are skipped unread).
	pins    atomic.Pointer[chan PacketIn]
	pinOnce sync.Once
	// version is the negotiated wire version, set by the handshake
	// before the reader starts and constant after.
	version uint8
}

// call is one outstanding request, or (sink set) the error collector of a
// message added to a bundle, which never gets a reply of its own.
type call struct {
	done   chan struct{}
	multi  bool     // a multipart request: collect parts until !MORE
	mpType uint16   // multipart: the request's type, which every part must carry
	size   int      // multipart: bytes of reply received so far
	limit  int      // multipart: the most bytes of reply accepted
	reply  []byte   // the reply (non-multipart)
	parts  [][]byte // multipart reply bodies, in order
	err    error
	sink   *bundleSink
	isRole bool       // a role request: the reader applies the reply
	role   RoleStatus // role request: the decoded reply
}

// Buffer sizes. A connection that is not bound gets small buffers: until a
// device binds it, nothing but the handshake and echoes is written to it,
// and a flood of connections must not cost 128 KiB each. Messages longer
// than the read buffer are read straight into their own allocation, so the
// reader needs no more; a bound session's bundles are written in 64 KiB
// batches.
const (
	readBuffer         = 8 << 10
	unboundWriteBuffer = 4 << 10
	boundWriteBuffer   = 64 << 10
)

func newSession(srv *Server, conn net.Conn) *Session {
	s := &Session{
		srv:     srv,
		conn:    conn,
		br:      bufio.NewReaderSize(conn, readBuffer),
		bw:      bufio.NewWriterSize(conn, unboundWriteBuffer),
		remote:  conn.RemoteAddr().String(),
		pending: make(map[uint32]*call),
		control: make(chan []byte, 16),
		done:    make(chan struct{}),
		role:    RoleStatus{Role: RoleEqual},
		roleCh:  make(chan struct{}, 1),
	}
	s.logp.Store(srv.log.With("remote", s.remote))
	return s
}

// log is the session's logger; the handshake adds the datapath ID to it while
// the reader may already be logging.
func (s *Session) log() *slog.Logger { return s.logp.Load() }

// DatapathID is the bridge's datapath ID, as `ovs-vsctl get bridge BR
// datapath_id` prints it in hex.
func (s *Session) DatapathID() uint64 { return s.dpid }

// NumTables is the number of flow tables the switch reported.
func (s *Session) NumTables() uint8 { return s.nTables }

// Version is the OpenFlow wire version the session speaks (Version15 or
// Version13).
func (s *Session) Version() uint8 { return s.wire() }

// wire is the session's version; a Session built without a handshake (in
// tests) speaks 1.5.
func (s *Session) wire() uint8 {
	if s.version == 0 {
		return Version15
	}
	return s.version
}

// RemoteAddr is the switch's address.
func (s *Session) RemoteAddr() string { return s.remote }

// Peer is what the handshake learnt of the other end.
func (s *Session) Peer() Peer { return s.peer }

// waitForBind arranges for the session to be refused unless a device
// binds it within the unbound timeout.
func (s *Session) waitForBind() {
	// Stopped when the session ends or is bound: a timer holds on to its
	// session, buffers included, and refused peers redial all the time.
	t := time.AfterFunc(s.srv.cfg.unboundTimeout, func() {
		if s.bound.Load() || s.isClosed() {
			return
		}
		srv := s.srv
		r := refusal{s, RefusedUnbound, fmt.Sprintf("no registered chassis took datapath %s within %v (is the bridge's chassis registered, and its datapath_id this one?)",
			dpidString(s.dpid), srv.cfg.unboundTimeout)}
		srv.mu.Lock()
		if s.bound.Load() {
			srv.mu.Unlock()
			return
		}
		if d := srv.dps[s.dpid]; d != nil {
			srv.recordLocked(d, r)
		}
		srv.mu.Unlock()
		srv.refuse(r)
	})
	s.bindTimer.Store(t)
	if s.isClosed() {
		t.Stop() // closed before the timer was stored
	}
}

func (s *Session) stopBindTimer() {
	if t := s.bindTimer.Load(); t != nil {
		t.Stop()
	}
}

// becameBound gives a newly bound session what a bound one needs: its
// unbound slot back to the server, and a write buffer for bundles.
func (s *Session) becameBound() {
	s.unbound.Do(func() {
		s.stopBindTimer()
		<-s.srv.unboundSlots
		s.srv.unboundDone(s.host)
		s.wmu.Lock()
		s.bw = bufio.NewWriterSize(s.conn, boundWriteBuffer) // the old one is empty: write flushes
		s.wmu.Unlock()
		s.log().Info("openflow: switch authenticated", "peer", s.peer.String())
	})
}

// releaseUnbound returns the unbound slot of a session that ends unbound.
func (s *Session) releaseUnbound() {
	s.unbound.Do(func() {
		<-s.srv.unboundSlots
		s.srv.unboundDone(s.host)
	})
}

// answers reports whether the switch answers an echo request within d. A
// peer that does not read would block the write: that counts as no answer,
// and the caller closes the session, which ends the write.
func (s *Session) answers(d time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	res := make(chan error, 1)
	go func() {
		_, err := s.roundTrip(ctx, s.header(of.Type_EchoRequest, s.nextXid(), 8), false)
		res <- err
	}()
	select {
	case err := <-res:
		return err == nil
	case <-ctx.Done():
		return false
	}
}

// recoverPanic, deferred at the top of each of a connection's goroutines,
// turns a panic into the end of that connection: counted, logged with its
// stack, and nothing else affected.
func (s *Session) recoverPanic(where string) {
	r := recover()
	if r == nil {
		return
	}
	s.panicked("panic in "+where, r)
	s.close(fmt.Errorf("internal error in %s: %v", where, r))
}

// panicked counts a recovered panic and has it logged with its stack.
func (s *Session) panicked(what string, r any) {
	s.srv.counters.panics.Add(1)
	if h := s.srv.cfg.onPanic; h != nil {
		h(r)
		return
	}
	s.log().Error("openflow: "+what+"; connection closed", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
}

// Done is closed when the connection is gone.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err says why the session ended; nil while it is live.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Counters returns what this session has sent.
func (s *Session) Counters() Counters { return s.counters.snapshot() }

// Close drops the connection; the switch will redial.
func (s *Session) Close() { s.close(errors.New("closed by ferry")) }

func (s *Session) nextXid() uint32 {
	for {
		// 0 is what many switches use for unsolicited messages.
		if x := s.xid.Add(1); x != 0 {
			return x
		}
	}
}

// Barrier returns once the switch has processed every message sent before
// it.
func (s *Session) Barrier(ctx context.Context) error {
	msg := s.header(of.Type_BarrierRequest, s.nextXid(), 8)
	c, err := s.roundTrip(ctx, msg, false)
	if err != nil {
		return opError("barrier", err)
	}
	if c.reply[1] != of.Type_BarrierReply {
		return fmt.Errorf("openflow: barrier: unexpected reply %s", msgTypeName(c.reply[1]))
	}
	return nil
}

// DumpFlows returns every flow in every table (OFPMP_FLOW_DESC), whoever
// installed it; IsFerryCookie tells ferry's own.
func (s *Session) DumpFlows(ctx context.Context) ([]FlowStat, error) {
	return s.dumpFlows(ctx, of.OFPTT_ALL, 0, 0)
}

// DumpTable returns ferry's flows in one table with their counters; the
// switch filters by table and cookie marker, so the reply is as small as
// the table's share of ferry's flows (TableSpoofed: one per switch).
func (s *Session) DumpTable(ctx context.Context, table uint8) ([]FlowStat, error) {
	return s.dumpFlows(ctx, table, CookieMarker, CookieMarkerMask)
}

func (s *Session) dumpFlows(ctx context.Context, table uint8, cookie, mask uint64) ([]FlowStat, error) {
	req := of.NewMpRequest(of.MultipartType_FlowDesc)
	body := of.NewFlowStatsRequest()
	body.TableId = table
	body.Cookie, body.CookieMask = cookie, mask
	req.Body = append(req.Body, body)
	parts, err := s.multipart(ctx, req)
	if err != nil {
		return nil, opError("dump flows", err)
	}
	parse := parseFlowDescs
	if s.wire() == Version13 {
		parse = parseFlowStats13
	}
	out, err := decodeGuarded(s, parts, parse)
	if err != nil {
		return nil, opError("dump flows", err)
	}
	return out, nil
}

// CountFlows returns how many flows the bridge has whose cookie matches
// cookie under mask (OFPMP_AGGREGATE_STATS): one small request, however
// many flows there are, for noticing flows added or deleted behind ferry's
// back without dumping them.
func (s *Session) CountFlows(ctx context.Context, cookie, mask uint64) (uint32, error) {
	req := of.NewMpRequest(of.MultipartType_AggregateStats)
	body := of.NewAggregateStatsRequest()
	body.TableId = of.OFPTT_ALL
	body.Cookie, body.CookieMask = cookie, mask
	req.Body = append(req.Body, body)
	parts, err := s.multipart(ctx, req)
	if err != nil {
		return 0, opError("count flows", err)
	}
	parse := parseAggregate
	if s.wire() == Version13 {
		parse = parseAggregate13
	}
	out, err := decodeGuarded(s, parts, parse)
	if err != nil {
		return 0, opError("count flows", err)
	}
	if len(out) != 1 {
		return 0, opError("count flows", fmt.Errorf("openflow: %d aggregate replies, want 1", len(out)))
	}
	return out[0], nil
}

// DumpGroups returns every group (OFPMP_GROUP_DESC) with its buckets decoded;
// actions ferry does not model come back as Unknown.
func (s *Session) DumpGroups(ctx context.Context) ([]GroupEntry, error) {
	var parts [][]byte
	var err error
	parse := parseGroupDescs
	if s.wire() == Version13 {
		parse = parseGroupDescs13
		parts, err = s.multipartMsg(ctx, groupDescRequest13(s.nextXid()))
	} else {
		req := of.NewMpRequest(of.MultipartType_GroupDesc)
		req.Body = append(req.Body, of.NewGroupMultipartRequest(of.OFPG_ALL))
		parts, err = s.multipart(ctx, req)
	}
	if err != nil {
		return nil, opError("dump groups", err)
	}
	out, err := decodeGuarded(s, parts, parse)
	if err != nil {
		return nil, opError("dump groups", err)
	}
	return out, nil
}

// decodeParts decodes the bodies of a multipart reply, in order, into one
// list. A part that fails to decode fails the whole dump: a partial dump
// read as complete would make the reconciler re-add flows that are there
// and keep stale ones it never saw.
func decodeParts[T any](parts [][]byte, parse func([]byte, []T) ([]T, error)) ([]T, error) {
	var out []T
	for _, p := range parts {
		var err error
		if out, err = parse(p, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeGuarded is decodeParts in the caller's goroutine (a reconcile
// loop), where a panic would take ferryd down: the decoders are fuzzed and
// total, but should one still panic on what a switch sent, that session is
// closed and the panic counted, like one in the session's own goroutines.
func decodeGuarded[T any](s *Session, parts [][]byte, parse func([]byte, []T) ([]T, error)) (out []T, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.panicked("panic decoding a dump", r)
			s.close(fmt.Errorf("internal error decoding a dump: %v", r))
			out, err = nil, fmt.Errorf("openflow: internal error decoding the reply: %v", r)
		}
	}()
	return decodeParts(parts, parse)
}

// multipart sends a multipart request and returns the bodies of all reply
// parts, reassembled in order.
func (s *Session) multipart(ctx context.Context, req *of.MultipartRequest) ([][]byte, error) {
	msg, err := s.marshal(req, s.nextXid())
	if err != nil {
		return nil, err
	}
	return s.multipartMsg(ctx, msg)
}

// multipartMsg is multipart for a request already encoded.
func (s *Session) multipartMsg(ctx context.Context, msg []byte) ([][]byte, error) {
	c, err := s.roundTrip(ctx, msg, true)
	if err != nil {
		return nil, err
	}
	return c.parts, nil
}

// roundTrip sends one request and waits for its reply (all parts of it, for
// a multipart request). An OFPT_ERROR reply becomes an *Error.
func (s *Session) roundTrip(ctx context.Context, msg []byte, multi bool) (*call, error) {
	xid := binary.BigEndian.Uint32(msg[4:8])
	c := &call{done: make(chan struct{}), multi: multi}
	if multi {
		c.mpType = binary.BigEndian.Uint16(msg[8:10])
		c.limit = s.srv.cfg.maxDumpBytes
	}
	return c, s.send(ctx, xid, msg, c)
}

// send registers c as the call waiting for the reply to msg (of xid xid),
// sends msg and waits.
func (s *Session) send(ctx context.Context, xid uint32, msg []byte, c *call) error {
	if err := s.expect(xid, c); err != nil {
		return err
	}
	if err := s.write(msg); err != nil {
		s.forget(xid)
		return err
	}
	return s.wait(ctx, xid, c)
}

func (s *Session) wait(ctx context.Context, xid uint32, c *call) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		s.forget(xid)
		return ctx.Err()
	}
}

func (s *Session) expect(xid uint32, c *call) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.disconnectedLocked()
	}
	s.pending[xid] = c
	return nil
}

func (s *Session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Session) forget(xids ...uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range xids {
		delete(s.pending, x)
	}
}

func (s *Session) disconnectedLocked() error {
	if s.err != nil {
		return fmt.Errorf("%w: %v", ErrDisconnected, s.err)
	}
	return ErrDisconnected
}

// write sends encoded messages in order with one flush. Any write error
// ends the session: a partially written message leaves the stream
// unusable.
func (s *Session) write(msgs ...[]byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed {
		err := s.disconnectedLocked()
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
	var err error
	for _, m := range msgs {
		// A deadline per message rather than per batch: a large bundle
		// may legitimately take a while, a stuck peer may not.
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.writeTimeout))
		if _, err = s.bw.Write(m); err != nil {
			break
		}
	}
	if err == nil {
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.srv.cfg.writeTimeout))
		err = s.bw.Flush()
	}
	if err != nil {
		s.close(fmt.Errorf("write: %w", err))
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.disconnectedLocked()
	}
	return nil
}

// readMsg reads one whole OpenFlow message. The 16-bit length field bounds
// what one message can make it allocate to 64 KiB; a length below the
// header's own 8 bytes cannot be framed and ends the stream.
func readMsg(br *bufio.Reader) ([]byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, err
	}
	l := int(binary.BigEndian.Uint16(hdr[2:4]))
	if l < 8 {
		return nil, fmt.Errorf("openflow: message length %d shorter than its header", l)
	}
	return readBody(br, hdr, l)
}

// readLoop is the only reader of the connection; it dispatches messages
// in arrival order, which is what makes "errors for a bundle's messages
// arrive before the reply to its close/commit" usable.
//
// What it keeps is bounded whatever the peer sends: a message nobody waits
// for (asynchronous messages, replies to no request, an oversized echo
// request) is skipped in the read buffer without being allocated, so a
// flood costs CPU, not memory; only replies to outstanding requests, echo
// requests and small unsolicited errors are read whole.
func (s *Session) readLoop() {
	defer s.closePacketIns() // after the session is closed, even on a panic
	defer s.recoverPanic("reader")
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(s.br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("connection closed by switch")
			}
			s.close(err)
			return
		}
		l := int(binary.BigEndian.Uint16(hdr[2:4]))
		if l < 8 {
			s.close(fmt.Errorf("openflow: message length %d shorter than its header", l))
			return
		}
		if hdr[0] != s.wire() {
			s.close(fmt.Errorf("switch sent OpenFlow version %#x after negotiating %s", hdr[0], VersionName(s.wire())))
			return
		}
		s.unanswered.Store(0) // anything the switch says proves it is alive
		if !s.wanted(hdr[1], binary.BigEndian.Uint32(hdr[4:8]), l) {
			if _, err := s.br.Discard(l - 8); err != nil {
				s.close(fmt.Errorf("truncated message: %w", err))
				return
			}
			continue
		}
		msg, err := readBody(s.br, hdr, l)
		if err != nil {
			s.close(err)
			return
		}
		if h := s.srv.cfg.testHook; h != nil {
			h(msg)
		}
		s.dispatch(msg)
	}
}

// Bounds of what is read of messages nobody asked for.
const (
	// maxEchoRequest is the largest echo request answered. OVS sends
	// empty ones; answering 64 KiB ones would let a peer that does not
	// read queue a megabyte of replies per connection.
	maxEchoRequest = 1 << 10
	// maxUnsolicitedError is the largest unsolicited error read (to be
	// logged); larger ones are skipped.
	maxUnsolicitedError = 1 << 10
)

// wanted says whether a message of type typ, xid xid and length l is read
// whole: a reply to an outstanding request, or a small echo request or
// unsolicited error.
func (s *Session) wanted(typ uint8, xid uint32, l int) bool {
	switch typ {
	case of.Type_EchoRequest:
		return l <= maxEchoRequest
	case of.Type_RoleStatus:
		return l <= maxRoleStatus
	case of.Type_PacketIn:
		return s.wantPacketIn()
	case of.Type_Hello, of.Type_FlowRemoved, of.Type_PortStatus,
		of.Type_TableStatus, of.Type_RequestForward, of.Type_ControllerStatus:
		// Other asynchronous messages: ferry's pipeline does not use them.
		return false
	}
	s.mu.Lock()
	_, pending := s.pending[xid]
	s.mu.Unlock()
	return pending || typ == of.Type_Error && l <= maxUnsolicitedError
}

// readBody reads the rest of a message whose header is hdr and length l.
func readBody(br *bufio.Reader, hdr [8]byte, l int) ([]byte, error) {
	msg := make([]byte, l)
	copy(msg, hdr[:])
	if _, err := io.ReadFull(br, msg[8:]); err != nil {
		if errors.Is(err, io.EOF) {
			// The header promised more: a truncated message, not a
			// clean close between messages.
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return msg, nil
}

// unsolicitedWarnEvery bounds the warnings about unsolicited errors of one
// session.
const unsolicitedWarnEvery = 10 * time.Second

func (s *Session) dispatch(msg []byte) {
	typ := msg[1]
	xid := binary.BigEndian.Uint32(msg[4:8])
	if typ == of.Type_EchoRequest {
		reply := append([]byte(nil), msg...)
		reply[1] = of.Type_EchoReply
		select {
		case s.control <- reply:
		default: // the switch will ask again
		}
		return
	}
	if typ == of.Type_RoleStatus {
		s.roleStatus(msg)
		return
	}
	if typ == of.Type_PacketIn {
		s.packetIn(msg)
		return
	}

	s.mu.Lock()
	c := s.pending[xid]
	if c == nil {
		s.mu.Unlock()
		if typ == of.Type_Error {
			e, err := parseError(msg)
			if err == nil {
				s.learnSlave(e)
				if s.packetOutError(e) {
					return
				}
				err = e
			}
			now := time.Now().UnixNano()
			if last := s.lastWarn.Load(); now-last >= int64(unsolicitedWarnEvery) && s.lastWarn.CompareAndSwap(last, now) {
				s.log().Warn("openflow: unsolicited error from switch", "error", err.Error())
			} else {
				s.log().Debug("openflow: unsolicited error from switch", "error", err.Error())
			}
		} else {
			s.log().Debug("openflow: reply to no request", "type", msgTypeName(typ), "xid", xid)
		}
		return
	}
	if c.sink != nil {
		s.mu.Unlock()
		if typ == of.Type_Error {
			e, err := parseError(msg)
			if err != nil {
				// The switch rejected a message of the bundle and we
				// cannot read why. Dropping the connection is
				// what keeps the bundle from being committed: the close
				// and commit fail, and OVS discards an uncommitted
				// bundle on disconnect.
				s.close(reason(err))
				return
			}
			s.learnSlave(e)
			c.sink.add(xid, e)
		}
		return
	}
	var endSession error
	switch {
	case typ == of.Type_Error:
		if e, err := parseError(msg); err != nil {
			c.err = err
		} else {
			s.learnSlaveLocked(e)
			c.err = e
		}
	case c.multi:
		more, err := c.addPart(typ, msg)
		if err == nil && more {
			s.mu.Unlock()
			return
		}
		c.err = err
		if errors.Is(err, errReplyTooLarge) {
			// The switch would go on streaming the rest of the reply;
			// only dropping the connection stops it.
			endSession = err
		}
	case c.isRole:
		if c.role, c.err = parseRole(msg, of.Type_RoleReply); c.err == nil {
			s.setRoleLocked(c.role, "role reply")
		}
	default:
		c.reply = msg
	}
	delete(s.pending, xid)
	s.mu.Unlock()
	close(c.done)
	if endSession != nil {
		s.close(reason(endSession))
	}
}

// reason turns a decode error into why a session ended, which is reported
// after "openflow: switch disconnected: " and so goes without the prefix.
func reason(err error) error { return errors.New(strings.TrimPrefix(err.Error(), "openflow: ")) }

// multipartHeaderLen is an ofp_multipart_reply up to its body.
const multipartHeaderLen = 16

// The server bounds one multipart reply, all its parts and headers
// included (WithMaxDumpBytes, DefaultMaxDumpBytes). Parts are kept until the
// last one arrives, so without a bound a switch that never clears
// OFPMPF_REPLY_MORE grows ferryd's memory until it dies. OVS 3.1 dumps
// ferry's flows at about 133 bytes each (testdata/ovs-3.1-session.bin), so
// 16 MiB holds some 120,000 flows: four times the busiest bridge of the
// scale benchmark (28,502 flows and 1,000 groups, about 4.5 MiB), while a
// hostile bridge can make ferryd hold no more than that per dump.
var errReplyTooLarge = errors.New("openflow: multipart reply too large")

// addPart adds one message received for a multipart request to c and
// reports whether more parts are to come. Anything but a well-formed part of
// the requested type ends the request with an error: taking, say, a
// barrier reply as the end of a flow dump would read as "no flows".
func (c *call) addPart(typ uint8, msg []byte) (more bool, err error) {
	if typ != of.Type_MultiPartReply {
		return false, fmt.Errorf("openflow: unexpected reply %s to a multipart request", msgTypeName(typ))
	}
	if len(msg) < multipartHeaderLen {
		return false, fmt.Errorf("openflow: multipart reply of %d bytes is shorter than its %d-byte header", len(msg), multipartHeaderLen)
	}
	if t := binary.BigEndian.Uint16(msg[8:10]); t != c.mpType {
		return false, fmt.Errorf("openflow: multipart reply of type %d to a request of type %d", t, c.mpType)
	}
	if c.size += len(msg); c.size > c.limit {
		c.parts = nil
		return false, fmt.Errorf("%w: more than %d bytes", errReplyTooLarge, c.limit)
	}
	c.parts = append(c.parts, msg[multipartHeaderLen:])
	return binary.BigEndian.Uint16(msg[10:12])&multipartReplyMore != 0, nil
}

// keepalive writes the reader's echo replies and probes the switch: after
// echoMisses intervals without hearing anything, the connection is dead.
func (s *Session) keepalive() {
	defer s.recoverPanic("keepalive")
	t := time.NewTicker(s.srv.cfg.echoInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case m := <-s.control:
			_ = s.write(m)
		case <-t.C:
			if n := s.unanswered.Add(1); int(n) > s.srv.cfg.echoMisses {
				s.close(fmt.Errorf("no reply to %d echo requests", n-1))
				return
			}
			_ = s.write(s.header(of.Type_EchoRequest, s.nextXid(), 8))
		}
	}
}

// close tears the session down once: the connection is closed, every waiting
// request fails with ErrDisconnected, the server forgets the session and
// Done is closed.
func (s *Session) close(reason error) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.err = reason
		pending := s.pending
		s.pending = nil
		derr := s.disconnectedLocked()
		s.mu.Unlock()
		_ = s.conn.Close()
		s.stopBindTimer()
		for _, c := range pending {
			if c.sink == nil {
				c.err = derr
				close(c.done)
			}
		}
		s.srv.unregister(s)
		close(s.done)
	})
}

// header builds a body-less message (or the header of one of length l) in
// the session's version.
func (s *Session) header(typ uint8, xid uint32, l int) []byte {
	b := header(typ, xid, l)
	b[0] = s.wire()
	return b
}

// header builds a body-less OpenFlow 1.5 message (or the header of one of
// length l): the hello, before a version is agreed.
func header(typ uint8, xid uint32, l int) []byte {
	b := make([]byte, l)
	b[0] = Version15
	b[1] = typ
	binary.BigEndian.PutUint16(b[2:4], uint16(l))
	binary.BigEndian.PutUint32(b[4:8], xid)
	return b
}

func dpidString(d uint64) string { return fmt.Sprintf("%016x", d) }
