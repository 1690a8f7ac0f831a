package realize

import (
	"slices"
	"sort"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/vtep"
)

// DesiredGateway computes what a VTEP must hold: a logical switch for every
// switch with a binding on it, with its bindings, every MAC that lives
// elsewhere (bound on a hypervisor, or learned by another gateway of the
// switch) and the endpoints that receive BUM. A VTEP that cannot replicate
// (service_node) gets the switch's replicator hypervisor as its only flood
// target, and that hypervisor floods on. This computes from scratch; the
// gateway loop uses Estate.DesiredGateway.
func DesiredGateway(snap *model.Snapshot, b Bindings, gw model.Gateway, views map[string]GatewayView, relays Relays) vtep.Desired {
	svs := viewsOf(snap, b, views, relays)
	var names []string
	for _, sw := range snap.Switches {
		names = append(names, sw.Name)
	}
	return desiredGateway(names, svs, snap.ChassisByName, gw, views)
}

// DesiredGateway is what gateway gw must hold in this estate.
func (e *Estate) DesiredGateway(gw model.Gateway) vtep.Desired {
	return desiredGateway(e.GatewaySwitches[gw.Name], e.Switches, e.Chassis, gw, e.Gateways)
}

func desiredGateway(names []string, svs map[string]*SwitchView, chassisOf func(string) (model.Chassis, bool),
	gw model.Gateway, views map[string]GatewayView) vtep.Desired {
	d := vtep.Desired{PhysicalSwitch: gw.PhysicalSwitch}
	self := views[gw.Name]
	bfd := make(map[string]bool)
	for _, name := range names {
		sv := svs[name]
		if sv == nil {
			continue
		}
		var ports []vtep.PortVLAN
		for _, bd := range sv.Bindings {
			if bd.Gateway == gw.Name {
				ports = append(ports, vtep.PortVLAN{Port: bd.Port, VLAN: bd.VLAN})
			}
		}
		if len(ports) == 0 {
			continue
		}
		vs := vtep.Switch{Name: sv.Name, VNI: sv.VNI, Bindings: ports}
		seen := make(map[string]bool)
		addMAC := func(mac, ip string) {
			if mac == "" || ip == "" || seen[mac] {
				return
			}
			seen[mac] = true
			vs.RemoteMACs = append(vs.RemoteMACs, vtep.RemoteMAC{MAC: mac, IP: ip})
		}
		var flood []string
		addFlood := func(ip string) {
			if !slices.Contains(flood, ip) {
				flood = append(flood, ip)
			}
		}
		// ipOf is the locator that reaches endpoint name: its own, or
		// its relay's when the pair goes through one.
		ipOf := func(name, own string) string {
			if r := sv.RelayOf(gw.Name, name); r != "" {
				if ch, ok := chassisOf(r); ok && ch.TunnelIP != nil {
					bfd[ch.TunnelIP.String()] = true
					return ch.TunnelIP.String()
				}
			}
			return own
		}
		for _, p := range sv.Ports {
			bd, ok := sv.Bound[p.Name]
			if !ok || bd.MAC == nil {
				continue
			}
			if ch, ok := chassisOf(bd.Chassis); ok && ch.TunnelIP != nil {
				addMAC(bd.MAC.String(), ipOf(bd.Chassis, ch.TunnelIP.String()))
			}
		}
		// A relayed carrier stays in the flood set beside its relay: the
		// VTEP keeps its tunnel (and BFD) to it only while a locator uses
		// it, and the carrier drops what arrives on that tunnel until the
		// pair is direct again.
		for _, name := range sv.Carriers {
			if ch, ok := chassisOf(name); ok && ch.TunnelIP != nil {
				addFlood(ipOf(name, ch.TunnelIP.String()))
				addFlood(ch.TunnelIP.String())
				bfd[ch.TunnelIP.String()] = true
			}
		}
		for _, other := range SwitchGateways(sv.Switch, views) {
			if other.Name == gw.Name {
				continue
			}
			ip := ipOf(other.Name, other.TunnelIP)
			for _, m := range other.LocalMACs[sv.Name] {
				addMAC(m.String(), ip)
			}
			addFlood(ip)
		}
		sort.Slice(vs.RemoteMACs, func(i, j int) bool { return vs.RemoteMACs[i].MAC < vs.RemoteMACs[j].MAC })
		vs.ReplicationMode = vtep.SourceNode
		if !self.SourceNode {
			vs.ReplicationMode = vtep.ServiceNode
			if r := sv.Replicator(); r != "" {
				if ch, ok := chassisOf(r); ok && ch.TunnelIP != nil {
					flood = []string{ch.TunnelIP.String()}
				}
			}
		}
		sort.Strings(flood)
		vs.Flood = flood
		d.Switches = append(d.Switches, vs)
	}
	// BFD towards every hypervisor that tunnels to this VTEP, matching the
	// hypervisors' side.
	for ip := range bfd {
		d.BFD = append(d.BFD, ip)
	}
	sort.Strings(d.BFD)
	applyLimits(&d, gw.Limits)
	return d
}
