package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/internal/trace"
	"github.com/ferry-sdn/ferry/openflow"
	"github.com/ferry-sdn/ferry/vtep"
)

// Appctl runs ovs-appctl against one unixctl target with args and returns
// what it printed. The default (RunAppctl) execs ovs-appctl.
type Appctl func(ctx context.Context, target string, args ...string) (string, error)

// RunAppctl execs ovs-appctl -t target. A target that is a directory is
// the daemon's OVS_RUNDIR: ovs-appctl finds ovs-vswitchd's socket there
// through its pidfile.
func RunAppctl(ctx context.Context, target string, args ...string) (string, error) {
	t, env := target, os.Environ()
	if fi, err := os.Stat(target); err == nil && fi.IsDir() {
		t, env = "ovs-vswitchd", append(env, "OVS_RUNDIR="+target)
	}
	cmd := exec.CommandContext(ctx, "ovs-appctl", append([]string{"--timeout=5", "-t", t}, args...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("reconcile: ovs-appctl -t %s: %v: %s", target, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// traceTimeout bounds one device's part of a trace.
const traceTimeout = 10 * time.Second

// Trace answers a packet trace (GET/POST /v1/trace): the logical view from
// the current estate, then, hop by hop, the real view — ofproto/trace over
// the chassis' unixctl socket when Config.Appctl names one, otherwise a
// simulation on the flows the bridge has installed (those of ferry's whose
// content ferry knows, and the groups as dumped); for a VTEP, its observed
// tables — and where the two disagree. It changes nothing on any device.
// It implements rest.Tracer.
func (c *Controller) Trace(ctx context.Context, q model.TraceQuery) (model.Trace, error) {
	e := c.estate()
	if e == nil {
		return model.Trace{}, errors.New("reconcile: no estate yet")
	}
	obs := make(map[string]*hypervisor.Observed)
	observe := func(name string) *hypervisor.Observed {
		if o, ok := obs[name]; ok {
			return o
		}
		var o *hypervisor.Observed
		if h := c.loop(name); h != nil {
			if dev := h.l.dev.Load(); dev != nil && (*dev).Client() != nil {
				ch, _ := e.Chassis(name)
				rctx, cancel := context.WithTimeout(ctx, cacheReadTimeout)
				if got, err := hypervisor.Observe(rctx, (*dev).Client().Cache(), ch.Bridge); err == nil && got.Bridge != nil {
					o = &got
				}
				cancel()
			}
		}
		obs[name] = o
		return o
	}
	ports := func(chassis, tunnel string) uint32 {
		if o := observe(chassis); o != nil {
			t, _ := hypervisor.TunnelOFPorts(o.Bridge)
			return uint32(t[tunnel])
		}
		return 0
	}
	tr, err := trace.Logical(e, &q, ports)
	if err != nil {
		return model.Trace{}, err
	}
	tr.Real.Hops = make([]model.TraceHop, 0, len(tr.Logical.Hops))
	for i, lh := range tr.Logical.Hops {
		var rh model.TraceHop
		switch {
		case lh.Device == "":
			rh = lh
			rh.Source = "logical"
		case lh.Kind == "gateway":
			rh = c.traceGateway(ctx, lh, q, tr.VNI)
		default:
			p := trace.PacketOf(q, lh.InOFPort)
			if i > 0 {
				p.HasTunID, p.TunID = true, uint64(tr.VNI)
			}
			rh = c.traceChassis(ctx, e, lh, p, observe(lh.Device), q.Switch)
		}
		tr.Real.Hops = append(tr.Real.Hops, rh)
	}
	tr.Real.Verdict = tr.Real.Hops[0].Verdict
	tr.Disagreements = trace.Compare(tr.Logical, tr.Real)
	return tr, nil
}

// unavailable is a real hop ferry could not see.
func unavailable(lh model.TraceHop, why string) model.TraceHop {
	return model.TraceHop{Device: lh.Device, Kind: lh.Kind, Bridge: lh.Bridge, InPort: lh.InPort, InOFPort: lh.InOFPort,
		Source: "unavailable", Note: why, Outputs: []model.TraceOutput{}}
}

// traceChassis is the real view of one chassis hop.
func (c *Controller) traceChassis(ctx context.Context, e *realize.Estate, lh model.TraceHop, p trace.Packet, o *hypervisor.Observed, sw string) model.TraceHop {
	if o == nil {
		return unavailable(lh, "the chassis' database is not connected or its bridge does not exist")
	}
	if p.InPort == 0 {
		return unavailable(lh, "the ingress port "+lh.InPort+" has no OpenFlow number on the bridge")
	}
	ctx, cancel := context.WithTimeout(ctx, traceTimeout)
	defer cancel()
	ch, _ := e.Chassis(lh.Device)
	names := portNames(e, ch, o, sw)
	if target := c.cfg.Appctl[lh.Device]; target != "" {
		run := c.cfg.RunAppctl
		if run == nil {
			run = RunAppctl
		}
		text, err := run(ctx, target, "ofproto/trace", lh.Bridge, p.String())
		if err != nil {
			return unavailable(lh, err.Error())
		}
		h := trace.RealHop(lh, trace.ParseOFProtoTrace(lh.Bridge, text), names, "ofproto/trace")
		h.Steps = append([]string{"ovs-appctl ofproto/trace " + lh.Bridge + " " + p.String()}, h.Steps...)
		return h
	}
	// Simulate on what is installed: dumped flows whose content ferry
	// knows (a ferry cookie is the hash of the flow's text, so the flows
	// the estate wants are recognised in the dump; others are counted).
	var sess Session
	dpid, ok := uint64(0), false
	if l := c.loop(lh.Device); l != nil {
		l.mu.Lock()
		dpid, ok = hypervisor.ParseDatapathID(l.st.DatapathID)
		l.mu.Unlock()
	}
	if ok && c.cfg.Switches != nil {
		sess = c.cfg.Switches.Bound(dpid)
	}
	if sess == nil {
		return unavailable(lh, "no OpenFlow session with the bridge, and no unixctl socket configured (--trace-appctl)")
	}
	refs, err := sess.DumpFlows(ctx)
	if err != nil {
		return unavailable(lh, "dumping flows: "+err.Error())
	}
	groups, err := sess.DumpGroups(ctx)
	if err != nil {
		return unavailable(lh, "dumping groups: "+err.Error())
	}
	tunnels, used := hypervisor.TunnelOFPorts(o.Bridge)
	plan := realize.NewBridge(nil, nil).Plan(realize.BridgeInputs{Estate: e, Chassis: ch, Controller: c.cfg.Advertise,
		PeerControllers: c.peerControllers(), Full: true, TunnelOFPorts: tunnels, UsedOFPorts: used})
	known := make(map[openflow.FlowRef]openflow.Flow, len(plan.Flows.AddFlows))
	for _, f := range plan.Flows.AddFlows {
		known[f.Ref()] = f
	}
	var flows []openflow.Flow
	unknown := 0
	for _, r := range refs {
		if f, ok := known[r]; ok {
			flows = append(flows, f)
		} else {
			unknown++
		}
	}
	h := trace.RealHop(lh, trace.Simulate(flows, groups, p), names, "simulated")
	note := fmt.Sprintf("simulated on %d installed flows of ferry's and %d groups", len(flows), len(groups))
	if missing := len(known) - len(flows); missing > 0 {
		note += fmt.Sprintf("; %d desired flows are missing from the bridge", missing)
	}
	if unknown > 0 {
		note += fmt.Sprintf("; %d installed flows of ferry's are not desired and not simulated", unknown)
	}
	h.Steps = append([]string{note}, h.Steps...)
	return h
}

// portNames names a bridge's OpenFlow ports the way the logical view
// does: VIFs by interface (and logical port), tunnels by name and far end.
func portNames(e *realize.Estate, ch model.Chassis, o *hypervisor.Observed, sw string) map[uint32]model.TraceOutput {
	out := make(map[uint32]model.TraceOutput)
	for _, v := range o.VIFs {
		if v.OFPort > 0 {
			out[uint32(v.OFPort)] = model.TraceOutput{Kind: "vif", Port: v.Name}
		}
	}
	if sv := e.Switches[sw]; sv != nil {
		for name, bd := range sv.Bound {
			if bd.Chassis == ch.Name {
				out[bd.OFPort] = model.TraceOutput{Kind: "vif", Port: bd.Interface, LogicalPort: name}
			}
		}
	}
	byName := make(map[string]model.TraceOutput)
	var vni uint32
	if sv := e.Switches[sw]; sv != nil {
		vni = sv.VNI
	}
	for _, tn := range e.SwitchTunnels(sw, ch) {
		byName[tn.Name] = model.TraceOutput{Kind: "tunnel", Port: tn.Name, Remote: tn.Remote, RemoteIP: tn.RemoteIP, Encap: tn.Type, VNI: vni}
	}
	tunnels, _ := hypervisor.TunnelOFPorts(o.Bridge)
	for name, p := range tunnels {
		t, ok := byName[name]
		if !ok {
			t = model.TraceOutput{Kind: "tunnel", Port: name}
		}
		out[uint32(p)] = t
	}
	return out
}

// traceGateway is the real view of the VTEP hop: its observed tables.
func (c *Controller) traceGateway(ctx context.Context, lh model.TraceHop, q model.TraceQuery, vni uint32) model.TraceHop {
	g := c.gateway(lh.Device)
	if g == nil {
		return unavailable(lh, "no loop for the gateway yet")
	}
	dev := g.l.dev.Load()
	if dev == nil || (*dev).Client() == nil {
		return unavailable(lh, "the gateway's database is not connected")
	}
	rctx, cancel := context.WithTimeout(ctx, cacheReadTimeout)
	defer cancel()
	obs, err := vtep.Observe(rctx, (*dev).Client().Cache())
	if err != nil {
		return unavailable(lh, "reading the VTEP: "+err.Error())
	}
	path := obs.Path(vni, q.DstMAC.String(), q.SrcMAC.String())
	h := model.TraceHop{Device: lh.Device, Kind: lh.Kind, InPort: lh.InPort, Source: "observed", Outputs: []model.TraceOutput{}}
	if path.LogicalSwitch == "" {
		h.Verdict, h.Reason = model.TraceDrop, fmt.Sprintf("no Logical_Switch with tunnel_key %d", vni)
		return h
	}
	h.Steps = append(h.Steps, fmt.Sprintf("Logical_Switch %s has tunnel_key %d", path.LogicalSwitch, vni))
	for _, b := range path.Bindings {
		vlan := b.VLAN
		h.Outputs = append(h.Outputs, model.TraceOutput{Kind: "physical", Port: b.Port, VLAN: &vlan})
		h.Steps = append(h.Steps, fmt.Sprintf("Physical_Port %s vlan_bindings %d → %s", b.Port, b.VLAN, path.LogicalSwitch))
	}
	switch {
	case len(h.Outputs) == 0:
		h.Verdict, h.Reason = model.TraceDrop, "no Physical_Port binds the logical switch"
	case path.Learned:
		h.Verdict = model.TraceUnicast
		h.Steps = append(h.Steps, "Ucast_Macs_Local has "+q.DstMAC.String())
	default:
		h.Verdict = model.TraceFlood
		h.Steps = append(h.Steps, "Ucast_Macs_Local lacks "+q.DstMAC.String()+": the VTEP floods it to its bindings")
	}
	if !path.ReturnPath {
		h.Note = "Ucast_Macs_Remote lacks the source MAC " + q.SrcMAC.String() + ": replies are flooded"
	}
	return h
}
