package replica

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
)

// Lock name prefixes on the northbound database.
const (
	replicaLock = "ferry/replica/"
	deviceLock  = "ferry/device/"
)

// Locks is the northbound database's lock service as a replica uses it,
// level-triggered: Want says which locks the replica wants, the service
// acquires them (waiting its turn), re-acquires them after a reconnect,
// releases the others, and says on Changed whenever what it holds changed.
// A lost session holds nothing.
type Locks interface {
	Want(names []string)
	Held(name string) bool
	Changed() <-chan struct{}
}

// Store is what the manager reads and writes in the northbound database.
type Store interface {
	// Healthy reports whether the database is connected: a cache that is
	// not may be a frozen snapshot, which no device may be driven from.
	Healthy() bool
	Replicas() ([]model.Replica, error)
	PutReplica(ctx context.Context, r model.Replica) error
	DeleteReplica(ctx context.Context, id string) error
	Owners() (map[string]model.Owner, error)
	TakeOwnership(ctx context.Context, device, replica string) (uint64, error)
	PublishRealized(ctx context.Context, replica string, realized map[string]int64) error
}

// Config wires a Manager.
type Config struct {
	Self  model.Replica
	Store Store
	Locks Locks
	// Devices lists the registered devices ("chassis/NAME", "gateway/NAME").
	Devices func() []string
	// OnChange is called, without locks held, when what this replica owns
	// changed.
	OnChange func()
	// Handover bounds how long a device given up waits for its new owner
	// before the next one is given up (default 5 s).
	Handover time.Duration
	// ControllerGrace is how long a replica that went away stays among
	// the controllers bridges dial (default 10 min): a replica that is
	// restarted, or whose devices are taken over, then costs the bridges
	// no change; one gone for longer is removed from them.
	ControllerGrace time.Duration
	Logger          *slog.Logger
}

// Manager keeps one replica registered and its devices owned.
type Manager struct {
	cfg  Config
	log  *slog.Logger
	kick chan struct{}
	// draining is set once the replica shuts down: it keeps what it owns
	// until its loops stop, and takes nothing new.
	draining atomic.Bool

	mu       sync.Mutex
	owned    map[string]uint64 // device → epoch, while its lock is held
	live     []model.Replica   // the rows, as last read
	owners   map[string]model.Owner
	assigned map[string]string
	// handing is the device last given up and when: the next one waits
	// until its new owner took it or Handover passed.
	handing    string
	handingAt  time.Time
	registered bool
	count      counters
	// realized is what this replica's devices are in step with, and
	// published what the database was last told.
	realized, published map[string]int64
	// lastSeen is when each OpenFlow target of another replica was last
	// live (PeerControllers).
	lastSeen map[string]time.Time
}

// New returns a manager; Run makes it work.
func New(cfg Config) *Manager {
	if cfg.Handover == 0 {
		cfg.Handover = 5 * time.Second
	}
	if cfg.ControllerGrace == 0 {
		cfg.ControllerGrace = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1), owned: map[string]uint64{},
		realized: map[string]int64{}, published: map[string]int64{}, lastSeen: map[string]time.Time{}}
}

// Kick asks for a look at the database: call it on every northbound cache
// change. It never blocks.
func (m *Manager) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Registered reports whether the replica holds its replica lock and has
// written its row: whether it takes part.
func (m *Manager) Registered() bool {
	m.mu.Lock()
	registered := m.registered
	m.mu.Unlock()
	return registered && m.cfg.Locks.Held(replicaLock+m.cfg.Self.ID)
}

// ID is this replica's.
func (m *Manager) ID() string { return m.cfg.Self.ID }

// Owns reports whether this replica owns device, and at which epoch. It
// asks the lock service and the northbound's health too, so the answer
// turns false the moment the lock is lost or the northbound connection
// drops (the cache then no longer follows the database), not at the
// manager's next look.
func (m *Manager) Owns(device string) (uint64, bool) {
	m.mu.Lock()
	e, ok := m.owned[device]
	m.mu.Unlock()
	if !ok || !m.cfg.Locks.Held(deviceLock+device) || !m.cfg.Store.Healthy() {
		return 0, false
	}
	return e, true
}

// Owner is who owns device as this replica sees it: itself, or what the
// database says of the others ("" when nobody does).
func (m *Manager) Owner(device string) model.Owner {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.owned[device]; ok {
		return model.Owner{Device: device, Replica: m.cfg.Self.ID, Epoch: e}
	}
	if o, ok := m.owners[device]; ok && o.Replica != m.cfg.Self.ID && m.isLive(o.Replica) {
		return o
	}
	return model.Owner{Device: device}
}

// Realized records that device, owned here, is in step with northbound
// generation gen. The other replicas learn it from the database within
// about a second: their status of the device comes from there.
func (m *Manager) Realized(device string, gen int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.owned[device]; ok && gen > m.realized[device] {
		m.realized[device] = gen
	}
}

// publish writes what changed in realized since the last time.
func (m *Manager) publish(ctx context.Context) {
	m.mu.Lock()
	changed := map[string]int64{}
	for d, g := range m.realized {
		if _, ok := m.owned[d]; ok && m.published[d] != g {
			changed[d] = g
		}
	}
	m.mu.Unlock()
	if len(changed) == 0 {
		return
	}
	if err := m.cfg.Store.PublishRealized(ctx, m.cfg.Self.ID, changed); err != nil {
		m.log.Debug("replica: publishing realization", "err", err)
		return
	}
	m.mu.Lock()
	maps.Copy(m.published, changed)
	m.mu.Unlock()
}

// Status is a replica as GET /v1/replicas shows it.
type Status struct {
	model.Replica
	Self    bool
	Devices []string
}

// Replicas are the live replicas with the devices each owns.
func (m *Manager) Replicas() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	byID := map[string]*Status{}
	var out []*Status
	add := func(r model.Replica) *Status {
		if s := byID[r.ID]; s != nil {
			return s
		}
		s := &Status{Replica: r, Self: r.ID == m.cfg.Self.ID, Devices: []string{}}
		byID[r.ID] = s
		out = append(out, s)
		return s
	}
	if m.registered {
		add(m.cfg.Self)
	}
	for _, r := range m.live {
		add(r)
	}
	for d := range m.owned {
		add(m.cfg.Self).Devices = append(byID[m.cfg.Self.ID].Devices, d)
	}
	for d, o := range m.owners {
		// A device this replica holds the lock of is its own, whatever
		// an older owner record read before it took the device says.
		if _, mine := m.owned[d]; mine {
			continue
		}
		if s := byID[o.Replica]; s != nil && !s.Self {
			s.Devices = append(s.Devices, d)
		}
	}
	res := make([]Status, 0, len(out))
	for _, s := range out {
		slices.Sort(s.Devices)
		res = append(res, *s)
	}
	slices.SortFunc(res, func(a, b Status) int { return strings.Compare(a.ID, b.ID) })
	return res
}

func (m *Manager) isLive(id string) bool {
	return slices.ContainsFunc(m.live, func(r model.Replica) bool { return r.ID == id })
}

// Drain makes the replica take no new device: call it when it starts
// shutting down. The devices it owns stay its own until Run's ctx ends
// (once the loops driving them have stopped), so that none is handed to
// it only to be handed on again, each time moving the device's epoch.
func (m *Manager) Drain() {
	if !m.draining.Swap(true) {
		m.log.Info("replica: draining: taking no new device")
	}
	m.Kick()
}

// healthPoll is how often Run looks at the northbound's health: a
// connection that drops gives up the devices at once, not at the next
// tick.
const healthPoll = 100 * time.Millisecond

// Run keeps the replica registered and its share of devices owned until
// ctx ends; then it gives everything up and deletes its row.
func (m *Manager) Run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	health := time.NewTicker(healthPoll)
	defer health.Stop()
	for {
		healthy := m.cfg.Store.Healthy()
		m.step(ctx)
		if !m.wait(ctx, tick.C, health.C, healthy) {
			m.stop()
			return
		}
	}
}

// wait waits for a reason to look again: a kick, a lock change, the
// tick, or the northbound's health no longer being healthy. It reports
// false when ctx ended.
func (m *Manager) wait(ctx context.Context, tick, health <-chan time.Time, healthy bool) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-m.kick:
		case <-m.cfg.Locks.Changed():
		case <-tick:
		case <-health:
			if m.cfg.Store.Healthy() == healthy {
				continue
			}
		}
		return true
	}
}

// stop gives up every lock and deletes the replica's row, so that the
// others take its devices at once instead of when its session ends.
func (m *Manager) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m.cfg.Locks.Want(nil)
	m.setOwned(map[string]uint64{})
	if err := m.cfg.Store.DeleteReplica(ctx, m.cfg.Self.ID); err != nil {
		m.log.Warn("replica: deleting this replica's row", "err", err)
	}
}

// step is one level-triggered look: register, reap the dead, compute the
// assignment, and converge the wanted locks and the owned devices.
func (m *Manager) step(ctx context.Context) {
	self := m.cfg.Self.ID
	want := []string{replicaLock + self}
	// An unhealthy northbound is as good as none: its cache may be a
	// frozen snapshot while the lock session (another connection) is up.
	rows, err := m.cfg.Store.Replicas()
	if err != nil || !m.cfg.Store.Healthy() {
		m.cfg.Locks.Want(want)
		m.setOwned(map[string]uint64{})
		return
	}
	// Our row goes in only under our lock: written before, the others
	// would find the lock free and reap it.
	if !m.cfg.Locks.Held(replicaLock + self) {
		m.cfg.Locks.Want(want)
		m.setOwned(map[string]uint64{})
		return
	}
	mine := slices.IndexFunc(rows, func(r model.Replica) bool { return r.ID == self })
	if mine < 0 || rows[mine] != m.cfg.Self {
		if err := m.cfg.Store.PutReplica(ctx, m.cfg.Self); err != nil {
			m.log.Warn("replica: registering", "err", err)
			return
		}
		m.log.Info("replica: registered", "id", self, "api", m.cfg.Self.API, "openflow", m.cfg.Self.OpenFlow)
		if mine < 0 {
			rows = append(rows, m.cfg.Self)
		} else {
			rows[mine] = m.cfg.Self
		}
	}
	var live []model.Replica
	var ids []string
	for _, r := range rows {
		if r.ID != self && m.cfg.Locks.Held(replicaLock+r.ID) {
			// Its session is gone: its lock came to us.
			m.log.Info("replica: gone, removing its row", "id", r.ID)
			if err := m.cfg.Store.DeleteReplica(ctx, r.ID); err != nil {
				m.log.Warn("replica: removing a replica that is gone", "id", r.ID, "err", err)
			}
			continue
		}
		if r.ID != self {
			want = append(want, replicaLock+r.ID)
		}
		live = append(live, r)
		ids = append(ids, r.ID)
	}
	owners, err := m.cfg.Store.Owners()
	if err != nil {
		owners = map[string]model.Owner{}
	}
	assigned := Assign(m.cfg.Devices(), ids)

	m.mu.Lock()
	before := m.peerControllersLocked()
	now := time.Now()
	for _, r := range live {
		if r.ID != self && r.OpenFlow != "" {
			m.lastSeen[r.OpenFlow] = now
		}
	}
	m.live, m.owners, m.assigned, m.registered = live, owners, assigned, true
	membership := !slices.Equal(before, m.peerControllersLocked())
	owned := maps.Clone(m.owned)
	handing, handingAt := m.handing, m.handingAt
	m.mu.Unlock()

	// Devices assigned here: queue for them. Devices held but assigned
	// elsewhere: keep them until the previous hand-over is done, then
	// give up one.
	var devices []string
	draining := m.draining.Load()
	for d, r := range assigned {
		if _, mine := owned[d]; r == self && (!draining || mine) {
			devices = append(devices, d)
		}
	}
	slices.Sort(devices)
	handoverDone := handing == "" || owners[handing].Replica != self && !m.cfg.Locks.Held(deviceLock+handing) ||
		time.Since(handingAt) > m.cfg.Handover
	var release string
	for _, d := range slices.Sorted(maps.Keys(owned)) {
		if assigned[d] == self {
			continue
		}
		if _, registered := assigned[d]; !registered {
			continue // unregistered: let go below, no hand-over to wait for
		}
		if release == "" && handoverDone {
			release = d
			continue
		}
		devices = append(devices, d) // keep it for now
	}
	for _, d := range devices {
		want = append(want, deviceLock+d)
	}
	m.cfg.Locks.Want(want)
	if release != "" {
		m.count.released.Add(1)
		m.log.Info("replica: handing over", "device", release, "to", assigned[release])
		m.mu.Lock()
		m.handing, m.handingAt = release, time.Now()
		m.mu.Unlock()
	}

	// Owned: the device locks held, each once its ownership is recorded.
	next := map[string]uint64{}
	for _, d := range devices {
		if !m.cfg.Locks.Held(deviceLock + d) {
			continue
		}
		if e, ok := owned[d]; ok {
			next[d] = e
			continue
		}
		if draining {
			continue
		}
		e, err := m.cfg.Store.TakeOwnership(ctx, d, self)
		if err != nil {
			m.log.Warn("replica: recording ownership", "device", d, "err", err)
			continue
		}
		m.count.acquired.Add(1)
		m.log.Info("replica: owns", "device", d, "epoch", e)
		next[d] = e
	}
	if !m.setOwned(next) && membership && m.cfg.OnChange != nil {
		// The replicas changed: bridges dial every replica.
		m.cfg.OnChange()
	}
	m.publish(ctx)
}

// PeerControllers are the OpenFlow targets of the other replicas, live
// or gone less than ControllerGrace ago, sorted.
func (m *Manager) PeerControllers() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peerControllersLocked()
}

func (m *Manager) peerControllersLocked() []string {
	var out []string
	for target, seen := range m.lastSeen {
		switch {
		case target == m.cfg.Self.OpenFlow:
		case time.Since(seen) > m.cfg.ControllerGrace:
			delete(m.lastSeen, target)
		default:
			out = append(out, target)
		}
	}
	slices.Sort(out)
	return out
}

// setOwned replaces what this replica owns and says so if it changed
// (and reports whether it did).
func (m *Manager) setOwned(next map[string]uint64) bool {
	m.mu.Lock()
	changed := !maps.Equal(m.owned, next)
	for d := range m.owned {
		if _, ok := next[d]; ok {
			continue
		}
		_, registered := m.assigned[d]
		switch {
		case d == m.handing:
			// counted as released when it was given up
		case !registered:
			m.count.released.Add(1) // unregistered
		default:
			m.count.lost.Add(1)
		}
		m.log.Info("replica: no longer owns", "device", d)
	}
	m.owned = next
	for d := range m.realized {
		if _, ok := next[d]; !ok {
			delete(m.realized, d)
			delete(m.published, d)
		}
	}
	m.mu.Unlock()
	if changed && m.cfg.OnChange != nil {
		m.cfg.OnChange()
	}
	return changed
}
