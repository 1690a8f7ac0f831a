package realize

import (
	"sort"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/vtep"
)

// DesiredGateway computes what a VTEP must hold: a logical switch for every
// switch with a binding on it, with its bindings, every MAC that lives
// elsewhere (bound on a hypervisor, or learned by another gateway of the
// switch) and the endpoints that receive BUM. A VTEP that cannot replicate
// (service_node) gets the switch's replicator hypervisor as its only flood
// target, and that hypervisor floods on.
func DesiredGateway(snap *model.Snapshot, b Bindings, gw model.Gateway, views map[string]GatewayView) vtep.Desired {
	d := vtep.Desired{PhysicalSwitch: gw.PhysicalSwitch}
	self := views[gw.Name]
	bfd := make(map[string]bool)
	for _, sw := range snap.Switches {
		var ports []vtep.PortVLAN
		for _, bd := range sw.Bindings {
			if bd.Gateway == gw.Name {
				ports = append(ports, vtep.PortVLAN{Port: bd.Port, VLAN: bd.VLAN})
			}
		}
		if len(ports) == 0 {
			continue
		}
		vs := vtep.Switch{Name: sw.Name, VNI: sw.VNI, Bindings: ports}
		seen := make(map[string]bool)
		addMAC := func(mac, ip string) {
			if mac == "" || ip == "" || seen[mac] {
				return
			}
			seen[mac] = true
			vs.RemoteMACs = append(vs.RemoteMACs, vtep.RemoteMAC{MAC: mac, IP: ip})
		}
		var flood []string
		for _, p := range sw.Ports {
			bd, ok := b[PortKey{sw.Name, p.Name}]
			if !ok || bd.MAC == nil {
				continue
			}
			if ch, ok := snap.ChassisByName(bd.Chassis); ok && ch.TunnelIP != nil {
				addMAC(bd.MAC.String(), ch.TunnelIP.String())
			}
		}
		for _, name := range b.Carriers(sw) {
			if ch, ok := snap.ChassisByName(name); ok && ch.TunnelIP != nil {
				flood = append(flood, ch.TunnelIP.String())
				bfd[ch.TunnelIP.String()] = true
			}
		}
		for _, other := range SwitchGateways(sw, views) {
			if other.Name == gw.Name {
				continue
			}
			for _, m := range other.LocalMACs[sw.Name] {
				addMAC(m.String(), other.TunnelIP)
			}
			flood = append(flood, other.TunnelIP)
		}
		sort.Slice(vs.RemoteMACs, func(i, j int) bool { return vs.RemoteMACs[i].MAC < vs.RemoteMACs[j].MAC })
		vs.ReplicationMode = vtep.SourceNode
		if !self.SourceNode {
			vs.ReplicationMode = vtep.ServiceNode
			if r := Replicator(sw, b); r != "" {
				if ch, ok := snap.ChassisByName(r); ok && ch.TunnelIP != nil {
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
	return d
}
