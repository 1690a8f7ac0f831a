package nbdb

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	libmodel "github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/model"
	ferryovsdb "github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// Sentinel errors; DB returns them wrapped in an *Error that names the
// object or field at fault, so test them with errors.Is.
var (
	// ErrNotFound: the switch, port or chassis does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change collides with an existing object (a duplicate
	// name, VNI, iface_id, tunnel IP or OVSDB target).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the change carries a value the schema cannot hold. The REST
	// layer validates first, so this only guards other callers.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable: the northbound database is not connected, or its
	// connection went while the change was in flight (the change may then
	// have been applied or not).
	ErrUnavailable = errors.New("northbound database unavailable")
)

// Error is a change DB refused, for a reason the caller can act on.
type Error struct {
	Kind  error  // ErrNotFound, ErrConflict or ErrInvalid
	Field string // the field at fault ("name", "vni", "iface_id", ...), or ""
	Msg   string // what is wrong, e.g. `switch "blue" already exists`
}

func (e *Error) Error() string {
	if e.Field == "" {
		return "nbdb: " + e.Msg
	}
	return "nbdb: " + e.Field + ": " + e.Msg
}

func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Limits of the optimistic-concurrency loop. A retry happens only when
// another writer (another ferryd, ovsdb-client) committed between our cache
// read and our transaction; our own writes are serialized by DB.mu.
const (
	maxAttempts = 16
	// cacheWait bounds how long a call waits for the cache to show a
	// generation; past it the call still succeeds (the write committed) but
	// the next Snapshot may not include it yet.
	cacheWait = 5 * time.Second
	// cachePoll is how often a wait looks at the cache without an event.
	cachePoll = 5 * time.Millisecond
)

// DB reads and writes the northbound database.
type DB struct {
	c   client.Client
	log *slog.Logger
	// connected tells whether the connection is up (see WithConnected);
	// nil trusts the client.
	connected func() bool

	// mu serializes this process' writes so that they never race each
	// other into retries: each one starts from the cache state the
	// previous one waited for.
	mu sync.Mutex

	// state is the last snapshot and what it was built from (see
	// Snapshot); buildMu serializes builds.
	state   atomic.Pointer[snapState]
	buildMu sync.Mutex

	// watched is the cache DB's event handler is on (see watch); also the
	// state Snapshot reads while the client has no cache.
	watchMu sync.Mutex
	watched *cache.TableCache
	changes atomic.Uint64 // cache changes seen by the event handler
	moved   signal        // fired on every cache change
	// dirty holds Logical_Port and Gateway_Binding rows someone updated
	// in place (ferry replaces them instead), for the next build.
	dirtyMu sync.Mutex
	dirty   map[string]bool

	// vniHint is at most the lowest free VNI, so that allocating one
	// probes a few VNIs instead of reading every switch. Allocations raise
	// it; every switch that goes (ours at once, others' through the
	// cache's events and the next snapshot) lowers it.
	vniHint atomic.Int64

	// oddGeneration is a generation whose rows never fit together, see
	// build; -1 when there is none.
	oddGeneration atomic.Int64

	// pending is the write in flight, if any (see apply and sawGlobal).
	pending atomic.Pointer[pendingTxn]
}

// pendingTxn is a write in flight: the id its transactions write under
// TxnKey, and the generation the cache showed NB_Global at with that id (0
// until it did), which proves the write committed whatever its reply said.
type pendingTxn struct {
	id  string
	gen atomic.Int64
}

// New returns a DB over c, which must be connected to the Ferry_Northbound
// database and monitoring all of its tables (the caller runs MonitorAll, so
// that it also owns reconnect policy).
func New(c client.Client, logger *slog.Logger, opts ...Option) *DB {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db := &DB{c: c, log: logger, dirty: map[string]bool{}}
	db.oddGeneration.Store(-1)
	db.vniHint.Store(1)
	for _, o := range opts {
		o(db)
	}
	return db
}

// Option configures a DB.
type Option func(*DB)

// WithConnected makes f the judge of whether the connection is up, e.g.
// ovsdb.Conn.Connected: with reconnection enabled, libovsdb's own Connected
// stays true while the server is gone, so a DB trusting it would look
// healthy and let every write wait for a reconnection.
func WithConnected(f func() bool) Option {
	return func(db *DB) { db.connected = f }
}

// Healthy reports whether the northbound database is connected.
func (db *DB) Healthy() bool {
	if db.c.Cache() == nil {
		return false
	}
	if db.connected != nil {
		return db.connected()
	}
	return db.c.Connected()
}

// healthPoll is how often a write in flight checks the connection.
const healthPoll = 100 * time.Millisecond

// whileHealthy returns ctx cancelled (with cause ErrUnavailable) as soon as
// the connection drops, so that a write in flight when the server dies
// fails in a moment instead of waiting for a reconnection.
func (db *DB) whileHealthy(ctx context.Context) (context.Context, func()) {
	if db.connected == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		t := time.NewTicker(healthPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if !db.Healthy() {
					cancel(ErrUnavailable)
					return
				}
			}
		}
	}()
	return ctx, func() { cancel(nil) }
}

// unavailable wraps err as ErrUnavailable when ctx was cancelled because the
// connection dropped, or err itself says so (the server died under the
// call before the connection was declared lost).
func unavailable(ctx context.Context, what string, err error) error {
	if errors.Is(context.Cause(ctx), ErrUnavailable) || ferryovsdb.IsConnectionLost(err) {
		return fmt.Errorf("nbdb: %s: connection lost during the change, which may or may not have been applied: %w", what, ErrUnavailable)
	}
	return fmt.Errorf("nbdb: %s: %w", what, err)
}

// Notify calls f after every change libovsdb applies to the northbound
// cache, whoever made it: the trigger for a reconcile pass. f must not
// block (kick a channel). libovsdb drops events when its queue is full, so
// f is a hint, not a log; pair it with a periodic resync. The handler stays
// with the current cache, which libovsdb keeps across reconnects when the
// client has the reconnect option.
func (db *DB) Notify(f func()) {
	tc := db.c.Cache()
	if tc == nil {
		return
	}
	tc.AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, libmodel.Model) { f() },
		UpdateFunc: func(string, libmodel.Model, libmodel.Model) { f() },
		DeleteFunc: func(string, libmodel.Model) { f() },
	})
}

// cache returns the client's cache with DB's event handler on it. When
// the client has none (it disconnected without libovsdb's reconnect
// option, which drops the cache) it returns the last one, detached but
// holding the last state the client knew, and false.
func (db *DB) cache() (*cache.TableCache, bool) {
	tc := db.c.Cache()
	db.watchMu.Lock()
	defer db.watchMu.Unlock()
	if tc == nil {
		return db.watched, false
	}
	if tc != db.watched {
		db.watched = tc
		db.watch(tc)
	}
	return tc, true
}

// watch registers DB's own event handler on tc: the change count and the
// wake-up of awaitCache, rows updated in place, VNIs that became free.
func (db *DB) watch(tc *cache.TableCache) {
	tc.AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc: func(table string, m libmodel.Model) {
			if table == nb.NBGlobalTable {
				db.sawGlobal(m.(*nb.NBGlobal))
			}
			db.cacheChanged()
		},
		UpdateFunc: func(table string, old, cur libmodel.Model) {
			switch table {
			case nb.NBGlobalTable:
				db.sawGlobal(cur.(*nb.NBGlobal))
			case nb.LogicalPortTable:
				db.markDirty(old.(*nb.LogicalPort).UUID)
			case nb.GatewayBindingTable:
				db.markDirty(old.(*nb.GatewayBinding).UUID)
			case nb.LogicalSwitchTable:
				if o := old.(*nb.LogicalSwitch); o.Vni != cur.(*nb.LogicalSwitch).Vni {
					db.freedVNI(o.Vni)
				}
			}
			db.cacheChanged()
		},
		DeleteFunc: func(table string, old libmodel.Model) {
			if table == nb.LogicalSwitchTable {
				db.freedVNI(old.(*nb.LogicalSwitch).Vni)
			}
			db.cacheChanged()
		},
	})
}

// sawGlobal records that the write in flight committed when g carries its
// id. Every update of NB_Global passes here, so a commit is seen even when
// the next writer's replaces the id before apply looks.
func (db *DB) sawGlobal(g *nb.NBGlobal) {
	if p := db.pending.Load(); p != nil && g.ExternalIDs[TxnKey] == p.id {
		p.gen.Store(int64(g.Generation))
	}
}

// ownCommit reports whether p's change committed, and at which generation:
// sawGlobal saw its id, or the cache shows it now (the cache changes
// before its event handlers run).
func (db *DB) ownCommit(p *pendingTxn) (int, bool) {
	if gen := p.gen.Load(); gen > 0 {
		return int(gen), true
	}
	if tc, live := db.cache(); live {
		if g := readGlobal(tc); g != nil && g.ExternalIDs[TxnKey] == p.id {
			return g.Generation, true
		}
	}
	return 0, false
}

func (db *DB) cacheChanged() {
	db.changes.Add(1)
	db.moved.fire()
}

func (db *DB) markDirty(uuid string) {
	db.dirtyMu.Lock()
	defer db.dirtyMu.Unlock()
	db.dirty[uuid] = true
}

// dirtyRows returns a copy of the rows updated in place.
func (db *DB) dirtyRows() map[string]bool {
	db.dirtyMu.Lock()
	defer db.dirtyMu.Unlock()
	if len(db.dirty) == 0 {
		return nil
	}
	return maps.Clone(db.dirty)
}

// forgetDirty drops the rows a build has resolved again.
func (db *DB) forgetDirty(rows map[string]bool) {
	if len(rows) == 0 {
		return
	}
	db.dirtyMu.Lock()
	defer db.dirtyMu.Unlock()
	for u := range rows {
		delete(db.dirty, u)
	}
}

// freedVNI lowers the VNI hint to a VNI that may have become free.
func (db *DB) freedVNI(vni int) {
	for {
		h := db.vniHint.Load()
		if int64(vni) >= h || vni < 1 || db.vniHint.CompareAndSwap(h, int64(vni)) {
			return
		}
	}
}

// apply runs one mutation. build gets a reader of the database and the
// generation the change will carry, checks the change against the reader's
// lookups and returns its operations (none: nothing to change); apply
// prepends the generation bump, commits, retries when someone else
// committed first, and waits for the cache to catch up. It returns the
// generation the database is at: the new one, or the current one when
// there was nothing to change.
//
// apply never sends a transaction again after a lost reply, whose outcome
// is unknown: that is ErrUnavailable, which the REST layer answers with a
// 503 saying the change may or may not have been applied. The retry on a
// moved generation is safe because a transaction whose wait failed changed
// nothing, with one exception it guards against: a clustered ovsdb-server
// that loses leadership mid-commit runs the transaction again by itself,
// and the second run's wait fails against the first run's commit. Each
// call's transactions carry an id (TxnKey); when the cache shows NB_Global
// with it, the change committed, and apply reports success instead of
// retrying into a "conflict" with its own change. A lost reply whose
// commit the cache already showed is a success for the same reason.
func (db *DB) apply(ctx context.Context, what string, build func(r *reader, next int) ([]ovsdb.Operation, error)) (int, error) {
	if !db.Healthy() {
		return 0, fmt.Errorf("nbdb: %s: %w", what, ErrUnavailable)
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	ctx, done := db.whileHealthy(ctx)
	defer done()
	p := &pendingTxn{id: rand.Text()}
	db.pending.Store(p)
	defer db.pending.Store(nil)

	for attempt := 1; ; attempt++ {
		r, err := db.currentReader(ctx)
		if err != nil {
			return 0, unavailable(ctx, what, err)
		}
		g := r.global.Generation
		change, err := build(r, g+1)
		switch {
		case (err != nil || len(change) == 0) && !r.stable():
			// The lookups may have straddled a change: look again
			// rather than refuse (or skip) on a mixed reading.
			if attempt >= maxAttempts {
				return 0, fmt.Errorf("nbdb: %s: gave up after %d attempts: the northbound database keeps changing underneath", what, attempt)
			}
			continue
		case err != nil:
			return 0, err
		case len(change) == 0:
			return g, nil
		}
		ops, err := db.bumpGenerationOps(r.global, g+1, p.id)
		if err != nil {
			return 0, fmt.Errorf("nbdb: %s: %w", what, err)
		}
		ops = append(ops, change...)
		t := trialOf(ctx)
		sent := ops
		if t != nil {
			sent = trialOps(r.tc, ops)
		}

		res, err := db.c.Transact(ctx, sent...)
		if err == nil && t != nil {
			var snap *model.Snapshot
			if res, snap, err = db.trialResult(r.tc, sent, res, len(ops)); err != nil {
				return 0, err
			}
			if snap != nil {
				t.snap = snap
				return g + 1, nil
			}
		}
		if err != nil {
			if gen, ok := db.ownCommit(p); ok {
				db.log.Info("northbound reply lost after the change committed", "op", what, "generation", gen, "err", err)
				return gen, nil
			}
			return 0, unavailable(ctx, what, err)
		}
		opErrs, err := ovsdb.CheckOperationResults(res, ops)
		switch {
		case err == nil:
			db.awaitCache(ctx, func(g2 *nb.NBGlobal) bool { return generationOf(g2) >= g+1 })
			return g + 1, nil
		case generationMoved(opErrs):
			if attempt >= maxAttempts {
				return 0, fmt.Errorf("nbdb: %s: gave up after %d attempts: the northbound database keeps changing underneath", what, attempt)
			}
			db.log.Debug("northbound generation moved, retrying", "op", what, "generation", g, "attempt", attempt)
			// Let the cache catch up with the other writer before
			// checking the change again, and step aside a little longer
			// each time so that a busy writer cannot starve this one.
			db.awaitCache(ctx, func(g2 *nb.NBGlobal) bool { return g2 == nil || g2.Generation != g })
			if gen, ok := db.ownCommit(p); ok {
				db.log.Info("northbound server ran the change twice; the first run committed", "op", what, "generation", gen)
				return gen, nil
			}
			time.Sleep(time.Duration(mrand.Int64N(int64(attempt) * int64(time.Millisecond))))
		default:
			if cv := constraintViolation(err, opErrs); cv != nil {
				return 0, indexConflict(cv)
			}
			return 0, fmt.Errorf("nbdb: %s: %w", what, txnError(err, opErrs))
		}
	}
}

// txnError adds the failed operations' own errors, which say what went
// wrong, to CheckOperationResults' summary, which only counts them.
func txnError(err error, opErrs []ovsdb.OperationError) error {
	errs := []error{err}
	for _, e := range opErrs {
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// currentReader returns a reader of the cache, first creating the
// NB_Global singleton if the database has none (a fresh database).
func (db *DB) currentReader(ctx context.Context) (*reader, error) {
	tc, live := db.cache()
	if !live {
		return nil, errNoCache
	}
	if r := newReader(tc); r.global != nil {
		return r, nil
	}
	// The row gets a transaction of its own, not a place in the first
	// change: when two ferryds race to create it, the loser's insert fails
	// (see createGlobalOps), and that must not fail the loser's change.
	ops := createGlobalOps()
	res, err := db.c.Transact(ctx, ops...)
	if err != nil {
		return nil, err
	}
	if opErrs, err := ovsdb.CheckOperationResults(res, ops); err != nil && !globalExists(err, opErrs) {
		return nil, fmt.Errorf("create NB_Global: %w", txnError(err, opErrs))
	}
	db.awaitCache(ctx, func(g *nb.NBGlobal) bool { return g != nil })
	r := newReader(tc)
	if r.global == nil {
		return nil, errors.New("NB_Global row did not appear in the cache")
	}
	return r, nil
}

// awaitCache waits until done holds for the cache's NB_Global, ctx ends or
// cacheWait passes. It wakes on the cache's events and also polls, which
// cannot miss an event libovsdb drops when its queue is full.
func (db *DB) awaitCache(ctx context.Context, done func(*nb.NBGlobal) bool) {
	deadline := time.Now().Add(cacheWait)
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		moved := db.moved.wait()
		if tc, live := db.cache(); live && done(readGlobal(tc)) {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			db.log.Warn("northbound cache did not catch up; the next snapshot may miss the last change")
			return
		}
		poll.Reset(cachePoll)
		select {
		case <-moved:
		case <-poll.C:
		case <-ctx.Done():
		}
	}
}

// signal wakes every waiter at once, each time it fires.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

// wait returns a channel closed at the next fire.
func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *signal) fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// generationMoved reports whether the transaction failed because its wait
// on NB_Global.generation did: another writer committed first.
func generationMoved(opErrs []ovsdb.OperationError) bool {
	for _, e := range opErrs {
		var to *ovsdb.TimedOut
		if errors.As(e, &to) && e.Operation() != nil && e.Operation().Table == nb.NBGlobalTable {
			return true
		}
	}
	return false
}

// globalExists reports whether creating NB_Global failed only because
// another writer created it first (see createGlobalOps).
func globalExists(err error, opErrs []ovsdb.OperationError) bool {
	if constraintViolation(err, opErrs) != nil { // maxRows
		return true
	}
	for _, e := range opErrs {
		// ovsdb-server's "duplicate uuid" has no type of its own in
		// libovsdb (DuplicateUUIDName is about uuid-names).
		var to *ovsdb.TimedOut
		if errors.As(e, &to) || e.Error() == "duplicate uuid" || strings.HasPrefix(e.Error(), "duplicate uuid:") {
			return true
		}
	}
	return false
}

// constraintViolation finds the constraint violation (an index or maxRows
// check, reported at commit) among a transaction's errors.
func constraintViolation(err error, opErrs []ovsdb.OperationError) *ovsdb.ConstraintViolation {
	var cv *ovsdb.ConstraintViolation
	if errors.As(err, &cv) {
		return cv
	}
	for _, e := range opErrs {
		if errors.As(e, &cv) {
			return cv
		}
	}
	return nil
}
