package model

import (
	"net"
	"net/netip"
	"slices"
	"sort"
	"time"
)

// Encapsulations.
const (
	EncapVXLAN = "vxlan"
	EncapGRE   = "gre"
)

// Chassis kinds.
const (
	KindKVM       = "kvm"
	KindXenServer = "xenserver"
	KindGeneric   = "generic"
)

// MaxVNI is the largest VXLAN network identifier (24 bits). ferry uses the
// same number as the GRE key, so that a switch can change encapsulation
// without changing its identifier, and as the hardware_vtep tunnel_key.
const MaxVNI = 1<<24 - 1

// DefaultBridge is the bridge ferry manages when a chassis names none.
const DefaultBridge = "br-int"

// Snapshot is the northbound state at one generation.
type Snapshot struct {
	// Generation is bumped by every northbound change.
	Generation int64
	Switches   []Switch  // sorted by Name
	Chassis    []Chassis // sorted by Name
	Gateways   []Gateway // sorted by Name
}

// Gateway is a hardware or software VTEP ferry drives as its NVC over the
// hardware_vtep schema.
type Gateway struct {
	Name string
	// OVSDB is the VTEP's OVSDB target, or PassiveOVSDB when the switch
	// dials ferry (matched by Physical_Switch name).
	OVSDB string
	// PhysicalSwitch names the Physical_Switch to drive; "" when the
	// database has exactly one.
	PhysicalSwitch string
	Generation     int64
	// Limits are the VTEP's capacity: ferry never writes beyond them.
	Limits Limits
	// SourceNode is what the replication probe found, once
	// (SourceNodeSupported, SourceNodeUnsupported; "" until probed), and
	// SourceNodeEvidence what it saw.
	SourceNode, SourceNodeEvidence string
}

// The results of a gateway's source-node replication probe.
const (
	SourceNodeSupported   = "supported"
	SourceNodeUnsupported = "unsupported"
)

// Limits bound what ferry writes to a VTEP; 0 means unlimited. Hardware
// VTEPs hold a fixed number of MACs and tunnels and misbehave beyond it.
type Limits struct {
	MACsPerSwitch int // Ucast_Macs_Remote rows per logical switch (VNI)
	MACsTotal     int // Ucast_Macs_Remote rows over all switches
	Tunnels       int // distinct remote locators (tunnel IPs)
}

// Replica is a running ferryd as the northbound database lists it. Its
// row is not part of the desired network (writing it moves no
// generation): it exists while that ferryd's session does.
type Replica struct {
	ID string
	// API is the replica's REST API URL, "" when it does not say.
	API string
	// OpenFlow is the target managed bridges dial to reach it.
	OpenFlow string
	Started  time.Time
}

// Owner says which replica owns a device ("chassis/NAME",
// "gateway/NAME"). Epoch grows by one with every change of owner: it is
// the generation of the OpenFlow master role, so a bridge refuses the
// previous owner.
type Owner struct {
	Device  string
	Replica string
	Epoch   uint64
	// Realized is the northbound generation the owner last reported the
	// device in step with (published at most about once a second).
	Realized int64
}

// GatewayBinding puts a VLAN of a VTEP port on a logical switch (VLAN 0:
// untagged).
type GatewayBinding struct {
	Switch  string
	Gateway string
	Port    string
	VLAN    uint16
}

// Switch is a logical switch.
type Switch struct {
	Name  string
	VNI   uint32
	Encap string
	// Generation is the northbound generation of the switch's last change
	// (including its ports).
	Generation int64
	Ports      []Port // sorted by Name
	// XenServerNetworks are xs-network-uuids whose VIFs all join the switch
	// without a port of their own.
	XenServerNetworks []string
	// Bindings attach VTEP ports (bare-metal servers, VLAN islands) to the
	// switch; sorted by gateway, port, VLAN.
	Bindings []GatewayBinding
}

// Port is a logical port: a VIF identified by IfaceID wherever it appears.
type Port struct {
	Switch  string
	Name    string
	IfaceID string
	MAC     net.HardwareAddr // nil: take the Interface's attached-mac
	// PortSecurity says whether the VIF may send only from the port's
	// MAC (and, with IPs, only from those addresses); nil is the
	// default: on whenever the port has a MAC (see Secured).
	PortSecurity *bool
	// IPs are the IPv4 and IPv6 addresses the port may send from, sorted
	// and unique; none: only the source MAC is checked.
	IPs []netip.Addr
}

// MaxPortIPs bounds a port's addresses: each is a few flows on the
// chassis that carries the port.
const MaxPortIPs = 64

// Secured reports whether port security applies to the port when its VIF
// is bound with MAC mac (the port's own, else the Interface's
// attached-mac; nil when neither is known). An explicit true without a
// MAC lets nothing out: there is no address the frames may come from.
func (p Port) Secured(mac net.HardwareAddr) bool {
	if p.PortSecurity != nil {
		return *p.PortSecurity
	}
	return mac != nil
}

// SamePortConfig reports whether two ports are configured alike: name,
// iface_id, MAC, port security and IPs.
func SamePortConfig(a, b Port) bool {
	return a.Name == b.Name && a.IfaceID == b.IfaceID && string(a.MAC) == string(b.MAC) &&
		(a.PortSecurity == nil) == (b.PortSecurity == nil) && (a.PortSecurity == nil || *a.PortSecurity == *b.PortSecurity) &&
		slices.Equal(a.IPs, b.IPs)
}

// Chassis is a registered hypervisor.
type Chassis struct {
	Name     string
	OVSDB    string // OVSDB target, e.g. tcp:198.18.255.11:6640
	TunnelIP net.IP
	Bridge   string
	Kind     string
	Encaps   []string
	// UnderlayMTU is the MTU of the network between tunnel endpoints.
	UnderlayMTU int
	// DatapathType is used when ferry creates the bridge ("" = OVS'
	// default, "netdev" for hosts without the kernel module).
	DatapathType string
	// OpenFlowPeers are further addresses the chassis' bridge may connect
	// to ferry's OpenFlow listener from over plain TCP, besides its OVSDB
	// target's host and its tunnel IP (a management network behind NAT, a
	// second interface).
	OpenFlowPeers []netip.Addr
	// OpenFlow is the version policy for the chassis' bridge: "" or
	// OpenFlowAuto, OpenFlow15 or OpenFlow13 (see hypervisor.Protocols).
	OpenFlow string
	// Relay marks a chassis that forwards tunnel to tunnel for pairs of
	// endpoints that cannot reach each other directly (transit relay).
	Relay bool
	// Generation is the northbound generation of the chassis' last change.
	Generation int64
	// Created is the generation that registered the chassis (Generation
	// until it is changed): of two registrations that reach one device,
	// the older keeps it.
	Created int64
}

// A chassis' openflow option: auto (the default) speaks 1.5 where the
// bridge allows it and 1.3 where the operator pinned the bridge's
// protocols without 1.5; "1.5" adds OpenFlow15 to them; "1.3" never
// touches them.
const (
	OpenFlowAuto = "auto"
	OpenFlow15   = "1.5"
	OpenFlow13   = "1.3"
)

// DefaultUnderlayMTU is assumed when a chassis does not say.
const DefaultUnderlayMTU = 1500

// PassiveOVSDB is the "ovsdb" of a chassis that dials ferry
// (ovs-vsctl set-manager tcp:FERRY:6640) instead of being dialled.
const PassiveOVSDB = "passive"

// Overhead is the encapsulation overhead on an IPv4 underlay: outer
// Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8, or outer Ethernet 14 + IPv4 20 +
// GRE 4 + key 4.
func Overhead(encap string) int {
	if encap == EncapGRE {
		return 42
	}
	return 50
}

// MTU returns the chassis' underlay MTU, defaulted.
func (c Chassis) MTU() int {
	if c.UnderlayMTU > 0 {
		return c.UnderlayMTU
	}
	return DefaultUnderlayMTU
}

// Switch returns the named switch.
func (s *Snapshot) Switch(name string) (Switch, bool) {
	i := sort.Search(len(s.Switches), func(i int) bool { return s.Switches[i].Name >= name })
	if i < len(s.Switches) && s.Switches[i].Name == name {
		return s.Switches[i], true
	}
	return Switch{}, false
}

// GatewayByName returns the named gateway.
func (s *Snapshot) GatewayByName(name string) (Gateway, bool) {
	i := sort.Search(len(s.Gateways), func(i int) bool { return s.Gateways[i].Name >= name })
	if i < len(s.Gateways) && s.Gateways[i].Name == name {
		return s.Gateways[i], true
	}
	return Gateway{}, false
}

// ChassisByName returns the named chassis.
func (s *Snapshot) ChassisByName(name string) (Chassis, bool) {
	i := sort.Search(len(s.Chassis), func(i int) bool { return s.Chassis[i].Name >= name })
	if i < len(s.Chassis) && s.Chassis[i].Name == name {
		return s.Chassis[i], true
	}
	return Chassis{}, false
}
