package ovsdb

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Locks.
//
// RFC 7047 §4.1.8–4.1.10: a client asks for a lock by name ("lock"); the
// server grants it at once or queues the request and later sends "locked";
// "unlock" gives it up (or leaves the queue); "steal" takes it, and the
// previous holder gets "stolen". Everything a session held or waited for
// is released when the session ends. libovsdb has no client for these.
//
// Locks are the server's, not the database's, and Raft does not replicate
// them: on a cluster, every client of one lock must talk to the same
// member. Like ovn-northd, Locks keeps its session on the leader of the
// database it is given (read from the _Server database, which every
// ovsdb-server has) and drops the session the moment that member reports
// it is no longer leader, holding nothing until it is connected to the new
// one. Between the old leader losing its role and Locks noticing, another
// client connected to the new leader may be granted the same lock: a lock
// is therefore fencing only with a second fence where it matters (ferry's
// OpenFlow role generation).

// LockConfig configures Locks.
type LockConfig struct {
	// Targets to try in turn (tcp:, ssl:, unix:).
	Targets []Target
	// TLS is required for ssl: targets.
	TLS *tls.Config
	// Database, when set, keeps the session on the leader of that
	// clustered database (any member of a standalone one will do).
	Database string
	Logger   *slog.Logger
	// MinBackoff, MaxBackoff bound the wait between connection attempts;
	// zero means DefaultMinBackoff, DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// ProbeInterval is how often an echo checks the server still answers,
	// within ProbeTimeout; zero means DefaultProbeInterval and
	// DefaultProbeTimeout. A server that stops answering holds no lock of
	// ours any longer, as far as we must assume.
	ProbeInterval, ProbeTimeout time.Duration
	// MaxMessage bounds one message from the server; zero means
	// DefaultMaxMessage.
	MaxMessage int
}

// Locks is a session holding OVSDB locks, level-triggered: the caller says
// which locks it wants (Want); Locks connects, asks for them, gives up the
// others, reconnects and asks again after a failure, and signals Changed
// whenever what it holds changed. While it is not connected it holds
// nothing. Safe for concurrent use.
type Locks struct {
	cfg  LockConfig
	log  *slog.Logger
	kick chan struct{}

	mu        sync.Mutex
	want      map[string]bool
	held      map[string]bool
	connected bool
	endpoint  string
	changed   chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// NewLocks starts the session in the background.
func NewLocks(cfg LockConfig) (*Locks, error) {
	if len(cfg.Targets) == 0 {
		return nil, errors.New("ovsdb: locks: no target to connect to")
	}
	for _, t := range cfg.Targets {
		if !t.Active() {
			return nil, fmt.Errorf("ovsdb: locks: %s is not an active target", t)
		}
		if t.TLS() && cfg.TLS == nil {
			return nil, fmt.Errorf("ovsdb: locks: %s needs TLS configuration", t)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.ProbeTimeout == 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	if cfg.MaxMessage == 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	l := &Locks{cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1), want: map[string]bool{}, held: map[string]bool{},
		changed: make(chan struct{}, 1), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	go l.run()
	return l, nil
}

// Want sets the locks the session should hold; the others are given up.
func (l *Locks) Want(names []string) {
	next := map[string]bool{}
	for _, n := range names {
		next[n] = true
	}
	l.mu.Lock()
	same := maps.Equal(next, l.want)
	l.want = next
	l.mu.Unlock()
	if !same {
		signal(l.kick)
	}
}

// Held reports whether the session holds lock name now.
func (l *Locks) Held(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held[name]
}

// HeldNames lists the locks held, sorted.
func (l *Locks) HeldNames() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(maps.Keys(l.held))
}

// Connected reports whether the session is up (on the leader, for a
// clustered database).
func (l *Locks) Connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.connected
}

// Changed is signalled (capacity one, so it coalesces) whenever the locks
// held changed.
func (l *Locks) Changed() <-chan struct{} { return l.changed }

// Close ends the session, releasing every lock, and waits for it.
func (l *Locks) Close() {
	l.cancel()
	<-l.done
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// setHeld changes one lock's state and signals Changed if it moved.
func (l *Locks) setHeld(name string, held bool) {
	l.mu.Lock()
	moved := l.held[name] != held
	if held {
		l.held[name] = true
	} else {
		delete(l.held, name)
	}
	l.mu.Unlock()
	if moved {
		l.log.Debug("ovsdb: lock", "name", name, "held", held)
		signal(l.changed)
	}
}

// dropAll records the end of a session: nothing is held.
func (l *Locks) dropAll() {
	l.mu.Lock()
	had := len(l.held) > 0
	l.held = map[string]bool{}
	l.connected = false
	l.mu.Unlock()
	if had {
		signal(l.changed)
	}
}

func (l *Locks) run() {
	defer close(l.done)
	defer l.dropAll()
	backoff := l.cfg.MinBackoff
	for i := 0; l.ctx.Err() == nil; i++ {
		t := l.cfg.Targets[i%len(l.cfg.Targets)]
		start := time.Now()
		err := l.session(t)
		l.dropAll()
		if l.ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			backoff = l.cfg.MinBackoff // it had worked for a while
		}
		l.log.Info("ovsdb: lock session ended (retrying)", "target", t.String(), "err", err)
		// Every member of a cluster is tried once before backing off.
		if (i+1)%len(l.cfg.Targets) != 0 {
			continue
		}
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, l.cfg.MaxBackoff)
	}
}

// lockSession is one connection's state.
type lockSession struct {
	l    *Locks
	conn net.Conn
	wmu  sync.Mutex

	mu     sync.Mutex
	nextID uint64
	calls  map[string]chan rawReply
	err    error // why the session ends, set once
	dead   chan struct{}

	// asked are the locks requested on this session and not given up.
	asked map[string]bool
	// leader reports the member's state for the database; nil until known.
	leader chan bool
	seen   time.Time
}

// session runs one connection to t until it fails or Locks closes.
func (l *Locks) session(t Target) error {
	dctx, cancel := context.WithTimeout(l.ctx, l.cfg.ProbeTimeout+l.cfg.ProbeInterval)
	conn, err := t.Dial(dctx, l.cfg.TLS)
	cancel()
	if err != nil {
		return err
	}
	s := &lockSession{l: l, conn: conn, calls: map[string]chan rawReply{}, dead: make(chan struct{}),
		asked: map[string]bool{}, leader: make(chan bool, 16), seen: time.Now()}
	defer s.close(errors.New("session closed"))
	go s.read()

	ctx, cancelCall := context.WithTimeout(l.ctx, l.cfg.ProbeTimeout)
	err = s.checkLeader(ctx)
	cancelCall()
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.connected, l.endpoint = true, t.String()
	l.mu.Unlock()
	l.log.Info("ovsdb: lock session up", "target", t.String())

	probe := time.NewTicker(l.cfg.ProbeInterval)
	defer probe.Stop()
	signal(l.kick)
	for {
		select {
		case <-l.ctx.Done():
			return l.ctx.Err()
		case <-s.dead:
			return s.cause()
		case lead := <-s.leader:
			if !lead {
				return fmt.Errorf("ovsdb: locks: %s is no longer the leader of %s", t, l.cfg.Database)
			}
		case <-probe.C:
			s.mu.Lock()
			quiet := time.Since(s.seen)
			s.mu.Unlock()
			if quiet > l.cfg.ProbeInterval+l.cfg.ProbeTimeout {
				return fmt.Errorf("ovsdb: locks: %s did not answer for %v", t, quiet.Round(time.Millisecond))
			}
			if err := s.notify("echo", []any{}); err != nil {
				return err
			}
		case <-l.kick:
			if err := s.converge(); err != nil {
				return err
			}
		}
	}
}

// converge asks for the wanted locks not asked yet and gives up the
// others.
func (s *lockSession) converge() error {
	s.l.mu.Lock()
	want := maps.Clone(s.l.want)
	s.l.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(s.asked)) {
		if want[name] {
			continue
		}
		// Forgotten before the answer: a lock granted meanwhile is ours
		// to release with this same unlock.
		delete(s.asked, name)
		s.l.setHeld(name, false)
		if err := s.notify("unlock", []any{lockID(name)}); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if s.asked[name] {
			continue
		}
		s.asked[name] = true
		ctx, cancel := context.WithTimeout(s.l.ctx, s.l.cfg.ProbeTimeout)
		var res struct {
			Locked bool `json:"locked"`
		}
		err := s.call(ctx, "lock", []any{lockID(name)}, &res)
		cancel()
		if err != nil {
			return err
		}
		if res.Locked {
			s.l.setHeld(name, true)
		}
	}
	return nil
}

// checkLeader learns whether the member leads cfg.Database, and keeps
// learning it through a monitor of _Server. A standalone database, or
// none given, needs no leader.
func (s *lockSession) checkLeader(ctx context.Context) error {
	if s.l.cfg.Database == "" {
		return nil
	}
	var updates serverUpdates
	err := s.call(ctx, "monitor", []any{"_Server", "ferry-locks", map[string]any{
		"Database": map[string]any{"columns": []string{"name", "model", "leader"}},
	}}, &updates)
	var rpc *RPCError
	if errors.As(err, &rpc) {
		return nil // no _Server database (an old server): standalone
	}
	if err != nil {
		return err
	}
	lead, known := updates.leads(s.l.cfg.Database)
	if !known {
		return fmt.Errorf("ovsdb: locks: the server has no database %s", s.l.cfg.Database)
	}
	if !lead {
		return fmt.Errorf("ovsdb: locks: not the leader of %s", s.l.cfg.Database)
	}
	return nil
}

// serverUpdates is a monitor's table-updates of _Server's Database table.
type serverUpdates struct {
	Database map[string]struct {
		New *struct {
			Name   string `json:"name"`
			Model  string `json:"model"`
			Leader bool   `json:"leader"`
		} `json:"new"`
	} `json:"Database"`
}

// leads reports whether the update says this member leads db, and
// whether it says anything of db at all.
func (u serverUpdates) leads(db string) (lead, known bool) {
	for _, row := range u.Database {
		if row.New != nil && row.New.Name == db {
			return row.New.Model != "clustered" || row.New.Leader, true
		}
	}
	return false, false
}

// call sends a request and waits for its answer.
func (s *lockSession) call(ctx context.Context, method string, params []any, result any) error {
	ch := make(chan rawReply, 1)
	s.mu.Lock()
	s.nextID++
	id := "ferry-" + strconv.FormatUint(s.nextID, 10)
	s.calls[id] = ch
	s.mu.Unlock()
	if err := s.write(map[string]any{"method": method, "params": params, "id": id}); err != nil {
		return err
	}
	select {
	case r := <-ch:
		return r.decode(method, result)
	case <-s.dead:
		return s.cause()
	case <-ctx.Done():
		return fmt.Errorf("ovsdb: %s: %w", method, ctx.Err())
	}
}

// notify sends a request whose answer nobody waits for.
func (s *lockSession) notify(method string, params []any) error {
	s.mu.Lock()
	s.nextID++
	id := "ferry-" + strconv.FormatUint(s.nextID, 10)
	s.mu.Unlock()
	return s.write(map[string]any{"method": method, "params": params, "id": id})
}

func (s *lockSession) write(msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.l.cfg.ProbeTimeout))
	_, err = s.conn.Write(b)
	_ = s.conn.SetWriteDeadline(time.Time{})
	if err != nil {
		s.close(err)
	}
	return err
}

func (s *lockSession) close(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
		close(s.dead)
		_ = s.conn.Close()
	}
	s.mu.Unlock()
}

func (s *lockSession) cause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// read splits the stream into messages and handles each, until the
// connection fails or the server sends something it must not.
func (s *lockSession) read() {
	sp := &splitter{max: s.l.cfg.MaxMessage}
	buf := make([]byte, 64<<10)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			s.close(err)
			return
		}
		s.mu.Lock()
		s.seen = time.Now()
		s.mu.Unlock()
		data := buf[:n]
		for len(data) > 0 {
			msg, rest, err := sp.feed(data)
			if err != nil {
				s.close(err)
				return
			}
			if msg == nil {
				break
			}
			if err := s.handle(msg); err != nil {
				s.close(err)
				return
			}
			data = rest
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

// handle acts on one message: answers to our calls, lock notifications,
// leadership updates, echo requests. Anything malformed ends the session.
func (s *lockSession) handle(raw []byte) error {
	var m lockMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("ovsdb: locks: bad JSON-RPC message: %w", err)
	}
	hasID := len(m.ID) > 0 && !bytes.Equal(m.ID, []byte("null"))
	switch {
	case m.Method != nil && hasID:
		reply := map[string]any{"id": m.ID, "result": nil, "error": nil}
		if *m.Method == "echo" {
			reply["result"] = json.RawMessage(cmpOr(m.Params, "[]"))
		} else {
			reply["error"] = "unknown method"
		}
		return s.write(reply)
	case m.Method != nil:
		return s.notification(*m.Method, m.Params)
	case hasID:
		var id string
		if json.Unmarshal(m.ID, &id) != nil {
			return nil
		}
		s.mu.Lock()
		ch, ok := s.calls[id]
		delete(s.calls, id)
		s.mu.Unlock()
		if ok {
			ch <- rawReply{result: m.Result, err: m.Error}
		}
	}
	return nil
}

func cmpOr(b json.RawMessage, def string) []byte {
	if len(b) == 0 {
		return []byte(def)
	}
	return b
}

// notification handles "locked", "stolen" and the _Server monitor's
// "update"; others are ignored.
func (s *lockSession) notification(method string, params json.RawMessage) error {
	switch method {
	case "locked", "stolen":
		var ids []string
		if err := json.Unmarshal(params, &ids); err != nil || len(ids) != 1 {
			return fmt.Errorf("ovsdb: locks: bad %s notification %s", method, params)
		}
		name, ok := lockName(ids[0])
		if !ok {
			return nil // not a lock of ours
		}
		names := []string{name}
		// A lock given up before the server granted it is not ours: the
		// unlock on its way releases it.
		if method == "locked" && s.wants(names[0]) {
			s.l.setHeld(names[0], true)
		} else if method == "stolen" {
			s.l.setHeld(names[0], false)
		}
	case "update":
		var p []json.RawMessage
		if err := json.Unmarshal(params, &p); err != nil || len(p) != 2 {
			return fmt.Errorf("ovsdb: locks: bad update notification")
		}
		var updates serverUpdates
		if err := json.Unmarshal(p[1], &updates); err != nil {
			return fmt.Errorf("ovsdb: locks: bad _Server update: %w", err)
		}
		if lead, known := updates.leads(s.l.cfg.Database); known {
			select {
			case s.leader <- lead:
			default:
				if !lead {
					return fmt.Errorf("ovsdb: locks: no longer the leader of %s", s.l.cfg.Database)
				}
			}
		}
	}
	return nil
}

// lockID is the name of a lock as the server knows it: RFC 7047 wants an
// <id> ([a-zA-Z_][a-zA-Z0-9_]*), and ferry's names hold '/' and whatever
// a chassis may be called.
func lockID(name string) string { return "ferry_" + hex.EncodeToString([]byte(name)) }

// lockName is the inverse of lockID.
func lockName(id string) (string, bool) {
	h, ok := strings.CutPrefix(id, "ferry_")
	if !ok {
		return "", false
	}
	b, err := hex.DecodeString(h)
	return string(b), err == nil
}

// wants reports whether name is still wanted by the caller.
func (s *lockSession) wants(name string) bool {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	return s.l.want[name]
}
