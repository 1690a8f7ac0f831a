package openflow

import (
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Match is the subset of OpenFlow 1.5 OXM fields ferry's pipeline uses.
// Zero values mean "wildcarded"; the Has* flags exist because 0 is a valid
// tunnel ID and metadata value.
type Match struct {
	InPort      uint32 // 0: any
	HasTunID    bool
	TunID       uint64
	HasMetadata bool
	Metadata    uint64
	EthSrc      net.HardwareAddr // nil: any
	EthDst      net.HardwareAddr // nil: any
	// Proto matches past the Ethernet addresses (port security); nil:
	// nothing. It sits behind a pointer so that the common flows stay
	// small: a pass holds every flow of the switches it recomputes.
	Proto *Proto
}

// Proto is the part of a match past the Ethernet addresses. Zero values
// mean "wildcarded"; the Has* flags exist because 0 is a valid ICMP code,
// and an all-zero Ethernet address (a non-nil slice) is a valid
// nd_sll/nd_tll: "no such option".
//
// Fields have OpenFlow prerequisites, which the builder must honour (the
// switch refuses the flow otherwise): IPSrc and IPDst need EthType IPv4
// or IPv6; UDPSrc/UDPDst IPProto UDP on IPv4; ARPSPA/ARPSHA EthType ARP;
// ICMP type and code IPProto ICMPv6 on IPv6; NDTarget ICMPv6 type 135 or
// 136 with code 0, NDSLL type 135, NDTLL type 136.
type Proto struct {
	EthType uint16 // 0: any (EthARP, EthIPv4, EthIPv6)
	IPProto uint8  // 0: any (IPProtoUDP, IPProtoICMPv6)
	// IPSrc is nw_src (IPv4) or ipv6_src; IPDst nw_dst or ipv6_dst, masked
	// by its prefix length. Invalid (zero): any.
	IPSrc       netip.Addr
	IPDst       netip.Prefix
	UDPSrc      uint16           // 0: any
	UDPDst      uint16           // 0: any
	ARPSPA      netip.Addr       // invalid: any
	ARPSHA      net.HardwareAddr // nil: any
	HasICMPType bool
	ICMPType    uint8
	HasICMPCode bool
	ICMPCode    uint8
	NDTarget    netip.Addr       // invalid: any
	NDSLL       net.HardwareAddr // nil: any
	NDTLL       net.HardwareAddr // nil: any
}

// noProto stands for a nil Proto.
var noProto Proto

func (m Match) proto() *Proto {
	if m.Proto == nil {
		return &noProto
	}
	return m.Proto
}

// MatchKey is a Match in comparable form (Ethernet addresses as strings),
// for maps: two matches are equal iff their keys are.
type MatchKey struct {
	inPort                uint32
	hasTunID, hasMetadata bool
	tunID, metadata       uint64
	ethSrc, ethDst        string
	proto                 protoKey
}

type protoKey struct {
	ethType                  uint16
	ipProto                  uint8
	ipSrc, arpSPA, ndTarget  netip.Addr
	ipDst                    netip.Prefix
	udpSrc, udpDst           uint16
	hasICMPType, hasICMPCode bool
	icmpType, icmpCode       uint8
	arpSHA, ndSLL, ndTLL     string
}

// Key returns the match's comparable form.
func (m Match) Key() MatchKey {
	p := m.proto()
	return MatchKey{m.InPort, m.HasTunID, m.HasMetadata, m.TunID, m.Metadata, string(m.EthSrc), string(m.EthDst),
		protoKey{p.EthType, p.IPProto, p.IPSrc, p.ARPSPA, p.NDTarget, p.IPDst, p.UDPSrc, p.UDPDst,
			p.HasICMPType, p.HasICMPCode, p.ICMPType, p.ICMPCode, string(p.ARPSHA), string(p.NDSLL), string(p.NDTLL)}}
}

// Ethernet types and IP protocols the pipeline matches.
const (
	EthIPv4 uint16 = 0x0800
	EthARP  uint16 = 0x0806
	EthIPv6 uint16 = 0x86dd
	// EthVLAN and EthQinQ are what dl_type shows for a frame with more
	// VLAN tags than the bridge parses (other_config:vlan-limit, 1 by
	// default): its addresses lie beyond what the match can see.
	EthVLAN uint16 = 0x8100
	EthQinQ uint16 = 0x88a8

	IPProtoUDP    uint8 = 17
	IPProtoICMPv6 uint8 = 58
)

// String renders the match the way ovs-ofctl dump-flows prints it.
func (m Match) String() string { return string(m.appendTo(nil)) }

// appendTo renders without fmt: flows are rendered for every pass (their
// text is their identity), so this is on the hot path at scale. Field
// order, protocol names and number format follow ovs-ofctl's output
// (match_format in OVS' lib/match.c), which a sandbox test checks.
func (m Match) appendTo(b []byte) []byte {
	start := len(b)
	sep := func() {
		if len(b) > start {
			b = append(b, ',')
		}
	}
	name, named := m.proto().protocol()
	b = append(b, name...)
	if m.HasTunID {
		sep()
		b = appendOVSHex(append(b, "tun_id="...), m.TunID)
	}
	if m.HasMetadata {
		sep()
		b = appendOVSHex(append(b, "metadata="...), m.Metadata)
	}
	if m.InPort == PortController {
		// As ovs-ofctl names it.
		sep()
		b = append(b, "in_port=CONTROLLER"...)
	} else if m.InPort != 0 {
		sep()
		b = strconv.AppendUint(append(b, "in_port="...), uint64(m.InPort), 10)
	}
	if m.EthSrc != nil {
		sep()
		b = appendMAC(append(b, "dl_src="...), m.EthSrc)
	}
	if m.EthDst != nil {
		sep()
		b = appendMAC(append(b, "dl_dst="...), m.EthDst)
	}
	if m.Proto != nil {
		b = m.Proto.appendTo(b, start, name == "", named)
	}
	return b
}

// appendTo renders the fields after dl_dst (start: where the match's text
// begins; typed: dl_type has no protocol name; named: the protocol name
// covers nw_proto).
func (p *Proto) appendTo(b []byte, start int, typed, named bool) []byte {
	sep := func() {
		if len(b) > start {
			b = append(b, ',')
		}
	}
	mac := func(name string, v net.HardwareAddr) {
		if v != nil {
			sep()
			b = appendMAC(append(b, name...), v)
		}
	}
	addr := func(name string, a netip.Addr) {
		if a.IsValid() {
			sep()
			b = a.AppendTo(append(b, name...))
		}
	}
	num := func(name string, v uint64) {
		sep()
		b = strconv.AppendUint(append(b, name...), v, 10)
	}
	// IPDst: the address alone when exact, else CIDR.
	dst := func(name string) {
		if p.IPDst.IsValid() {
			addr(name, p.IPDst.Addr())
			if p.IPDst.Bits() != p.IPDst.Addr().BitLen() {
				b = strconv.AppendInt(append(b, '/'), int64(p.IPDst.Bits()), 10)
			}
		}
	}
	if p.EthType != 0 && typed {
		sep()
		b = append(b, fmt.Sprintf("dl_type=0x%04x", p.EthType)...)
	}
	switch p.EthType {
	case EthIPv6:
		addr("ipv6_src=", p.IPSrc)
		dst("ipv6_dst=")
	case EthARP:
		addr("arp_spa=", p.ARPSPA)
	default:
		addr("nw_src=", p.IPSrc)
		dst("nw_dst=")
	}
	if p.IPProto != 0 && !named {
		num("nw_proto=", uint64(p.IPProto))
	}
	mac("arp_sha=", p.ARPSHA)
	if p.HasICMPType {
		num("icmp_type=", uint64(p.ICMPType))
	}
	if p.HasICMPCode {
		num("icmp_code=", uint64(p.ICMPCode))
	}
	addr("nd_target=", p.NDTarget)
	mac("nd_sll=", p.NDSLL)
	mac("nd_tll=", p.NDTLL)
	if p.UDPSrc != 0 {
		num("tp_src=", uint64(p.UDPSrc))
	}
	if p.UDPDst != 0 {
		num("tp_dst=", uint64(p.UDPDst))
	}
	return b
}

// protocol is the name ovs-ofctl gives the Ethernet type (and IP
// protocol: named says whether the name covers it), "" when it has none.
func (p *Proto) protocol() (name string, named bool) {
	switch p.EthType {
	case EthARP:
		return "arp", false
	case EthIPv4:
		if p.IPProto == IPProtoUDP {
			return "udp", true
		}
		return "ip", false
	case EthIPv6:
		if p.IPProto == IPProtoICMPv6 {
			return "icmp6", true
		}
		return "ipv6", false
	}
	return "", false
}

func appendMAC(b []byte, mac net.HardwareAddr) []byte {
	const hexdigits = "0123456789abcdef"
	for i, c := range mac {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexdigits[c>>4], hexdigits[c&0xf])
	}
	return b
}

// appendOVSHex is ovsHex without allocating.
func appendOVSHex(b []byte, v uint64) []byte {
	if v == 0 {
		return append(b, '0')
	}
	return strconv.AppendUint(append(b, "0x"...), v, 16)
}

// Action is one OpenFlow action inside an apply-actions instruction or a
// group bucket.
type Action interface {
	String() string
	isAction()
}

// Output sends the packet to an OpenFlow port.
type Output struct{ Port uint32 }

// Group hands the packet to a group.
type Group struct{ ID uint32 }

// SetTunnelID sets the tunnel ID (VNI / GRE key) metadata field.
type SetTunnelID struct{ ID uint64 }

func (a Output) String() string      { return fmt.Sprintf("output:%d", a.Port) }
func (a Group) String() string       { return fmt.Sprintf("group:%d", a.ID) }
func (a SetTunnelID) String() string { return "set_field:" + ovsHex(a.ID) + "->tun_id" }

// ovsHex formats a number the way OVS prints it: 0 is "0", anything else
// is 0x-prefixed hex.
func ovsHex(v uint64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%#x", v)
}
func (Output) isAction()      {}
func (Group) isAction()       {}
func (SetTunnelID) isAction() {}

// Flow is one desired flow entry. Actions go into an apply-actions
// instruction; WriteMetadata and GotoTable are the optional instructions that
// follow it. A flow with no actions and no goto drops.
type Flow struct {
	Table         uint8
	Priority      uint16
	Match         Match
	Actions       []Action
	WriteMetadata *Metadata
	GotoTable     *uint8
}

// Metadata is the operand of a write_metadata instruction.
type Metadata struct{ Value, Mask uint64 }

// String renders the flow in ovs-ofctl dump-flows syntax (without cookie and
// counters). It is the flow's identity: two flows are equal iff their strings
// are, and the cookie is derived from it.
func (f Flow) String() string {
	b := make([]byte, 0, 128)
	b = strconv.AppendUint(append(b, "table="...), uint64(f.Table), 10)
	b = strconv.AppendUint(append(b, ", priority="...), uint64(f.Priority), 10)
	n := len(b)
	if b = f.Match.appendTo(append(b, ',')); len(b) == n+1 {
		b = b[:n] // empty match: no comma
	}
	b = append(b, " actions="...)
	start := len(b)
	sep := func() {
		if len(b) > start {
			b = append(b, ',')
		}
	}
	for _, a := range f.Actions {
		sep()
		b = appendAction(b, a)
	}
	if f.WriteMetadata != nil {
		sep()
		b = appendOVSHex(append(b, "write_metadata:"...), f.WriteMetadata.Value)
		if f.WriteMetadata.Mask != ^uint64(0) {
			b = appendOVSHex(append(b, '/'), f.WriteMetadata.Mask)
		}
	}
	if f.GotoTable != nil {
		sep()
		b = strconv.AppendUint(append(b, "goto_table:"...), uint64(*f.GotoTable), 10)
	}
	if len(b) == start {
		b = append(b, "drop"...)
	}
	return string(b)
}

func appendAction(b []byte, a Action) []byte {
	switch a := a.(type) {
	case Output:
		return strconv.AppendUint(append(b, "output:"...), uint64(a.Port), 10)
	case Group:
		return strconv.AppendUint(append(b, "group:"...), uint64(a.ID), 10)
	case SetTunnelID:
		return append(appendOVSHex(append(b, "set_field:"...), a.ID), "->tun_id"...)
	case Controller:
		return strconv.AppendUint(append(b, "CONTROLLER:"...), uint64(a.MaxLen), 10)
	}
	return append(b, a.String()...)
}

// CookieMarker occupies the top 16 bits of every cookie ferry writes, so that
// a flow dump tells ferry's flows from anybody else's.
const (
	CookieMarker     uint64 = 0xfe77 << 48
	CookieMarkerMask uint64 = 0xffff << 48
)

// Cookie is the flow's identity on the wire: the marker plus 48 bits of a
// hash of its String. Because identity is content, a restarted ferry that
// dumps the table knows exactly which desired flows are already installed
// and sends nothing for them; a changed flow is a delete of the old cookie
// plus an add of the new one in the same bundle.
func (f Flow) Cookie() uint64 { return CookieOf(f.String()) }

// CookieOf is Cookie for a flow whose String the caller already has.
func CookieOf(text string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(text))
	return CookieMarker | h.Sum64()&^CookieMarkerMask
}

// IsFerryCookie reports whether a dumped cookie is one ferry wrote.
func IsFerryCookie(c uint64) bool { return c&CookieMarkerMask == CookieMarker }

// GroupEntry is one desired OpenFlow group of type "all" (head-end
// replication): every bucket gets a copy of the packet.
type GroupEntry struct {
	ID      uint32
	Buckets [][]Action
}

// String renders the group in ovs-ofctl dump-groups syntax, minus bucket IDs.
func (g GroupEntry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "group_id=%d,type=all", g.ID)
	for _, bucket := range g.Buckets {
		var acts []string
		for _, a := range bucket {
			acts = append(acts, a.String())
		}
		b.WriteString(",bucket=actions=" + strings.Join(acts, ","))
	}
	return b.String()
}
