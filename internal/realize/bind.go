package realize

import (
	"net"
	"slices"
	"sort"
	"strings"

	"github.com/ferry-sdn/ferry/internal/model"
)

// Interface is a VIF observed on a chassis' managed bridge.
type Interface struct {
	Name string
	// IfaceID is external_ids:iface-id (libvirt, OpenStack), or
	// xs-vif-uuid on a XenServer VIF.
	IfaceID string
	// Network is a XenServer VIF's xs-network-uuid.
	Network string
	MAC     net.HardwareAddr
	Active  bool // external_ids:iface-status is "active" (or absent)
	OFPort  int  // <= 0: not (yet) usable
}

// Binding says where a logical port's VIF lives.
type Binding struct {
	Chassis   string
	Interface string
	OFPort    uint32
	MAC       net.HardwareAddr // the port's MAC if set, else attached-mac; may be nil
}

// Bindings maps a logical port (switch, name) to its binding.
type Bindings map[PortKey]Binding

// PortKey identifies a logical port.
type PortKey struct{ Switch, Port string }

// Bind finds, for every logical port, the interface carrying its iface_id on
// any registered chassis. An interface without a usable ofport does not bind.
// When several chassis show the same iface_id (a migration in flight), an
// active interface wins over an inactive one, then the chassis that sorts
// first: deterministic, so every chassis' pass agrees.
func Bind(snap *model.Snapshot, observed map[string][]Interface) Bindings {
	type candidate struct {
		chassis string
		iface   Interface
	}
	byID := make(map[string][]candidate)
	for _, ch := range snap.Chassis {
		for _, ifc := range observed[ch.Name] {
			if ifc.IfaceID == "" || ifc.OFPort <= 0 {
				continue
			}
			byID[ifc.IfaceID] = append(byID[ifc.IfaceID], candidate{ch.Name, ifc})
		}
	}
	for _, cs := range byID {
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].iface.Active != cs[j].iface.Active {
				return cs[i].iface.Active
			}
			// A XenServer VIF (vifD.N) and its emulated twin (tapD.N)
			// share an xs-vif-uuid; absent a status, the PV one wins.
			if ti, tj := isTap(cs[i].iface.Name), isTap(cs[j].iface.Name); ti != tj {
				return tj
			}
			if cs[i].chassis != cs[j].chassis {
				return cs[i].chassis < cs[j].chassis
			}
			return cs[i].iface.Name < cs[j].iface.Name
		})
	}
	b := make(Bindings)
	for _, sw := range snap.Switches {
		for _, p := range sw.Ports {
			cs := byID[p.IfaceID]
			if len(cs) == 0 {
				continue
			}
			c := cs[0]
			mac := p.MAC
			if mac == nil {
				mac = c.iface.MAC
			}
			b[PortKey{sw.Name, p.Name}] = Binding{
				Chassis:   c.chassis,
				Interface: c.iface.Name,
				OFPort:    uint32(c.iface.OFPort),
				MAC:       mac,
			}
		}
	}
	return b
}

func isTap(name string) bool { return strings.HasPrefix(name, "tap") }

// ExpandNetworks returns the snapshot with, in every switch that adopts
// XenServer networks, one implicit port per VIF observed on those networks
// (named "xs-" + its xs-vif-uuid). A VIF that an explicit port already
// names stays with that port. The input is not modified.
func ExpandNetworks(snap *model.Snapshot, observed map[string][]Interface) *model.Snapshot {
	adopted := make(map[string]int) // network → switch index
	for i, sw := range snap.Switches {
		for _, n := range sw.XenServerNetworks {
			adopted[n] = i
		}
	}
	if len(adopted) == 0 {
		return snap
	}
	explicit := make(map[string]bool)
	for _, sw := range snap.Switches {
		for _, p := range sw.Ports {
			explicit[p.IfaceID] = true
		}
	}
	extra := make(map[int][]model.Port)
	seen := make(map[string]bool)
	var chassis []string
	for name := range observed {
		chassis = append(chassis, name)
	}
	sort.Strings(chassis)
	for _, ch := range chassis {
		for _, ifc := range observed[ch] {
			i, ok := adopted[ifc.Network]
			if !ok || ifc.IfaceID == "" || explicit[ifc.IfaceID] || seen[ifc.IfaceID] {
				continue
			}
			seen[ifc.IfaceID] = true
			sw := snap.Switches[i]
			extra[i] = append(extra[i], model.Port{Switch: sw.Name, Name: AdoptedPrefix + ifc.IfaceID, IfaceID: ifc.IfaceID})
		}
	}
	if len(extra) == 0 {
		return snap
	}
	out := *snap
	out.Switches = slices.Clone(snap.Switches)
	for i, ports := range extra {
		sw := out.Switches[i]
		sw.Ports = append(slices.Clone(sw.Ports), ports...)
		sort.Slice(sw.Ports, func(a, b int) bool { return sw.Ports[a].Name < sw.Ports[b].Name })
		out.Switches[i] = sw
	}
	return &out
}

// AdoptedPrefix starts the name of a port that joined a switch through an
// adopted XenServer network.
const AdoptedPrefix = "xs-"

// Carriers returns, sorted, the chassis that carry a switch: those with at
// least one of its ports bound.
func (b Bindings) Carriers(sw model.Switch) []string {
	seen := make(map[string]bool)
	var out []string
	for _, p := range sw.Ports {
		if bd, ok := b[PortKey{sw.Name, p.Name}]; ok && !seen[bd.Chassis] {
			seen[bd.Chassis] = true
			out = append(out, bd.Chassis)
		}
	}
	sort.Strings(out)
	return out
}
