package vtep

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
)

// Ownership by role: hardware_vtep has no external_ids, so ferry recognises
// the logical switches it created by their description and name prefix.
const (
	// Description is the description of every Logical_Switch ferry creates.
	Description = "ferry"
	// NamePrefix starts the name of every Logical_Switch ferry creates.
	NamePrefix = "ferry-"
	// UnknownDst is the Mcast_Macs_Remote "MAC" that carries the flood list
	// (broadcast, multicast and unknown unicast).
	UnknownDst = "unknown-dst"
	// Encapsulation is the only Physical_Locator encapsulation the schema
	// knows.
	Encapsulation = "vxlan_over_ipv4"
)

// Replication modes of a Logical_Switch (vtep(5)). An empty column means
// service_node to the VTEP.
const (
	SourceNode  = "source_node"
	ServiceNode = "service_node"
)

// MaxTunnelKey is the largest Logical_Switch tunnel_key: a VXLAN network
// identifier, 24 bits (hardware_vtep knows only vxlan_over_ipv4). The
// leaf packages cannot share one constant; a test in internal/realize
// keeps this, openflow.MaxTunnelKey and model.MaxVNI equal.
const MaxTunnelKey = 1<<24 - 1

// maxVLAN is the largest key of Physical_Port.vlan_bindings.
const maxVLAN = 4095

// ErrConflict is wrapped by the errors of Ops when the VTEP's own state, not
// the desired state alone, stands in the way: a binding on a missing port or
// on a (port, VLAN) another controller holds, a logical switch name taken by
// another controller. Retrying does not help until someone changes the VTEP
// or the desired state; report it rather than back off.
var ErrConflict = errors.New("conflict")

// Desired is what ferry wants on one VTEP (one Physical_Switch).
type Desired struct {
	// PhysicalSwitch is the Physical_Switch ferry drives; "" means the only
	// one in the database.
	PhysicalSwitch string
	// Switches are every logical switch with at least one binding on this
	// VTEP. Owned logical switches not listed are removed.
	Switches []Switch
	// BFD lists the remote tunnel IPs (ferry's hypervisors) whose tunnels
	// on this VTEP should run BFD. The VTEP creates Tunnel rows itself;
	// bfd_params is the column the NVC writes.
	BFD []string
	// HeldBack says, per switch, what the gateway's limits kept off the
	// VTEP. It is reported, never written.
	HeldBack []HeldBack
}

// HeldBack counts the remote MACs of one switch not written to the VTEP
// and says why.
type HeldBack struct {
	Switch string
	MACs   int
	// Reason is "macs_per_switch", "macs_total" or "tunnels": the first
	// limit that held a MAC back.
	Reason string
}

// BFDParams are the bfd_params ferry writes on the VTEP's tunnels to its
// hypervisors: the same timers the hypervisors use.
var BFDParams = map[string]string{"enable": "true", "min_rx": "300", "min_tx": "300"}

// Switch is one logical switch on the VTEP.
type Switch struct {
	// Name is ferry's switch name; the Logical_Switch is named
	// LogicalSwitchName(Name).
	Name string
	// VNI is the Logical_Switch's tunnel_key (0 to 16,777,215).
	VNI uint32
	// Bindings are the (Physical_Port, VLAN) pairs of the driven
	// Physical_Switch bound to this logical switch.
	Bindings []PortVLAN
	// RemoteMACs are the MACs living behind other tunnel endpoints.
	RemoteMACs []RemoteMAC
	// Flood are the tunnel IPs of every other endpoint carrying the switch
	// (not this VTEP's own): the Mcast_Macs_Remote "unknown-dst" locator
	// set. Order and duplicates do not matter; empty means no row.
	Flood []string
	// ReplicationMode is SourceNode, ServiceNode or "" (column empty, which
	// the VTEP reads as service_node).
	ReplicationMode string
}

// PortVLAN is a Physical_Port name and a VLAN (0 = untagged, up to 4095).
type PortVLAN struct {
	Port string
	VLAN uint16
}

// RemoteMAC places a MAC behind a tunnel IP (a vxlan_over_ipv4 locator).
// The row's ipaddr (for ARP suppression) is neither written nor compared.
type RemoteMAC struct {
	MAC string // any form net.ParseMAC accepts; written lower-case xx:xx:..
	IP  string // IPv4
}

// LogicalSwitchName is the VTEP Logical_Switch name of ferry's switch name.
func LogicalSwitchName(name string) string { return NamePrefix + name }

// SwitchName is the inverse of LogicalSwitchName; ok is false for names
// ferry does not give.
func SwitchName(logicalSwitch string) (name string, ok bool) {
	name, ok = strings.CutPrefix(logicalSwitch, NamePrefix)
	return name, ok && name != ""
}

// want is a validated, normalised Switch.
type want struct {
	name   string // logical switch name
	vni    int
	mode   string
	macs   map[string]string // MAC → IP
	flood  []string          // sorted, unique
	keyMAC []string          // sorted MACs
}

// binding is a (port, vlan) of the driven Physical_Switch.
type binding struct {
	port string
	vlan int
}

// normalize validates d and returns its switches by logical switch name and
// its bindings; it does not look at the VTEP.
func normalize(d Desired) (map[string]*want, map[binding]string, error) {
	switches := make(map[string]*want, len(d.Switches))
	bindings := make(map[binding]string)
	vnis := make(map[int]string)
	for _, s := range d.Switches {
		if s.Name == "" {
			return nil, nil, errors.New("vtep: switch without a name")
		}
		ls := LogicalSwitchName(s.Name)
		if switches[ls] != nil {
			return nil, nil, fmt.Errorf("vtep: switch %q listed twice", s.Name)
		}
		if s.VNI > MaxTunnelKey {
			return nil, nil, fmt.Errorf("vtep: switch %q: VNI %d out of range (0-%d)", s.Name, s.VNI, MaxTunnelKey)
		}
		// Two logical switches with one VNI would make decapsulation
		// ambiguous on the VTEP.
		if other, ok := vnis[int(s.VNI)]; ok {
			return nil, nil, fmt.Errorf("vtep: switches %q and %q share VNI %d", other, s.Name, s.VNI)
		}
		vnis[int(s.VNI)] = s.Name
		switch s.ReplicationMode {
		case "", SourceNode, ServiceNode:
		default:
			return nil, nil, fmt.Errorf("vtep: switch %q: unknown replication mode %q", s.Name, s.ReplicationMode)
		}
		w := &want{name: ls, vni: int(s.VNI), mode: s.ReplicationMode, macs: make(map[string]string, len(s.RemoteMACs))}
		for _, b := range s.Bindings {
			if b.Port == "" {
				return nil, nil, fmt.Errorf("vtep: switch %q: binding without a port", s.Name)
			}
			if b.VLAN > maxVLAN {
				return nil, nil, fmt.Errorf("vtep: switch %q: VLAN %d out of range (0-%d)", s.Name, b.VLAN, maxVLAN)
			}
			k := binding{b.Port, int(b.VLAN)}
			if other, ok := bindings[k]; ok && other != ls {
				return nil, nil, fmt.Errorf("vtep: port %q VLAN %d bound to both %q and %q", b.Port, b.VLAN, other, ls)
			}
			bindings[k] = ls
		}
		for _, m := range s.RemoteMACs {
			mac, err := normalMAC(m.MAC)
			if err != nil {
				return nil, nil, fmt.Errorf("vtep: switch %q: %w", s.Name, err)
			}
			if err := checkIP(m.IP); err != nil {
				return nil, nil, fmt.Errorf("vtep: switch %q: MAC %s: %w", s.Name, mac, err)
			}
			if ip, ok := w.macs[mac]; ok && ip != m.IP {
				return nil, nil, fmt.Errorf("vtep: switch %q: MAC %s behind both %s and %s", s.Name, mac, ip, m.IP)
			}
			w.macs[mac] = m.IP
		}
		for mac := range w.macs {
			w.keyMAC = append(w.keyMAC, mac)
		}
		slices.Sort(w.keyMAC)
		for _, ip := range s.Flood {
			if err := checkIP(ip); err != nil {
				return nil, nil, fmt.Errorf("vtep: switch %q: flood: %w", s.Name, err)
			}
			w.flood = append(w.flood, ip)
		}
		slices.Sort(w.flood)
		w.flood = slices.Compact(w.flood)
		switches[ls] = w
	}
	return switches, bindings, nil
}

// normalMAC returns mac as lower-case xx:xx:xx:xx:xx:xx.
func normalMAC(mac string) (string, error) {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("bad MAC %q", mac)
	}
	return hw.String(), nil
}

// checkIP accepts the dotted IPv4 addresses a vxlan_over_ipv4 locator
// holds, written canonically so that the locator found by dst_ip is the
// one meant.
func checkIP(ip string) error {
	a := net.ParseIP(ip)
	if a == nil || a.To4() == nil || a.String() != ip {
		return fmt.Errorf("bad tunnel IP %q (want dotted IPv4)", ip)
	}
	return nil
}
