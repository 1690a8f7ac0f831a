package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/vtep"
)

// Plan computes what every device would be sent if the northbound state
// were snap (a dry run's trial snapshot): the estate after the current one
// for snap, then per device the pass a loop would make — the same
// Bridge.Plan against the bridge's installed set and the same
// hypervisor/vtep operations against the device's cache — without
// committing or recording anything. It implements rest.Planner.
func (c *Controller) Plan(ctx context.Context, snap *model.Snapshot) (model.Plan, error) {
	cur := c.estate()
	next, changed := realize.TrialEstate(cur, realize.EstateInputs{
		Snapshot: snap, VIFs: c.observedVIFs(), VIFsVersion: c.vifsVer.Load(), Gateways: c.gatewayViews(),
	})
	out := model.Plan{Generation: snap.Generation, Switches: changed, Devices: []model.DevicePlan{}}
	if out.Switches == nil {
		out.Switches = []string{}
	}
	add := func(d model.DevicePlan) {
		if d.Empty() && d.Note == "" {
			out.Unchanged++
			return
		}
		out.Devices = append(out.Devices, d)
	}

	c.mu.Lock()
	loops := make(map[string]*chassisDevice, len(c.loops))
	for name, h := range c.loops {
		loops[name] = h
	}
	gws := make(map[string]*gatewayDevice, len(c.gateways))
	for name, g := range c.gateways {
		gws[name] = g
	}
	c.mu.Unlock()

	for _, ch := range next.Snapshot.Chassis {
		d, err := c.planChassis(ctx, next, ch, loops[ch.Name])
		if err != nil {
			return model.Plan{}, err
		}
		add(d)
	}
	for name, h := range loops {
		if _, ok := next.Chassis(name); !ok {
			add(h.planRelease())
		}
	}
	for _, gw := range next.Snapshot.Gateways {
		d, err := c.planGateway(ctx, next, gw, gws[gw.Name])
		if err != nil {
			return model.Plan{}, err
		}
		add(d)
	}
	for name := range gws {
		if _, ok := next.Snapshot.GatewayByName(name); !ok {
			add(model.DevicePlan{Kind: "gateway", Name: name, Exact: true, OVSDB: []string{},
				Note: "deregistered: ferry stops driving it and leaves its rows in place (gateways.md)"})
		}
	}
	slices.SortFunc(out.Devices, func(a, b model.DevicePlan) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// planChassis plans one chassis' pass for the estate next.
func (c *Controller) planChassis(ctx context.Context, next *realize.Estate, ch model.Chassis, h *chassisDevice) (model.DevicePlan, error) {
	d := model.DevicePlan{Kind: "chassis", Name: ch.Name}
	in := realize.BridgeInputs{Estate: next, Chassis: ch, Controller: c.cfg.Advertise, PeerControllers: c.peerControllers(), Full: true}
	scratch := func(note string) (model.DevicePlan, error) {
		plan := realize.NewBridge(nil, nil).Plan(in)
		d.Note = note
		d.Recomputed = plan.Recomputed
		d.OVSDB = describeEach(hypervisor.CreateOps("", nil, plan.Config), nil)
		d.Flows = flowChanges(plan.Flows)
		return d, nil
	}
	if h == nil {
		return scratch("new chassis: ferry connects to " + ch.OVSDB + " and installs this from scratch")
	}
	if owner := c.ownerOf(chassisDeviceName(ch.Name)); owner != "" {
		if _, mine := c.owns(chassisDeviceName(ch.Name)); !mine {
			return scratch("owned by replica " + owner + ": this replica does not hold the bridge's flows; ask the owner for an exact plan")
		}
	}
	dev := h.l.dev.Load()
	if dev == nil || (*dev).Client() == nil {
		return scratch("not connected: this is what ferry installs from scratch once it is")
	}
	obs, err := hypervisor.Observe(ctx, (*dev).Client().Cache(), ch.Bridge)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return d, fmt.Errorf("reconcile: plan %s: %w", ch.Name, err)
	}
	if err != nil || obs.Bridge == nil {
		return scratch("bridge " + ch.Bridge + " not created yet: this is what ferry installs from scratch")
	}
	in.TunnelOFPorts, in.UsedOFPorts = hypervisor.TunnelOFPorts(obs.Bridge)

	h.brMu.RLock()
	defer h.brMu.RUnlock()
	if h.br == nil {
		in.Full = true
		d.Note = "the bridge's flows are not dumped yet (no OpenFlow session): this is what ferry installs from scratch"
		plan := realize.NewBridge(nil, nil).Plan(in)
		d.Recomputed, d.Flows = plan.Recomputed, flowChanges(plan.Flows)
		d.OVSDB = describeEach(hypervisor.CreateOps(obs.Root, obs.Bridge, plan.Config), rowNames(obs.Bridge))
		return d, nil
	}
	dirty, ok := next.ChangedSince(h.seen)
	in.Full, in.Dirty = !ok, dirty
	plan := h.br.Plan(in)
	d.Exact = true
	d.Recomputed, d.Flows = plan.Recomputed, flowChanges(plan.Flows)
	ops := append(hypervisor.CreateOps(obs.Root, obs.Bridge, plan.Config), hypervisor.DeleteOps(obs.Bridge, plan.Config)...)
	d.OVSDB = describeEach(ops, rowNames(obs.Bridge))
	return d, nil
}

// planRelease says what deleting a chassis does to it (see release).
func (h *chassisDevice) planRelease() model.DevicePlan {
	d := model.DevicePlan{Kind: "chassis", Name: h.chassis.Name, OVSDB: []string{}}
	h.brMu.RLock()
	br := h.br
	flows, groups := 0, 0
	if br != nil {
		flows, groups = br.Flows(), br.Groups()
	}
	h.brMu.RUnlock()
	d.Exact = br != nil
	d.Note = fmt.Sprintf("deleted: ferry removes its %d flows, %d groups, its tunnel ports and its controller; the bridge stays", flows, groups)
	if br == nil {
		d.Note = "deleted: ferry removes its flows, groups, tunnel ports and controller (not dumped here, so not counted); the bridge stays"
	}
	return d
}

// planGateway plans one gateway's pass for the estate next.
func (c *Controller) planGateway(ctx context.Context, next *realize.Estate, gw model.Gateway, g *gatewayDevice) (model.DevicePlan, error) {
	d := model.DevicePlan{Kind: "gateway", Name: gw.Name, OVSDB: []string{}}
	if g == nil {
		d.Note = "new gateway: ferry connects to " + gw.OVSDB + " and writes its switches' rows"
		return d, nil
	}
	dev := g.l.dev.Load()
	if dev == nil || (*dev).Client() == nil {
		d.Note = "not connected: its rows are written once it is"
		return d, nil
	}
	obs, err := vtep.Observe(ctx, (*dev).Client().Cache())
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return d, fmt.Errorf("reconcile: plan %s: %w", gw.Name, err)
	}
	if err != nil {
		d.Note = "cannot read the VTEP: " + err.Error()
		return d, nil
	}
	ops, err := vtep.Ops(obs, next.DesiredGateway(gw))
	if err != nil {
		d.Note = "the pass would not write: " + err.Error()
		return d, nil
	}
	d.Exact = true
	if owner := c.ownerOf(gatewayDeviceName(gw.Name)); owner != "" {
		if _, mine := c.owns(gatewayDeviceName(gw.Name)); !mine {
			d.Note = "owned by replica " + owner + ", which sends this"
		}
	}
	d.OVSDB = describeEach(ops, nil)
	return d, nil
}

// flowChanges renders a bundle in ovs-ofctl syntax.
func flowChanges(p realize.FlowPlan) *model.FlowChanges {
	fc := &model.FlowChanges{
		FlowMods:  p.FlowMods(),
		GroupMods: len(p.AddGroups) + len(p.ModifyGroups) + len(p.DeleteGroups),
		AddFlows:  make([]string, 0, len(p.AddFlows)), DeleteFlows: make([]string, 0, len(p.DeleteFlows)),
		AddGroups: make([]string, 0, len(p.AddGroups)), ModifyGroups: make([]string, 0, len(p.ModifyGroups)),
		DeleteGroups: make([]string, 0, len(p.DeleteGroups)),
	}
	for _, f := range p.AddFlows {
		fc.AddFlows = append(fc.AddFlows, f.String())
	}
	for _, r := range p.DeleteFlows {
		fc.DeleteFlows = append(fc.DeleteFlows, fmt.Sprintf("table=%d,cookie=%#x/-1", r.Table, r.Cookie))
	}
	for _, g := range p.AddGroups {
		fc.AddGroups = append(fc.AddGroups, g.String())
	}
	for _, g := range p.ModifyGroups {
		fc.ModifyGroups = append(fc.ModifyGroups, g.String())
	}
	for _, id := range p.DeleteGroups {
		fc.DeleteGroups = append(fc.DeleteGroups, fmt.Sprintf("group_id=%d", id))
	}
	return fc
}
