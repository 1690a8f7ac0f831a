package nbdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	libmodel "github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

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
)

// DB reads and writes the northbound database.
type DB struct {
	c   client.Client
	log *slog.Logger

	// mu serializes this process' writes so that they never race each
	// other into retries: each one starts from the cache state the
	// previous one waited for.
	mu sync.Mutex

	last atomic.Pointer[view] // last consistent view read, see Snapshot
	// snap caches the last Snapshot: every reconcile pass and REST read
	// takes one, and building it is O(rows). It is reused while the
	// generation and the cache's change count are unchanged.
	snap     atomic.Pointer[snapCache]
	lastView atomic.Pointer[viewCache]
	changes  atomic.Uint64
	watching sync.Once
	// oddGeneration is a generation whose rows never fit together, see
	// read; -1 when there is none.
	oddGeneration atomic.Int64
}

// New returns a DB over c, which must be connected to the Ferry_Northbound
// database and monitoring all of its tables (the caller runs MonitorAll, so
// that it also owns reconnect policy).
func New(c client.Client, logger *slog.Logger) *DB {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db := &DB{c: c, log: logger}
	db.oddGeneration.Store(-1)
	return db
}

// Healthy reports whether the northbound database is connected.
func (db *DB) Healthy() bool {
	return db.c.Connected() && db.c.Cache() != nil
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

// apply runs one mutation. build gets a consistent view of the database and
// the generation the change will carry, checks the change against the view
// and returns its operations; apply prepends the generation bump, commits,
// retries when someone else committed first, and waits for the cache to
// catch up. It returns the new generation.
func (db *DB) apply(ctx context.Context, what string, build func(v *view, next int) ([]ovsdb.Operation, error)) (int, error) {
	db.mu.Lock()
	defer db.mu.Unlock()

	for attempt := 1; ; attempt++ {
		v, err := db.currentView(ctx)
		if err != nil {
			return 0, fmt.Errorf("nbdb: %s: %w", what, err)
		}
		g := v.global.Generation
		change, err := build(v, g+1)
		if err != nil {
			return 0, err
		}
		ops, err := db.bumpGenerationOps(v.global, g+1)
		if err != nil {
			return 0, fmt.Errorf("nbdb: %s: %w", what, err)
		}
		ops = append(ops, change...)

		res, err := db.c.Transact(ctx, ops...)
		if err != nil {
			return 0, fmt.Errorf("nbdb: %s: %w", what, err)
		}
		opErrs, err := ovsdb.CheckOperationResults(res, ops)
		switch {
		case err == nil:
			db.awaitCache(ctx, func(v *view) bool { return v.global != nil && v.global.Generation >= g+1 })
			return g + 1, nil
		case generationMoved(opErrs):
			if attempt >= maxAttempts {
				return 0, fmt.Errorf("nbdb: %s: gave up after %d attempts: the northbound database keeps changing underneath", what, attempt)
			}
			db.log.Debug("northbound generation moved, retrying", "op", what, "generation", g, "attempt", attempt)
			// Let the cache catch up with the other writer before
			// checking the change again, and step aside a little longer
			// each time so that a busy writer cannot starve this one.
			db.awaitCache(ctx, func(v *view) bool { return v.global == nil || v.global.Generation != g })
			time.Sleep(time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond))))
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

// currentView returns the cache's state, first creating the NB_Global
// singleton if the database has none (a fresh database).
func (db *DB) currentView(ctx context.Context) (*view, error) {
	v, err := db.read()
	if err != nil {
		return nil, err
	}
	if v.global != nil {
		return v, nil
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
	db.awaitCache(ctx, func(v *view) bool { return v.global != nil })
	v, err = db.read()
	if err != nil {
		return nil, err
	}
	if v.global == nil {
		return nil, errors.New("NB_Global row did not appear in the cache")
	}
	return v, nil
}

// awaitCache polls the cache until done holds, ctx ends or cacheWait
// passes. Polling (rather than a cache event handler) cannot miss an event
// libovsdb drops when its event queue is full, and costs little: writes are
// rare and the cache usually catches up within a millisecond.
func (db *DB) awaitCache(ctx context.Context, done func(*view) bool) {
	deadline := time.Now().Add(cacheWait)
	sleep := 100 * time.Microsecond
	for {
		if v, err := db.read(); err == nil && done(v) {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			db.log.Warn("northbound cache did not catch up; the next snapshot may miss the last change")
			return
		}
		time.Sleep(sleep)
		sleep = min(2*sleep, 10*time.Millisecond)
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
