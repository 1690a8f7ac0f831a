package trace

import (
	"bytes"
	"fmt"
	"net"
	"slices"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/openflow"
)

// OFPorts resolves a tunnel port's OpenFlow number on a chassis (0 when
// not known): tunnels' numbers are allocated on the bridge, not in the
// northbound state.
type OFPorts func(chassis, tunnel string) uint32

// Logical computes the logical view of q's frame from the estate: what
// the desired state says happens to it. It fills q's defaults (the source
// MAC is the port's) and returns the trace without a real view. The errors
// wrap model.ErrTraceSwitch and model.ErrTracePort.
func Logical(e *realize.Estate, q *model.TraceQuery, ports OFPorts) (model.Trace, error) {
	sv := e.Switches[q.Switch]
	if sv == nil {
		return model.Trace{}, fmt.Errorf("trace: switch %q: %w", q.Switch, model.ErrTraceSwitch)
	}
	i := slices.IndexFunc(sv.Ports, func(p model.Port) bool { return p.Name == q.From })
	if i < 0 {
		return model.Trace{}, fmt.Errorf("trace: port %q of switch %q: %w", q.From, q.Switch, model.ErrTracePort)
	}
	port := sv.Ports[i]
	bd, bound := sv.Bound[port.Name]
	if q.SrcMAC == nil {
		q.SrcMAC = bd.MAC
		if q.SrcMAC == nil {
			q.SrcMAC = port.MAC
		}
	}
	q.EthType = ethType(*q)
	if !q.IPSrc.IsValid() && q.EthType != openflow.EthARP {
		// Port security checks the source address of IP: trace the
		// port's own unless told otherwise.
		for _, a := range port.IPs {
			if a.Is4() == (q.EthType == openflow.EthIPv4) {
				q.IPSrc = a
				break
			}
		}
	}
	t := model.Trace{Switch: sv.Name, From: port.Name, VNI: sv.VNI, Frame: PacketOf(*q, 0).frame(), Disagreements: []string{}}
	if !bound {
		t.Logical = model.TraceView{Verdict: model.TraceDrop, Hops: []model.TraceHop{{
			Kind: "chassis", Verdict: model.TraceDrop, Outputs: []model.TraceOutput{},
			Reason: "the port is not bound: no chassis has a VIF with its iface_id, so its frames go nowhere",
		}}}
		return t, nil
	}
	l := logical{e: e, sv: sv, q: q, ports: ports}
	self, _ := e.Chassis(bd.Chassis)
	hop := l.chassisHop(self, bd.Interface, bd.OFPort)
	if reason := portSecurity(port, bd, q); reason != "" {
		hop.Verdict, hop.Reason = model.TraceDrop, reason
		t.Logical = model.TraceView{Verdict: model.TraceDrop, Hops: []model.TraceHop{hop}}
		return t, nil
	}
	tunnels := l.tunnels(self)
	var next []model.TraceHop
	switch dst, where := l.lookup(self); {
	case where == "flood":
		hop.Verdict = model.TraceFlood
		hop.Outputs = l.localVIFs(self, port.Name)
		for _, tn := range tunnels {
			hop.Outputs = append(hop.Outputs, tunnelOutput(tn, sv.VNI))
			next = append(next, l.remoteHop(self, tn, nil))
		}
		if len(hop.Outputs) == 0 {
			hop.Verdict, hop.Reason = model.TraceDrop, "flooded, but the switch has no other port here and no remote endpoint"
		}
	case where == "local":
		hop.Verdict = model.TraceUnicast
		hop.Outputs = []model.TraceOutput{vifOutput(dst.name, dst.Binding)}
	default: // a remote chassis or a gateway, by name
		j := slices.IndexFunc(tunnels, func(tn hypervisor.Tunnel) bool { return tn.Remote == where })
		if j < 0 {
			// remoteMAC flows exist only towards a tunnel.
			hop.Verdict = model.TraceFlood
			hop.Reason = fmt.Sprintf("the destination is on %s, but this chassis has no tunnel to it (no common encapsulation or tunnel IP): the frame is flooded like an unknown MAC", where)
			hop.Outputs = l.localVIFs(self, port.Name)
			for _, tn := range tunnels {
				hop.Outputs = append(hop.Outputs, tunnelOutput(tn, sv.VNI))
			}
			break
		}
		out := tunnelOutput(tunnels[j], sv.VNI)
		out.LogicalPort = dst.name
		hop.Verdict, hop.Outputs = model.TraceUnicast, []model.TraceOutput{out}
		next = append(next, l.remoteHop(self, tunnels[j], &dst))
	}
	for i := range hop.Outputs {
		if hop.Outputs[i].Kind == "tunnel" {
			hop.Outputs[i].OFPort = ports(self.Name, hop.Outputs[i].Port)
		}
	}
	t.Logical = model.TraceView{Verdict: hop.Verdict, Hops: append([]model.TraceHop{hop}, next...)}
	return t, nil
}

type logical struct {
	e     *realize.Estate
	sv    *realize.SwitchView
	q     *model.TraceQuery
	ports OFPorts
}

// destination is where the L2 lookup found the destination MAC: a bound
// port (name and binding) or a gateway.
type destination struct {
	name string
	realize.Binding
}

func (l *logical) chassisHop(ch model.Chassis, inPort string, ofport uint32) model.TraceHop {
	br := ch.Bridge
	if br == "" {
		br = model.DefaultBridge
	}
	return model.TraceHop{Device: ch.Name, Kind: "chassis", Bridge: br, InPort: inPort, InOFPort: ofport, Outputs: []model.TraceOutput{}}
}

// tunnels are self's tunnels for the switch, as its desired state has
// them (the flood group's order).
func (l *logical) tunnels(self model.Chassis) []hypervisor.Tunnel {
	return l.e.SwitchTunnels(l.sv.Name, self)
}

// lookup is table 10 for a frame from a local VIF on self: "local" (dst
// is the port), "flood", or the name of the chassis or gateway behind
// which the destination MAC is.
func (l *logical) lookup(self model.Chassis) (destination, string) {
	mac := l.q.DstMAC
	if isGroupAddr(mac) {
		return destination{}, "flood"
	}
	for _, p := range l.sv.Ports {
		if bd, ok := l.sv.Bound[p.Name]; ok && bytes.Equal(bd.MAC, mac) {
			if bd.Chassis == self.Name {
				return destination{p.Name, bd}, "local"
			}
			return destination{p.Name, bd}, bd.Chassis
		}
	}
	for _, gv := range realize.SwitchGateways(l.sv.Switch, l.e.Gateways) {
		if slices.ContainsFunc(gv.LocalMACs[l.sv.Name], func(m net.HardwareAddr) bool { return bytes.Equal(m, mac) }) {
			return destination{name: mac.String(), Binding: realize.Binding{Chassis: gv.Name}}, gv.Name
		}
	}
	return destination{}, "flood"
}

// localVIFs are the switch's VIFs on self except the ingress: the local
// buckets of the flood group.
func (l *logical) localVIFs(self model.Chassis, except string) []model.TraceOutput {
	var out []model.TraceOutput
	for _, p := range l.sv.Ports {
		if bd, ok := l.sv.Bound[p.Name]; ok && bd.Chassis == self.Name && p.Name != except {
			out = append(out, vifOutput(p.Name, bd))
		}
	}
	slices.SortFunc(out, func(a, b model.TraceOutput) int { return int(a.OFPort) - int(b.OFPort) })
	if out == nil {
		out = []model.TraceOutput{}
	}
	return out
}

// remoteHop is the far end of tunnel tn from self: a chassis, whose
// tunnel back to self the frame enters by, or a gateway. dst is the
// unicast destination (nil: a flood).
func (l *logical) remoteHop(self model.Chassis, tn hypervisor.Tunnel, dst *destination) model.TraceHop {
	if rc, ok := l.e.Chassis(tn.Remote); ok {
		back := openflow.TunnelName(tn.Type, self.TunnelIP)
		hop := l.chassisHop(rc, back, l.ports(rc.Name, back))
		switch {
		case dst != nil:
			hop.Verdict = model.TraceUnicast
			hop.Outputs = []model.TraceOutput{vifOutput(dst.name, dst.Binding)}
		default:
			// From a tunnel: local VIFs only (split horizon).
			hop.Outputs = l.localVIFs(rc, "")
			hop.Verdict = model.TraceFlood
			if len(hop.Outputs) == 0 {
				hop.Verdict, hop.Reason = model.TraceDrop, "no local port of the switch here"
			}
		}
		return hop
	}
	return l.gatewayHop(self, tn, dst)
}

// gatewayHop is the VTEP: the VNI is its logical switch, and the frame
// leaves by the switch's bindings on it (physical port and VLAN). A MAC
// it learned leaves by the binding it was learned on, which
// Ucast_Macs_Local does not record: with several bindings on the gateway
// the logical view lists them all.
func (l *logical) gatewayHop(self model.Chassis, tn hypervisor.Tunnel, dst *destination) model.TraceHop {
	hop := model.TraceHop{Device: tn.Remote, Kind: "gateway", InPort: "tunnel from " + self.TunnelIP.String(), Outputs: []model.TraceOutput{}}
	for _, b := range l.sv.Bindings {
		if b.Gateway == tn.Remote {
			vlan := b.VLAN
			hop.Outputs = append(hop.Outputs, model.TraceOutput{Kind: "physical", Port: b.Port, VLAN: &vlan})
		}
	}
	hop.Verdict = model.TraceFlood
	switch {
	case len(hop.Outputs) == 0:
		hop.Verdict, hop.Reason = model.TraceDrop, "no binding of the switch on this gateway"
	case dst != nil && len(hop.Outputs) == 1:
		hop.Verdict = model.TraceUnicast
		hop.Outputs[0].LogicalPort = dst.name
	case dst != nil:
		hop.Verdict = model.TraceUnicast
		hop.Reason = "the VTEP forwards to the binding it learned the MAC on (Ucast_Macs_Local does not say which)"
	}
	return hop
}

func vifOutput(port string, bd realize.Binding) model.TraceOutput {
	return model.TraceOutput{Kind: "vif", Port: bd.Interface, OFPort: bd.OFPort, LogicalPort: port}
}

func tunnelOutput(tn hypervisor.Tunnel, vni uint32) model.TraceOutput {
	return model.TraceOutput{Kind: "tunnel", Port: tn.Name, Remote: tn.Remote, RemoteIP: tn.RemoteIP, Encap: tn.Type, VNI: vni}
}

// portSecurity is tables 1 to 3 for the frame: why they drop it, or "".
// It checks what the flows check for the frame's fields: the source MAC,
// and with ips the ARP sender or IP source address.
func portSecurity(p model.Port, bd realize.Binding, q *model.TraceQuery) string {
	if !p.Secured(bd.MAC) {
		return ""
	}
	if bd.MAC == nil {
		return "port security is on but the port has no MAC: it may send nothing"
	}
	if !bytes.Equal(q.SrcMAC, bd.MAC) {
		return fmt.Sprintf("port security: source MAC %s is not the port's %s (table 3 drops it)", q.SrcMAC, bd.MAC)
	}
	if len(p.IPs) == 0 || !q.IPSrc.IsValid() {
		return ""
	}
	src := q.IPSrc
	if slices.Contains(p.IPs, src) || src.IsUnspecified() || src.Is6() && src == realize.LinkLocal(bd.MAC) {
		return ""
	}
	return fmt.Sprintf("port security: source address %s is not among the port's ips (table 3 drops it)", src)
}
