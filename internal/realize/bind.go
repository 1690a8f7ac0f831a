package realize

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
)

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
func Bind(snap *model.Snapshot, observed map[string][]hypervisor.VIF) Bindings {
	idx := newIfaceIndex(snap.Chassis, observed)
	b := make(Bindings)
	for _, sw := range snap.Switches {
		for name, bd := range idx.bindSwitch(sw) {
			b[PortKey{sw.Name, name}] = bd
		}
	}
	return b
}

// candidate is an interface that could carry a port, on one chassis.
type candidate struct {
	chassis string
	iface   hypervisor.VIF
}

// ifaceIndex holds, per iface_id, the interface that wins it (see Bind).
// It is built from every chassis' VIFs once per change of any of them, and
// then binds any switch's ports without looking at the others.
type ifaceIndex map[string]candidate

func newIfaceIndex(chassis []model.Chassis, observed map[string][]hypervisor.VIF) ifaceIndex {
	idx := make(ifaceIndex)
	for _, ch := range chassis {
		for _, ifc := range observed[ch.Name] {
			if ifc.IfaceID == "" || ifc.OFPort <= 0 {
				continue
			}
			c := candidate{ch.Name, ifc}
			if have, ok := idx[ifc.IfaceID]; !ok || better(c, have) {
				idx[ifc.IfaceID] = c
			}
		}
	}
	return idx
}

// better orders the candidates for one iface_id.
func better(a, b candidate) bool {
	if a.iface.Active != b.iface.Active {
		return a.iface.Active
	}
	// A XenServer VIF (vifD.N) and its emulated twin (tapD.N) share an
	// xs-vif-uuid; absent a status, the PV one wins.
	if ta, tb := isTap(a.iface.Name), isTap(b.iface.Name); ta != tb {
		return tb
	}
	if a.chassis != b.chassis {
		return a.chassis < b.chassis
	}
	return a.iface.Name < b.iface.Name
}

// bindSwitch returns the bindings of one switch's ports, by port name.
func (idx ifaceIndex) bindSwitch(sw model.Switch) map[string]Binding {
	var out map[string]Binding
	for _, p := range sw.Ports {
		c, ok := idx[p.IfaceID]
		if !ok {
			continue
		}
		mac := p.MAC
		if mac == nil {
			mac = c.iface.MAC
		}
		if out == nil {
			out = make(map[string]Binding, len(sw.Ports))
		}
		out[p.Name] = Binding{Chassis: c.chassis, Interface: c.iface.Name, OFPort: uint32(c.iface.OFPort), MAC: mac}
	}
	return out
}

func isTap(name string) bool { return strings.HasPrefix(name, "tap") }

// ExpandNetworks returns the snapshot with, in every switch that adopts
// XenServer networks, one implicit port per VIF observed on those networks
// (named "xs-" + its xs-vif-uuid). A VIF that an explicit port already
// names stays with that port. The input is not modified.
func ExpandNetworks(snap *model.Snapshot, observed map[string][]hypervisor.VIF) *model.Snapshot {
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

// Unbound says why no interface binds a port with iface_id ifaceID (an
// operator's "Bound: no" needs a next step), given the VIFs every
// registered chassis showed and, through unseen, which chassis ferry
// cannot see now ("not connected", "held back": their VIFs are unknown or
// not theirs; "" for one that is observed). Binding skips interfaces
// without a usable ofport; those are named, with their iface-status.
func Unbound(chassis []model.Chassis, observed map[string][]hypervisor.VIF, unseen func(chassis string) string, ifaceID string) string {
	for _, ch := range chassis {
		for _, ifc := range observed[ch.Name] {
			if ifc.IfaceID != ifaceID {
				continue
			}
			status := "it has no OpenFlow port"
			if !ifc.Active {
				status = "iface-status is inactive and it has no OpenFlow port"
			}
			return fmt.Sprintf("found on %s (interface %s) but %s (ofport %d: OVS has not attached it; see ovs-vsctl list interface %s)",
				ch.Name, ifc.Name, status, ifc.OFPort, ifc.Name)
		}
	}
	if len(chassis) == 0 {
		return "no chassis registered"
	}
	var down []string
	for _, ch := range chassis {
		if why := unseen(ch.Name); why != "" {
			down = append(down, fmt.Sprintf("chassis %s %s", ch.Name, why))
		}
	}
	const shown = 3 // an estate of 1,000 hypervisors must not make a novel of it
	list := strings.Join(down[:min(len(down), shown)], ", ")
	if len(down) > shown {
		list += fmt.Sprintf(" and %d more", len(down)-shown)
	}
	switch {
	case len(down) == len(chassis) && len(down) == 1:
		return list
	case len(down) == len(chassis):
		return "no chassis connected: " + list
	case len(down) > 0:
		return fmt.Sprintf("no VIF with iface-id %s on any connected chassis; %s", ifaceID, list)
	}
	return fmt.Sprintf("no VIF with iface-id %s on any connected chassis", ifaceID)
}
