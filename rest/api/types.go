package api

import (
	"encoding/json"

	"github.com/ferry-sdn/ferry/internal/model"
)

// SwitchRequest is the body of POST /v1/switches.
type SwitchRequest struct {
	Name string `json:"name"`
	// VNI is the VXLAN network identifier (and GRE key); nil allocates
	// the lowest free one.
	VNI *int64 `json:"vni,omitempty"`
	// Encap is "vxlan" (the default) or "gre".
	Encap string `json:"encap,omitempty"`
	// XenServerNetworks adopts whole XenServer networks: every VIF whose
	// xs-network-uuid is listed joins the switch without a port of its own.
	XenServerNetworks []string `json:"xenserver_networks,omitempty"`
}

// SwitchPatch is the body of PATCH /v1/switches/{name}: the fields that can
// change after creation.
type SwitchPatch struct {
	XenServerNetworks *[]string `json:"xenserver_networks"`
}

// Switch is a logical switch as the API shows it.
type Switch struct {
	Name       string   `json:"name"`
	VNI        uint32   `json:"vni"`
	Encap      string   `json:"encap"`
	Generation int64    `json:"generation"`
	Ports      []string `json:"ports"` // names, sorted
	// XenServerNetworks are the adopted XenServer networks.
	XenServerNetworks []string           `json:"xenserver_networks"`
	Status            model.SwitchStatus `json:"status"`
}

// PortRequest is the body of POST /v1/switches/{switch}/ports and of PUT
// /v1/switches/{switch}/ports/{port} (where Name may be left out: the path
// names the port; when given it must match).
type PortRequest struct {
	Name string `json:"name"`
	// IfaceID matches the Interface's external_ids:iface-id (libvirt,
	// OpenStack) or xs-vif-uuid (XenServer).
	IfaceID string `json:"iface_id"`
	// MAC is optional: without it ferry uses the Interface's attached-mac.
	MAC string `json:"mac,omitempty"`
	// PortSecurity lets the VIF send only from the port's MAC (and, with
	// IPs, only from those addresses). Absent: on whenever the port has a
	// MAC (its own or the VIF's attached-mac). false: off, for a VM that
	// bridges or routes other hosts' frames.
	PortSecurity *bool `json:"port_security,omitempty"`
	// IPs are the IPv4 and IPv6 addresses the VIF may send from (and
	// claim in ARP and neighbour discovery); absent: any.
	IPs []string `json:"ips,omitempty"`
}

// PortPatch is the body of PATCH /v1/switches/{switch}/ports/{port}: the
// fields it gives change, the others stay.
type PortPatch struct {
	IfaceID *string `json:"iface_id,omitempty"`
	// MAC "" removes the port's MAC (ferry then uses attached-mac).
	MAC          *string `json:"mac,omitempty"`
	PortSecurity *bool   `json:"port_security,omitempty"`
	// IPs [] removes every address: any source is allowed again.
	IPs *[]string `json:"ips,omitempty"`
}

// Port is a logical port as the API shows it.
type Port struct {
	Name    string `json:"name"`
	Switch  string `json:"switch"`
	IfaceID string `json:"iface_id"`
	MAC     string `json:"mac,omitempty"`
	// PortSecurity is what the port says (absent: the default); whether
	// ferry enforces it is status.port_security.
	PortSecurity *bool            `json:"port_security,omitempty"`
	IPs          []string         `json:"ips,omitempty"`
	Status       model.PortStatus `json:"status"`
}

// ChassisRequest is the body of POST /v1/chassis.
type ChassisRequest struct {
	Name string `json:"name"`
	// OVSDB is the hypervisor's OVSDB target: tcp:IP:PORT, ssl:IP:PORT or
	// unix:PATH, or "passive" for a host that dials ferry's --ovsdb-listen
	// (matched by its Open_vSwitch external_ids:system-id = name).
	OVSDB    string `json:"ovsdb"`
	TunnelIP string `json:"tunnel_ip"`
	// Bridge defaults to br-int; XenServer VIFs sit on xapiN/xenbrN.
	Bridge string `json:"bridge,omitempty"`
	// Kind is kvm (the default), xenserver or generic.
	Kind string `json:"kind,omitempty"`
	// Encaps defaults to ["vxlan", "gre"].
	Encaps []string `json:"encaps,omitempty"`
	// UnderlayMTU is the MTU between tunnel endpoints (default 1500).
	UnderlayMTU int `json:"underlay_mtu,omitempty"`
	// DatapathType is used if ferry has to create the bridge: "system"
	// (the default) or "netdev" (userspace, hosts without the kernel
	// module).
	DatapathType string `json:"datapath_type,omitempty"`
	// OpenFlowPeers are further IP addresses the chassis' bridge may
	// connect to ferry's plain-text OpenFlow listener from, besides the
	// OVSDB target's host and the tunnel IP.
	OpenFlowPeers []string `json:"openflow_peers,omitempty"`
	// OpenFlow is "auto" (the default: 1.5 where the bridge allows it,
	// 1.3 where its protocols were pinned without 1.5), "1.5" (ferry adds
	// OpenFlow15 to the bridge's protocols) or "1.3" (ferry never touches
	// them).
	OpenFlow string `json:"openflow,omitempty"`
	// Relay makes the chassis a transit relay: it forwards a switch's
	// traffic tunnel to tunnel for pairs of endpoints whose direct tunnel
	// is down while both reach it.
	Relay bool `json:"relay,omitempty"`
}

// ChassisPatch is the body of PATCH /v1/chassis/{name}: the fields it
// gives change, the others stay; the tunnels on the other chassis follow.
// A chassis' name, bridge and kind cannot change (register it again).
type ChassisPatch struct {
	OVSDB    *string `json:"ovsdb,omitempty"`
	TunnelIP *string `json:"tunnel_ip,omitempty"`
	// Encaps replaces the chassis' encapsulations; it must not be empty.
	Encaps *[]string `json:"encaps,omitempty"`
	// UnderlayMTU 0 goes back to the default (1500).
	UnderlayMTU *int `json:"underlay_mtu,omitempty"`
	// DatapathType "" goes back to the default ("system").
	DatapathType *string `json:"datapath_type,omitempty"`
	// OpenFlowPeers replaces the chassis' ([]: none).
	OpenFlowPeers *[]string `json:"openflow_peers,omitempty"`
	// OpenFlow "" goes back to the default ("auto").
	OpenFlow *string `json:"openflow,omitempty"`
	Relay    *bool   `json:"relay,omitempty"`
}

// Chassis is a registered hypervisor as the API shows it.
type Chassis struct {
	Name         string   `json:"name"`
	OVSDB        string   `json:"ovsdb"`
	TunnelIP     string   `json:"tunnel_ip"`
	Bridge       string   `json:"bridge"`
	Kind         string   `json:"kind"`
	Encaps       []string `json:"encaps"`
	UnderlayMTU  int      `json:"underlay_mtu"`
	DatapathType string   `json:"datapath_type,omitempty"`
	// OpenFlow is the chassis' openflow option ("auto" unless set).
	OpenFlow string `json:"openflow"`
	// Relay says whether the chassis is a transit relay.
	Relay bool `json:"relay"`
	// OpenFlowPeers is always present: [] when the chassis has none.
	OpenFlowPeers []string            `json:"openflow_peers"`
	Generation    int64               `json:"generation"`
	Status        model.ChassisStatus `json:"status"`
}

// Error is the body of every error response.
type Error struct {
	Message string `json:"error"`
}

func (e *Error) Error() string { return e.Message }

// Health is the body of GET /healthz.
type Health struct {
	// Status is "ok" or "unavailable".
	Status     string `json:"status"`
	Northbound string `json:"northbound"` // "connected" or "disconnected"
	// Error says what is wrong when Status is not "ok", so that every
	// error response of the API has an "error" member.
	Error string `json:"error,omitempty"`
	// Replica, for a ferryd started with --replica-id: its id and whether
	// it is registered (holds its lock and is listed), i.e. takes part in
	// sharing the devices.
	Replica *ReplicaHealth `json:"replica,omitempty"`
}

// ReplicaHealth is a replica's part of /healthz.
type ReplicaHealth struct {
	ID         string `json:"id"`
	Registered bool   `json:"registered"`
}

// GatewayRequest is the body of POST /v1/gateways.
type GatewayRequest struct {
	Name string `json:"name"`
	// OVSDB is the VTEP's OVSDB target (tcp:IP:PORT, ssl:IP:PORT,
	// unix:PATH), or "passive" when the switch dials ferry's
	// --ovsdb-listen (matched by Physical_Switch name).
	OVSDB string `json:"ovsdb"`
	// PhysicalSwitch is optional when the VTEP database has exactly one.
	PhysicalSwitch string `json:"physical_switch,omitempty"`
	// Profile sets Limits from a vendor's published capacity (see
	// docs/gateways.md); explicit Limits fields override it.
	Profile string `json:"profile,omitempty"`
	// Limits bound what ferry writes to the VTEP; 0 means unlimited.
	Limits *LimitsRequest `json:"limits,omitempty"`
}

// GatewayPatch is the body of PATCH /v1/gateways/{name}: its capacity.
// Profile replaces all three limits with the vendor's; the Limits fields
// given override it (or the current values).
type GatewayPatch struct {
	Profile string         `json:"profile,omitempty"`
	Limits  *LimitsRequest `json:"limits,omitempty"`
}

// LimitsRequest are a gateway's capacity limits as a client sends them.
type LimitsRequest struct {
	MACsPerSwitch *int64 `json:"macs_per_switch,omitempty"`
	MACsTotal     *int64 `json:"macs_total,omitempty"`
	Tunnels       *int64 `json:"tunnels,omitempty"`
}

// Limits are a gateway's capacity limits; 0 means unlimited.
type Limits struct {
	MACsPerSwitch int `json:"macs_per_switch"`
	MACsTotal     int `json:"macs_total"`
	Tunnels       int `json:"tunnels"`
}

// Gateway is a VTEP as the API shows it.
type Gateway struct {
	Name           string              `json:"name"`
	OVSDB          string              `json:"ovsdb"`
	PhysicalSwitch string              `json:"physical_switch,omitempty"`
	Generation     int64               `json:"generation"`
	Limits         Limits              `json:"limits"`
	Status         model.GatewayStatus `json:"status"`
}

// BindingRequest is the body of POST /v1/switches/{switch}/bindings.
type BindingRequest struct {
	Gateway string `json:"gateway"`
	Port    string `json:"port"`
	// VLAN is 0 (untagged, the default) to 4095.
	VLAN *int64 `json:"vlan,omitempty"`
}

// Binding is a gateway binding as the API shows it.
type Binding struct {
	Switch  string `json:"switch"`
	Gateway string `json:"gateway"`
	Port    string `json:"port"`
	VLAN    uint16 `json:"vlan"`
}

// AppliedHeader is the response header of PUT /v1/switches/{name} that
// says what the PUT did: "created", "configured" (an existing switch
// changed) or "unchanged" (nothing to do; no transaction).
const AppliedHeader = "Ferry-Applied"

// SwitchSpec is a whole switch: the body of PUT /v1/switches/{name}, which
// makes the switch exactly this (creating it if need be) in one
// transaction, and what `ferryctl apply` reads. What it leaves out does
// not exist afterwards: no ports, no bindings, no XenServer networks,
// VXLAN; only an absent VNI keeps the switch's own (or allocates one).
type SwitchSpec struct {
	// Name may be left out in a PUT body (the path names the switch);
	// when given it must match.
	Name              string           `json:"name,omitempty"`
	VNI               *int64           `json:"vni,omitempty"`
	Encap             string           `json:"encap,omitempty"`
	XenServerNetworks []string         `json:"xenserver_networks,omitempty"`
	Ports             []PortRequest    `json:"ports,omitempty"`
	Bindings          []BindingRequest `json:"bindings,omitempty"`
}

// Replica is a running ferryd sharing the estate, as GET /v1/replicas
// shows it.
type Replica struct {
	ID string `json:"id"`
	// API is its REST API URL ("" when it does not advertise one).
	API string `json:"api"`
	// OpenFlow is the target managed bridges dial to reach it.
	OpenFlow string `json:"openflow"`
	Started  string `json:"started"` // RFC 3339
	// Self marks the replica that answered.
	Self bool `json:"self"`
	// Healthy: for the replica that answered, registered and connected
	// to the northbound database; for the others, listed (their session
	// with the database lasts).
	Healthy bool `json:"healthy"`
	// Devices it owns: "chassis/NAME", "gateway/NAME", sorted.
	Devices []string `json:"devices"`
}

// DryRun answers a write made with ?dry_run=true: nothing was committed.
type DryRun struct {
	DryRun bool `json:"dry_run"`
	// Status and Result are the response the write would have had (Result
	// is null for a 204).
	Status int             `json:"status"`
	Result json.RawMessage `json:"result"`
	// Plan is what the write would change on every device.
	Plan model.Plan `json:"plan"`
}

// TraceRequest is the body of POST /v1/trace: the frame to trace, entering
// switch Switch at logical port From. GET /v1/trace takes the same fields
// as query parameters (switch, from, src_mac, dst_mac, vlan, ethertype,
// ip_src, ip_dst).
type TraceRequest struct {
	Switch string `json:"switch"`
	From   string `json:"from"`
	// SrcMAC defaults to the port's MAC.
	SrcMAC string `json:"src_mac,omitempty"`
	DstMAC string `json:"dst_mac"`
	// VLAN is an 802.1Q tag on the frame (0 or absent: untagged).
	VLAN int `json:"vlan,omitempty"`
	// EthType is "arp", "ip", "ipv6" or a number (0x0800); absent: ARP
	// for a broadcast without addresses, else IPv4 (IPv6 for IPv6
	// addresses).
	EthType string `json:"ethertype,omitempty"`
	IPSrc   string `json:"ip_src,omitempty"`
	IPDst   string `json:"ip_dst,omitempty"`
}

// Trace answers GET and POST /v1/trace.
type Trace = model.Trace
