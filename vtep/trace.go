package vtep

import (
	"cmp"
	"slices"
	"strings"

	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

// Path is what a VTEP's tables say about a frame that arrives from a
// tunnel with a VNI: the packet trace's view of the VTEP hop
// (internal/trace), read from the observed rows rather than from what
// ferry wrote.
type Path struct {
	// LogicalSwitch is the name of the logical switch whose tunnel_key
	// is the VNI; "" when there is none (the VTEP drops the frame).
	LogicalSwitch string
	// Learned: the destination MAC is in Ucast_Macs_Local for it (the
	// VTEP forwards to the port it learned it on); otherwise it floods
	// to every binding.
	Learned bool
	// Bindings are the physical ports and VLANs bound to it, sorted.
	Bindings []PortVLAN
	// ReturnPath: the source MAC is in Ucast_Macs_Remote for it, so a
	// reply goes back to one hypervisor rather than being flooded.
	ReturnPath bool
}

// Path reads the VTEP's handling of a frame from dst to src (MACs in
// hardware_vtep's lower-case text form) on VNI vni.
func (o *Observed) Path(vni uint32, dst, src string) Path {
	var p Path
	var uuid string
	for id, ls := range o.lswitches {
		if ls.TunnelKey != nil && *ls.TunnelKey == int(vni) {
			p.LogicalSwitch, uuid = ls.Name, id
			break
		}
	}
	if uuid == "" {
		return p
	}
	p.Learned = slices.ContainsFunc(o.ucastLocal[uuid], func(m hwvtep.UcastMacsLocal) bool { return strings.EqualFold(m.MAC, dst) })
	p.ReturnPath = slices.ContainsFunc(o.ucastRemote[uuid], func(m hwvtep.UcastMacsRemote) bool { return strings.EqualFold(m.MAC, src) })
	for _, port := range o.ports {
		for vlan, ls := range port.VLANBindings {
			if ls == uuid {
				p.Bindings = append(p.Bindings, PortVLAN{Port: port.Name, VLAN: uint16(vlan)})
			}
		}
	}
	slices.SortFunc(p.Bindings, func(a, b PortVLAN) int { return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.VLAN, b.VLAN)) })
	return p
}
