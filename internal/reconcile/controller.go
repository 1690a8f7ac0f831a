package reconcile

import (
	"context"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

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
}

// Controller supervises one loop per registered chassis.
type Controller struct {
	cfg  Config
	log  *slog.Logger
	kick chan struct{}

	started time.Time

	binds bindCache
	// passes bounds how many passes compute at once: on a small machine a
	// burst of northbound changes would otherwise have every device's loop
	// compete with the REST API and the OVSDB clients for the CPU.
	passes chan struct{}

	mu       sync.Mutex
	loops    map[string]*chassisLoop
	gateways map[string]*gatewayLoop
	warm     bool // every device observed once, or the grace is over
}

// passDebounce lets a burst of changes (one REST call per port) land
// before a loop computes: one pass then covers them all.
const passDebounce = 10 * time.Millisecond

// runPass runs one pass of a loop: after a short debounce (kicks arriving
// meanwhile are absorbed), holding one of the pass slots, bounded by
// passTimeout.
func (c *Controller) runPass(ctx context.Context, kick chan struct{}, pass func(context.Context) error) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(passDebounce):
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
	return pass(passCtx)
}

// Loop kinds, for kickOthers.
const (
	kindChassis = iota
	kindGateway
)

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
	for _, l := range c.loops {
		all = all && l.wasObserved()
	}
	for _, g := range c.gateways {
		all = all && g.wasObserved()
	}
	if all || left <= 0 {
		c.warm = true
		if !all {
			c.log.Warn("startup grace over with chassis never observed; their VIFs count as absent")
		}
		return true, 0
	}
	return false, left
}

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
	return &Controller{cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1), loops: make(map[string]*chassisLoop), gateways: make(map[string]*gatewayLoop), started: time.Now(),
		passes: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}
}

// Kick asks for a pass on every chassis; safe from any goroutine, never
// blocks, coalesces.
func (c *Controller) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// KickDatapath asks for a pass on the chassis whose bridge has dpid (an
// OpenFlow connection came or went). Unknown datapaths kick everybody: the
// bridge may be new.
func (c *Controller) KickDatapath(dpid uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.loops {
		if l.datapath() == dpid {
			l.trigger()
			return
		}
	}
	for _, l := range c.loops {
		l.trigger()
	}
}

// Run supervises loops until ctx ends. It never removes device state on
// exit: stopping ferry leaves every bridge forwarding as it was.
func (c *Controller) Run(ctx context.Context) {
	defer func() {
		c.mu.Lock()
		loops, gateways := c.loops, c.gateways
		c.loops, c.gateways = make(map[string]*chassisLoop), make(map[string]*gatewayLoop)
		c.mu.Unlock()
		for _, l := range loops {
			l.stop()
		}
		for _, g := range gateways {
			g.stop()
		}
	}()
	tick := time.NewTicker(c.cfg.Resync)
	defer tick.Stop()
	c.sync(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		case <-tick.C:
		}
		c.sync(ctx)
	}
}

// sync starts loops for new chassis, restarts those whose connection
// settings changed, stops removed ones, and kicks them all.
func (c *Controller) sync(ctx context.Context) {
	snap := c.cfg.Northbound.Snapshot()
	c.cfg.Metrics.northbound(snap, time.Now())
	want := make(map[string]model.Chassis, len(snap.Chassis))
	for _, ch := range snap.Chassis {
		want[ch.Name] = ch
	}
	// Loops are stopped outside the lock: a stopping loop may be in a pass
	// that reads other loops' VIFs through c.mu.
	var stopped []*chassisLoop
	c.mu.Lock()
	for name, l := range c.loops {
		ch, ok := want[name]
		if ok && sameConnection(ch, l.chassis) {
			continue
		}
		// A chassis deleted through the API is released: ferry removes
		// what it put there. One whose connection settings changed is
		// only restarted.
		l.retire = !ok
		stopped = append(stopped, l)
		delete(c.loops, name)
	}
	for name, ch := range want {
		if _, ok := c.loops[name]; ok {
			continue
		}
		l := newChassisLoop(c, ch)
		c.loops[name] = l
		l.start(ctx)
	}
	var stoppedGateways []*gatewayLoop
	if c.cfg.DialGateway != nil {
		wantGW := make(map[string]model.Gateway, len(snap.Gateways))
		for _, gw := range snap.Gateways {
			wantGW[gw.Name] = gw
		}
		for name, g := range c.gateways {
			if gw, ok := wantGW[name]; ok && gw.OVSDB == g.gw.OVSDB && gw.PhysicalSwitch == g.gw.PhysicalSwitch {
				continue
			}
			stoppedGateways = append(stoppedGateways, g)
			delete(c.gateways, name)
		}
		for name, gw := range wantGW {
			if _, ok := c.gateways[name]; ok {
				continue
			}
			g := newGatewayLoop(c, gw)
			c.gateways[name] = g
			g.start(ctx)
		}
	}
	for _, g := range c.gateways {
		g.trigger()
		if m := c.cfg.Metrics; m != nil {
			m.generationLag.WithLabelValues(g.gw.Name).Set(float64(snap.Generation - g.status().RealizedGeneration))
		}
	}
	for _, l := range c.loops {
		l.trigger()
		if m := c.cfg.Metrics; m != nil {
			// Lag as of now; the loop's next successful pass sets it to 0.
			m.generationLag.WithLabelValues(l.chassis.Name).Set(float64(snap.Generation - l.status().RealizedGeneration))
		}
	}
	c.mu.Unlock()
	for _, l := range stopped {
		l.stop()
		if c.cfg.Metrics != nil {
			c.cfg.Metrics.forget(l.chassis.Name)
		}
	}
	for _, g := range stoppedGateways {
		g.stop()
		if c.cfg.Metrics != nil {
			c.cfg.Metrics.forgetGateway(g.gw.Name)
		}
	}
}

func sameConnection(a, b model.Chassis) bool {
	return a.OVSDB == b.OVSDB && a.Bridge == b.Bridge
}

// observedVIFs returns every chassis' VIFs for Bind.
func (c *Controller) observedVIFs() map[string][]realize.Interface {
	c.mu.Lock()
	loops := make([]*chassisLoop, 0, len(c.loops))
	for _, l := range c.loops {
		loops = append(loops, l)
	}
	c.mu.Unlock()
	out := make(map[string][]realize.Interface, len(loops))
	for _, l := range loops {
		out[l.chassis.Name] = l.vifs()
	}
	return out
}

// kickOthers asks every loop but one for a pass: a VIF appearing on one
// chassis, or a MAC learned by a VTEP, changes what the others must
// program.
func (c *Controller) kickOthers(kind int, except string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, l := range c.loops {
		if kind != kindChassis || name != except {
			l.trigger()
		}
	}
	for name, g := range c.gateways {
		if kind != kindGateway || name != except {
			g.trigger()
		}
	}
}

// gatewayViews returns what every gateway loop last observed.
func (c *Controller) gatewayViews() map[string]realize.GatewayView {
	c.mu.Lock()
	gws := make([]*gatewayLoop, 0, len(c.gateways))
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

func (c *Controller) gateway(name string) *gatewayLoop {
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
	return g.status()
}

func (c *Controller) loop(name string) *chassisLoop {
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
	return l.status()
}

// Switch reports whether sw's generation is realized by every chassis that
// carries it, the tunnels between those chassis and the MTU they allow.
func (c *Controller) Switch(sw model.Switch) model.SwitchStatus {
	bv := c.statusView(sw.Generation)
	snap, b := bv.snap, bv.bindings
	if expanded, ok := snap.Switch(sw.Name); ok {
		sw.Ports = expanded.Ports
	}
	views := c.gatewayViews()
	st := model.SwitchStatus{Realized: true, Chassis: []model.SwitchChassis{}, Tunnels: []model.SwitchTunnel{}, Gateways: []model.SwitchGateway{}}
	for _, p := range sw.Ports {
		if _, ok := b[realize.PortKey{Switch: sw.Name, Port: p.Name}]; ok {
			st.PortsBound++
			if strings.HasPrefix(p.Name, realize.AdoptedPrefix) {
				st.AdoptedVIFs++
			}
		}
	}
	fp := switchFingerprint(sw, b, views)
	carriers := b.Carriers(sw)
	for _, name := range carriers {
		sc := model.SwitchChassis{Name: name}
		if l := c.loop(name); l != nil {
			cs, realizedFP := l.realizedSwitch(sw.Name)
			sc.RealizedGeneration = cs.RealizedGeneration
			sc.Realized = cs.OVSDBConnected && cs.OpenFlowConnected &&
				cs.RealizedGeneration >= sw.Generation && realizedFP == fp
		}
		st.Realized = st.Realized && sc.Realized
		st.Chassis = append(st.Chassis, sc)
	}
	st.Tunnels, st.MTU = tunnelsOf(snap, sw, carriers)
	for i, tn := range st.Tunnels {
		st.Tunnels[i].State = c.pairState(tn.A, tn.B, false)
	}
	// Gateways: every one with a binding must have committed too; pairs
	// with a VTEP are VXLAN whatever the switch's encapsulation.
	var gwNames []string
	for _, bd := range sw.Bindings {
		if !slices.Contains(gwNames, bd.Gateway) {
			gwNames = append(gwNames, bd.Gateway)
		}
	}
	slices.Sort(gwNames)
	replicator := realize.Replicator(sw, b)
	for _, name := range gwNames {
		sg := model.SwitchGateway{Name: name}
		if g := c.gateway(name); g != nil {
			gs, realizedFP := g.realizedSwitch(sw.Name)
			v := views[name]
			sg.RealizedGeneration = gs.RealizedGeneration
			sg.Realized = gs.Connected && gs.RealizedGeneration >= sw.Generation && realizedFP == fp
			sg.LocalMACs = len(v.LocalMACs[sw.Name])
			sg.ReplicationMode = "source_node"
			if gs.Connected && !v.SourceNode {
				sg.ReplicationMode, sg.Replicator = "service_node", replicator
			}
			for _, ch := range carriers {
				st.Tunnels = append(st.Tunnels, model.SwitchTunnel{A: ch, B: name, Encap: model.EncapVXLAN, State: c.pairState(ch, name, true)})
				if c, ok := snap.ChassisByName(ch); ok {
					if mtu := c.MTU() - model.Overhead(model.EncapVXLAN); st.MTU == 0 || mtu < st.MTU {
						st.MTU = mtu
					}
				}
			}
		}
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
	bd, ok := c.statusView(0).bindings[realize.PortKey{Switch: p.Switch, Port: p.Name}]
	if !ok {
		// The cache may predate the port: look again at the newest state.
		bd, ok = c.bindingsFor(c.cfg.Northbound.Snapshot()).bindings[realize.PortKey{Switch: p.Switch, Port: p.Name}]
	}
	if !ok {
		return model.PortStatus{}
	}
	ps := model.PortStatus{Bound: true, Chassis: bd.Chassis, Interface: bd.Interface, OFPort: int(bd.OFPort)}
	if bd.MAC != nil {
		ps.MAC = bd.MAC.String()
	}
	return ps
}

// switchFingerprint identifies the bindings a switch's realization depends
// on, so that a VIF appearing or moving makes the switch unrealized until
// every carrier has programmed it, even though no generation changed.
func switchFingerprint(sw model.Switch, b realize.Bindings, views map[string]realize.GatewayView) string {
	var parts []string
	for _, p := range sw.Ports {
		if bd, ok := b[realize.PortKey{Switch: sw.Name, Port: p.Name}]; ok {
			parts = append(parts, p.Name+"@"+bd.Chassis+":"+bd.Interface+":"+bd.MAC.String()+":"+itoa(int(bd.OFPort)))
		}
	}
	slices.Sort(parts)
	out := ""
	for _, p := range parts {
		out += p + ";"
	}
	return out + gatewayFingerprint(sw, views)
}
