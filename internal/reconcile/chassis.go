package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/events"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/openflow"
	"github.com/ferry-sdn/ferry/ovsdb"
)

// chassisDevice adapts a chassis (its Open_vSwitch database and its managed
// bridge's OpenFlow session) to the generic device loop. Only the loop's
// goroutine touches br, session and seen; mu guards what status readers
// see.
type chassisDevice struct {
	c       *Controller
	chassis model.Chassis // as the loop was started: connection settings
	l       *loop

	br      *realize.Bridge // nil until dumped (and after a failed bundle)
	session Session
	seen    uint64 // the estate the bridge is in step with
	// reopened counts the 1.3 sessions closed for an openflow option of
	// 1.5 (checkVersion).
	reopened int
	// brMu lets a dry run (Controller.Plan) read br and seen: the loop's
	// goroutine takes it to change them, and reads them without it.
	brMu sync.RWMutex
	// events counts the device's cache events; an observation taken at
	// the same count is still what the cache holds, so a pass woken by a
	// northbound change need not read every interface again.
	events  atomic.Uint64
	lastObs *hypervisor.Observed
	obsAt   uint64
	// The generation recorded on the bridge lags by up to
	// generationEvery: writing it after every pass would double the
	// transactions and wake the next pass with the echo.
	genStale   bool
	genWritten time.Time
	genTimer   atomic.Bool

	rz realization
	// lastDrift is the drift last recorded, per kind.
	lastDrift, lastFlowDrift, lastForeign string
	// checkFlows asks the next pass to count the bridge's flows
	// (Controller.checkFlows).
	checkFlows atomic.Bool

	mu       sync.Mutex
	st       model.ChassisStatus
	lastVIFs []hypervisor.VIF
	tunnels  map[string]string // remote device → BFD state
	observed bool
}

func newChassisDevice(c *Controller, ch model.Chassis) *chassisDevice {
	h := &chassisDevice{c: c, chassis: ch}
	h.l = newLoop(c, ch.Name, h, c.log.With("chassis", ch.Name, "ovsdb", ch.OVSDB, "bridge", ch.Bridge))
	return h
}

func (h *chassisDevice) dial(notify func()) (Device, error) {
	return h.c.cfg.Dial(h.chassis, func() {
		h.events.Add(1)
		notify()
	})
}

// observe reads the chassis from its cache, or reuses the last reading
// when no cache event arrived since (never on a full pass: events are
// delivered asynchronously and may be dropped when libovsdb's queue is
// full, and the resync pass is the safety net).
func (h *chassisDevice) observe(ctx context.Context, cli client.Client, bridge string, full bool) (hypervisor.Observed, error) {
	at := h.events.Load()
	if !full && h.lastObs != nil && at == h.obsAt {
		return *h.lastObs, nil
	}
	// libovsdb blocks cache reads while it reconnects: bound them, so a
	// device that drops mid-pass shows as disconnected instead of hanging
	// the loop until it returns.
	readCtx, cancel := context.WithTimeout(ctx, cacheReadTimeout)
	defer cancel()
	obs, err := hypervisor.Observe(readCtx, cli.Cache(), bridge)
	if err != nil {
		h.lastObs = nil
		return obs, err
	}
	h.lastObs, h.obsAt = &obs, at
	return obs, nil
}

// tunnelState returns the BFD state of the chassis' tunnel to remote.
func (h *chassisDevice) tunnelState(remote string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if st, ok := h.tunnels[remote]; ok {
		return st
	}
	return TunnelUnknown
}

// tunnelCounts counts the chassis' tunnels by state.
func (h *chassisDevice) tunnelCounts() (up, down, unknown int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, st := range h.tunnels {
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

func (h *chassisDevice) vifs() []hypervisor.VIF {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastVIFs
}

// peers identifies the chassis' bridge to the OpenFlow server (peers.go).
func (h *chassisDevice) peers(ch model.Chassis, systemID string) chassisPeers {
	var dialedIn netip.Addr
	if ch.OVSDB == model.PassiveOVSDB && h.c.cfg.DialedIn != nil {
		dialedIn, _ = h.c.cfg.DialedIn(ch.Name)
	}
	return peersOf(ch, systemID, dialedIn)
}

func (h *chassisDevice) status() model.ChassisStatus {
	h.mu.Lock()
	st := h.st
	h.mu.Unlock()
	if dpid, ok := hypervisor.ParseDatapathID(st.DatapathID); ok && h.c.cfg.Switches != nil {
		if r, refused := h.c.cfg.Switches.Refused(dpid); refused {
			st.OpenFlowRefused = refusalStatus(r)
		}
	}
	st.RealizedGeneration = h.rz.generation()
	if h.l.disconnected() {
		st.OVSDBConnected = false
	}
	return st
}

func (h *chassisDevice) realizedSwitch(sw string) (model.ChassisStatus, committed, bool) {
	r, ok := h.rz.get(sw)
	return h.status(), r, ok
}

func (h *chassisDevice) unaffected(prev uint64, e *realize.Estate) {
	if h.rz.unaffected(prev, e) {
		h.c.deviceRealized(chassisDeviceName(h.chassis.Name), h.chassis.Name, e.Snapshot.Generation)
	}
}

func (h *chassisDevice) setError(msg string) {
	h.mu.Lock()
	h.st.LastError = msg
	h.mu.Unlock()
	if msg != "" {
		h.rz.failed()
	}
}

func (h *chassisDevice) setConnected(ovsdbUp, ofUp bool) {
	h.mu.Lock()
	h.st.OVSDBConnected, h.st.OpenFlowConnected = ovsdbUp, ofUp
	if !ofUp {
		h.st.OpenFlowVersion = ""
	}
	h.mu.Unlock()
	if m := h.c.cfg.Metrics; m != nil {
		m.connected.WithLabelValues(h.chassis.Name, "ovsdb").Set(b2f(ovsdbUp))
		m.connected.WithLabelValues(h.chassis.Name, "openflow").Set(b2f(ofUp))
	}
}

func (h *chassisDevice) count(result string) {
	if m := h.c.cfg.Metrics; m != nil {
		m.passes.WithLabelValues(result).Inc()
	}
}

func (h *chassisDevice) transact(ctx context.Context, cli client.Client, ops []libovsdb.Operation) error {
	if len(ops) == 0 {
		return nil
	}
	sent := time.Now()
	_, err := ovsdb.Transact(ctx, cli, ops...)
	h.c.cfg.Metrics.transaction(txChassis, time.Since(sent))
	if err != nil {
		return fmt.Errorf("reconcile: %s: %w", h.chassis.Name, err)
	}
	return nil
}

// write is transact for a pass: the pass checked ownership at its start
// (owned), and the lock can be lost since, when another replica may be
// writing the same rows. OpenFlow writes are fenced by the role
// generation; the OVSDB has no such fence, so each write checks again
// (Ownership.Owns is local).
func (h *chassisDevice) write(ctx context.Context, cli client.Client, ops []libovsdb.Operation) error {
	if len(ops) == 0 {
		return nil
	}
	if _, mine := h.c.owns(chassisDeviceName(h.chassis.Name)); !mine {
		return errNotOwned
	}
	return h.transact(ctx, cli, ops)
}

// identify claims the chassis' device (identity.go). When another
// registration holds it, the chassis holds back: it reports no VIFs (they
// are the other's), writes nothing, and shows the conflict.
func (h *chassisDevice) identify(ch model.Chassis, obs hypervisor.Observed) error {
	var ids []string
	if obs.Root != "" {
		ids = append(ids, "ovs:"+obs.Root)
	}
	if obs.Bridge != nil && obs.Bridge.DatapathID != "" {
		ids = append(ids, "dpid:"+obs.Bridge.DatapathID)
	}
	msg := h.c.claimDevice(h.l.log, holder{kind: kindChassis, name: ch.Name, rank: cmp.Or(ch.Created, ch.Generation)}, ids...)
	h.mu.Lock()
	h.st.Conflict = msg
	hadVIFs := msg != "" && len(h.lastVIFs) > 0
	if msg != "" {
		// Nothing of the device is this registration's: not its VIFs,
		// tunnels or bridge (whose datapath ID readers such as the
		// spoofed-frame counter would read twice).
		h.lastVIFs, h.tunnels, h.observed = nil, nil, true
		h.st.DatapathID = ""
	}
	h.mu.Unlock()
	if msg == "" {
		return nil
	}
	if hadVIFs {
		h.c.vifsVer.Add(1)
	}
	h.l.setObserved() // a held-back chassis must not delay the others' start
	h.forgetBridge()
	h.setConnected(true, false)
	h.count("skipped")
	return waiting{msg}
}

// owned reports whether this replica drives the chassis. When another
// one does, the chassis is observed only: its VIFs count, nothing is
// written, and what this replica knew of the bridge is dropped so that a
// take-over starts with a dump (which, when nothing changed meanwhile,
// makes the new owner's first pass send nothing).
func (h *chassisDevice) owned(ctx context.Context, ch model.Chassis, obs hypervisor.Observed) bool {
	device := chassisDeviceName(ch.Name)
	if _, mine := h.c.owns(device); mine {
		return true
	}
	// The bridge dials every replica: bind its connection here too, or
	// the listener would close it as unclaimed, and the take-over would
	// wait for the bridge to dial again.
	var sess Session
	if obs.Bridge != nil {
		if dpid, ok := hypervisor.ParseDatapathID(obs.Bridge.DatapathID); ok {
			sess = h.c.cfg.Switches.Session(dpid, h.peers(ch, obs.SystemID).authorize)
		}
	}
	// A new connection is an equal controller, which may write: make it a
	// slave. A refusal (a generation older than the bridge has seen) is
	// harmless: this replica sends the bridge nothing anyway.
	if r, ok := sess.(Roles); ok && r.Role().Role != openflow.RoleSlave {
		if _, _, err := r.RequestRole(ctx, openflow.RoleSlave, h.c.cfg.Ownership.Owner(device).Epoch); err != nil {
			h.l.log.Debug("openflow: slave role refused", "err", err)
		}
	}
	h.forgetBridge()
	h.rz.failed()
	h.setConnected(true, sess != nil)
	h.count("skipped")
	return false
}

// versioned is what a Session tells of its OpenFlow version when it can
// (the real one; test doubles need not).
type versioned interface{ Version() uint8 }

// closer ends a Session so that the bridge connects again.
type closer interface{ Close() }

// checkVersion records the version the bridge's session speaks and holds
// the pass back where the chassis' openflow option forbids it: "1.5" on a
// session that negotiated 1.3. ferry has written OpenFlow15 into the
// bridge's protocols by then (CreateOps), but a session negotiated before
// that stays 1.3, so it is closed and the bridge reconnects at 1.5; a
// bridge that still speaks 1.3 with 1.5 allowed is an Open vSwitch without
// working 1.5, and the status says to use auto or 1.3.
func (h *chassisDevice) checkVersion(ctx context.Context, cli client.Client, sess Session, ch model.Chassis, obs hypervisor.Observed, in realize.BridgeInputs) error {
	v, ok := sess.(versioned)
	if !ok {
		return nil
	}
	ver := openflow.VersionName(v.Version())
	h.mu.Lock()
	h.st.OpenFlowVersion = ver
	h.mu.Unlock()
	if v.Version() != openflow.Version13 {
		h.reopened = 0 // the budget is per spell of 1.3 sessions
		return nil
	}
	if ch.OpenFlow != model.OpenFlow15 {
		return nil
	}
	if !slices.Contains(obs.Bridge.Protocols, "OpenFlow15") {
		if err := h.write(ctx, cli, hypervisor.CreateOps(obs.Root, obs.Bridge, h.scratchConfig(in))); err != nil {
			return err
		}
		h.lastObs = nil
	} else if c, ok := sess.(closer); ok && h.reopened < maxReopen {
		h.reopened++
		c.Close()
	}
	h.forgetBridge()
	return waiting{fmt.Sprintf("openflow: bridge %s speaks OpenFlow 1.3 but the chassis' openflow option is 1.5; "+
		"if its Open vSwitch lacks OpenFlow 1.5, set openflow to auto or 1.3", ch.Bridge)}
}

// maxReopen bounds how often checkVersion closes a 1.3 session of a chassis
// whose option is 1.5, so that a bridge that can only speak 1.3 is not
// made to reconnect forever.
const maxReopen = 3

// master makes this replica the bridge's master controller at the epoch
// of its ownership, so that the bridge refuses the flows of any replica
// that owned it before. With one ferryd (no Ownership) roles stay as OVS
// starts them: equal.
func (h *chassisDevice) master(ctx context.Context, sess Session, ch model.Chassis) error {
	if h.c.cfg.Ownership == nil {
		return nil
	}
	r, ok := sess.(Roles)
	if !ok {
		return nil
	}
	epoch, mine := h.c.owns(chassisDeviceName(ch.Name))
	if !mine {
		return waiting{"no longer owned by this replica"}
	}
	if st := r.Role(); st.Role == openflow.RoleMaster && st.Generation == epoch {
		return nil
	}
	_, _, err := r.RequestRole(ctx, openflow.RoleMaster, epoch)
	switch {
	case err == nil:
		h.l.log.Info("openflow: master of the bridge", "bridge", ch.Bridge, "generation", epoch)
		return nil
	case errors.Is(err, openflow.ErrStale):
		// Another replica became master with a newer epoch: this one's
		// ownership is over, whatever its lock client still believes.
		h.brMu.Lock()
		h.br = nil
		h.brMu.Unlock()
		return waiting{fmt.Sprintf("openflow: bridge %s refused master role at generation %d: a newer owner took it", ch.Bridge, epoch)}
	case errors.Is(err, openflow.ErrRoleUnsupported):
		h.l.log.Warn("openflow: the bridge does not do controller roles; replicas are fenced by their locks only", "bridge", ch.Bridge)
		return nil
	}
	return fmt.Errorf("reconcile: %s: master role: %w", ch.Name, err)
}

// countFlows counts ferry's flows on the bridge against what ferry
// installed, and reports whether they differ (the pass must then dump the
// bridge, which finds and repairs the drift). Flows of other cookies are
// reported when their number changes, and never touched.
func (h *chassisDevice) countFlows(ctx context.Context, sess Session, ch model.Chassis) (bool, error) {
	fc, ok := sess.(FlowCounter)
	if !ok {
		return false, nil
	}
	ours, err := fc.CountFlows(ctx, openflow.CookieMarker, openflow.CookieMarkerMask)
	if err != nil {
		return false, fmt.Errorf("reconcile: %s: counting flows: %w", ch.Name, err)
	}
	all, err := fc.CountFlows(ctx, 0, 0)
	if err != nil {
		return false, fmt.Errorf("reconcile: %s: counting flows: %w", ch.Name, err)
	}
	foreign := ""
	if n := int(all) - int(ours); n > 0 {
		foreign = fmt.Sprintf("%d flows without ferry's cookie on bridge %s (left in place)", n, ch.Bridge)
	}
	if foreign != h.lastForeign {
		h.lastForeign = foreign
		if foreign != "" {
			h.c.cfg.Events.Add(events.Event{Device: chassisDeviceName(ch.Name), Kind: events.KindForeignFlows, What: foreign})
			h.l.log.Warn("drift: flows of someone else in ferry's bridge", "what", foreign)
		}
	}
	return int(ours) != h.br.Flows(), nil
}

// rowNames maps the UUIDs of a bridge's ports and interfaces to their
// names, for describing drift.
func rowNames(br *hypervisor.Bridge) map[string]string {
	names := map[string]string{}
	if br == nil {
		return names
	}
	names[br.UUID] = br.Name
	for _, p := range br.Ports {
		names[p.UUID] = p.Name
		for _, i := range p.Interfaces {
			names[i.UUID] = i.Name
		}
	}
	return names
}

// describeOps says in a line what a drift repair would write: per
// operation, the row (by name) and the columns it sets.
func describeOps(ops []libovsdb.Operation, names map[string]string) string {
	return strings.Join(describeEach(ops, names), "; ")
}

// describeEach says in a line per operation what it does, naming the rows
// it touches (names: row UUID → name, for the updates' conditions).
func describeEach(ops []libovsdb.Operation, names map[string]string) []string {
	parts := make([]string, 0, len(ops))
	for _, op := range ops {
		what := op.Op + " " + op.Table
		if name, ok := op.Row["name"].(string); ok {
			what += " " + name
		}
		for _, c := range op.Where {
			if u, ok := c.Value.(libovsdb.UUID); ok && names[u.GoUUID] != "" {
				what += " " + names[u.GoUUID]
			}
		}
		for _, m := range op.Mutations {
			what += " (" + m.Column + " " + string(m.Mutator) + ")"
		}
		for _, col := range slices.Sorted(maps.Keys(op.Row)) {
			if col != "name" {
				what += " " + col
			}
		}
		parts = append(parts, what)
	}
	return parts
}

// describeFlows says in a line what a drift repair would send a bridge.
func describeFlows(p realize.FlowPlan) string {
	if p.Empty() {
		return ""
	}
	return fmt.Sprintf("%d flows missing or changed, %d unwanted; %d groups missing, %d changed, %d unwanted",
		len(p.AddFlows), len(p.DeleteFlows), len(p.AddGroups), len(p.ModifyGroups), len(p.DeleteGroups))
}

var errNoRoot = errors.New("reconcile: the Open_vSwitch table is empty (run ovs-vsctl init)")

// pass is one level-triggered reconciliation of the chassis: observe, then
// plan the switches that changed since the last pass (all of them when
// full), then OVSDB creates, one bundle, OVSDB deletes.
func (h *chassisDevice) pass(ctx context.Context, dev Device, full bool) error {
	// The newest estate: a chassis registered a moment ago must find
	// itself in it.
	e := h.c.refresh()
	ch, ok := e.Chassis(h.chassis.Name)
	if !ok {
		return nil // being removed; the supervisor stops us
	}
	cli := dev.Client()
	if cli == nil {
		h.setConnected(false, false)
		h.forgetBridge()
		h.lastObs = nil
		h.count("skipped")
		return notConnected(ch.OVSDB, dev, "external_ids:system-id "+ch.Name)
	}
	start := time.Now()
	obs, err := h.observe(ctx, cli, ch.Bridge, full)
	if err != nil {
		return err
	}
	if err := h.identify(ch, obs); err != nil {
		return err
	}
	h.mu.Lock()
	vifsChanged := !h.observed || !slices.EqualFunc(h.lastVIFs, obs.VIFs, sameVIF)
	bfdChanged := !maps.Equal(h.tunnels, obs.Tunnels)
	h.lastVIFs = obs.VIFs
	h.tunnels = obs.Tunnels
	h.observed = true
	h.mu.Unlock()
	h.l.setObserved()
	up, down, unknown := h.tunnelCounts()
	h.c.cfg.Metrics.SetTunnels(ch.Name, up, down, unknown)
	if bfdChanged {
		h.c.updatePaths()
	}
	if vifsChanged {
		// Other chassis tunnel to this one's VIFs: the new estate wakes
		// those that carry the switches concerned.
		h.c.vifsVer.Add(1)
	}
	if ok, left := h.c.ready(); !ok {
		return errWarming{left}
	}
	if obs.Root == "" {
		h.setConnected(true, false)
		return errNoRoot
	}
	if !h.owned(ctx, ch, obs) {
		return nil
	}
	e = h.c.refresh()
	if ch, ok = e.Chassis(h.chassis.Name); !ok {
		return nil
	}
	tunnelPorts, used := hypervisor.TunnelOFPorts(obs.Bridge)
	in := realize.BridgeInputs{Estate: e, Chassis: ch, Controller: h.c.cfg.Advertise, PeerControllers: h.c.peerControllers(),
		TunnelOFPorts: tunnelPorts, UsedOFPorts: used}

	if obs.Bridge == nil {
		// The bridge is new: its datapath ID and OpenFlow connection come
		// with the next cache event.
		if err := h.write(ctx, cli, hypervisor.CreateOps(obs.Root, nil, h.scratchConfig(in))); err != nil {
			return err
		}
		h.setConnected(true, false)
		h.count("changed")
		return nil
	}
	dpid, ok := hypervisor.ParseDatapathID(obs.Bridge.DatapathID)
	h.mu.Lock()
	h.st.DatapathID = obs.Bridge.DatapathID
	h.mu.Unlock()
	var sess Session
	if ok {
		sess = h.c.cfg.Switches.Session(dpid, h.peers(ch, obs.SystemID).authorize)
	}
	if sess == nil {
		// Bring the bridge's settings, controller and tunnels in line:
		// the controller row is what makes the bridge dial ferry.
		if err := h.write(ctx, cli, hypervisor.CreateOps(obs.Root, obs.Bridge, h.scratchConfig(in))); err != nil {
			return err
		}
		h.setConnected(true, false)
		h.forgetBridge()
		h.count("skipped")
		msg := fmt.Sprintf("openflow: bridge %s (datapath %s) has not connected to %s", ch.Bridge, obs.Bridge.DatapathID, h.c.cfg.Advertise)
		if r, refused := h.c.cfg.Switches.Refused(dpid); refused && ok {
			msg += fmt.Sprintf("; last connection claiming it refused (%s): %s", r.Reason, r.Detail)
		}
		return waiting{msg}
	}
	h.setConnected(true, true)
	if err := h.checkVersion(ctx, cli, sess, ch, obs, in); err != nil {
		return err
	}
	if err := h.master(ctx, sess, ch); err != nil {
		return err
	}
	// A from-scratch pass reads the tables again: what ferry recorded
	// can have diverged from the bridge (a flow deleted by hand, a flow
	// OVS removed with a group), and the dump's flows that are still
	// wanted are claimed, so the pass sends only the difference.
	if h.checkFlows.Swap(false) && sess == h.session && h.br != nil && !full {
		var err error
		if full, err = h.countFlows(ctx, sess, ch); err != nil {
			return err
		}
	}
	if sess != h.session || h.br == nil || full {
		br, err := dumpBridge(ctx, sess)
		if err != nil {
			return err
		}
		h.brMu.Lock()
		h.br, h.session, full = br, sess, true
		h.brMu.Unlock()
	}
	dirty, ok := e.ChangedSince(h.seen)
	in.Full, in.Dirty = full || !ok, dirty
	plan := h.br.Plan(in)

	createOps := hypervisor.CreateOps(obs.Root, obs.Bridge, plan.Config)
	// Nothing that concerns the bridge changed since it was last in
	// step, yet there is something to write: someone else changed
	// ferry's state on it. (Changes elsewhere in the estate move its
	// sequence without a pass here, so "the same estate" is too narrow.)
	unchanged := h.seen != 0 && ok && !h.rz.concerned(dirty, func(sw string) bool {
		sv := e.Switches[sw]
		return sv != nil && sv.Carries(ch.Name)
	})
	device := chassisDeviceName(ch.Name)
	var ovsDrift, flowDrift string
	if unchanged {
		ovsDrift = describeOps(append(slices.Clone(createOps), hypervisor.DeleteOps(obs.Bridge, plan.Config)...), rowNames(obs.Bridge))
		flowDrift = describeFlows(plan.Flows)
	}
	repairOVS := h.c.drifted(h.l.log, device, events.KindOVSDB, ovsDrift, &h.lastDrift)
	repairFlows := h.c.drifted(h.l.log, device, events.KindFlows, flowDrift, &h.lastFlowDrift)
	if !repairOVS || !repairFlows {
		h.count("skipped")
		return nil
	}
	if len(createOps) > 0 {
		// Until the cache shows this transaction's rows, the next pass
		// must read the cache again rather than trust the last reading.
		h.lastObs = nil
	}
	if err := h.write(ctx, cli, createOps); err != nil {
		return err
	}
	changed := len(createOps) > 0
	if !plan.Flows.Empty() {
		committing := time.Now()
		err := sess.Commit(ctx, plan.Flows)
		h.c.cfg.Metrics.bundle(time.Since(committing), plan.Flows.FlowMods(), err == nil)
		if err != nil {
			h.forgetBridge() // unknown state: dump again next pass
			return fmt.Errorf("reconcile: %s: bundle: %w", ch.Name, err)
		}
		changed = true
	}
	// The flows are on the bridge now, whatever happens to the deletes.
	h.brMu.Lock()
	h.br.Commit(plan)
	h.brMu.Unlock()
	deleteOps := hypervisor.DeleteOps(obs.Bridge, plan.Config)
	published := len(deleteOps) == 0
	if published {
		// Nothing left to remove: the bridge forwards as desired, and
		// recording the generation on it is bookkeeping that need not
		// delay the switches' realization.
		h.inStep(e)
		h.publish(e, plan)
	}
	if changed {
		h.genStale = true
	}
	if len(deleteOps) > 0 || h.genStale && h.mayWriteGeneration() {
		deleteOps = append(deleteOps, hypervisor.GenerationOps(obs.Bridge, e.Snapshot.Generation)...)
		h.genStale, h.genWritten = false, time.Now()
	}
	if len(deleteOps) > 0 {
		h.lastObs = nil
	}
	if err := h.write(ctx, cli, deleteOps); err != nil {
		return err
	}
	changed = changed || len(deleteOps) > 0
	if !published {
		h.inStep(e)
		h.publish(e, plan)
	}
	if m := h.c.cfg.Metrics; m != nil {
		m.passDuration.Observe(time.Since(start).Seconds())
		m.flows.WithLabelValues(ch.Name, plan.Config.Bridge).Set(float64(h.br.Flows()))
		m.groups.WithLabelValues(ch.Name, plan.Config.Bridge).Set(float64(h.br.Groups()))
	}
	if changed {
		h.count("changed")
		h.l.log.Debug("pass committed", "generation", e.Snapshot.Generation, "switches", len(plan.Recomputed),
			"flow_mods", plan.Flows.FlowMods(), "ovsdb_ops", len(createOps)+len(deleteOps), "took", time.Since(start))
	} else {
		h.count("noop")
	}
	// An estate built during the pass may concern this chassis: its
	// change already kicked the loop, or holds nothing for it; either
	// way the next pass is cheap.
	if latest := h.c.estate(); latest.Seq > e.Seq {
		h.l.trigger()
	}
	return nil
}

// generationEvery bounds how often a pass writes ferry/generation on the
// bridge.
const generationEvery = time.Second

// mayWriteGeneration reports whether the bridge's generation may be written
// now; if not, it arranges a pass for when it may.
func (h *chassisDevice) mayWriteGeneration() bool {
	wait := generationEvery - time.Since(h.genWritten)
	if wait <= 0 {
		return true
	}
	if h.genTimer.CompareAndSwap(false, true) {
		time.AfterFunc(wait, func() {
			h.genTimer.Store(false)
			h.l.trigger()
		})
	}
	return false
}

// scratchConfig computes the bridge configuration (tunnels) from scratch,
// for passes that cannot reach the OpenFlow side yet.
func (h *chassisDevice) scratchConfig(in realize.BridgeInputs) hypervisor.Config {
	in.Full = true
	return realize.NewBridge(nil, nil).Plan(in).Config
}

// publish makes a committed pass visible: per-switch realization, counts,
// generation.
func (h *chassisDevice) publish(e *realize.Estate, plan *realize.BridgePlan) {
	h.rz.passed(e, plan.Full, plan.Recomputed, func(name string) (committed, bool) {
		v, g, ok := h.br.Realized(name)
		return committed{version: v, generation: g}, ok
	})
	h.mu.Lock()
	h.st.Flows = h.br.Flows()
	h.st.Groups = h.br.Groups()
	h.mu.Unlock()
	h.c.deviceRealized(chassisDeviceName(h.chassis.Name), h.chassis.Name, e.Snapshot.Generation)
}

func dumpBridge(ctx context.Context, sess Session) (*realize.Bridge, error) {
	flows, err := sess.DumpFlows(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile: dump flows: %w", err)
	}
	groups, err := sess.DumpGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile: dump groups: %w", err)
	}
	return realize.NewBridge(flows, groups), nil
}

func sameVIF(a, b hypervisor.VIF) bool {
	return a.Name == b.Name && a.IfaceID == b.IfaceID && a.OFPort == b.OFPort &&
		a.Active == b.Active && a.Network == b.Network && slices.Equal(a.MAC, b.MAC)
}

// forgetBridge drops the installed set: the next pass dumps again.
func (h *chassisDevice) forgetBridge() {
	h.brMu.Lock()
	h.br, h.session = nil, nil
	h.brMu.Unlock()
}

// inStep records that the bridge is in step with e.
func (h *chassisDevice) inStep(e *realize.Estate) {
	h.brMu.Lock()
	h.seen = e.Seq
	h.brMu.Unlock()
}

// releaseTimeout bounds the clean-up of a deleted chassis.
const releaseTimeout = 10 * time.Second

// release removes what ferry put on a chassis that was deleted through the
// API: its flows and groups, its tunnel ports and its controller. The
// bridge itself stays (VIFs hang off it), in fail_mode secure: without a
// controller and flows it forwards nothing, which is what "no longer
// managed by ferry" means. A disconnected chassis keeps its state; the log
// says so.
func (h *chassisDevice) release(dev Device) {
	if !h.c.claims.holds(kindChassis, h.chassis.Name) {
		// A registration held back as a duplicate never drove the
		// device: what is there is the other registration's.
		h.l.log.Info("deleted chassis did not hold its device: leaving it as it is")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	cli := dev.Client()
	if cli == nil {
		h.l.log.Warn("deleted chassis is not connected: its flows and tunnel ports stay until removed by hand")
		return
	}
	obs, err := hypervisor.Observe(ctx, cli.Cache(), h.chassis.Bridge)
	if err != nil || obs.Bridge == nil {
		return
	}
	if dpid, ok := hypervisor.ParseDatapathID(obs.Bridge.DatapathID); ok {
		if sess := h.c.cfg.Switches.Session(dpid, h.peers(h.chassis, obs.SystemID).authorize); sess != nil {
			flows, err := sess.DumpFlows(ctx)
			var groups []openflow.GroupEntry
			if err == nil {
				groups, err = sess.DumpGroups(ctx)
			}
			if err == nil {
				if plan := realize.ReleasePlan(flows, groups); !plan.Empty() {
					err = sess.Commit(ctx, plan)
				}
			}
			if err != nil {
				h.l.log.Warn("releasing deleted chassis: flows", "err", err)
			}
		}
	}
	ops := append(hypervisor.DeleteOps(obs.Bridge, hypervisor.Config{}), hypervisor.ReleaseControllerOps(obs.Bridge)...)
	if err := h.transact(ctx, cli, ops); err != nil {
		h.l.log.Warn("releasing deleted chassis: OVSDB", "err", err)
		return
	}
	h.l.log.Info("released deleted chassis")
}
