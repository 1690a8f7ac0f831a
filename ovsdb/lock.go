package ovsdb

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultMaxLockMessage bounds one message from the server on a Locks
// session: lock replies, notifications and the _Server rows are small.
const DefaultMaxLockMessage = 1 << 20

// lockMonitorID names the _Server monitor of a Locks session.
const lockMonitorID = "ferry-locks-server"

// LocksConfig configures a Locks.
type LocksConfig struct {
	// Targets are the servers to dial, as for ConnConfig: one, or the
	// members of a clustered database (tried in turn; only the leader is
	// kept, see Database).
	Targets []Target
	// Database is the database whose server arbitrates the locks, e.g.
	// "Ferry_Northbound". When set, each server's _Server database is
	// monitored and a server whose copy of it is clustered is used only
	// while it is the cluster's leader. Required with several targets.
	Database string
	// TLS is the configuration for ssl: targets (see LoadTLSConfig).
	TLS *tls.Config
	// Logger receives session and lock state changes; nil discards them.
	Logger *slog.Logger
	// OnEvent, if set, is told of every change of a lock's state, in
	// order, from one goroutine of its own (it may call Locks' methods; a
	// slow one delays later events, never the session).
	OnEvent func(LockEvent)
	// MinBackoff and MaxBackoff bound the backoff between connection
	// attempts; zero means DefaultMinBackoff, DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds dialling plus the leader check; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// ProbeInterval is how often an echo request is sent; the session is
	// dropped (every lock lost) when nothing arrives for ProbeInterval +
	// ProbeTimeout. Zero means DefaultProbeInterval, DefaultProbeTimeout.
	ProbeInterval, ProbeTimeout time.Duration
	// MaxMessage bounds one message from the server; zero means
	// DefaultMaxLockMessage. A longer one closes the session.
	MaxMessage int
}

// LockEventKind is what happened to a lock.
type LockEventKind int

// The kinds of LockEvent.
const (
	// LockAcquired: the server says this session owns the lock.
	LockAcquired LockEventKind = iota + 1
	// LockStolen: another client stole the lock; this one is queued
	// for it again if it is still wanted.
	LockStolen
	// LockLost: the session ended (server gone, silent, or no longer
	// the leader) while the lock was held. The lock is re-requested on
	// the next session if it is still wanted.
	LockLost
)

func (k LockEventKind) String() string {
	switch k {
	case LockAcquired:
		return "acquired"
	case LockStolen:
		return "stolen"
	case LockLost:
		return "lost"
	}
	return "LockEventKind(" + strconv.Itoa(int(k)) + ")"
}

// LockEvent is a change of one lock's state.
type LockEvent struct {
	Name string
	Kind LockEventKind
}

// ErrLocksNotConnected is returned by Steal while no session is up.
var ErrLocksNotConnected = errors.New("ovsdb: locks: not connected to the server that arbitrates locks")

// Locks holds OVSDB locks (RFC 7047 §4.1.8–4.1.10) over one dedicated
// session: see the package documentation, "Locks".
type Locks struct {
	cfg     LocksConfig
	log     *slog.Logger
	backoff *expBackoff

	mu      sync.Mutex
	names   map[string]*lockState
	sess    *lockSession  // the session locks are requested on; nil while down
	bcast   chan struct{} // closed and replaced on every state change
	events  []LockEvent   // not delivered yet
	evWake  chan struct{}
	changes chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	evDone chan struct{}
	once   sync.Once
}

// lockState is one name's state on the current session.
type lockState struct {
	wanted      bool
	onServer    bool // a lock or steal is queued or granted on the server (no unlock since)
	held        bool
	outstanding int // requests for this name awaiting their reply
}

// NewLocks validates cfg and starts connecting in the background.
func NewLocks(cfg LocksConfig) (*Locks, error) {
	if len(cfg.Targets) == 0 {
		return nil, errors.New("ovsdb: locks: no target to connect to")
	}
	if len(cfg.Targets) > 1 && cfg.Database == "" {
		return nil, errors.New("ovsdb: locks: several targets need Database (the clustered database whose leader arbitrates locks)")
	}
	for _, t := range cfg.Targets {
		if !t.Active() {
			return nil, fmt.Errorf("ovsdb: locks: %q is not an active target", t)
		}
		if t.TLS() && cfg.TLS == nil {
			return nil, fmt.Errorf("ovsdb: locks: target %q needs a TLS configuration", t)
		}
	}
	cfg.MinBackoff = cmp.Or(max(cfg.MinBackoff, 0), DefaultMinBackoff)
	cfg.MaxBackoff = max(cmp.Or(max(cfg.MaxBackoff, 0), DefaultMaxBackoff), cfg.MinBackoff)
	cfg.Timeout = cmp.Or(max(cfg.Timeout, 0), DefaultTimeout)
	cfg.ProbeInterval = cmp.Or(max(cfg.ProbeInterval, 0), DefaultProbeInterval)
	cfg.ProbeTimeout = cmp.Or(max(cfg.ProbeTimeout, 0), DefaultProbeTimeout)
	cfg.MaxMessage = cmp.Or(max(cfg.MaxMessage, 0), DefaultMaxLockMessage)
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Locks{
		cfg:     cfg,
		log:     logger.With("component", "locks"),
		backoff: &expBackoff{min: cfg.MinBackoff, max: cfg.MaxBackoff},
		names:   map[string]*lockState{},
		bcast:   make(chan struct{}),
		evWake:  make(chan struct{}, 1),
		changes: make(chan struct{}, 1),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		evDone:  make(chan struct{}),
	}
	go l.run()
	go l.deliver()
	return l, nil
}

// ValidLockName reports whether s can name an OVSDB lock: ovsdb-server
// accepts only ids (a letter or underscore, then letters, digits and
// underscores). LockName makes one of any string.
func ValidLockName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// LockName turns any string (a device name such as "hv-1.example") into
// a valid lock name, "ferry_" followed by s with every byte that is not a
// letter or digit written _XX in hex. Different strings give different
// names, and the name is readable in ovsdb-server's logs.
func LockName(s string) string {
	var b strings.Builder
	b.WriteString("ferry_")
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "_%02x", c)
	}
	return b.String()
}

// Connected reports whether a session is up (on the leader, for a
// clustered database) and locks can be held.
func (l *Locks) Connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sess != nil
}

// Held reports whether the lock is held now. It is false from the moment
// the session is known to be gone: a caller that writes only while Held
// stops writing at once.
func (l *Locks) Held(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.names[name]
	return st != nil && st.held
}

// HeldNames returns the names of the locks held now, sorted.
func (l *Locks) HeldNames() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for n, st := range l.names {
		if st.held {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Wanted returns the names the caller wants, sorted.
func (l *Locks) Wanted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var names []string
	for n, st := range l.names {
		if st.wanted {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Changes receives a value after any lock's state or the session's
// changes; capacity one, coalescing, for a level-triggered consumer that
// rereads Held.
func (l *Locks) Changes() <-chan struct{} { return l.changes }

// Want asks for the named locks and returns at once: each is requested
// (queued behind its current owner) now if a session is up, and again on
// every new session until Release. It fails only for invalid names.
func (l *Locks) Want(names ...string) error {
	for _, n := range names {
		if !ValidLockName(n) {
			return fmt.Errorf("ovsdb: locks: %q is not a valid lock name (see LockName)", n)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range names {
		l.wantLocked(n)
	}
	return nil
}

func (l *Locks) wantLocked(name string) {
	st := l.names[name]
	if st == nil {
		st = &lockState{}
		l.names[name] = st
	}
	st.wanted = true
	if l.sess != nil && !st.onServer {
		l.requestLocked(l.sess, name, st, "lock")
	}
}

// Release gives the named locks up: Held is false for them at once, and
// the server is told (unlock) if a session is up.
func (l *Locks) Release(names ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range names {
		l.releaseLocked(n)
	}
	l.changedLocked()
}

func (l *Locks) releaseLocked(name string) {
	st := l.names[name]
	if st == nil {
		return
	}
	st.wanted = false
	if st.held {
		st.held = false
		l.log.Info("ovsdb: locks: released", "lock", name)
	}
	if st.onServer && l.sess != nil {
		l.requestLocked(l.sess, name, st, "unlock")
	}
	l.forgetLocked(name, st)
}

// SetWanted makes names the set of wanted locks: the ones not in it are
// released, the new ones wanted (level-triggered: call it with what the
// caller should own, as often as that changes).
func (l *Locks) SetWanted(names []string) error {
	want := map[string]bool{}
	for _, n := range names {
		if !ValidLockName(n) {
			return fmt.Errorf("ovsdb: locks: %q is not a valid lock name (see LockName)", n)
		}
		want[n] = true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for n, st := range l.names {
		if st.wanted && !want[n] {
			l.releaseLocked(n)
		}
	}
	for n := range want {
		l.wantLocked(n)
	}
	l.changedLocked()
	return nil
}

// Acquire wants the lock and waits until it is held or ctx ends. The lock
// stays wanted when ctx ends first (Release gives it up).
func (l *Locks) Acquire(ctx context.Context, name string) error {
	if err := l.Want(name); err != nil {
		return err
	}
	return l.waitHeld(ctx, name)
}

// Steal takes the lock from its owner, if any (the owner is told it was
// stolen), and waits until the server confirms. It needs a session up
// (ErrLocksNotConnected otherwise). The lock is wanted afterwards; after
// a reconnection it is requested with lock, not stolen again.
func (l *Locks) Steal(ctx context.Context, name string) error {
	if !ValidLockName(name) {
		return fmt.Errorf("ovsdb: locks: %q is not a valid lock name (see LockName)", name)
	}
	l.mu.Lock()
	if l.sess == nil {
		l.mu.Unlock()
		return ErrLocksNotConnected
	}
	st := l.names[name]
	if st == nil {
		st = &lockState{}
		l.names[name] = st
	}
	st.wanted = true
	if !st.held {
		if st.onServer {
			// The server refuses a second request for a lock without an
			// unlock between them.
			l.requestLocked(l.sess, name, st, "unlock")
		}
		l.requestLocked(l.sess, name, st, "steal")
	}
	l.mu.Unlock()
	return l.waitHeld(ctx, name)
}

func (l *Locks) waitHeld(ctx context.Context, name string) error {
	for {
		l.mu.Lock()
		st := l.names[name]
		held := st != nil && st.held
		wanted := st != nil && st.wanted
		ch := l.bcast
		l.mu.Unlock()
		if held {
			return nil
		}
		if !wanted {
			return fmt.Errorf("ovsdb: locks: %s: released while waiting for it", name)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("ovsdb: locks: %s: %w", name, ctx.Err())
		case <-l.ctx.Done():
			return fmt.Errorf("ovsdb: locks: %s: closed", name)
		}
	}
}

// Close ends the session (the server releases every lock it held) and
// stops reconnecting; it returns when the goroutines have ended.
func (l *Locks) Close() {
	l.once.Do(func() {
		l.cancel()
		l.backoff.stop()
	})
	<-l.done
	<-l.evDone
}

// requestLocked queues a lock, steal or unlock request for name.
func (l *Locks) requestLocked(s *lockSession, name string, st *lockState, method string) {
	st.outstanding++
	st.onServer = method != "unlock"
	s.callLocked(method, []any{name}, lockCall{method: method, name: name})
}

// forgetLocked drops the state of a name nobody wants and the server no
// longer knows.
func (l *Locks) forgetLocked(name string, st *lockState) {
	if !st.wanted && !st.onServer && st.outstanding == 0 && !st.held {
		delete(l.names, name)
	}
}

// setHeldLocked changes a lock's state and reports it.
func (l *Locks) setHeldLocked(name string, st *lockState, held bool, kind LockEventKind) {
	if st.held == held {
		return
	}
	st.held = held
	l.log.Info("ovsdb: locks: "+kind.String(), "lock", name)
	l.events = append(l.events, LockEvent{Name: name, Kind: kind})
	select {
	case l.evWake <- struct{}{}:
	default:
	}
	l.changedLocked()
}

func (l *Locks) changedLocked() {
	close(l.bcast)
	l.bcast = make(chan struct{})
	select {
	case l.changes <- struct{}{}:
	default:
	}
}

// deliver calls OnEvent in order, outside the lock.
func (l *Locks) deliver() {
	defer close(l.evDone)
	for {
		select {
		case <-l.evWake:
		case <-l.done:
			// Deliver what the last session's end reported, then stop.
		}
		l.mu.Lock()
		evs := l.events
		l.events = nil
		l.mu.Unlock()
		if l.cfg.OnEvent != nil {
			for _, ev := range evs {
				l.cfg.OnEvent(ev)
			}
		}
		select {
		case <-l.done:
			l.mu.Lock()
			rest := len(l.events)
			l.mu.Unlock()
			if rest == 0 {
				return
			}
		default:
		}
	}
}

// run keeps a session up until Close.
func (l *Locks) run() {
	defer close(l.done)
	var fails retryLog
	for i := 0; ; i = (i + 1) % len(l.cfg.Targets) {
		t := l.cfg.Targets[i]
		err := l.session(t)
		if l.ctx.Err() != nil {
			return
		}
		fails.failed(l.log, "ovsdb: locks: session ended, will reconnect", fmt.Errorf("%s: %w", t, err))
		if !l.sleep(l.backoff.NextBackOff()) {
			return
		}
	}
}

func (l *Locks) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-l.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// session runs one session on t until it ends, and returns why.
func (l *Locks) session(t Target) error {
	ctx, cancel := context.WithTimeout(l.ctx, l.cfg.Timeout)
	conn, err := t.Dial(ctx, l.cfg.TLS)
	cancel()
	if err != nil {
		return err
	}
	s := &lockSession{
		l:       l,
		conn:    conn,
		target:  t,
		calls:   map[string]lockCall{},
		wake:    make(chan struct{}, 1),
		ready:   make(chan struct{}),
		done:    make(chan struct{}),
		servers: map[string]serverDatabase{},
	}
	go s.write()
	go s.read()
	l.mu.Lock()
	if l.cfg.Database != "" {
		s.callLocked("monitor", []any{"_Server", lockMonitorID, map[string]any{
			"Database": map[string]any{"columns": []string{"name", "model", "connected", "leader"}},
		}}, lockCall{method: "monitor"})
	} else {
		s.setReadyLocked()
	}
	l.mu.Unlock()

	timer := time.NewTimer(l.cfg.Timeout)
	select {
	case <-s.ready:
		timer.Stop()
	case <-s.done:
		timer.Stop()
		return s.err
	case <-timer.C:
		s.close(errors.New("no answer to the leader check in time"))
		return s.err
	case <-l.ctx.Done():
		timer.Stop()
		s.close(errors.New("closed"))
		return nil
	}
	l.backoff.Reset()
	probe := time.NewTicker(l.cfg.ProbeInterval)
	defer probe.Stop()
	for {
		select {
		case <-s.done:
			return s.err
		case <-l.ctx.Done():
			s.close(errors.New("closed"))
			return nil
		case <-probe.C:
			l.mu.Lock()
			s.callLocked("echo", []any{}, lockCall{method: "echo"})
			l.mu.Unlock()
		}
	}
}

// lockCall is a request of a Locks session awaiting its reply.
type lockCall struct {
	method string
	name   string // for lock, steal, unlock
}

// serverDatabase is a row of _Server's Database table.
type serverDatabase struct {
	Name      string `json:"name"`
	Model     string `json:"model"`
	Connected bool   `json:"connected"`
	Leader    bool   `json:"leader"`
}

// lockSession is one connection of a Locks. Its state is guarded by
// Locks.mu.
type lockSession struct {
	l      *Locks
	conn   net.Conn
	target Target

	calls   map[string]lockCall
	nextID  uint64
	queue   [][]byte // to write
	wake    chan struct{}
	isReady bool
	ready   chan struct{}
	servers map[string]serverDatabase // _Server.Database by row UUID

	done chan struct{}
	err  error
	once sync.Once
}

// callLocked queues a request.
func (s *lockSession) callLocked(method string, params []any, c lockCall) {
	s.nextID++
	id := "ferry-" + strconv.FormatUint(s.nextID, 10)
	s.calls[id] = c
	s.sendLocked(map[string]any{"method": method, "params": params, "id": id})
}

func (s *lockSession) sendLocked(msg any) {
	b, err := json.Marshal(msg)
	if err != nil {
		// Only ferry's own values are marshalled: a bug.
		go s.close(fmt.Errorf("ovsdb: locks: %w", err))
		return
	}
	s.queue = append(s.queue, b)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// setReadyLocked makes s the session locks are requested on and requests
// every wanted lock.
func (s *lockSession) setReadyLocked() {
	if s.isReady {
		return
	}
	s.isReady = true
	close(s.ready)
	l := s.l
	l.sess = s
	l.log.Info("ovsdb: locks: connected", "target", s.target.String())
	for n, st := range l.names {
		if st.wanted {
			l.requestLocked(s, n, st, "lock")
		}
	}
	l.changedLocked()
}

func (s *lockSession) write() {
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		s.l.mu.Lock()
		q := s.queue
		s.queue = nil
		s.l.mu.Unlock()
		for _, b := range q {
			_ = s.conn.SetWriteDeadline(time.Now().Add(rawWriteTimeout))
			if _, err := s.conn.Write(b); err != nil {
				s.close(fmt.Errorf("write: %w", err))
				return
			}
		}
	}
}

func (s *lockSession) read() {
	l := s.l
	buf := make([]byte, 16<<10)
	sp := splitter{max: l.cfg.MaxMessage}
	silence := l.cfg.ProbeInterval + l.cfg.ProbeTimeout
	for {
		_ = s.conn.SetReadDeadline(time.Now().Add(silence))
		n, err := s.conn.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			msg, rest, perr := sp.feed(data)
			if perr != nil {
				s.close(perr)
				return
			}
			data = rest
			if msg == nil {
				continue
			}
			l.mu.Lock()
			herr := s.handleLocked(msg)
			l.mu.Unlock()
			if herr != nil {
				s.close(herr)
				return
			}
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				err = fmt.Errorf("server silent for %v", silence)
			}
			s.close(err)
			return
		}
	}
}

// lockMessage is any JSON-RPC message from the server.
type lockMessage struct {
	ID     json.RawMessage `json:"id"`
	Method *string         `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// lockMsg is what decodeLockMessage makes of a message.
type lockMsg struct {
	kind    string // "request", "notify", "reply"
	method  string
	id      json.RawMessage // of a request; of a reply, when not ours
	replyID string          // of a reply to one of ours
	params  json.RawMessage
	result  json.RawMessage
	errMsg  json.RawMessage // non-null error member
	lock    string          // of locked and stolen notifications
	monitor string          // of update notifications
	updates map[string]map[string]serverRowUpdate
}

type serverRowUpdate struct {
	New *serverDatabase `json:"new"`
}

func isNull(b json.RawMessage) bool { return len(b) == 0 || bytes.Equal(b, []byte("null")) }

// decodeLockMessage decodes one message from the server. It is total: any
// input gives a message or an error, never a panic.
func decodeLockMessage(b []byte) (lockMsg, error) {
	var m lockMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return lockMsg{}, fmt.Errorf("ovsdb: locks: bad JSON-RPC message: %w", err)
	}
	hasID := !isNull(m.ID)
	switch {
	case m.Method != nil && hasID:
		return lockMsg{kind: "request", method: *m.Method, id: m.ID, params: m.Params}, nil
	case m.Method != nil:
		out := lockMsg{kind: "notify", method: *m.Method}
		switch *m.Method {
		case "locked", "stolen":
			var p []string
			if err := json.Unmarshal(m.Params, &p); err != nil || len(p) != 1 {
				return lockMsg{}, fmt.Errorf("ovsdb: locks: bad %s notification params %.200s", *m.Method, m.Params)
			}
			out.lock = p[0]
		case "update":
			var p []json.RawMessage
			if err := json.Unmarshal(m.Params, &p); err != nil || len(p) != 2 {
				return lockMsg{}, fmt.Errorf("ovsdb: locks: bad update notification params %.200s", m.Params)
			}
			if json.Unmarshal(p[0], &out.monitor) != nil || out.monitor != lockMonitorID {
				return out, nil // not ours
			}
			if err := json.Unmarshal(p[1], &out.updates); err != nil {
				return lockMsg{}, fmt.Errorf("ovsdb: locks: bad _Server update: %w", err)
			}
		}
		return out, nil
	case hasID:
		out := lockMsg{kind: "reply", result: m.Result}
		if !isNull(m.Error) {
			out.errMsg = m.Error
		}
		if json.Unmarshal(m.ID, &out.replyID) != nil {
			out.id = m.ID
		}
		return out, nil
	}
	return lockMsg{}, fmt.Errorf("ovsdb: locks: JSON-RPC message with neither method nor id: %.200s", b)
}

// handleLocked acts on one message; an error closes the session.
func (s *lockSession) handleLocked(b []byte) error {
	l := s.l
	m, err := decodeLockMessage(b)
	if err != nil {
		return err
	}
	switch m.kind {
	case "request":
		if m.method == "echo" {
			params := m.params
			if isNull(params) {
				params = json.RawMessage("[]")
			}
			s.sendLocked(map[string]any{"id": m.id, "result": params, "error": nil})
		} else {
			s.sendLocked(map[string]any{"id": m.id, "result": nil, "error": "unknown method"})
		}
	case "notify":
		switch m.method {
		case "locked":
			if st := l.names[m.lock]; s.isReady && st != nil && st.onServer && st.outstanding == 0 {
				l.setHeldLocked(m.lock, st, true, LockAcquired)
			}
		case "stolen":
			if st := l.names[m.lock]; s.isReady && st != nil && st.onServer && st.outstanding == 0 && st.held {
				l.setHeldLocked(m.lock, st, false, LockStolen)
				if st.wanted {
					// Queue again: a stealer's victim that had stolen
					// the lock itself is no longer queued, and either
					// way the server wants an unlock first.
					l.requestLocked(s, m.lock, st, "unlock")
					l.requestLocked(s, m.lock, st, "lock")
				}
			}
		case "update":
			if m.monitor == lockMonitorID {
				s.applyServerRows(m.updates)
				return s.checkLeaderLocked()
			}
		}
	case "reply":
		c, ok := s.calls[m.replyID]
		if !ok {
			return nil // not an answer to a request of this session
		}
		delete(s.calls, m.replyID)
		return s.replyLocked(c, m)
	}
	return nil
}

func (s *lockSession) applyServerRows(updates map[string]map[string]serverRowUpdate) {
	for uuid, u := range updates["Database"] {
		if u.New == nil {
			delete(s.servers, uuid)
		} else {
			s.servers[uuid] = *u.New
		}
	}
}

// checkLeaderLocked makes the session ready once the server may arbitrate
// the database's locks, and fails it when it no longer may.
func (s *lockSession) checkLeaderLocked() error {
	db := s.l.cfg.Database
	for _, row := range s.servers {
		if row.Name != db {
			continue
		}
		switch {
		case row.Model == "relay":
			// A relay serves locks from its own memory, apart from the
			// cluster and from other relays.
			return fmt.Errorf("ovsdb: locks: server is a relay of %s; locks need the database's own servers", db)
		case row.Model != "clustered":
		case !row.Connected:
			return fmt.Errorf("ovsdb: locks: server is disconnected from the %s cluster", db)
		case !row.Leader:
			return fmt.Errorf("ovsdb: locks: server is not the %s cluster's leader", db)
		}
		s.setReadyLocked()
		return nil
	}
	return fmt.Errorf("ovsdb: locks: server does not serve database %s", db)
}

func (s *lockSession) replyLocked(c lockCall, m lockMsg) error {
	l := s.l
	switch c.method {
	case "echo":
		return nil
	case "monitor":
		if m.errMsg != nil {
			// An ovsdb-server older than _Server (OVS 2.9): standalone.
			l.log.Warn("ovsdb: locks: server has no _Server database; assuming a standalone database", "target", s.target.String(), "err", string(m.errMsg))
			s.setReadyLocked()
			return nil
		}
		var updates map[string]map[string]serverRowUpdate
		if err := json.Unmarshal(m.result, &updates); err != nil {
			return fmt.Errorf("ovsdb: locks: bad _Server monitor reply: %w", err)
		}
		s.applyServerRows(updates)
		return s.checkLeaderLocked()
	}
	st := l.names[c.name]
	if st == nil || !s.isReady {
		return nil
	}
	st.outstanding--
	if st.outstanding > 0 {
		return nil // a later request decides
	}
	if m.errMsg != nil {
		st.onServer = false
		l.log.Warn("ovsdb: locks: server refused a request", "method", c.method, "lock", c.name, "err", string(m.errMsg))
		l.setHeldLocked(c.name, st, false, LockLost)
		l.forgetLocked(c.name, st)
		return nil
	}
	switch c.method {
	case "lock", "steal":
		var r struct {
			Locked bool `json:"locked"`
		}
		if err := json.Unmarshal(m.result, &r); err != nil {
			return fmt.Errorf("ovsdb: locks: bad %s reply: %w", c.method, err)
		}
		if r.Locked {
			l.setHeldLocked(c.name, st, true, LockAcquired)
		} else {
			l.log.Debug("ovsdb: locks: waiting", "lock", c.name)
		}
	case "unlock":
		l.forgetLocked(c.name, st)
	}
	return nil
}

// close ends the session once: every lock it held is lost at once.
func (s *lockSession) close(err error) {
	s.once.Do(func() {
		l := s.l
		l.mu.Lock()
		s.err = err
		close(s.done)
		if l.sess == s {
			l.sess = nil
			l.log.Warn("ovsdb: locks: disconnected; every lock is lost", "target", s.target.String(), "err", err)
			for n, st := range l.names {
				st.onServer = false
				st.outstanding = 0
				l.setHeldLocked(n, st, false, LockLost)
				l.forgetLocked(n, st)
			}
			l.changedLocked()
		}
		l.mu.Unlock()
		_ = s.conn.Close()
	})
}
