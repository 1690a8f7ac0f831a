package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-sdn/ferry/internal/crash"
	"github.com/ferry-sdn/ferry/ovsdb"
)

// A pass never blocks for ever on a device that went away: cache reads and
// the whole pass are bounded, and the next pass finds it disconnected.
const (
	cacheReadTimeout = 2 * time.Second
	passTimeout      = 60 * time.Second
)

// Backoff after a failed pass, so that a device rejecting a change is not
// hammered; any event still kicks a pass at once.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// A loop waits a moment after a kick so that a burst of changes (one REST
// call per port) lands before it computes: one pass then covers them all.
// An idle device answers within passDebounce. When changes for it arrived
// while its last pass ran (a burst), it waits burstFactor times as long as
// that pass took, up to maxPassDebounce (which bounds what a change in a
// burst waits): a busy device then gets fewer, larger bundles, and every
// bundle costs ovs-vswitchd a revalidation of its datapath flows (on two
// cores with 8 bridges, a burst of 4,000 port adds went from 2,221
// bundles in 24 s to about 100 in 7 s).
const (
	passDebounce    = 10 * time.Millisecond
	burstFactor     = 4
	maxPassDebounce = 250 * time.Millisecond
)

// adapter is one kind of device (a chassis, a gateway) as the generic loop
// drives it: how to open it, one level-triggered pass, and what to do when
// the device is deleted.
type adapter interface {
	dial(notify func()) (Device, error)
	// pass reconciles the device once. full asks for a from-scratch pass
	// (after a failure, on resync), otherwise only what changed since the
	// last successful pass needs recomputing.
	pass(ctx context.Context, dev Device, full bool) error
	// release removes what ferry put on a device deleted through the API;
	// devices that keep their state when unregistered do nothing.
	release(dev Device)
	// setError publishes the loop's state ("" when the last pass worked).
	setError(msg string)
	// counted reports pass outcomes and their durations.
	count(result string)
}

// loop runs one device: kick, debounce, pass, backoff, error state. One
// goroutine per device; only it calls the adapter's pass.
type loop struct {
	c    *Controller
	name string
	a    adapter
	log  *slog.Logger
	kick chan struct{}
	// full asks the next pass to recompute everything (resync).
	full   atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}
	retire atomic.Bool // set before stop: release the device on the way out

	backoff time.Duration
	lastErr string
	passes  atomic.Uint64 // passes started, for tests and debugging
	// changes counts the estate changes that concerned the device (the
	// controller's wake-ups, not the device's own events, which include
	// the echoes of ferry's own writes).
	changes atomic.Uint64

	// dev is the device once dialled, for status readers: its connection
	// state is live, while the status a pass publishes waits for the
	// next pass (which a dead device may hold up).
	dev atomic.Pointer[Device]

	mu       sync.Mutex
	observed bool // the device's database has been read at least once
}

// disconnected reports whether the device is dialled and its database is
// not connected now.
func (l *loop) disconnected() bool {
	d := l.dev.Load()
	return d != nil && (*d).Client() == nil
}

func newLoop(c *Controller, name string, a adapter, log *slog.Logger) *loop {
	return &loop{c: c, name: name, a: a, log: log, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// trigger asks for a pass; safe from any goroutine, never blocks,
// coalesces.
func (l *loop) trigger() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// changed asks for a pass for an estate change that concerns the device.
func (l *loop) changed() {
	l.changes.Add(1)
	l.trigger()
}

// resync asks for a from-scratch pass.
func (l *loop) resync() {
	l.full.Store(true)
	l.trigger()
}

func (l *loop) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	l.cancel = cancel
	go l.run(ctx)
}

func (l *loop) stop() {
	l.cancel()
	<-l.done
}

func (l *loop) wasObserved() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.observed
}

func (l *loop) setObserved() {
	l.mu.Lock()
	l.observed = true
	l.mu.Unlock()
}

// waiting: the pass cannot proceed until a device connects or someone
// fixes the device; shown as the device's last_error, not counted as a
// failure, retried when the device's own events kick the loop.
type waiting struct{ msg string }

func (w waiting) Error() string { return w.msg }

// errWarming: the pass observed the device but may not commit yet.
type errWarming struct{ left time.Duration }

func (e errWarming) Error() string { return "reconcile: waiting for every chassis to be observed" }

func (l *loop) run(ctx context.Context) {
	defer close(l.done)
	dev := dialUntil(ctx, func() (Device, error) { return l.a.dial(l.trigger) }, l.setError)
	if dev == nil {
		return
	}
	l.dev.Store(&dev)
	defer dev.Close()
	l.log.Info("device loop started")
	full := true
	burst := false
	var lastTook time.Duration
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if l.retire.Load() {
				l.a.release(dev)
			}
			return
		case <-l.kick:
		case <-retry:
		}
		retry = nil
		l.passes.Add(1)
		// Changes that arrived while the last pass ran mean a burst:
		// collect more of it before the next pass.
		debounce := passDebounce
		if burst {
			debounce = min(max(burstFactor*lastTook, passDebounce), maxPassDebounce)
		}
		var began time.Time
		seen := l.changes.Load()
		err := l.c.runPass(ctx, l.kick, debounce, func(passCtx context.Context) error {
			began = time.Now()
			seen = l.changes.Load()
			resync := l.full.Swap(false) // a full pass answers a pending resync too
			passCtx, done := whileConnected(passCtx, dev)
			defer done()
			err := l.a.pass(passCtx, dev, full || resync)
			var wt waiting
			if err != nil && !errors.As(err, &wt) && errors.Is(context.Cause(passCtx), ovsdb.ErrConnectionLost) {
				// Not a failure of the pass: the reconnection kicks the
				// next one.
				return waiting{"ovsdb: connection lost during the pass (retrying)"}
			}
			return err
		})
		if !began.IsZero() {
			lastTook = time.Since(began)
		}
		burst = l.changes.Load() != seen
		if ctx.Err() != nil {
			if l.retire.Load() {
				l.a.release(dev)
			}
			return
		}
		var w errWarming
		var wt waiting
		switch {
		case err == nil:
			full = false
			l.backoff = 0
			l.setError(nil)
		case errors.As(err, &w):
			retry = time.After(w.left)
		case errors.As(err, &wt):
			// Waiting for a connection is a state, not a failure: the
			// connection's own event kicks the next pass.
			full = true
			l.setError(err)
		default:
			full = true
			l.setError(err)
			l.a.count("error")
			l.backoff = min(max(2*l.backoff, minBackoff), maxBackoff)
			retry = time.After(l.backoff)
		}
	}
}

func (l *loop) setError(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != l.lastErr {
		var wt waiting
		switch {
		case errors.As(err, &wt):
			l.log.Info("waiting", "for", wt.msg)
		case err != nil:
			l.log.Warn("reconcile failed", "err", err)
		case l.lastErr != "":
			l.log.Info("reconcile recovered")
		}
		l.lastErr = msg
	}
	l.a.setError(msg)
}

// runPass runs one pass of a loop: after the debounce (kicks arriving
// meanwhile are absorbed), holding one of the pass slots, bounded by
// passTimeout.
func (c *Controller) runPass(ctx context.Context, kick chan struct{}, debounce time.Duration, pass func(context.Context) error) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(debounce):
	}
	select {
	case <-kick: // already covered by the pass about to start
	default:
	}
	select {
	case c.passes <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.passes }()
	passCtx, cancel := context.WithTimeout(ctx, passTimeout)
	defer cancel()
	return c.guard(func() error { return pass(passCtx) })
}

// guard runs f, turning a panic into an error: a device that sends what
// a decoder or the engine does not expect fails its own pass (which backs
// off and retries, from a fresh dump) instead of ending ferryd and every
// network it drives.
func (c *Controller) guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			crash.Recovered(c.log, "reconcile", r)
			err = fmt.Errorf("reconcile: the pass panicked (a bug, logged with its stack): %v", r)
		}
	}()
	return f()
}

// dialUntil opens a device, retrying every 5 s while the configuration is
// refused (a dial that merely cannot connect succeeds and keeps trying by
// itself); nil when ctx ends first.
func dialUntil(ctx context.Context, dial func() (Device, error), onErr func(error)) Device {
	for {
		d, err := dial()
		if err == nil {
			return d
		}
		onErr(err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(5 * time.Second):
		}
	}
}

// whileConnected bounds a pass by the device's connection where the device
// can tell (ovsdb.Conn.WhileConnected): a pass on a device that drops ends
// at once instead of waiting on it until the pass timeout.
func whileConnected(ctx context.Context, dev Device) (context.Context, context.CancelFunc) {
	if w, ok := dev.(interface {
		WhileConnected(context.Context) (context.Context, context.CancelFunc)
	}); ok {
		return w.WhileConnected(ctx)
	}
	return ctx, func() {}
}
