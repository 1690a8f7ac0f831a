package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/ovsdb"
)

func itoa(i int) string { return strconv.Itoa(i) }

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

// chassisLoop reconciles one chassis. Only its goroutine touches installed,
// session and backoff; mu guards what status readers see.
type chassisLoop struct {
	c       *Controller
	chassis model.Chassis
	log     *slog.Logger
	kick    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}

	installed *realize.Installed
	session   Session
	desired   *realize.ChassisCache // per-switch memo of DesiredChassis
	retire    bool                  // set before stop: release the chassis on the way out
	backoff   time.Duration
	lastErr   string

	mu         sync.Mutex
	observed   bool // the chassis' database has been read at least once
	st         model.ChassisStatus
	dpid       uint64
	lastVIFs   []realize.Interface
	tunnels    map[string]string // remote device → BFD state
	realizedFP map[string]string // switch → bindings fingerprint realized
}

func newChassisLoop(c *Controller, ch model.Chassis) *chassisLoop {
	return &chassisLoop{
		c:          c,
		chassis:    ch,
		log:        c.log.With("chassis", ch.Name),
		kick:       make(chan struct{}, 1),
		done:       make(chan struct{}),
		realizedFP: make(map[string]string),
	}
}

func (l *chassisLoop) trigger() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

func (l *chassisLoop) start(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	l.cancel = cancel
	go l.run(ctx)
}

func (l *chassisLoop) stop() {
	l.cancel()
	<-l.done
}

func (l *chassisLoop) datapath() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dpid
}

// tunnelState returns the BFD state of the chassis' tunnel to remote.
func (l *chassisLoop) tunnelState(remote string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, ok := l.tunnels[remote]; ok {
		return st
	}
	return TunnelUnknown
}

// tunnelCounts counts the chassis' tunnels by state.
func (l *chassisLoop) tunnelCounts() (up, down, unknown int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, st := range l.tunnels {
		switch st {
		case TunnelUp:
			up++
		case TunnelDown:
			down++
		default:
			unknown++
		}
	}
	return
}

func (l *chassisLoop) wasObserved() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.observed
}

// waiting: the pass cannot proceed until a device connects; shown as the
// chassis' last_error, not counted as a failure.
type waiting struct{ msg string }

func (w waiting) Error() string { return w.msg }

// errWarming: the pass observed the chassis but may not commit yet.
type errWarming struct{ left time.Duration }

func (e errWarming) Error() string { return "reconcile: waiting for every chassis to be observed" }

func (l *chassisLoop) vifs() []realize.Interface {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastVIFs
}

func (l *chassisLoop) status() model.ChassisStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

func (l *chassisLoop) realizedSwitch(sw string) (model.ChassisStatus, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st, l.realizedFP[sw]
}

func (l *chassisLoop) run(ctx context.Context) {
	defer close(l.done)
	dev := dialUntil(ctx, func() (Device, error) { return l.c.cfg.Dial(l.chassis, l.trigger) }, l.setError)
	if dev == nil {
		return
	}
	defer dev.Close()
	l.log.Info("chassis loop started", "ovsdb", l.chassis.OVSDB, "bridge", l.chassis.Bridge)
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if l.retire {
				l.release(dev)
			}
			return
		case <-l.kick:
		case <-retry:
		}
		retry = nil
		err := l.c.runPass(ctx, l.kick, func(passCtx context.Context) error { return l.pass(passCtx, dev) })
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var w errWarming
			if errors.As(err, &w) {
				retry = time.After(w.left)
				continue
			}
			// Waiting for a connection is a state, not a failure: the
			// connection's own event kicks the next pass.
			var wt waiting
			if errors.As(err, &wt) {
				l.setError(err)
				continue
			}
			l.setError(err)
			l.count("error")
			if l.backoff == 0 {
				l.backoff = minBackoff
			} else {
				l.backoff = min(2*l.backoff, maxBackoff)
			}
			retry = time.After(l.backoff)
			continue
		}
		l.backoff = 0
		l.setError(nil)
	}
}

func (l *chassisLoop) setError(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != l.lastErr {
		var wt waiting
		if errors.As(err, &wt) {
			l.log.Info("waiting", "for", wt.msg)
		} else if err != nil {
			l.log.Warn("reconcile failed", "err", err)
		} else if l.lastErr != "" {
			l.log.Info("reconcile recovered")
		}
		l.lastErr = msg
	}
	l.mu.Lock()
	l.st.LastError = msg
	l.mu.Unlock()
}

func (l *chassisLoop) setConnected(ovsdbUp, ofUp bool) {
	l.mu.Lock()
	l.st.OVSDBConnected, l.st.OpenFlowConnected = ovsdbUp, ofUp
	l.mu.Unlock()
	if m := l.c.cfg.Metrics; m != nil {
		m.connected.WithLabelValues(l.chassis.Name, "ovsdb").Set(b2f(ovsdbUp))
		m.connected.WithLabelValues(l.chassis.Name, "openflow").Set(b2f(ofUp))
	}
}

func (l *chassisLoop) count(result string) {
	if m := l.c.cfg.Metrics; m != nil {
		m.passes.WithLabelValues(result).Inc()
	}
}

func (l *chassisLoop) transact(ctx context.Context, cli client.Client, ops []libovsdb.Operation) error {
	if len(ops) == 0 {
		return nil
	}
	sent := time.Now()
	_, err := transactChecked(ctx, cli, ops)
	l.c.cfg.Metrics.transaction(txChassis, time.Since(sent))
	if err != nil {
		return fmt.Errorf("reconcile: %s: %w", l.chassis.Name, err)
	}
	return nil
}

// transactChecked sends one transaction and turns a rejected operation
// into an error.
func transactChecked(ctx context.Context, cli client.Client, ops []libovsdb.Operation) ([]libovsdb.OperationResult, error) {
	return ovsdb.Transact(ctx, cli, ops...)
}

var errNoRoot = errors.New("reconcile: the Open_vSwitch table is empty (run ovs-vsctl init)")

// pass is one level-triggered reconciliation of the chassis.
func (l *chassisLoop) pass(ctx context.Context, dev Device) (err error) {
	defer func() {
		// The memo's "recomputed" set and the realized fingerprints move
		// together only through successful passes: after any other
		// outcome, start the next pass from scratch.
		if err != nil && l.desired != nil {
			l.desired.Reset()
		}
	}()
	snap := l.c.cfg.Northbound.Snapshot()
	ch, ok := snap.ChassisByName(l.chassis.Name)
	if !ok {
		return nil // being removed; the supervisor stops us
	}
	cli := dev.Client()
	if cli == nil {
		l.setConnected(false, false)
		l.installed, l.session = nil, nil
		l.count("skipped")
		return waiting{fmt.Sprintf("ovsdb: not connected to %s (retrying)", ch.OVSDB)}
	}
	start := time.Now()
	// libovsdb blocks cache reads while it reconnects: bound them, so a
	// device that drops mid-pass shows as disconnected instead of hanging
	// the loop until it returns.
	readCtx, cancelRead := context.WithTimeout(ctx, cacheReadTimeout)
	obs, err := observe(readCtx, cli, ch.Bridge)
	cancelRead()
	if err != nil {
		return err
	}
	l.mu.Lock()
	vifsChanged := !l.observed || !slices.EqualFunc(l.lastVIFs, obs.vifs, sameVIF)
	l.lastVIFs = obs.vifs
	l.tunnels = obs.tunnels
	l.observed = true
	l.mu.Unlock()
	up, down, unknown := l.tunnelCounts()
	l.c.cfg.Metrics.SetTunnels(ch.Name, up, down, unknown)
	if vifsChanged {
		l.c.binds.vifsVer.Add(1)
		l.c.kickOthers(kindChassis, ch.Name)
	}
	if ok, left := l.c.ready(); !ok {
		return errWarming{left}
	}
	if obs.root == "" {
		l.setConnected(true, false)
		return errNoRoot
	}

	bv := l.c.bindingsFor(snap)
	snap, bindings := bv.snap, bv.bindings
	tunnelPorts, used := realize.TunnelOFPorts(obs.bridge)
	views := l.c.gatewayViews()
	if l.desired == nil {
		l.desired = realize.NewChassisCache()
	}
	st := l.desired.Desired(realize.ChassisInputs{
		Snapshot: snap, Bindings: bindings, Chassis: ch, Controller: l.c.cfg.Advertise,
		TunnelOFPorts: tunnelPorts, UsedOFPorts: used, Gateways: views,
	})

	createOps := realize.CreateOps(obs.root, obs.bridge, st)
	if err := l.transact(ctx, cli, createOps); err != nil {
		return err
	}
	changed := len(createOps) > 0
	if obs.bridge == nil {
		// The bridge is new: its datapath ID and OpenFlow connection come
		// with the next cache event.
		l.setConnected(true, false)
		l.count("changed")
		return nil
	}
	dpid, ok := parseDatapathID(obs.bridge.DatapathID)
	l.mu.Lock()
	l.dpid = dpid
	l.st.DatapathID = obs.bridge.DatapathID
	l.mu.Unlock()
	var sess Session
	if ok {
		sess = l.c.cfg.Switches.Session(dpid)
	}
	if sess == nil {
		l.setConnected(true, false)
		l.installed, l.session = nil, nil
		l.count("skipped")
		return waiting{fmt.Sprintf("openflow: bridge %s (datapath %s) has not connected to %s", ch.Bridge, obs.bridge.DatapathID, l.c.cfg.Advertise)}
	}
	l.setConnected(true, true)
	if sess != l.session || l.installed == nil {
		inst, err := dumpInstalled(ctx, sess)
		if err != nil {
			return err
		}
		l.installed, l.session = inst, sess
	}
	plan := realize.DiffFlowsRefs(l.installed, st.Flows, st.Refs, st.Groups)
	if !plan.Empty() {
		committing := time.Now()
		err := sess.Commit(ctx, plan)
		l.c.cfg.Metrics.bundle(time.Since(committing), plan.FlowMods(), err == nil)
		if err != nil {
			l.installed = nil // unknown state: dump again next pass
			return fmt.Errorf("reconcile: %s: bundle: %w", ch.Name, err)
		}
		l.installed.Apply(plan)
		changed = true
	}
	deleteOps := realize.DeleteOps(obs.bridge, st)
	if changed || len(deleteOps) > 0 {
		deleteOps = append(deleteOps, realize.GenerationOps(obs.bridge, snap.Generation)...)
	}
	if err := l.transact(ctx, cli, deleteOps); err != nil {
		return err
	}
	changed = changed || len(deleteOps) > 0

	// Fingerprints only change with a switch's inputs: recompute those of
	// the switches the desired-state memo recomputed.
	l.mu.Lock()
	prev := l.realizedFP
	l.mu.Unlock()
	fps := make(map[string]string, len(st.Switches))
	for _, name := range st.Switches {
		if fp, ok := prev[name]; ok && !l.desired.Recomputed[name] {
			fps[name] = fp
		} else if sw, ok := snap.Switch(name); ok {
			fps[name] = switchFingerprint(sw, bindings, views)
		}
	}
	l.mu.Lock()
	l.st.RealizedGeneration = snap.Generation
	l.st.Flows = len(l.installed.Flows)
	l.st.Groups = len(l.installed.Groups)
	l.realizedFP = fps
	l.mu.Unlock()
	if m := l.c.cfg.Metrics; m != nil {
		m.passDuration.Observe(time.Since(start).Seconds())
		m.realizedGen.WithLabelValues(ch.Name).Set(float64(snap.Generation))
		m.generationLag.WithLabelValues(ch.Name).Set(0)
		m.realized(ch.Name, snap.Generation, time.Now())
		m.flows.WithLabelValues(ch.Name, st.Bridge).Set(float64(len(l.installed.Flows)))
		m.groups.WithLabelValues(ch.Name, st.Bridge).Set(float64(len(l.installed.Groups)))
	}
	if changed {
		l.count("changed")
		l.log.Debug("pass committed", "generation", snap.Generation, "flow_mods", plan.FlowMods(),
			"ovsdb_ops", len(createOps)+len(deleteOps), "took", time.Since(start))
	} else {
		l.count("noop")
	}
	return nil
}

func dumpInstalled(ctx context.Context, sess Session) (*realize.Installed, error) {
	inst := realize.NewInstalled()
	flows, err := sess.DumpFlows(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile: dump flows: %w", err)
	}
	for _, ref := range flows {
		inst.Flows[ref] = true
	}
	groups, err := sess.DumpGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile: dump groups: %w", err)
	}
	for _, g := range groups {
		if realize.IsFerryGroup(g.ID) {
			inst.Groups[g.ID] = g.String()
		}
	}
	return inst, nil
}

func sameVIF(a, b realize.Interface) bool {
	return a.Name == b.Name && a.IfaceID == b.IfaceID && a.OFPort == b.OFPort &&
		a.Active == b.Active && a.MAC.String() == b.MAC.String()
}

// releaseTimeout bounds the clean-up of a deleted chassis.
const releaseTimeout = 10 * time.Second

// release removes what ferry put on a chassis that was deleted through the
// API: its flows and groups, its tunnel ports and its controller. The
// bridge itself stays (VIFs hang off it), in fail_mode secure: without a
// controller and flows it forwards nothing, which is what "no longer
// managed by ferry" means. A disconnected chassis keeps its state; the log
// says so.
func (l *chassisLoop) release(dev Device) {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	cli := dev.Client()
	if cli == nil {
		l.log.Warn("deleted chassis is not connected: its flows and tunnel ports stay until removed by hand")
		return
	}
	obs, err := observe(ctx, cli, l.chassis.Bridge)
	if err != nil || obs.bridge == nil {
		return
	}
	if dpid, ok := parseDatapathID(obs.bridge.DatapathID); ok {
		if sess := l.c.cfg.Switches.Session(dpid); sess != nil {
			inst, err := dumpInstalled(ctx, sess)
			if err == nil {
				if plan := realize.DiffFlows(inst, nil, nil); !plan.Empty() {
					err = sess.Commit(ctx, plan)
				}
			}
			if err != nil {
				l.log.Warn("releasing deleted chassis: flows", "err", err)
			}
		}
	}
	ops := append(realize.DeleteOps(obs.bridge, realize.ChassisState{}), realize.ReleaseControllerOps(obs.bridge)...)
	if err := l.transact(ctx, cli, ops); err != nil {
		l.log.Warn("releasing deleted chassis: OVSDB", "err", err)
		return
	}
	l.log.Info("released deleted chassis", "bridge", l.chassis.Bridge)
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
