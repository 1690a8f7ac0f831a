package model

import "time"

// Realization status, produced by the reconciler and rendered by the REST API.

// ChassisStatus is what ferry knows about one chassis' devices.
type ChassisStatus struct {
	OVSDBConnected    bool   `json:"ovsdb_connected"`
	OpenFlowConnected bool   `json:"openflow_connected"`
	DatapathID        string `json:"datapath_id,omitempty"`
	// OpenFlowVersion is the version the bridge's session speaks ("1.5"
	// or "1.3"), while it is connected.
	OpenFlowVersion string `json:"openflow_version,omitempty"`
	// RealizedGeneration is the northbound generation whose desired state
	// the chassis has committed (OVSDB transaction and OpenFlow bundle).
	RealizedGeneration int64  `json:"realized_generation"`
	Flows              int    `json:"flows"`
	Groups             int    `json:"groups"`
	LastError          string `json:"last_error,omitempty"`
	// Conflict is set while the chassis is held back because its device
	// (the same Open_vSwitch database or bridge) is another registration's.
	Conflict string `json:"conflict,omitempty"`
	// OpenFlowRefused is the last OpenFlow connection that claimed the
	// chassis' datapath ID and was refused (not the chassis, or a
	// duplicate of its live session).
	OpenFlowRefused *OpenFlowRefusal `json:"openflow_refused,omitempty"`
	// Owner is the replica driving the chassis when several ferryds share
	// the estate ("" with one ferryd, or while nobody owns it).
	Owner string `json:"owner,omitempty"`
}

// OpenFlowRefusal is an OpenFlow connection refused for a chassis.
type OpenFlowRefusal struct {
	Peer string `json:"peer"` // its address (and certificate name)
	// Reason is "address" (plain connection from an address the chassis is
	// not known by), "certificate" (its certificate names another host),
	// "duplicate" (the chassis' live session answered) or "unbound".
	Reason string    `json:"reason"`
	Detail string    `json:"detail"`
	At     time.Time `json:"at"`
	// Count is how many connections claiming the datapath ferryd refused
	// since it started.
	Count uint64 `json:"count"`
}

// SwitchStatus says whether a switch's current generation is realized.
type SwitchStatus struct {
	// Realized is true only when every chassis that must carry the switch
	// (one with a port of the switch bound to it) has realized at least the
	// switch's generation.
	Realized bool `json:"realized"`
	// ForwardingVerified is true once, besides Realized, a data-plane
	// probe has crossed every pair of the switch's hypervisors both ways
	// since the switch last changed (false while probes are off).
	ForwardingVerified bool `json:"forwarding_verified"`
	// Chassis lists the chassis that carry the switch.
	Chassis []SwitchChassis `json:"chassis"`
	// PortsBound counts the ports whose VIF was found on a chassis.
	PortsBound int `json:"ports_bound"`
	// AdoptedVIFs counts VIFs that joined through xenserver_networks.
	AdoptedVIFs int `json:"adopted_vifs"`
	// Tunnels lists each pair of carriers and the encapsulation it uses
	// ("" when the two share none: they cannot reach each other).
	Tunnels []SwitchTunnel `json:"tunnels"`
	// MTU is the largest guest MTU that fits every tunnel the switch uses.
	MTU int `json:"mtu"`
	// Gateways lists the VTEPs the switch has bindings on.
	Gateways []SwitchGateway `json:"gateways"`
}

// SwitchGateway is one VTEP's part in a switch's status.
type SwitchGateway struct {
	Name               string `json:"name"`
	RealizedGeneration int64  `json:"realized_generation"`
	Realized           bool   `json:"realized"`
	// ReplicationMode is how the VTEP floods: source_node, or
	// service_node (with Replicator, the hypervisor that re-floods for
	// it) when the switch cannot replicate itself.
	ReplicationMode string `json:"replication_mode,omitempty"`
	Replicator      string `json:"replicator,omitempty"`
	// LocalMACs counts the MACs the VTEP learned on the switch's ports.
	LocalMACs int `json:"local_macs"`
	// ForwardingVerified: a probe crossed the VTEP's data plane for the
	// switch since it last changed (sent by one hypervisor into the VTEP,
	// forwarded by it to another's MAC: at least two hypervisors must
	// carry the switch).
	ForwardingVerified bool `json:"forwarding_verified"`
}

// GatewayStatus is what ferry knows about a VTEP.
type GatewayStatus struct {
	Connected          bool          `json:"connected"`
	PhysicalSwitch     string        `json:"physical_switch,omitempty"`
	TunnelIPs          []string      `json:"tunnel_ips"`
	Ports              []GatewayPort `json:"ports"`
	Faults             []string      `json:"faults"` // switch_fault_status
	RealizedGeneration int64         `json:"realized_generation"`
	LocalMACs          int           `json:"local_macs"`
	RemoteMACs         int           `json:"remote_macs"`
	// HeldBack lists, per switch, the remote MACs the gateway's limits
	// kept off the VTEP and why.
	HeldBack  []GatewayHeldBack `json:"held_back,omitempty"`
	LastError string            `json:"last_error,omitempty"`
	// Conflict is set while the gateway is held back because its
	// Physical_Switch is another registration's.
	Conflict string `json:"conflict,omitempty"`
	// Owner is the replica driving the gateway when several ferryds share
	// the estate ("" with one ferryd, or while nobody owns it).
	Owner string `json:"owner,omitempty"`
	// Replication is how the gateway's flooding is done, and why.
	Replication GatewayReplication `json:"replication"`
}

// GatewayReplication says how a VTEP floods broadcast, unknown unicast and
// multicast: itself to every hypervisor (source_node) or through one
// replicator hypervisor per switch (service_node), and what decided it.
type GatewayReplication struct {
	Mode string `json:"mode"` // "source_node" or "service_node"
	// Probe is the result of ferry's one-time test of source-node
	// replication: "supported", "unsupported" or "not probed".
	Probe    string `json:"probe"`
	Evidence string `json:"evidence,omitempty"`
}

// GatewayHeldBack counts the remote MACs of one switch not written to a
// VTEP; Reason is the limit that held them back ("macs_per_switch",
// "macs_total" or "tunnels").
type GatewayHeldBack struct {
	Switch string `json:"switch"`
	MACs   int    `json:"macs"`
	Reason string `json:"reason"`
}

// GatewayPort is a Physical_Port of the VTEP.
type GatewayPort struct {
	Name   string   `json:"name"`
	Faults []string `json:"faults"` // port_fault_status
}

// SwitchTunnel is one tunnel pair of a switch.
type SwitchTunnel struct {
	A     string `json:"a"`
	B     string `json:"b"`
	Encap string `json:"encap"`
	// State is the tunnel's BFD state: "up" when both ends see the
	// other, "down" when either end does not, "unknown" while BFD has
	// not reported (or a device is not connected to ferry).
	State string `json:"state,omitempty"`
	// Path is "direct", or "relayed via R" while the pair's direct
	// tunnel is down and its traffic goes through relay R (also in Relay).
	Path  string `json:"path,omitempty"`
	Relay string `json:"relay,omitempty"`
	// Probe is what ferry's data-plane probes found between the pair
	// (hypervisor pairs; absent until probed).
	Probe *PairProbe `json:"probe,omitempty"`
}

// PairProbe is what the data-plane probes found between two chassis, both
// directions together.
type PairProbe struct {
	// State is "ok" while the last probe each way came back, "failing"
	// when one did not (a missing flow, a wrong VNI, a broken relay: even
	// with BFD up), "unknown" while one direction has not been probed.
	State string `json:"state"`
	// Loss is the fraction of the last 10 probes lost, the worse way.
	Loss float64 `json:"loss"`
	// RTTMillis is the last probe's round trip through ferry, the worse
	// way (packet-out to packet-in: it includes both OpenFlow channels).
	RTTMillis float64 `json:"rtt_ms,omitempty"`
	// PathMTU is the largest tunnel packet (outer IP) that crosses both
	// ways, once measured; MTUBelowUnderlay says it is below the
	// configured underlay MTU.
	PathMTU          int  `json:"path_mtu,omitempty"`
	MTUBelowUnderlay bool `json:"mtu_below_underlay,omitempty"`
}

// Probe states (PairProbe.State).
const (
	ProbeOK      = "ok"
	ProbeFailing = "failing"
	ProbeUnknown = "unknown"
)

// Paths of a tunnel pair (SwitchTunnel.Path).
const (
	PathDirect     = "direct"
	PathRelayedVia = "relayed via "
)

// SwitchChassis is one chassis' part in a switch's status.
type SwitchChassis struct {
	Name               string `json:"name"`
	RealizedGeneration int64  `json:"realized_generation"`
	Realized           bool   `json:"realized"`
}

// PortStatus says where a logical port is bound.
type PortStatus struct {
	Bound     bool   `json:"bound"`
	Chassis   string `json:"chassis,omitempty"`
	Interface string `json:"interface,omitempty"`
	OFPort    int    `json:"ofport,omitempty"`
	MAC       string `json:"mac,omitempty"`
	// PortSecurity says whether ferry enforces port security on the
	// bound VIF: the port's setting, or by default whether it has a MAC.
	PortSecurity bool `json:"port_security"`
	// Reason says why the port is not bound (only then): no VIF with
	// its iface_id on any connected chassis, one found without a usable
	// OpenFlow port, or the chassis ferry cannot see.
	Reason string `json:"reason,omitempty"`
}

// GatewayMACs are the unicast MACs in a VTEP's tables for ferry's
// switches, as the gateway loop last saw and wrote them.
type GatewayMACs struct {
	// Local are the MACs the VTEP learned on its ports (Ucast_Macs_Local).
	Local []GatewayMAC `json:"local"`
	// Remote are the MACs ferry told it live behind other tunnel
	// endpoints (Ucast_Macs_Remote).
	Remote []GatewayMAC `json:"remote"`
}

// GatewayMAC is one row of Ucast_Macs_Local or Ucast_Macs_Remote.
type GatewayMAC struct {
	Switch string `json:"switch"`
	MAC    string `json:"mac"`
	// TunnelIP is the tunnel endpoint (the locator) the MAC lives behind.
	TunnelIP string `json:"tunnel_ip"`
	// IP is the host's address, for ARP suppression; often absent.
	IP string `json:"ip,omitempty"`
}
