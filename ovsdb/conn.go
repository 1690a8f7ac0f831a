package ovsdb

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
)

// Defaults for ConnConfig.
const (
	DefaultMinBackoff = 250 * time.Millisecond
	DefaultMaxBackoff = 10 * time.Second
	DefaultTimeout    = 5 * time.Second
	// A device that stops answering must show disconnected within 5 s,
	// even in the middle of a pass: probe every second, give up after
	// 2.5 s of silence. An ovsdb-server answers echoes between
	// transactions, so even a busy one answers well within that.
	DefaultProbeInterval = time.Second
	DefaultProbeTimeout  = 2500 * time.Millisecond
)

// statePoll is how often a Conn looks at libovsdb's connection state: with
// reconnection enabled libovsdb reports neither disconnects nor reconnects.
const statePoll = 100 * time.Millisecond

// ConnConfig configures a Conn.
type ConnConfig struct {
	// Targets are the database's active targets. Several targets are the
	// members of a clustered database: they are tried in order and the
	// first that answers is used, until it fails.
	Targets []Target
	// Model is the database model, e.g. nb.FullDatabaseModel().
	Model model.ClientDBModel
	// Tables to monitor; nil monitors every table of Model. A subset also
	// narrows the model libovsdb checks against the server's schema, so a
	// server without Model's other tables (an older Open vSwitch) is fine;
	// the client's model API then knows only these tables.
	Tables []string
	// Columns optionally restricts the monitored columns of a table (by
	// table name). A device's statistics and status columns change every
	// few seconds; not monitoring what ferry does not read keeps a
	// steady-state device from waking its reconcile loop.
	Columns map[string][]string
	// TLS is the configuration for ssl: targets (see LoadTLSConfig).
	TLS *tls.Config
	// LeaderOnly makes a clustered database's followers count as down.
	LeaderOnly bool
	// Guard puts a guard (guard.go) between libovsdb and each target: for
	// devices, whose messages must not be able to crash ferryd.
	Guard bool
	// MaxMessage bounds one message from a guarded target; zero means
	// DefaultMaxMessage.
	MaxMessage int
	// Logger receives connection state changes; nil discards them.
	Logger *slog.Logger
	// OnChange, if set, is called on connect, disconnect and every change
	// of the cache, from libovsdb's goroutines: it must not block (kick a
	// channel).
	OnChange func()
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// connection attempts; zero means DefaultMinBackoff, DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one connection attempt, including the initial
	// monitor; zero means DefaultTimeout.
	Timeout time.Duration
	// ProbeInterval is how often an echo request checks that the peer
	// still answers (within Timeout), so that a peer that vanished without
	// closing the connection is noticed. Zero means DefaultProbeInterval,
	// negative disables probes.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for the echo reply; zero
	// means DefaultProbeTimeout.
	ProbeTimeout time.Duration
}

// Conn is a connection to one OVSDB database that never gives up: it keeps
// trying to connect, with backoff, monitors the chosen tables into
// libovsdb's cache and reconnects (re-monitoring, with monitor_cond_since)
// whenever the connection drops. A database that is down is a normal
// state, not an error.
//
// Read the cache and transact through Client. Before the first successful
// connection (see Ready) the client has no cache. While reconnecting,
// libovsdb makes Transact and cache reads through its API (List, Get,
// Where) wait for the connection, bounded by their context; use contexts
// with deadlines, and check Connected to skip work that cannot succeed.
type Conn struct {
	cl      client.Client
	log     *slog.Logger
	tables  []string
	columns map[string][]string
	timeout time.Duration
	probe   time.Duration
	probeTO time.Duration
	backoff *expBackoff

	onChange  func()
	changes   chan struct{}
	ready     chan struct{}
	connected atomic.Bool
	downMu    sync.Mutex
	down      chan struct{} // closed when the connection is lost; nil while down
	endpoint  atomic.Value  // string: libovsdb's endpoint

	guards  []*guard
	display map[string]string // guard endpoint -> the target it stands for
	unguard func()            // closes the guards, after libovsdb

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	closed atomic.Bool
	done   chan struct{}
	once   sync.Once
}

// NewConn validates cfg and starts connecting in the background; it does not
// wait for the database.
func NewConn(cfg ConnConfig) (*Conn, error) {
	if len(cfg.Targets) == 0 {
		return nil, errors.New("ovsdb: no target to connect to")
	}
	if cfg.Model.Name() == "" {
		return nil, errors.New("ovsdb: no database model")
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = DefaultProbeInterval
	}
	if cfg.ProbeTimeout <= 0 {
		cfg.ProbeTimeout = DefaultProbeTimeout
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("db", cfg.Model.Name())

	var tables []string
	for name := range cfg.Model.Types() {
		tables = append(tables, name)
	}
	if cfg.Tables != nil {
		for _, t := range cfg.Tables {
			if !slices.Contains(tables, t) {
				return nil, fmt.Errorf("ovsdb: table %q is not in the %s model", t, cfg.Model.Name())
			}
		}
		tables = slices.Clone(cfg.Tables)
	}
	if len(tables) == 0 {
		return nil, errors.New("ovsdb: no table to monitor")
	}
	slices.Sort(tables)
	dbModel := cfg.Model
	if cfg.Tables != nil {
		var err error
		if dbModel, err = subModel(cfg.Model, tables); err != nil {
			return nil, err
		}
	}

	b := &expBackoff{min: cfg.MinBackoff, max: cfg.MaxBackoff}
	libLog := logr.FromSlogHandler(capLevel{logger.With("lib", "libovsdb").Handler()})
	opts := []client.Option{client.WithLogger(&libLog), client.WithLeaderOnly(cfg.LeaderOnly)}
	var guards []*guard
	var dir string
	// The guards' news (why a dial failed) is a state change for the
	// Conn's consumers; the Conn does not exist yet when they start.
	var conn atomic.Pointer[Conn]
	kick := func() {
		if c := conn.Load(); c != nil {
			c.kick()
		}
	}
	display := map[string]string{}
	closeGuards := func() {
		for _, g := range guards {
			g.close()
		}
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
	}
	for i, t := range cfg.Targets {
		ep, err := t.Endpoint()
		if err != nil {
			closeGuards()
			return nil, err
		}
		if t.TLS() && cfg.TLS == nil {
			closeGuards()
			return nil, fmt.Errorf("ovsdb: target %q needs a TLS configuration", t)
		}
		if cfg.Guard {
			if dir == "" {
				if dir, err = guardDir(); err != nil {
					return nil, err
				}
			}
			g, err := newGuard(dir, i, t, cfg.TLS, cfg.Timeout, cmp.Or(cfg.MaxMessage, DefaultMaxMessage), logger, func() { kick() })
			if err != nil {
				closeGuards()
				return nil, err
			}
			guards = append(guards, g)
			ep = g.endpoint()
			display[ep] = t.String()
		}
		opts = append(opts, client.WithEndpoint(ep))
	}
	if cfg.TLS != nil && !cfg.Guard {
		opts = append(opts, client.WithTLSConfig(cfg.TLS))
	}
	// libovsdb's reconnect loop panics when its backoff gives up; ours
	// never does (the cenkalti equivalent is MaxElapsedTime = 0).
	// libovsdb's WithInactivityCheck is not used: its Transact can send on
	// a channel its disconnect handler has closed (a panic). Conn probes
	// with Echo itself.
	opts = append(opts, client.WithReconnect(cfg.Timeout, b))
	cl, err := client.NewOVSDBClient(dbModel, opts...)
	if err != nil {
		closeGuards()
		return nil, fmt.Errorf("ovsdb: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		cl:       cl,
		log:      logger,
		tables:   tables,
		columns:  cfg.Columns,
		timeout:  cfg.Timeout,
		probe:    cfg.ProbeInterval,
		probeTO:  cfg.ProbeTimeout,
		backoff:  b,
		onChange: cfg.OnChange,
		changes:  make(chan struct{}, 1),
		ready:    make(chan struct{}),
		ctx:      ctx,
		cancel:   cancel,
		done:     make(chan struct{}),
		guards:   guards,
		display:  display,
		unguard:  closeGuards,
	}
	c.endpoint.Store("")
	conn.Store(c)
	go c.run()
	return c, nil
}

// subModel returns m restricted to tables.
func subModel(m model.ClientDBModel, tables []string) (model.ClientDBModel, error) {
	models := make(map[string]model.Model, len(tables))
	indexes := map[string][]model.ClientIndex{}
	for _, t := range tables {
		typ := m.Types()[t] // a pointer to the model struct
		models[t] = reflect.New(typ.Elem()).Interface().(model.Model)
		if ix := m.Indexes(t); len(ix) > 0 {
			indexes[t] = ix
		}
	}
	sub, err := model.NewClientDBModel(m.Name(), models)
	if err != nil {
		return model.ClientDBModel{}, fmt.Errorf("ovsdb: %w", err)
	}
	sub.SetIndexes(indexes)
	return sub, nil
}

// Client returns the libovsdb client, for cache reads and Transact. Its own
// Connected method stays true while libovsdb reconnects; use Conn.Connected.
func (c *Conn) Client() client.Client { return c.cl }

// Connected reports whether the connection is up and the monitor
// established, i.e. the cache mirrors the database.
func (c *Conn) Connected() bool { return c.connected.Load() }

// Endpoint returns the endpoint in use, "" while disconnected.
func (c *Conn) Endpoint() string {
	ep := c.endpoint.Load().(string)
	if t, ok := c.display[ep]; ok {
		return t
	}
	return ep
}

// DialError is why the last attempt to dial a guarded target failed, nil
// once one succeeded: the cause libovsdb, dialling the guard, cannot see.
func (c *Conn) DialError() error {
	for _, g := range c.guards {
		if err := g.err(); err != nil {
			return err
		}
	}
	return nil
}

// LastRefusal is the last message a guard refused (the device sent
// something that could have crashed ferryd; the connection was closed),
// and when; nil if none was.
func (c *Conn) LastRefusal() (error, time.Time) {
	var last error
	var at time.Time
	for _, g := range c.guards {
		if err, t := g.lastRefusal(); err != nil && t.After(at) {
			last, at = err, t
		}
	}
	return last, at
}

// Rejected counts the connections guards closed because the device sent a
// message ferry refuses.
func (c *Conn) Rejected() uint64 {
	var n uint64
	for _, g := range c.guards {
		n += g.rejected.Load()
	}
	return n
}

// Ready is closed once the first connection and monitor are established;
// from then on the client's cache exists (it survives reconnects).
func (c *Conn) Ready() <-chan struct{} { return c.ready }

// Changes receives a value after connect, disconnect and cache changes.
// It has capacity one and coalesces: one receive may stand for many events,
// which suits a level-triggered loop that rereads the whole cache. It is
// meant for a single consumer; others use ConnConfig.OnChange.
func (c *Conn) Changes() <-chan struct{} { return c.changes }

func (c *Conn) kick() {
	if c.closed.Load() {
		return
	}
	select {
	case c.changes <- struct{}{}:
	default:
	}
	if c.onChange != nil {
		c.onChange()
	}
}

// Close disconnects and stops reconnecting. It returns at once. If the
// database is unreachable at that moment libovsdb's reconnect loop cannot
// be cancelled; the Conn then closes the connection it eventually makes.
func (c *Conn) Close() {
	c.once.Do(func() {
		c.closed.Store(true)
		c.backoff.stop()
		c.cancel()
	})
}

func (c *Conn) run() {
	defer close(c.done)
	defer c.shutdown()
	var fails retryLog
	// libovsdb reconnects only connections it has made once: the first one
	// is ours to retry.
	for {
		ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
		err := c.cl.Connect(ctx)
		cancel()
		if err == nil {
			break
		}
		fails.failed(c.log, "ovsdb: cannot connect, will keep trying", err)
		if !c.sleep(c.backoff.NextBackOff()) {
			return
		}
	}
	if c.ctx.Err() != nil {
		return
	}
	// The cache exists once connected and lives as long as the client, so
	// one handler sees every change across reconnects.
	c.cl.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { c.kick() },
		UpdateFunc: func(string, model.Model, model.Model) { c.kick() },
		DeleteFunc: func(string, model.Model) { c.kick() },
	})
	for {
		// libovsdb restores established monitors after a reconnect, but
		// not one whose first request failed: retry it until it holds.
		// CurrentEndpoint is "" while libovsdb is reconnecting.
		if c.cl.CurrentEndpoint() != "" {
			ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
			_, err := c.cl.Monitor(ctx, c.newMonitor())
			cancel()
			if err == nil {
				break
			}
			fails.failed(c.log, "ovsdb: cannot monitor, will keep trying", err)
		}
		if !c.sleep(c.backoff.NextBackOff()) {
			return
		}
	}
	c.backoff.Reset()
	close(c.ready)
	c.setState(c.cl.CurrentEndpoint())

	t := time.NewTicker(statePoll)
	defer t.Stop()
	lastProbe := time.Now()
	var suspect time.Time // until then an endpoint may be the dropped one
	rows := c.cl.Cache().Table(c.tables[0])
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		// Blocks while libovsdb holds its lock for a reconnection attempt,
		// then tells whether the attempt (monitors included) succeeded.
		ep := c.cl.CurrentEndpoint()
		if ep == "" {
			suspect = time.Time{}
		} else if time.Now().Before(suspect) {
			// The connection a failed probe dropped may still be
			// listed for a moment: it is not a reconnection.
			ep = ""
		}
		c.setState(ep)
		// A reconnect that fetched the whole database again purged the
		// cache, which removes rows without delete events, and may have
		// been too quick for the poll to see the connection down. The
		// purge replaces the tables' row caches: that is visible.
		if r := c.cl.Cache().Table(c.tables[0]); r != rows {
			rows = r
			c.log.Debug("ovsdb: cache reloaded")
			c.kick()
		}
		if c.probe > 0 && c.Connected() && time.Since(lastProbe) >= c.probe {
			if !c.echo() {
				suspect = time.Now().Add(time.Second)
			}
			lastProbe = time.Now()
		}
	}
}

// echo checks that the peer still answers, and reports whether it did. A
// peer that vanished without closing the connection (powered off,
// partitioned) would otherwise look connected until TCP gives up, many
// minutes later.
func (c *Conn) echo() bool {
	ctx, cancel := context.WithTimeout(c.ctx, c.probeTO)
	defer cancel()
	err := c.cl.Echo(ctx)
	if err == nil || c.ctx.Err() != nil {
		return true
	}
	c.log.Warn("ovsdb: no answer to echo, reconnecting", "endpoint", c.Endpoint(), "err", err)
	// Down now, not when libovsdb's reconnection attempt gives up: while
	// it tries (a frozen server still accepts connections) it holds the
	// lock CurrentEndpoint needs, and the poll cannot see the state.
	c.setState("")
	// With reconnection enabled, Disconnect makes libovsdb reconnect; the
	// calls waiting on the dead connection (a pass's transaction) fail.
	c.cl.Disconnect()
	return false
}

func (c *Conn) newMonitor() *client.Monitor {
	m := c.cl.NewMonitor()
	for _, t := range c.tables {
		m.Tables = append(m.Tables, client.TableMonitor{Table: t, Fields: c.columns[t]})
	}
	return m
}

func (c *Conn) setState(endpoint string) {
	up := endpoint != ""
	if c.closed.Load() || up == c.connected.Load() && endpoint == c.endpoint.Load().(string) {
		return
	}
	c.endpoint.Store(endpoint)
	c.connected.Store(up)
	c.markDown(!up)
	if up {
		c.log.Info("ovsdb: connected", "endpoint", c.Endpoint())
	} else {
		c.log.Warn("ovsdb: connection lost, reconnecting")
	}
	c.kick()
}

// markDown closes the down channel of the connection that was up (down
// true), or makes one for the connection now up.
func (c *Conn) markDown(down bool) {
	c.downMu.Lock()
	defer c.downMu.Unlock()
	switch {
	case down && c.down != nil:
		close(c.down)
		c.down = nil
	case !down && c.down == nil:
		c.down = make(chan struct{})
	}
}

// ErrConnectionLost is the cause of a WhileConnected context cancelled
// because the connection was lost.
var ErrConnectionLost = errors.New("ovsdb: connection lost")

// WhileConnected returns ctx, cancelled too (with cause ErrConnectionLost)
// as soon as the connection is lost, and at once if it is not up: calls
// made on a connection that drops, or while libovsdb reconnects (which it
// makes them wait for), fail then instead of when ctx ends. A reconcile
// pass runs under it, so that no pass waits long on a dead device.
func (c *Conn) WhileConnected(ctx context.Context) (context.Context, context.CancelFunc) {
	c.downMu.Lock()
	down := c.down
	c.downMu.Unlock()
	ctx, cancel := context.WithCancelCause(ctx)
	if down == nil {
		cancel(ErrConnectionLost)
		return ctx, func() {}
	}
	stop := make(chan struct{})
	go func() {
		select {
		case <-down:
			cancel(ErrConnectionLost)
		case <-stop:
		case <-ctx.Done():
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() { close(stop) })
		cancel(nil)
	}
}

// shutdown closes the client. libovsdb's Close does nothing while its
// reconnect loop runs (there is no connection to close) and that loop
// cannot be stopped without a panic, so wait for it to connect and close
// again; the client has shut down once its cache is gone.
func (c *Conn) shutdown() {
	c.connected.Store(false)
	c.endpoint.Store("")
	c.markDown(true)
	defer c.unguard()
	for {
		c.cl.Close()
		if c.cl.Cache() == nil {
			return
		}
		time.Sleep(statePoll)
	}
}

// sleep waits d or until Close; it reports whether to go on.
func (c *Conn) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// expBackoff implements libovsdb's backoff.BackOff (cenkalti/backoff):
// exponential with jitter between min and max, and it never gives up.
type expBackoff struct {
	mu       sync.Mutex
	min, max time.Duration
	next     time.Duration
	stopped  bool
}

func (b *expBackoff) NextBackOff() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		// A closed Conn: libovsdb's reconnect loop must go on (giving up
		// panics), so let it go on slowly.
		return b.max
	}
	if b.next < b.min {
		b.next = b.min
	}
	d := b.next
	b.next = min(2*b.next, b.max)
	// ±25% jitter keeps many reconnecting devices from moving in step.
	return d - d/4 + rand.N(d/2+1)
}

func (b *expBackoff) Reset() {
	b.mu.Lock()
	b.next = 0
	b.mu.Unlock()
}

func (b *expBackoff) stop() {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
}

// retryLog rate-limits messages about an unreachable database, which may be
// down for hours: the first failure at Info, then one a minute, the rest at
// Debug.
type retryLog struct {
	n    int
	last time.Time
}

func (r *retryLog) failed(l *slog.Logger, msg string, err error) {
	r.n++
	if r.n == 1 || time.Since(r.last) >= time.Minute {
		r.last = time.Now()
		l.Info(msg, "err", err, "attempts", r.n)
		return
	}
	l.Debug(msg, "err", err, "attempts", r.n)
}

// capLevel demotes libovsdb's records to at most Warn: it logs expected
// reconnection failures as errors.
type capLevel struct{ slog.Handler }

func (h capLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, min(l, slog.LevelWarn))
}

func (h capLevel) Handle(ctx context.Context, r slog.Record) error {
	r.Level = min(r.Level, slog.LevelWarn)
	return h.Handler.Handle(ctx, r)
}

func (h capLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return capLevel{h.Handler.WithAttrs(as)}
}

func (h capLevel) WithGroup(name string) slog.Handler {
	return capLevel{h.Handler.WithGroup(name)}
}
