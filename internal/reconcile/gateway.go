package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/crash"
	"github.com/ferry-sdn/ferry/internal/events"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/internal/vtepcheck"
	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/vtep"
	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

// DialGatewayFunc opens a Device for a VTEP's hardware_vtep database.
type DialGatewayFunc func(gw model.Gateway, notify func()) (Device, error)

// gatewayDevice adapts a VTEP (its hardware_vtep database; no OpenFlow) to
// the generic device loop: one OVSDB transaction per pass. It never
// removes anything on exit: a stopped ferry leaves the VTEP forwarding as
// it was.
type gatewayDevice struct {
	c  *Controller
	gw model.Gateway
	l  *loop

	rz realization
	// seen is the estate of the last committed pass; lastDrift the drift
	// last recorded.
	seen      uint64
	lastDrift string
	// probed is this loop's source-node probe result, until the
	// northbound shows it (model.Gateway.SourceNode); probeAfter spaces
	// out retries of a probe that could not run.
	probed, probedEvidence string
	probeErr               string // the last attempt's failure
	probeAfter             time.Time
	probing                atomic.Bool

	mu       sync.Mutex
	st       model.GatewayStatus
	view     realize.GatewayView
	observed bool
	macs     model.GatewayMACs // for GET /v1/gateways/{name}/macs
}

func newGatewayDevice(c *Controller, gw model.Gateway) *gatewayDevice {
	g := &gatewayDevice{c: c, gw: gw, view: realize.GatewayView{Name: gw.Name}}
	g.l = newLoop(c, gw.Name, g, c.log.With("gateway", gw.Name, "ovsdb", gw.OVSDB))
	return g
}

func (g *gatewayDevice) dial(notify func()) (Device, error) { return g.c.cfg.DialGateway(g.gw, notify) }

// release does nothing: a VTEP keeps its state when unregistered (ferry
// never wipes device state it cannot attribute to a deletion).
func (g *gatewayDevice) release(Device) {}

func (g *gatewayDevice) status() model.GatewayStatus {
	g.mu.Lock()
	st := g.st
	g.mu.Unlock()
	st.RealizedGeneration = g.rz.generation()
	if g.l.disconnected() {
		st.Connected = false
	}
	return st
}

func (g *gatewayDevice) currentView() realize.GatewayView {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.view
}

func (g *gatewayDevice) realizedSwitch(sw string) (model.GatewayStatus, committed, bool) {
	r, ok := g.rz.get(sw)
	return g.status(), r, ok
}

func (g *gatewayDevice) unaffected(prev uint64, e *realize.Estate) {
	if g.rz.unaffected(prev, e) {
		g.c.deviceRealized(gatewayDeviceName(g.gw.Name), g.gw.Name, e.Snapshot.Generation)
	}
}

func (g *gatewayDevice) setError(msg string) {
	g.mu.Lock()
	g.st.LastError = msg
	g.mu.Unlock()
	if msg != "" {
		g.rz.failed()
	}
}

func (g *gatewayDevice) count(result string) {
	if m := g.c.cfg.Metrics; m != nil {
		m.passes.WithLabelValues(result).Inc()
	}
}

func (g *gatewayDevice) setConnected(up bool) {
	g.mu.Lock()
	g.st.Connected = up
	g.mu.Unlock()
	if m := g.c.cfg.Metrics; m != nil {
		m.connected.WithLabelValues(g.gw.Name, "ovsdb").Set(b2f(up))
	}
}

// pass reconciles the VTEP with every switch bound to it. A gateway
// carries few switches next to a hypervisor, so each pass diffs all of
// them (vtep.Ops over the whole observed database, one transaction); the
// controller wakes it only for changes to those switches.
func (g *gatewayDevice) pass(ctx context.Context, dev Device, _ bool) error {
	e := g.c.refresh()
	gw, ok := e.Snapshot.GatewayByName(g.gw.Name)
	if !ok {
		return nil
	}
	cli := dev.Client()
	if cli == nil {
		g.setConnected(false)
		g.count("skipped")
		return notConnected(gw.OVSDB, dev, "Physical_Switch "+cmp.Or(gw.PhysicalSwitch, gw.Name))
	}
	start := time.Now()
	readCtx, cancelRead := context.WithTimeout(ctx, cacheReadTimeout)
	obs, err := vtep.Observe(readCtx, cli.Cache())
	cancelRead()
	if err != nil {
		return err
	}
	g.setConnected(true)
	ps, err := obs.PhysicalSwitch(gw.PhysicalSwitch)
	if errors.Is(err, vtep.ErrNoPhysicalSwitch) {
		return waiting{fmt.Sprintf("vtep: %v", err)}
	}
	if err != nil {
		return fmt.Errorf("reconcile: gateway %s: %w", gw.Name, err)
	}
	if err := g.identify(gw, ps); err != nil {
		return err
	}

	g.probeOnce(ctx, dev, gw)
	probe, evidence := g.probeResult(gw)
	if probe == "" && g.probing.Load() {
		probe = "probing"
	}
	// What other devices need from this VTEP: its tunnel IP, whether it
	// replicates, the MACs it learned. A VTEP that reports the fault, or
	// whose probe found it refusing, floods through a replicator.
	view := realize.GatewayView{Name: gw.Name, SourceNode: g.sourceNode(gw, obs.SupportsSourceNode(ps.Name)),
		LocalMACs:    map[string][]net.HardwareAddr{},
		TunnelStates: obs.TunnelStates(ps.Name)}
	if len(ps.TunnelIPs) > 0 {
		view.TunnelIP = ps.TunnelIPs[0]
	}
	local := 0
	localMACs := []model.GatewayMAC{}
	for _, sw := range e.Snapshot.Switches {
		for _, m := range obs.LocalMACs(sw.Name) {
			if hw, err := net.ParseMAC(m.MAC); err == nil {
				view.LocalMACs[sw.Name] = append(view.LocalMACs[sw.Name], hw)
				local++
				localMACs = append(localMACs, model.GatewayMAC{Switch: sw.Name, MAC: m.MAC, TunnelIP: m.IP, IP: m.IPAddr})
			}
		}
	}
	st := model.GatewayStatus{Connected: true, PhysicalSwitch: ps.Name, TunnelIPs: ps.TunnelIPs,
		Faults: ps.Faults, LocalMACs: local, Replication: replicationStatus(view.SourceNode, probe, evidence)}
	for _, p := range ps.Ports {
		faults := p.Faults
		if faults == nil {
			faults = []string{}
		}
		st.Ports = append(st.Ports, model.GatewayPort{Name: p.Name, Faults: faults})
	}
	g.mu.Lock()
	changed := !g.observed || !sameView(g.view, view)
	bfdChanged := !maps.Equal(g.view.TunnelStates, view.TunnelStates)
	g.view = view
	g.observed = true
	st.RemoteMACs, st.LastError, st.HeldBack = g.st.RemoteMACs, g.st.LastError, g.st.HeldBack
	g.st = st
	g.macs.Local = localMACs
	g.mu.Unlock()
	g.l.setObserved()
	g.c.cfg.Metrics.gatewayObserved(gw.Name, st)
	if changed {
		// The switches this VTEP learned MACs on, or whose replication
		// changed, change on every carrier: the new estate wakes them.
		g.c.gwVer.Add(1)
	}
	if bfdChanged {
		g.c.updatePaths()
	}
	if ok, left := g.c.ready(); !ok {
		return errWarming{left}
	}
	if _, mine := g.c.owns(gatewayDeviceName(gw.Name)); !mine {
		// Another replica drives it: observed only (its MACs count).
		g.rz.failed()
		g.count("skipped")
		return nil
	}
	if g.probing.Load() {
		// The first write of each switch is in its final mode: the
		// probe (seconds, once per gateway) triggers the next pass.
		return waiting{"probing source-node replication on a scratch switch"}
	}

	e = g.c.refresh()
	// A VTEP that says it is full keeps what it has and gets no more.
	macs, tunnels := obs.Written()
	capped, faultReasons := realize.Exhausted(gw, ps.Faults, macs, tunnels)
	desired := e.DesiredGateway(capped)
	for i, h := range desired.HeldBack {
		if f, ok := faultReasons[h.Reason]; ok {
			desired.HeldBack[i].Reason = f
		}
	}
	ops, err := vtep.Ops(obs, desired)
	if errors.Is(err, vtep.ErrConflict) {
		// The VTEP's own state (another controller's binding, a missing
		// port) stands in the way: retrying cannot help until someone
		// changes it, and the change kicks a pass.
		return waiting{fmt.Sprintf("conflict on the VTEP: %v", err)}
	}
	if err != nil {
		return fmt.Errorf("reconcile: gateway %s: %w", gw.Name, err)
	}
	// The estate is as at the last pass, yet there is something to
	// write: someone else changed ferry's rows on the VTEP.
	var drift string
	since, inLog := e.ChangedSince(g.seen)
	if g.seen != 0 && inLog && !g.rz.concerned(since, func(sw string) bool {
		return slices.Contains(e.GatewaySwitches[gw.Name], sw)
	}) {
		// bfd_params on Tunnel rows the VTEP created since (a new
		// tunnel) are ferry completing the VTEP's rows, not a repair.
		drift = describeOps(slices.DeleteFunc(slices.Clone(ops), func(op libovsdb.Operation) bool {
			return op.Table == hwvtep.TunnelTable
		}), nil)
	}
	if !g.c.drifted(g.l.log, gatewayDeviceName(gw.Name), events.KindVTEP, drift, &g.lastDrift) {
		g.count("skipped")
		return nil
	}
	if len(ops) > 0 {
		// Owned at the pass' start is not enough: the lock can have gone
		// to another replica since, which may be writing the VTEP now.
		if _, mine := g.c.owns(gatewayDeviceName(gw.Name)); !mine {
			return errNotOwned
		}
		sent := time.Now()
		_, err := ovsdb.Transact(ctx, cli, ops...)
		g.c.cfg.Metrics.transaction(txGateway, time.Since(sent))
		if err != nil {
			return fmt.Errorf("reconcile: gateway %s: %w", gw.Name, err)
		}
	}
	remote, held := 0, 0
	var heldBack []model.GatewayHeldBack
	for _, h := range desired.HeldBack {
		held += h.MACs
		heldBack = append(heldBack, model.GatewayHeldBack{Switch: h.Switch, MACs: h.MACs, Reason: h.Reason})
	}
	names := make([]string, 0, len(desired.Switches))
	for _, vs := range desired.Switches {
		remote += len(vs.RemoteMACs)
		names = append(names, vs.Name)
	}
	g.seen = e.Seq
	g.rz.passed(e, true, names, func(name string) (committed, bool) {
		sv := e.Switches[name]
		if sv == nil {
			return committed{}, false
		}
		return committed{version: sv.Version, generation: e.Snapshot.Generation}, true
	})
	g.mu.Lock()
	g.st.RemoteMACs = remote
	g.st.HeldBack = heldBack
	g.macs.Remote = remoteMACs(desired.Switches)
	g.mu.Unlock()
	if m := g.c.cfg.Metrics; m != nil {
		m.passDuration.Observe(time.Since(start).Seconds())
		m.gatewayRealized(gw.Name, remote, held)
	}
	g.c.deviceRealized(gatewayDeviceName(gw.Name), gw.Name, e.Snapshot.Generation)
	if len(ops) > 0 {
		g.count("changed")
		g.l.log.Debug("gateway pass committed", "generation", e.Snapshot.Generation, "ovsdb_ops", len(ops), "took", time.Since(start))
	} else {
		g.count("noop")
	}
	if latest := g.c.estate(); latest.Seq > e.Seq {
		g.l.trigger()
	}
	return nil
}

func sameView(a, b realize.GatewayView) bool {
	if a.TunnelIP != b.TunnelIP || a.SourceNode != b.SourceNode || len(a.LocalMACs) != len(b.LocalMACs) ||
		!maps.Equal(a.TunnelStates, b.TunnelStates) {
		return false
	}
	for k, am := range a.LocalMACs {
		if !slices.EqualFunc(am, b.LocalMACs[k], func(x, y net.HardwareAddr) bool { return x.String() == y.String() }) {
			return false
		}
	}
	return true
}

// identify claims the VTEP's Physical_Switch (identity.go); a gateway whose
// switch another registration holds writes nothing and offers no view.
func (g *gatewayDevice) identify(gw model.Gateway, ps vtep.PhysicalSwitch) error {
	msg := g.c.claimDevice(g.l.log, holder{kind: kindGateway, name: gw.Name, rank: gw.Generation}, "ps:"+ps.UUID)
	g.mu.Lock()
	g.st.Conflict = msg
	hadView := msg != "" && (g.view.TunnelIP != "" || len(g.view.LocalMACs) > 0)
	if msg != "" {
		g.view, g.observed = realize.GatewayView{Name: gw.Name}, true
	}
	g.mu.Unlock()
	if msg == "" {
		return nil
	}
	if hadView {
		g.c.gwVer.Add(1)
	}
	g.l.setObserved()
	g.count("skipped")
	return waiting{msg}
}

// probeRetry spaces out attempts of a probe that could not run;
// probeTimeout bounds one.
const (
	probeRetry   = time.Minute
	probeTimeout = 20 * time.Second
)

// probeOnce starts the source-node replication probe (vtepcheck) if nobody
// has run it for this gateway: the owner only (it writes a scratch
// switch), after the startup gate, not while a conformance check runs,
// and in the background, so the gateway is observed and its status
// published meanwhile; its switches are written once the result is known,
// in their final mode. The result goes to the northbound,
// where every replica reads it, and stays: a VTEP's replication does not
// change.
func (g *gatewayDevice) probeOnce(_ context.Context, dev Device, gw model.Gateway) {
	g.mu.Lock()
	later := time.Now().Before(g.probeAfter)
	g.mu.Unlock()
	if r, _ := g.probeResult(gw); r != "" || later || g.probing.Load() {
		return
	}
	if ok, _ := g.c.ready(); !ok {
		return
	}
	if _, mine := g.c.owns(gatewayDeviceName(gw.Name)); !mine {
		return
	}
	if _, busy := checking.LoadOrStore(gw.Name, struct{}{}); busy {
		return // a check's scratch switch; probe on a later pass
	}
	cli := dev.Client()
	g.probing.Store(true)
	go func() {
		defer g.probing.Store(false)
		defer checking.Delete(gw.Name)
		defer func() {
			if r := recover(); r != nil {
				crash.Recovered(g.l.log, "reconcile", r)
				g.mu.Lock()
				g.probeAfter, g.probeErr = time.Now().Add(probeRetry), fmt.Sprint("the probe panicked: ", r)
				g.mu.Unlock()
				g.l.trigger()
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		result, evidence, err := vtepcheck.ProbeSourceNode(ctx, cli, gw.Name, g.c.cfg.ProbeWait, g.l.log)
		if err != nil {
			g.mu.Lock()
			g.probeAfter = time.Now().Add(probeRetry)
			g.probeErr = err.Error()
			g.mu.Unlock()
			g.l.log.Warn("source-node replication probe could not run; ferry goes by the VTEP's faults meanwhile", "err", err)
			g.l.trigger()
			return
		}
		g.l.log.Info("source-node replication probed", "result", result, "evidence", evidence)
		g.mu.Lock()
		g.probed, g.probedEvidence, g.probeErr = result, evidence, ""
		g.mu.Unlock()
		if s := g.c.cfg.Probes; s != nil {
			if err := s.SetGatewaySourceNode(ctx, gw.Name, result, evidence); err != nil {
				g.l.log.Warn("recording the source-node probe in the northbound", "err", err)
			}
		}
		g.l.trigger()
	}()
}

// sourceNode reports whether the VTEP floods by itself: its probe found
// it able to (or could not run, leaving it to the faults), and it reports
// no fault saying otherwise.
func (g *gatewayDevice) sourceNode(gw model.Gateway, faultFree bool) bool {
	r, _ := g.probeResult(gw)
	g.mu.Lock()
	failed := g.probeErr != ""
	g.mu.Unlock()
	return faultFree && (r == model.SourceNodeSupported || r == "" && failed)
}

// probeResult is the gateway's probe result: the northbound's, else this
// loop's own.
func (g *gatewayDevice) probeResult(gw model.Gateway) (result, evidence string) {
	if gw.SourceNode != "" {
		return gw.SourceNode, gw.SourceNodeEvidence
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.probed, g.probedEvidence
}

func replicationStatus(sourceNode bool, probe, evidence string) model.GatewayReplication {
	r := model.GatewayReplication{Mode: vtep.ServiceNode, Probe: cmp.Or(probe, "not probed"), Evidence: evidence}
	if sourceNode {
		r.Mode = vtep.SourceNode
	}
	return r
}
