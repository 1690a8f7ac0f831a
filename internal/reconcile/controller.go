package reconcile

import (
	"context"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/events"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
)

// Config wires a Controller.
type Config struct {
	Northbound Northbound
	Switches   Switches
	Dial       DialFunc
	// DialGateway opens VTEP databases; nil disables gateways.
	DialGateway DialGatewayFunc
	// Advertise is the OpenFlow target every managed bridge must dial.
	Advertise string
	// PeerControllers, with several replicas, lists the other replicas'
	// OpenFlow targets: each bridge dials them too, so that whichever
	// replica owns it next finds it connected. Nil: none.
	PeerControllers func() []string
	// Resync is the period of unconditional passes (default 60 s): a safety
	// net against missed events, cheap because a no-op pass sends nothing.
	Resync time.Duration
	// StartupGrace bounds how long after start loops wait for every
	// chassis to be observed once before committing anything (default
	// 15 s). Without it, the first chassis to connect after a restart
	// would see the others' VIFs as gone and tear down tunnels and flows
	// that are still needed.
	StartupGrace time.Duration
	Metrics      *Metrics
	Logger       *slog.Logger
	// DialedIn returns the address a passive chassis dialed ferry's OVSDB
	// listener from, while it is connected: its bridge may connect to the
	// OpenFlow listener from there. Nil without --ovsdb-listen.
	DialedIn func(chassis string) (netip.Addr, bool)
	// Events records drift: ferry's state on a device changed by someone
	// else, noticed by a pass that had nothing to change. Nil records
	// nothing.
	Events *events.Log
	// NoRepair reports drift without repairing it (--repair=false): a
	// pass that finds only drift writes nothing.
	NoRepair bool
	// DriftCheck is how often each bridge's flows are counted (one
	// aggregate request) against what ferry installed, so that a flow
	// deleted or added behind ferry's back is found within that period
	// rather than at the next resync. Zero disables it.
	DriftCheck time.Duration
	// Ownership decides which devices this ferryd drives when several
	// replicas share the estate (package replica); nil drives them all.
	// The others are observed only: their VIFs and MACs still count, so
	// the bindings stay complete and a take-over starts warm.
	Ownership Ownership
	// Probes keeps each gateway's source-node replication probe result in
	// the northbound (internal/nbdb.DB), so that it runs once per gateway,
	// not once per start or take-over. Nil keeps it in memory.
	Probes ProbeStore
	// ProbeWait is how long the probe waits for a VTEP to refuse
	// source-node replication (0: vtepcheck.ProbeWait).
	ProbeWait time.Duration
	// Appctl maps a chassis to the unixctl target of its ovs-vswitchd (a
	// .ctl socket, or the directory that is its OVS_RUNDIR), for packet
	// traces with ofproto/trace (--trace-appctl). A chassis without one is
	// traced by simulation on its installed flows.
	Appctl map[string]string
	// RunAppctl runs ovs-appctl; nil: RunAppctl (exec).
	RunAppctl Appctl
	// PathProbeInterval is how often each ordered pair of chassis that
	// share a switch is probed through the data plane (0: never).
	PathProbeInterval time.Duration
	// PathProbeRate bounds the probes one chassis sends per second
	// (default 100): beyond it, pairs take turns.
	PathProbeRate int
}

// ProbeStore records a gateway's source-node probe result
// (model.Gateway.SourceNode).
type ProbeStore interface {
	SetGatewaySourceNode(ctx context.Context, gateway, result, evidence string) error
}

// Ownership is which devices this replica owns. Devices are named
// "chassis/NAME" and "gateway/NAME".
type Ownership interface {
	// Owns reports whether this replica drives device, and the epoch of
	// its ownership (the OpenFlow role generation).
	Owns(device string) (epoch uint64, ok bool)
	// Owner is the replica that owns device as far as this one knows,
	// with the generation it last reported the device in step with.
	Owner(device string) model.Owner
	// Realized records that device, owned here, is in step with gen.
	Realized(device string, gen int64)
}

// Device names for Ownership.
func chassisDeviceName(name string) string { return "chassis/" + name }
func gatewayDeviceName(name string) string { return "gateway/" + name }

// drifted records what a pass found changed on device behind ferry's back
// (what: "" when nothing): once per distinct finding, so that a drift
// left in place with --repair=false is not recorded on every pass. It
// reports whether the pass may repair it.
func (c *Controller) drifted(log *slog.Logger, device, kind, what string, last *string) bool {
	if what == "" {
		*last = ""
		return true
	}
	if what != *last {
		*last = what
		c.cfg.Events.Add(events.Event{Device: device, Kind: kind, What: what, Repaired: !c.cfg.NoRepair})
		if c.cfg.NoRepair {
			log.Warn("drift: changed by someone else; not repaired (--repair=false)", "kind", kind, "what", what)
		} else {
			log.Warn("drift: changed by someone else; repairing", "kind", kind, "what", what)
		}
	}
	return !c.cfg.NoRepair
}

// deviceRealized records that the device called name is in step with
// generation gen: in the metrics, and for the other replicas.
func (c *Controller) deviceRealized(device, name string, gen int64) {
	c.cfg.Metrics.deviceRealized(name, gen)
	if c.cfg.Ownership != nil {
		c.cfg.Ownership.Realized(device, gen)
	}
}

// owns reports whether this ferryd drives device, with the epoch of its
// ownership.
func (c *Controller) owns(device string) (epoch uint64, ok bool) {
	if c.cfg.Ownership == nil {
		return 0, true
	}
	return c.cfg.Ownership.Owns(device)
}

// errNotOwned ends a pass whose device was lost to another replica after
// the pass began: it writes nothing more.
var errNotOwned = waiting{"no longer owned by this replica"}

// Controller supervises one loop per registered chassis and gateway, and
// the estate they all compute from: built once per change, incrementally,
// and handed to the devices the change concerns.
type Controller struct {
	cfg  Config
	log  *slog.Logger
	kick chan struct{}

	started time.Time

	// passes bounds how many passes run at once: on a small machine a
	// burst of northbound changes would otherwise have every device's loop
	// compete with the REST API and the OVSDB clients for the CPU. A pass
	// spends most of its time waiting for its device (bundle, OVSDB
	// transactions), so there are a few slots per CPU.
	passes chan struct{}

	// vifsVer and gwVer change whenever any chassis' VIFs or any
	// gateway's view does: with the snapshot, the estate's inputs.
	vifsVer atomic.Uint64
	gwVer   atomic.Uint64
	// estMu serializes building estates: each is built from the last.
	estMu    sync.Mutex
	est      atomic.Pointer[realize.Estate]
	lastSnap *model.Snapshot
	lastVIFs uint64
	lastGW   uint64
	lastPath uint64
	paths    paths
	probe    *pathProber // nil: probes off

	// claims makes sure one device is driven by one loop (identity.go).
	claims *claims

	mu       sync.Mutex
	loops    map[string]*chassisDevice
	gateways map[string]*gatewayDevice
	warm     bool // every device observed once, or the grace is over
}

// claimDevice claims the identities of h's device and returns the
// conflict h must show, or "" when h may drive the device. Registrations
// that lose an identity to h are kicked so that they hold back.
func (c *Controller) claimDevice(log *slog.Logger, h holder, ids ...string) string {
	other, shared, lost := c.claims.claim(h, ids...)
	for _, l := range lost {
		log.Warn("device claimed by an older registration", "other", l.String())
		c.kickHolder(l)
	}
	if other.name == "" {
		return ""
	}
	return conflictMessage(other, shared)
}

// kickHolder asks the loop of a registration for a pass: it lost a device
// identity to an older registration and must hold back.
func (c *Controller) kickHolder(h holder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch h.kind {
	case kindChassis:
		if d := c.loops[h.name]; d != nil {
			d.l.trigger()
		}
	case kindGateway:
		if g := c.gateways[h.name]; g != nil {
			g.l.trigger()
		}
	}
}

// ready reports whether loops may commit, and if not, how long until the
// startup grace ends.
func (c *Controller) ready() (bool, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.warm {
		return true, 0
	}
	left := c.cfg.StartupGrace - time.Since(c.started)
	all := true
	for _, h := range c.loops {
		all = all && h.l.wasObserved()
	}
	for _, g := range c.gateways {
		all = all && g.l.wasObserved()
	}
	if all || left <= 0 {
		c.warm = true
		// Loops that found others unobserved wait for the grace to end:
		// wake them now.
		c.kickDevicesLocked()
		if !all {
			c.log.Warn("startup grace over with chassis never observed; their VIFs count as absent")
		}
		return true, 0
	}
	return false, left
}

// passSlotsPerCPU: see Controller.passes.
const passSlotsPerCPU = 4

// New returns a Controller; call Run.
func New(cfg Config) *Controller {
	if cfg.Resync == 0 {
		cfg.Resync = 60 * time.Second
	}
	if cfg.StartupGrace == 0 {
		cfg.StartupGrace = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1), loops: make(map[string]*chassisDevice), gateways: make(map[string]*gatewayDevice), started: time.Now(),
		passes: make(chan struct{}, passSlotsPerCPU*max(1, runtime.GOMAXPROCS(0))), claims: newClaims()}
	if cfg.Metrics != nil {
		cfg.Metrics.spoofed.setSource(c.spoofReadings)
	}
	if cfg.PathProbeInterval > 0 {
		if cfg.PathProbeRate <= 0 {
			cfg.PathProbeRate = 100
		}
		c.probe = newPathProber(c, cfg.PathProbeInterval, cfg.PathProbeRate)
	}
	return c
}

// Kick says that the northbound changed; safe from any goroutine, never
// blocks, coalesces. Only the devices the change concerns get a pass.
func (c *Controller) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// KickDevices asks every device for a pass: for events on the device side
// (an OpenFlow connection came or went, a host dialed in) that the
// northbound does not see. The passes are incremental: a device that
// finds nothing changed sends nothing.
func (c *Controller) KickDevices() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.kickDevicesLocked()
}

func (c *Controller) kickDevicesLocked() {
	for _, h := range c.loops {
		h.l.trigger()
	}
	for _, g := range c.gateways {
		g.l.trigger()
	}
}

// Run supervises loops until ctx ends. It never removes device state on
// exit: stopping ferry leaves every bridge forwarding as it was.
func (c *Controller) Run(ctx context.Context) {
	defer func() {
		c.mu.Lock()
		loops, gateways := c.loops, c.gateways
		c.loops, c.gateways = make(map[string]*chassisDevice), make(map[string]*gatewayDevice)
		c.mu.Unlock()
		for _, h := range loops {
			h.l.stop()
		}
		for _, g := range gateways {
			g.l.stop()
		}
	}()
	tick := time.NewTicker(c.cfg.Resync)
	defer tick.Stop()
	var check <-chan time.Time
	if c.cfg.DriftCheck > 0 {
		t := time.NewTicker(c.cfg.DriftCheck)
		defer t.Stop()
		check = t.C
	}
	c.sync(ctx, true)
	if c.probe != nil {
		go c.probe.run(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
			c.sync(ctx, false)
		case <-tick.C:
			c.sync(ctx, true)
		case <-check:
			c.checkFlows()
		}
	}
}

// checkFlows asks every chassis loop to count its bridge's flows on its
// next pass.
func (c *Controller) checkFlows() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range c.loops {
		h.checkFlows.Store(true)
		h.l.trigger()
	}
}

// sync starts loops for new devices, restarts those whose connection
// settings changed, stops removed ones, then brings the estate up to date,
// which wakes the devices the change concerns. resync has every device
// make a from-scratch pass: the safety net against missed events, cheap
// because a pass that finds nothing to do sends nothing.
func (c *Controller) sync(ctx context.Context, resync bool) {
	snap := c.cfg.Northbound.Snapshot()
	want := make(map[string]model.Chassis, len(snap.Chassis))
	for _, ch := range snap.Chassis {
		want[ch.Name] = ch
	}
	// Loops are stopped outside the lock: a stopping loop may be in a pass
	// that reads other loops' VIFs through c.mu.
	var stopped []*chassisDevice
	var stoppedGateways []*gatewayDevice
	started := false
	c.mu.Lock()
	restarted := make(map[string]*chassisDevice)
	for name, h := range c.loops {
		ch, ok := want[name]
		if ok && sameConnection(ch, h.chassis) {
			continue
		}
		// A chassis deleted through the API is released: ferry removes
		// what it put there. One whose connection settings changed is
		// only restarted.
		h.l.retire.Store(!ok)
		if ok {
			restarted[name] = h
		}
		stopped = append(stopped, h)
		delete(c.loops, name)
	}
	for name, ch := range want {
		if _, ok := c.loops[name]; ok {
			continue
		}
		h := newChassisDevice(c, ch)
		if old := restarted[name]; old != nil {
			// Until the new connection has observed the chassis, its
			// VIFs are the old ones: the others keep their tunnels and
			// flows towards it.
			h.lastVIFs = old.vifs()
		}
		c.loops[name] = h
		h.l.start(ctx)
		started = true
	}
	if c.cfg.DialGateway != nil {
		wantGW := make(map[string]model.Gateway, len(snap.Gateways))
		for _, gw := range snap.Gateways {
			wantGW[gw.Name] = gw
		}
		restartedGW := make(map[string]*gatewayDevice)
		for name, g := range c.gateways {
			gw, ok := wantGW[name]
			if ok && gw.OVSDB == g.gw.OVSDB && gw.PhysicalSwitch == g.gw.PhysicalSwitch {
				continue
			}
			if ok {
				restartedGW[name] = g
			}
			stoppedGateways = append(stoppedGateways, g)
			delete(c.gateways, name)
		}
		for name, gw := range wantGW {
			if _, ok := c.gateways[name]; ok {
				continue
			}
			g := newGatewayDevice(c, gw)
			if old := restartedGW[name]; old != nil {
				g.view = old.currentView() // see the chassis above
			}
			c.gateways[name] = g
			g.l.start(ctx)
			started = true
		}
	}
	c.mu.Unlock()
	released := false
	for _, h := range stopped {
		h.l.stop()
		released = c.claims.release(kindChassis, h.chassis.Name) || released
		if c.cfg.Metrics != nil {
			c.cfg.Metrics.forget(h.chassis.Name)
		}
	}
	for _, g := range stoppedGateways {
		g.l.stop()
		released = c.claims.release(kindGateway, g.gw.Name) || released
		if c.cfg.Metrics != nil {
			c.cfg.Metrics.forgetGateway(g.gw.Name)
		}
	}
	if released {
		// A registration held back for this one's device may take it.
		c.KickDevices()
	}
	if len(stopped)+len(stoppedGateways) > 0 || started {
		// The devices whose VIFs and views count have changed.
		c.vifsVer.Add(1)
		c.gwVer.Add(1)
	}
	// Relays registered, changed or gone change the paths.
	c.updatePaths()
	c.refresh()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.gateways {
		if resync {
			g.l.resync()
		}
		if m := c.cfg.Metrics; m != nil {
			m.generationLag.WithLabelValues(g.gw.Name).Set(float64(snap.Generation - g.status().RealizedGeneration))
		}
	}
	for _, h := range c.loops {
		if resync {
			h.l.resync()
		}
		if m := c.cfg.Metrics; m != nil {
			// Lag as of now; the loop's next successful pass sets it to 0.
			m.generationLag.WithLabelValues(h.chassis.Name).Set(float64(snap.Generation - h.status().RealizedGeneration))
		}
	}
}

// estate returns the newest estate, building it if needed.
func (c *Controller) estate() *realize.Estate {
	if e := c.est.Load(); e != nil {
		return e
	}
	return c.refresh()
}

// refresh builds the estate for the current inputs when any changed since
// the last one, and wakes the devices that carry (or carried) a switch
// whose inputs changed.
func (c *Controller) refresh() *realize.Estate {
	c.estMu.Lock()
	defer c.estMu.Unlock()
	snap := c.cfg.Northbound.Snapshot()
	// The versions are read before the VIFs and views they stand for: a
	// change racing with this build bumps them again.
	vv, gv, pv := c.vifsVer.Load(), c.gwVer.Load(), c.paths.ver.Load()
	prev := c.est.Load()
	if prev != nil && snap == c.lastSnap && vv == c.lastVIFs && gv == c.lastGW && pv == c.lastPath {
		return prev
	}
	if snap != c.lastSnap {
		// The moment ferry first sees a generation, whoever reads it
		// first: realize latency counts from here.
		c.cfg.Metrics.northbound(snap, time.Now())
	}
	e, changed := realize.NextEstate(prev, realize.EstateInputs{
		Snapshot: snap, VIFs: c.observedVIFs(), VIFsVersion: vv, Gateways: c.gatewayViews(), Relays: c.relays(),
	})
	c.lastSnap, c.lastVIFs, c.lastGW, c.lastPath = snap, vv, gv, pv
	c.est.Store(e)
	c.wake(prev, e, changed)
	return e
}

// wake kicks the devices a change concerns and tells the others that the
// new estate holds nothing for them, so that they count as in step with
// it.
func (c *Controller) wake(prev, e *realize.Estate, changed []string) {
	chassis := make(map[string]bool)
	gateways := make(map[string]bool)
	for _, name := range changed {
		for _, est := range []*realize.Estate{prev, e} {
			if est == nil {
				continue
			}
			if sv := est.Switches[name]; sv != nil {
				for _, ch := range sv.Carriers {
					chassis[ch] = true
				}
				for _, r := range sv.Relays() {
					chassis[r] = true
				}
				for _, b := range sv.Bindings {
					gateways[b.Gateway] = true
				}
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, h := range c.loops {
		if prev == nil || chassis[name] {
			h.l.changed()
		} else {
			h.unaffected(prev.Seq, e)
		}
	}
	for name, g := range c.gateways {
		if prev == nil || gateways[name] {
			g.l.changed()
		} else {
			g.unaffected(prev.Seq, e)
		}
	}
}

func sameConnection(a, b model.Chassis) bool {
	return a.OVSDB == b.OVSDB && a.Bridge == b.Bridge
}

// observedVIFs returns every chassis' VIFs for the estate.
func (c *Controller) observedVIFs() map[string][]hypervisor.VIF {
	c.mu.Lock()
	loops := make([]*chassisDevice, 0, len(c.loops))
	for _, h := range c.loops {
		loops = append(loops, h)
	}
	c.mu.Unlock()
	out := make(map[string][]hypervisor.VIF, len(loops))
	for _, h := range loops {
		out[h.chassis.Name] = h.vifs()
	}
	return out
}

// gatewayViews returns what every gateway loop last observed.
func (c *Controller) gatewayViews() map[string]realize.GatewayView {
	c.mu.Lock()
	gws := make([]*gatewayDevice, 0, len(c.gateways))
	for _, g := range c.gateways {
		gws = append(gws, g)
	}
	c.mu.Unlock()
	out := make(map[string]realize.GatewayView, len(gws))
	for _, g := range gws {
		out[g.gw.Name] = g.currentView()
	}
	return out
}

func (c *Controller) gateway(name string) *gatewayDevice {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gateways[name]
}

// Gateway reports a VTEP's status.
func (c *Controller) Gateway(name string) model.GatewayStatus {
	g := c.gateway(name)
	if g == nil {
		return model.GatewayStatus{}
	}
	st := g.status()
	st.Owner = c.ownerOf(gatewayDeviceName(name))
	if gen, ok := c.observedOnly(gatewayDeviceName(name)); ok {
		st.RealizedGeneration = gen
	}
	return st
}

// peerControllers are the other replicas' OpenFlow targets.
func (c *Controller) peerControllers() []string {
	if c.cfg.PeerControllers == nil {
		return nil
	}
	return c.cfg.PeerControllers()
}

// ownerOf is the replica owning device ("" with one ferryd).
func (c *Controller) ownerOf(device string) string {
	if c.cfg.Ownership == nil {
		return ""
	}
	return c.cfg.Ownership.Owner(device).Replica
}

// observedOnly reports whether another replica drives device, and if so
// the generation it last published the device in step with: what this
// replica reports of its realization.
func (c *Controller) observedOnly(device string) (int64, bool) {
	if c.cfg.Ownership == nil {
		return 0, false
	}
	if _, ok := c.cfg.Ownership.Owns(device); ok {
		return 0, false
	}
	return c.cfg.Ownership.Owner(device).Realized, true
}

func (c *Controller) loop(name string) *chassisDevice {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loops[name]
}

// ChassisStatus reports one chassis' realization status.
func (c *Controller) Chassis(name string) model.ChassisStatus {
	l := c.loop(name)
	if l == nil {
		return model.ChassisStatus{}
	}
	st := l.status()
	st.Owner = c.ownerOf(chassisDeviceName(name))
	if gen, ok := c.observedOnly(chassisDeviceName(name)); ok {
		st.RealizedGeneration = gen
	}
	return st
}

// Switch reports whether sw's current state is realized by every device
// that carries it, the tunnels between them and the MTU they allow. It
// reads the switch's own state in the estate and each carrier's record for
// that switch: the cost is the switch's, whatever the estate's size, and a
// change to another switch never makes this one unrealized.
func (c *Controller) Switch(sw model.Switch) model.SwitchStatus {
	e := c.estate()
	if e.Snapshot.Generation < sw.Generation {
		e = c.refresh()
	}
	st := model.SwitchStatus{Realized: true, Chassis: []model.SwitchChassis{}, Tunnels: []model.SwitchTunnel{}, Gateways: []model.SwitchGateway{}}
	sv := e.Switches[sw.Name]
	if sv == nil {
		return st
	}
	for _, p := range sv.Ports {
		if _, ok := sv.Bound[p.Name]; ok {
			st.PortsBound++
			if strings.HasPrefix(p.Name, realize.AdoptedPrefix) {
				st.AdoptedVIFs++
			}
		}
	}
	for _, name := range sv.Carriers {
		sc := model.SwitchChassis{Name: name}
		if h := c.loop(name); h != nil {
			cs, r, ok := h.realizedSwitch(sw.Name)
			sc.RealizedGeneration = r.generation
			sc.Realized = cs.OVSDBConnected && cs.OpenFlowConnected && ok && r.version >= sv.Version
			if gen, other := c.observedOnly(chassisDeviceName(name)); other {
				// Another replica's: in step with this estate's
				// generation, as its owner published, or not yet.
				sc.RealizedGeneration = gen
				sc.Realized = cs.OVSDBConnected && gen >= e.Snapshot.Generation
			}
		}
		st.Realized = st.Realized && sc.Realized
		st.Chassis = append(st.Chassis, sc)
	}
	st.Tunnels, st.MTU = tunnelsOf(e.Snapshot, sv.Switch, sv.Carriers)
	st.ForwardingVerified = c.probe != nil && st.Realized
	for i, tn := range st.Tunnels {
		st.Tunnels[i].State = c.pairState(tn.A, tn.B, false)
		st.Tunnels[i].Path, st.Tunnels[i].Relay = pathOf(sv, tn.A, tn.B), sv.RelayOf(tn.A, tn.B)
		pp := c.probe.pairProbe(tn.A, tn.B)
		st.Tunnels[i].Probe = pp
		if pp != nil && pp.PathMTU > 0 && tn.Encap != "" {
			// The guest MTU follows what really crosses.
			st.MTU = min(st.MTU, pp.PathMTU-model.Overhead(tn.Encap))
		}
		st.ForwardingVerified = st.ForwardingVerified && c.probe.verified(sw.Name, sv.Version, tn.A, tn.B)
	}
	// Gateways: every one with a binding must have committed too; pairs
	// with a VTEP are VXLAN whatever the switch's encapsulation.
	var gwNames []string
	for _, bd := range sv.Bindings {
		if !slices.Contains(gwNames, bd.Gateway) {
			gwNames = append(gwNames, bd.Gateway)
		}
	}
	slices.Sort(gwNames)
	for _, name := range gwNames {
		sg := model.SwitchGateway{Name: name}
		if g := c.gateway(name); g != nil {
			gs, r, ok := g.realizedSwitch(sw.Name)
			v := e.Gateways[name]
			sg.RealizedGeneration = r.generation
			sg.Realized = gs.Connected && ok && r.version >= sv.Version
			if gen, other := c.observedOnly(gatewayDeviceName(name)); other {
				sg.RealizedGeneration = gen
				sg.Realized = gs.Connected && gen >= e.Snapshot.Generation
			}
			sg.LocalMACs = len(v.LocalMACs[sw.Name])
			sg.ReplicationMode = "source_node"
			if gs.Connected && !v.SourceNode {
				sg.ReplicationMode, sg.Replicator = "service_node", sv.Replicator()
			}
			for _, ch := range sv.Carriers {
				st.Tunnels = append(st.Tunnels, model.SwitchTunnel{A: ch, B: name, Encap: model.EncapVXLAN, State: c.pairState(ch, name, true),
					Path: pathOf(sv, ch, name), Relay: sv.RelayOf(ch, name)})
				if c, ok := e.Chassis(ch); ok {
					if mtu := c.MTU() - model.Overhead(model.EncapVXLAN); st.MTU == 0 || mtu < st.MTU {
						st.MTU = mtu
					}
				}
			}
		}
		sg.ForwardingVerified = sg.Realized && c.probe.gatewayVerified(name, sw.Name, sv.Version)
		st.ForwardingVerified = st.ForwardingVerified && sg.ForwardingVerified
		st.Realized = st.Realized && sg.Realized
		st.Gateways = append(st.Gateways, sg)
	}
	return st
}

// pairState combines what both ends report of a tunnel: down when either
// end sees it down, up when at least one end sees it up and none
// disagrees. A VTEP reports its side through hardware_vtep's Tunnel
// bfd_status.
func (c *Controller) pairState(a, b string, bIsGateway bool) string {
	states := []string{}
	l := c.loop(a)
	if l != nil {
		states = append(states, l.tunnelState(b))
	}
	if !bIsGateway {
		if r := c.loop(b); r != nil {
			states = append(states, r.tunnelState(a))
		}
	} else if g := c.gateway(b); g != nil && l != nil && l.chassis.TunnelIP != nil {
		if st, ok := g.currentView().TunnelStates[l.chassis.TunnelIP.String()]; ok {
			states = append(states, st)
		}
	}
	out := TunnelUnknown
	for _, s := range states {
		switch {
		case s == TunnelDown:
			return TunnelDown
		case s == TunnelUp && (out == TunnelUnknown || out == TunnelUp):
			out = TunnelUp
		}
	}
	// One end up and the other unknown is not proof: report up only
	// when no reporting end disagrees and at least one saw it up.
	return out
}

// tunnelsOf lists the encapsulation of every carrier pair and the largest
// guest MTU that fits all of them. With fewer than two carriers there is no
// tunnel yet; the MTU is then what the switch's own encapsulation would
// allow on the carriers' underlay, so that it does not shrink later.
func tunnelsOf(snap *model.Snapshot, sw model.Switch, carriers []string) ([]model.SwitchTunnel, int) {
	tunnels := []model.SwitchTunnel{}
	mtu := 0
	fit := func(v int) {
		if mtu == 0 || v < mtu {
			mtu = v
		}
	}
	var chs []model.Chassis
	for _, name := range carriers {
		if ch, ok := snap.ChassisByName(name); ok {
			chs = append(chs, ch)
		}
	}
	for i := range chs {
		for j := i + 1; j < len(chs); j++ {
			a, b := chs[i], chs[j]
			encap := realize.PairEncap(sw, a, b)
			tunnels = append(tunnels, model.SwitchTunnel{A: a.Name, B: b.Name, Encap: encap})
			if encap != "" {
				fit(min(a.MTU(), b.MTU()) - model.Overhead(encap))
			}
		}
	}
	if len(tunnels) == 0 {
		for _, ch := range chs {
			fit(ch.MTU() - model.Overhead(sw.Encap))
		}
	}
	return tunnels, mtu
}

// Port reports where a logical port is bound.
func (c *Controller) Port(p model.Port) model.PortStatus {
	bd, ok := c.estate().Binding(p.Switch, p.Name)
	if !ok {
		// The estate may predate the port: look again at the newest state.
		bd, ok = c.refresh().Binding(p.Switch, p.Name)
	}
	if !ok {
		e := c.estate()
		return model.PortStatus{Reason: realize.Unbound(e.Snapshot.Chassis, e.VIFs(), c.unseen, p.IfaceID)}
	}
	ps := model.PortStatus{Bound: true, Chassis: bd.Chassis, Interface: bd.Interface, OFPort: int(bd.OFPort),
		PortSecurity: p.Secured(bd.MAC)}
	if bd.MAC != nil {
		ps.MAC = bd.MAC.String()
	}
	return ps
}

// unseen says why ferry does not see a chassis' VIFs now, "" when it does
// (realize.Unbound).
func (c *Controller) unseen(name string) string {
	h := c.loop(name)
	if h == nil {
		return "not connected"
	}
	st := h.status()
	h.mu.Lock()
	observed := h.observed
	h.mu.Unlock()
	switch {
	case st.Conflict != "":
		return "held back (its device is another registration's)"
	case !st.OVSDBConnected:
		return "not connected"
	case !observed:
		return "not yet observed"
	}
	return ""
}

// Tunnel states as switch status and metrics report them.
const (
	TunnelUp      = hypervisor.TunnelUp
	TunnelDown    = hypervisor.TunnelDown
	TunnelUnknown = hypervisor.TunnelUnknown
)
