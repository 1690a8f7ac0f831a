package trace

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow"
)

// Packet is a frame at the entrance of one bridge: the fields ferry's
// pipeline matches on.
type Packet struct {
	InPort   uint32
	HasTunID bool
	TunID    uint64
	EthSrc   net.HardwareAddr
	EthDst   net.HardwareAddr
	VLAN     uint16 // 0: untagged
	EthType  uint16
	IPSrc    netip.Addr
	IPDst    netip.Addr
}

// PacketOf is the query's frame (after defaults) at in_port.
func PacketOf(q model.TraceQuery, inPort uint32) Packet {
	return Packet{InPort: inPort, EthSrc: q.SrcMAC, EthDst: q.DstMAC, VLAN: q.VLAN, EthType: ethType(q), IPSrc: q.IPSrc, IPDst: q.IPDst}
}

// ethType defaults the Ethernet type: ARP for a broadcast without
// addresses (what a VM sends first), else IPv4 or IPv6 by the addresses.
func ethType(q model.TraceQuery) uint16 {
	switch {
	case q.EthType != 0:
		return q.EthType
	case q.IPSrc.Is6() || q.IPDst.Is6():
		return openflow.EthIPv6
	case !q.IPSrc.IsValid() && !q.IPDst.IsValid() && isBroadcast(q.DstMAC):
		return openflow.EthARP
	}
	return openflow.EthIPv4
}

func isBroadcast(mac net.HardwareAddr) bool {
	return len(mac) == 6 && mac.String() == "ff:ff:ff:ff:ff:ff"
}

// isGroupAddr reports a broadcast or multicast MAC: the L2 lookup has no
// exact flow for it, so it floods.
func isGroupAddr(mac net.HardwareAddr) bool { return len(mac) > 0 && mac[0]&1 == 1 }

// String renders the packet as an ovs-appctl ofproto/trace flow
// (in_port and tun_id only when set).
func (p Packet) String() string {
	var parts []string
	if p.InPort != 0 {
		parts = append(parts, "in_port="+strconv.FormatUint(uint64(p.InPort), 10))
	}
	if p.HasTunID {
		parts = append(parts, "tun_id=0x"+strconv.FormatUint(p.TunID, 16))
	}
	return strings.Join(append(parts, p.frame()), ",")
}

// frame is the part of String past the ingress metadata.
func (p Packet) frame() string {
	var parts []string
	if p.VLAN != 0 {
		parts = append(parts, "dl_vlan="+strconv.FormatUint(uint64(p.VLAN), 10))
	}
	if p.EthSrc != nil {
		parts = append(parts, "dl_src="+p.EthSrc.String())
	}
	if p.EthDst != nil {
		parts = append(parts, "dl_dst="+p.EthDst.String())
	}
	switch p.EthType {
	case openflow.EthARP:
		parts = append(parts, "arp", "arp_op=1")
		if p.IPSrc.Is4() {
			parts = append(parts, "arp_spa="+p.IPSrc.String())
		}
		if p.IPDst.Is4() {
			parts = append(parts, "arp_tpa="+p.IPDst.String())
		}
		if p.EthSrc != nil {
			parts = append(parts, "arp_sha="+p.EthSrc.String())
		}
	case openflow.EthIPv4:
		parts = append(parts, "ip")
		if p.IPSrc.Is4() {
			parts = append(parts, "nw_src="+p.IPSrc.String())
		}
		if p.IPDst.Is4() {
			parts = append(parts, "nw_dst="+p.IPDst.String())
		}
	case openflow.EthIPv6:
		parts = append(parts, "ipv6")
		if p.IPSrc.Is6() {
			parts = append(parts, "ipv6_src="+p.IPSrc.String())
		}
		if p.IPDst.Is6() {
			parts = append(parts, "ipv6_dst="+p.IPDst.String())
		}
	default:
		parts = append(parts, "dl_type=0x"+strconv.FormatUint(uint64(p.EthType), 16))
	}
	return strings.Join(parts, ",")
}
