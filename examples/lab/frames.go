package lab

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// ARP operations.
const (
	ARPRequest = 1
	ARPReply   = 2
)

// ARPFrame builds an Ethernet frame carrying an ARP packet, with every
// field the caller's to forge: the Ethernet source need not be the sender
// hardware address, nor the sender address the guest's own. Tests use it
// to send what a misbehaving guest would (Send).
func ARPFrame(op uint16, ethSrc, ethDst, sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	b := make([]byte, 0, 42)
	b = append(b, ethDst...)
	b = append(b, ethSrc...)
	b = binary.BigEndian.AppendUint16(b, 0x0806)
	b = binary.BigEndian.AppendUint16(b, 1)      // Ethernet
	b = binary.BigEndian.AppendUint16(b, 0x0800) // IPv4
	b = append(b, 6, 4)
	b = binary.BigEndian.AppendUint16(b, op)
	b = append(b, sha...)
	s4, t4 := spa.As4(), tpa.As4()
	b = append(b, s4[:]...)
	b = append(b, tha...)
	return append(b, t4[:]...)
}
