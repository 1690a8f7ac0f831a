package openflow

import (
	"encoding/binary"
	"net"
	"strconv"
)

// The pipeline, declared in one place (docs/pipeline.md explains it, and
// names the builder in internal/realize of every row).
const (
	// TableClassify maps the ingress port to a logical switch (tun_id) and a
	// direction mark in metadata; everything else drops.
	TableClassify uint8 = 0
	// TablePortSecurity lets out of a VIF whose port has port security
	// only frames from the port's MAC and, when the port lists IPs, ARP,
	// IPv4 and IPv6 from its addresses; what it refuses goes to
	// TableSpoofed. Part of the classify stage: frames reach it from
	// TableClassify, marked and on their switch.
	TablePortSecurity uint8 = 1
	// TableND checks the neighbour discovery (NS, NA) of ports that list
	// IPs: the addresses and link-layer options they advertise.
	TableND uint8 = 2
	// TableSpoofed drops what port security refused with one flow per
	// switch, whose packet count is the switch's spoofed-frame counter.
	TableSpoofed uint8 = 3
	// TableL2 forwards on (tun_id, dl_dst), and floods through groups.
	TableL2 uint8 = 10
)

// Metadata marks written by TableClassify; TableL2 matches them for split
// horizon (a frame from a tunnel never goes back into a tunnel).
const (
	MetaFromLocal  uint64 = 1
	MetaFromTunnel uint64 = 2
	// MetaFromReplicated marks BUM from a VTEP that cannot replicate
	// (service_node mode) arriving at the hypervisor chosen to flood it.
	MetaFromReplicated uint64 = 3
	// MetaFromRelayed marks frames a transit relay forwards: from an
	// endpoint whose direct tunnel to some other endpoint of the switch is
	// down. TableL2 matches it with the ingress tunnel, which names the
	// endpoints the frame must go on to (and no others: split horizon
	// holds for everything that is not relayed).
	MetaFromRelayed uint64 = 4
)

// Priorities.
const (
	PriorityDrop  uint16 = 0
	PriorityFlood uint16 = 50
	PriorityExact uint16 = 100

	// In TablePortSecurity and TableND: a port's own frames pass at
	// PriorityExact; PriorityGuard sends a switch's ARP, IPv4, IPv6 and
	// ND that no port's flow passed to TableSpoofed; PriorityOther lets
	// a port that lists IPs send other Ethernet types from its MAC; at
	// PrioritySwitch the switch's remaining frames go to TableSpoofed
	// (TablePortSecurity: a wrong source MAC) or on (TableND: IPv6 that
	// is not ND).
	PriorityGuard  uint16 = 50
	PriorityOther  uint16 = 40
	PrioritySwitch uint16 = 10

	// In TableL2: a probe frame from a tunnel goes to the controller
	// before any switch's flow delivers it (PriorityProbe); one injected
	// here that no exact flow sends on is dropped instead of flooded
	// (PriorityProbeHold), or a missing unicast flow would go unseen.
	PriorityProbe     uint16 = 110
	PriorityProbeHold uint16 = 60
)

// Data-plane probes: frames of EthProbe from ProbeMAC, which ferry
// injects with a packet-out and its probe flow on the far end punts back.
// ProbeMAC is locally administered; a VIF with port security cannot send
// from it.
const EthProbe uint16 = 0x88b5 // IEEE 802 local experimental

var ProbeMAC = net.HardwareAddr{0x02, 0x66, 0x65, 0x72, 0x72, 0x79} // "\x02ferry"

// MaxTunnelKey is the largest tun_id a logical switch can have: a VXLAN
// VNI has 24 bits, and GRE keys are held to the same range so that a
// switch can change encapsulation. model.MaxVNI is the northbound's name
// for it (a test keeps them equal).
const MaxTunnelKey = 1<<24 - 1

// FirstTunnelOFPort is the lowest ofport_request ferry pins for ports it
// creates, far above what hypervisors allocate to VIFs.
const FirstTunnelOFPort = 32768

// Groups have no cookie, so ownership is by ID: ferry's group IDs have the
// top bit set (GroupBase + 2·VNI [+1]), a range operators' own groups are
// unlikely to use, and ferry never touches a group outside it.
const (
	GroupBase = 0x80000000
	groupMax  = GroupBase + 2*MaxTunnelKey + 1
)

// FloodGroups returns the IDs of a switch's two flood groups: one for frames
// from local VIFs (local VIFs and every remote endpoint), one for frames
// from tunnels (local VIFs only: split horizon).
func FloodGroups(vni uint32) (fromLocal, fromTunnel uint32) {
	return GroupBase + vni*2, GroupBase + vni*2 + 1
}

// IsFerryGroup reports whether a group ID is in the range ferry allocates.
func IsFerryGroup(id uint32) bool { return id >= GroupBase+2 && id <= groupMax }

// Tunnel port types, as Interface.type spells them.
const (
	TunnelVXLAN = "vxlan"
	TunnelGRE   = "gre"
)

// TunnelName names the tunnel port towards remote IPv4 address ip: a short
// prefix per encapsulation and the address in hex, so the name is stable,
// unique per bridge and within the 15 characters network device names
// allow. It returns "" for an address that is not IPv4.
func TunnelName(encap string, ip net.IP) string {
	v4 := ip.To4()
	if v4 == nil {
		return ""
	}
	prefix := "fvx"
	if encap == TunnelGRE {
		prefix = "fgr"
	}
	b := make([]byte, 0, 11)
	b = append(b, prefix...)
	h := strconv.FormatUint(uint64(binary.BigEndian.Uint32(v4)), 16)
	for i := len(h); i < 8; i++ {
		b = append(b, '0')
	}
	return string(append(b, h...))
}
