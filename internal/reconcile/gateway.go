package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/vtep"
)

// DialGatewayFunc opens a Device for a VTEP's hardware_vtep database.
type DialGatewayFunc func(gw model.Gateway, notify func()) (Device, error)

// gatewayLoop reconciles one VTEP: one OVSDB transaction per pass, no
// OpenFlow. It never removes anything on exit: a stopped ferry leaves the
// VTEP forwarding as it was.
type gatewayLoop struct {
	c      *Controller
	gw     model.Gateway
	log    *slog.Logger
	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	backoff time.Duration
	lastErr string

	mu         sync.Mutex
	observed   bool
	st         model.GatewayStatus
	view       realize.GatewayView
	realizedFP map[string]string
}

func newGatewayLoop(c *Controller, gw model.Gateway) *gatewayLoop {
	return &gatewayLoop{
		c: c, gw: gw, log: c.log.With("gateway", gw.Name),
		kick: make(chan struct{}, 1), done: make(chan struct{}),
		realizedFP: make(map[string]string),
		view:       realize.GatewayView{Name: gw.Name},
	}
}

func (l *gatewayLoop) trigger() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *gatewayLoop) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	l.cancel = cancel
	go l.run(ctx)
}

func (l *gatewayLoop) stop() {
	l.cancel()
	<-l.done
}

func (l *gatewayLoop) wasObserved() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.observed
}

func (l *gatewayLoop) status() model.GatewayStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

func (l *gatewayLoop) currentView() realize.GatewayView {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.view
}

func (l *gatewayLoop) realizedSwitch(sw string) (model.GatewayStatus, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st, l.realizedFP[sw]
}

func (l *gatewayLoop) run(ctx context.Context) {
	defer close(l.done)
	dev := dialUntil(ctx, func() (Device, error) { return l.c.cfg.DialGateway(l.gw, l.trigger) }, l.setError)
	if dev == nil {
		return
	}
	defer dev.Close()
	l.log.Info("gateway loop started", "ovsdb", l.gw.OVSDB)
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.kick:
		case <-retry:
		}
		retry = nil
		err := l.c.runPass(ctx, l.kick, func(passCtx context.Context) error { return l.pass(passCtx, dev) })
		if ctx.Err() != nil {
			return
		}
		var w errWarming
		var wt waiting
		switch {
		case err == nil:
			l.backoff = 0
			l.setError(nil)
		case errors.As(err, &w):
			retry = time.After(w.left)
		case errors.As(err, &wt):
			l.setError(err)
		default:
			l.setError(err)
			l.count("error")
			l.backoff = min(max(2*l.backoff, minBackoff), maxBackoff)
			retry = time.After(l.backoff)
		}
	}
}

func (l *gatewayLoop) setError(err error) {
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
			l.log.Warn("gateway reconcile failed", "err", err)
		case l.lastErr != "":
			l.log.Info("gateway ready")
		}
		l.lastErr = msg
	}
	l.mu.Lock()
	l.st.LastError = msg
	l.mu.Unlock()
}

func (l *gatewayLoop) count(result string) {
	if m := l.c.cfg.Metrics; m != nil {
		m.passes.WithLabelValues(result).Inc()
	}
}

func (l *gatewayLoop) setConnected(up bool) {
	l.mu.Lock()
	l.st.Connected = up
	l.mu.Unlock()
	if m := l.c.cfg.Metrics; m != nil {
		m.connected.WithLabelValues(l.gw.Name, "ovsdb").Set(b2f(up))
	}
}

func (l *gatewayLoop) pass(ctx context.Context, dev Device) error {
	snap := l.c.cfg.Northbound.Snapshot()
	gw, ok := snap.GatewayByName(l.gw.Name)
	if !ok {
		return nil
	}
	cli := dev.Client()
	if cli == nil {
		l.setConnected(false)
		l.count("skipped")
		return waiting{fmt.Sprintf("ovsdb: not connected to %s (retrying)", gw.OVSDB)}
	}
	start := time.Now()
	readCtx, cancelRead := context.WithTimeout(ctx, cacheReadTimeout)
	obs, err := vtep.Observe(readCtx, cli)
	cancelRead()
	if err != nil {
		return err
	}
	l.setConnected(true)
	ps, err := obs.PhysicalSwitch(gw.PhysicalSwitch)
	if errors.Is(err, vtep.ErrNoPhysicalSwitch) {
		return waiting{fmt.Sprintf("vtep: %v", err)}
	}
	if err != nil {
		return fmt.Errorf("reconcile: gateway %s: %w", gw.Name, err)
	}

	// What other devices need from this VTEP: its tunnel IP, whether it
	// replicates, the MACs it learned.
	view := realize.GatewayView{Name: gw.Name, SourceNode: obs.SupportsSourceNode(ps.Name), LocalMACs: map[string][]net.HardwareAddr{},
		TunnelStates: obs.TunnelStates(ps.Name)}
	if len(ps.TunnelIPs) > 0 {
		view.TunnelIP = ps.TunnelIPs[0]
	}
	local := 0
	for _, sw := range snap.Switches {
		for _, m := range obs.LocalMACs(sw.Name) {
			if hw, err := net.ParseMAC(m.MAC); err == nil {
				view.LocalMACs[sw.Name] = append(view.LocalMACs[sw.Name], hw)
				local++
			}
		}
	}
	st := model.GatewayStatus{Connected: true, PhysicalSwitch: ps.Name, TunnelIPs: ps.TunnelIPs,
		Faults: ps.Faults, LocalMACs: local}
	for _, p := range ps.Ports {
		faults := p.Faults
		if faults == nil {
			faults = []string{}
		}
		st.Ports = append(st.Ports, model.GatewayPort{Name: p.Name, Faults: faults})
	}
	l.mu.Lock()
	changed := !l.observed || !sameView(l.view, view)
	l.view = view
	l.observed = true
	st.RealizedGeneration, st.RemoteMACs, st.LastError = l.st.RealizedGeneration, l.st.RemoteMACs, l.st.LastError
	l.st = st
	l.mu.Unlock()
	l.c.cfg.Metrics.gatewayObserved(gw.Name, st)
	if changed {
		l.c.kickOthers(kindGateway, gw.Name)
	}
	if ok, left := l.c.ready(); !ok {
		return errWarming{left}
	}

	bv := l.c.bindingsFor(snap)
	nb, bindings := bv.snap, bv.bindings
	views := l.c.gatewayViews()
	desired := realize.DesiredGateway(nb, bindings, gw, views)
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
	if len(ops) > 0 {
		sent := time.Now()
		_, err := transactChecked(ctx, cli, ops)
		l.c.cfg.Metrics.transaction(txGateway, time.Since(sent))
		if err != nil {
			return fmt.Errorf("reconcile: gateway %s: %w", gw.Name, err)
		}
	}
	remote := 0
	fps := make(map[string]string)
	for _, vs := range desired.Switches {
		remote += len(vs.RemoteMACs)
		if sw, ok := nb.Switch(vs.Name); ok {
			fps[vs.Name] = switchFingerprint(sw, bindings, views)
		}
	}
	l.mu.Lock()
	l.st.RealizedGeneration = snap.Generation
	l.st.RemoteMACs = remote
	l.realizedFP = fps
	l.mu.Unlock()
	if m := l.c.cfg.Metrics; m != nil {
		m.passDuration.Observe(time.Since(start).Seconds())
		m.realizedGen.WithLabelValues(gw.Name).Set(float64(snap.Generation))
		m.generationLag.WithLabelValues(gw.Name).Set(0)
		m.realized(gw.Name, snap.Generation, time.Now())
		m.gatewayRealized(gw.Name, remote)
	}
	if len(ops) > 0 {
		l.count("changed")
		l.log.Debug("gateway pass committed", "generation", snap.Generation, "ovsdb_ops", len(ops), "took", time.Since(start))
	} else {
		l.count("noop")
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

// gatewayFingerprint extends a switch's fingerprint with what its gateways
// contribute, so that a MAC learned by a VTEP makes the switch unrealized
// until every device has programmed it.
func gatewayFingerprint(sw model.Switch, views map[string]realize.GatewayView) string {
	var parts []string
	for _, gv := range realize.SwitchGateways(sw, views) {
		macs := make([]string, 0, len(gv.LocalMACs[sw.Name]))
		for _, m := range gv.LocalMACs[sw.Name] {
			macs = append(macs, m.String())
		}
		slices.Sort(macs)
		parts = append(parts, fmt.Sprintf("gw:%s@%s:%v:%s", gv.Name, gv.TunnelIP, gv.SourceNode, strings.Join(macs, ",")))
	}
	return strings.Join(parts, ";")
}
