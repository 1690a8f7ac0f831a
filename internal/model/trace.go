package model

import (
	"errors"
	"net"
	"net/netip"
)

// TraceQuery is a packet trace's question (GET or POST /v1/trace): a frame
// that enters switch Switch at logical port From. Zero fields are left out
// of the frame: SrcMAC defaults to the port's MAC.
type TraceQuery struct {
	Switch  string
	From    string
	SrcMAC  net.HardwareAddr
	DstMAC  net.HardwareAddr
	VLAN    uint16 // 0: untagged
	EthType uint16 // 0: IPv4 when an address is given, else ARP for broadcast, else IPv4
	IPSrc   netip.Addr
	IPDst   netip.Addr
}

// Errors of a trace that names what does not exist (rest maps them to 404
// naming the field).
var (
	ErrTraceSwitch = errors.New("switch not found")
	ErrTracePort   = errors.New("port not found on the switch")
)

// Verdicts of a view: where the frame ends up.
const (
	TraceUnicast = "unicast" // one destination (a VIF, a tunnel, a gateway port)
	TraceFlood   = "flood"   // several destinations (broadcast, multicast, unknown unicast)
	TraceDrop    = "drop"
)

// Trace is the answer of a packet trace: the logical view computed from
// the desired state, the real view from the devices (ofproto/trace over
// their unixctl sockets, or a simulation on the flows ferry knows are
// installed; a VTEP's observed tables), and where they disagree.
type Trace struct {
	Switch string `json:"switch"`
	From   string `json:"from"`
	VNI    uint32 `json:"vni"`
	// Frame is the frame as traced, in ovs-ofctl syntax (without in_port).
	Frame   string    `json:"frame"`
	Logical TraceView `json:"logical"`
	Real    TraceView `json:"real"`
	// Disagreements say, per hop, how the real view differs from the
	// logical one; empty when they agree.
	Disagreements []string `json:"disagreements"`
}

// TraceView is one view of the frame's path: the hops it crosses, in
// order (the ingress chassis first), and the verdict at the ingress.
type TraceView struct {
	Verdict string     `json:"verdict"`
	Hops    []TraceHop `json:"hops"`
}

// TraceHop is what one device does with the frame.
type TraceHop struct {
	Device string `json:"device"`
	Kind   string `json:"kind"` // "chassis" or "gateway"
	Bridge string `json:"bridge,omitempty"`
	// InPort is the port the frame enters by: the VIF's or the tunnel's
	// name and OpenFlow number (0 when not known).
	InPort   string `json:"in_port,omitempty"`
	InOFPort uint32 `json:"in_ofport,omitempty"`
	// Verdict: unicast, flood or drop; Reason says why it drops.
	Verdict string        `json:"verdict"`
	Reason  string        `json:"reason,omitempty"`
	Outputs []TraceOutput `json:"outputs"`
	// Source (real view): "ofproto/trace", "simulated" or "observed"
	// (a VTEP's tables), or "unavailable" with Note saying why.
	Source string `json:"source,omitempty"`
	Note   string `json:"note,omitempty"`
	// Steps are the flows the frame hit (or the ofproto/trace text).
	Steps []string `json:"steps,omitempty"`
}

// TraceOutput is one place a hop sends the frame.
type TraceOutput struct {
	// Kind: "vif" (a local logical port), "tunnel" or "physical" (a VTEP
	// port and VLAN).
	Kind   string `json:"kind"`
	Port   string `json:"port,omitempty"` // interface, tunnel or physical port name
	OFPort uint32 `json:"ofport,omitempty"`
	// LogicalPort is the logical port behind a vif (or, through a tunnel,
	// the destination's, when known).
	LogicalPort string `json:"logical_port,omitempty"`
	// Remote, RemoteIP and Encap describe a tunnel's far end.
	Remote   string `json:"remote,omitempty"`
	RemoteIP string `json:"remote_ip,omitempty"`
	Encap    string `json:"encap,omitempty"`
	VNI      uint32 `json:"vni,omitempty"`
	// VLAN is a VTEP binding's VLAN (0: untagged) for kind physical.
	VLAN *uint16 `json:"vlan,omitempty"`
}
