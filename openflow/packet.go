package openflow

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"

	of "antrea.io/libOpenflow/openflow15"
)

// Reserved OpenFlow ports (ofp_port_no) the probes use.
const (
	// PortTable, as a packet-out's output port, submits the frame to the
	// flow table, starting at table 0, as if it had arrived on the
	// packet-out's InPort. It is valid only in a packet-out.
	PortTable uint32 = 0xfffffff9
	// PortController is the controller; as a packet-out's InPort it means
	// "from no port" (OVS's in_port=CONTROLLER).
	PortController uint32 = 0xfffffffd
)

// ControllerNoBuffer, as Controller.MaxLen, sends the whole frame
// (OFPCML_NO_BUFFER).
const ControllerNoBuffer uint16 = 0xffff

// Controller sends the packet to the controllers as a packet-in, with at
// most MaxLen bytes of it (ControllerNoBuffer: all). It is an output action
// to the reserved port CONTROLLER; a slave controller does not get it
// unless it asked for packet-ins (OpenFlow's default asynchronous
// configuration, which OVS follows).
type Controller struct{ MaxLen uint16 }

// String is what ovs-ofctl dump-flows prints, e.g. "CONTROLLER:65535".
func (a Controller) String() string { return fmt.Sprintf("CONTROLLER:%d", a.MaxLen) }
func (Controller) isAction()        {}

// PacketOut is a frame ferry injects into a bridge (OFPT_PACKET_OUT, no
// buffer). InPort is the port the frame is taken to have arrived on, which
// flows matching in_port see when an action outputs it to PortTable; 0
// means PortController. Actions are applied in order: Output (PortTable
// runs the pipeline), Group, SetTunnelID and Controller are encodable.
type PacketOut struct {
	InPort  uint32
	Actions []Action
	Data    []byte
}

// Sizes of the packet-out and packet-in structures.
const (
	packetOut13Len   = 24 // ofp_packet_out (1.3) without actions and data
	packetOut15Len   = 16 // ofp_packet_out (1.5) without match, actions and data
	inPortMatchLen   = 12 // ofp_match with one in_port OXM, before padding
	packetInFixedLen = 24 // ofp_packet_in up to its match (1.3 and 1.5)
	packetInPad      = 2  // between the match and the frame
	// minPacketInLen is a packet-in with an empty match and no data.
	minPacketInLen = packetInFixedLen + 8 + packetInPad
	// minFrameLen is an Ethernet header: OVS parses the frame, and
	// anything shorter is not one.
	minFrameLen  = 14
	noBuffer     = 0xffffffff
	oxmInPort    = 0 // OFPXMT_OFB_IN_PORT
	matchTypeOXM = 1
)

// encodePacketOut encodes p as an OFPT_PACKET_OUT in wire version version.
// OpenFlow 1.3 carries the input port in a field, 1.5 in an OXM match; the
// rest is alike. Errors are the caller's (bad input), never the switch's.
func encodePacketOut(version uint8, xid uint32, p PacketOut) ([]byte, error) {
	if len(p.Data) < minFrameLen {
		return nil, fmt.Errorf("openflow: packet-out of a %d-byte frame, shorter than an Ethernet header", len(p.Data))
	}
	inPort := p.InPort
	if inPort == 0 {
		inPort = PortController
	}
	var acts []byte
	for _, a := range p.Actions {
		oa, err := encodeAction(a)
		if err != nil {
			return nil, fmt.Errorf("openflow: packet-out: %w", err)
		}
		ab, err := oa.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("openflow: packet-out: encode %v: %w", a, err)
		}
		acts = append(acts, ab...)
	}
	fixed := packetOut13Len
	if version != Version13 {
		fixed = packetOut15Len + pad8(inPortMatchLen)
	}
	n := fixed + len(acts) + len(p.Data)
	if n > maxMsgLen {
		return nil, fmt.Errorf("openflow: packet-out of %d bytes (a %d-byte frame) exceeds the OpenFlow message limit", n, len(p.Data))
	}
	b := make([]byte, fixed, n)
	b[0], b[1] = version, of.Type_PacketOut
	binary.BigEndian.PutUint16(b[2:4], uint16(n))
	binary.BigEndian.PutUint32(b[4:8], xid)
	binary.BigEndian.PutUint32(b[8:12], noBuffer)
	if version == Version13 {
		binary.BigEndian.PutUint32(b[12:16], inPort)
		binary.BigEndian.PutUint16(b[16:18], uint16(len(acts)))
	} else {
		binary.BigEndian.PutUint16(b[12:14], uint16(len(acts)))
		m := b[packetOut15Len:]
		binary.BigEndian.PutUint16(m[0:2], matchTypeOXM)
		binary.BigEndian.PutUint16(m[2:4], inPortMatchLen)
		binary.BigEndian.PutUint16(m[4:6], oxmClassBasic)
		m[6], m[7] = oxmInPort<<1, 4
		binary.BigEndian.PutUint32(m[8:12], inPort)
	}
	b = append(append(b, acts...), p.Data...)
	return b, nil
}

// PacketOut injects a frame into the bridge. It does not wait: a probe
// sends many, and OVS answers a packet-out only when it fails. Such an
// error arrives later, unsolicited; the session counts it
// (Counters.PacketOutErrors) and logs it at debug. A Barrier after a batch
// of packet-outs returns once the switch has processed them all, errors
// included.
func (s *Session) PacketOut(ctx context.Context, p PacketOut) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msg, err := encodePacketOut(s.wire(), s.nextXid(), p)
	if err != nil {
		return err
	}
	if err := s.write(msg); err != nil {
		return opError("packet-out", err)
	}
	for _, ctr := range []*counters{&s.counters, &s.srv.counters} {
		ctr.packetOuts.Add(1)
	}
	return nil
}

// PacketIn is an OFPT_PACKET_IN: a frame a flow sent to the controller,
// with what the switch said about it.
type PacketIn struct {
	Table  uint8  // the table of the flow that sent it
	Cookie uint64 // that flow's cookie; all ones from a packet-out's own Controller action
	Reason uint8  // ofp_packet_in_reason (PacketInAction, ...)
	InPort uint32 // in_port, from the match
	// TunID is the tunnel ID (VNI, GRE key), when the match carries one.
	HasTunID bool
	TunID    uint64
	// TunSrc is the tunnel's outer source address, when the match carries
	// one (NXM tun_src or tun_ipv6_src): the frame came through a tunnel
	// from that endpoint.
	TunSrc netip.Addr
	// Data is the frame, its own copy. OVS 3.1 buffers nothing and sends
	// the whole frame whatever the Controller action's MaxLen.
	Data []byte
}

// Packet-in reasons (ofp_packet_in_reason) OVS reports for a Controller
// action. OpenFlow 1.4 added PacketInPacketOut, which OVS 3.1 reports on
// an OpenFlow 1.5 session for a frame that a packet-out sent through the
// table (PortTable); on 1.3, and for frames that came in on a port, the
// reason is PacketInAction.
const (
	PacketInAction    uint8 = 1 // OFPR_ACTION (OFPR_APPLY_ACTION in 1.5)
	PacketInPacketOut uint8 = 5 // OFPR_PACKET_OUT, OpenFlow 1.4 and later
)

// OXM fields a packet-in's match may carry that PacketIn reports.
const (
	nxmTunIPv4Src = 31  // NXM_NX_TUN_IPV4_SRC
	nxmTunIPv6Src = 109 // NXM_NX_TUN_IPV6_SRC
)

// parsePacketIn decodes an OpenFlow 1.3 or 1.5 OFPT_PACKET_IN, header
// included; the two versions lay it out alike. It is total: the message
// comes from the switch, so every length is checked against what encloses
// it, and the frame is copied so that nothing else of msg is kept.
func parsePacketIn(msg []byte) (PacketIn, error) {
	var pi PacketIn
	if len(msg) < minPacketInLen {
		return pi, fmt.Errorf("openflow: packet-in of %d bytes is shorter than its %d-byte fixed part", len(msg), minPacketInLen)
	}
	if v := msg[0]; v != Version13 && v != Version15 {
		return pi, fmt.Errorf("openflow: packet-in of wire version %#x", v)
	}
	if msg[1] != of.Type_PacketIn {
		return pi, fmt.Errorf("openflow: %s is not a packet-in", msgTypeName(msg[1]))
	}
	if l := int(binary.BigEndian.Uint16(msg[2:4])); l != len(msg) {
		return pi, fmt.Errorf("openflow: packet-in header says %d bytes, message has %d", l, len(msg))
	}
	pi.Reason = msg[14]
	pi.Table = msg[15]
	pi.Cookie = binary.BigEndian.Uint64(msg[16:24])
	m := msg[packetInFixedLen:]
	if t := binary.BigEndian.Uint16(m[0:2]); t != matchTypeOXM {
		return pi, fmt.Errorf("openflow: packet-in match of type %d, want OXM", t)
	}
	ml := int(binary.BigEndian.Uint16(m[2:4]))
	if ml < matchHeaderLen || pad8(ml)+packetInPad > len(m) {
		return pi, fmt.Errorf("openflow: bad match length %d in a packet-in of %d bytes", ml, len(msg))
	}
	if err := pi.parseMatch(m[matchHeaderLen:ml]); err != nil {
		return PacketIn{}, err
	}
	pi.Data = append([]byte(nil), m[pad8(ml)+packetInPad:]...)
	return pi, nil
}

// parseMatch reads the OXM fields PacketIn reports and skips the others
// (OVS adds whatever pipeline fields are set: metadata, registers, ...).
// Masked fields are skipped: a packet-in's are exact.
func (pi *PacketIn) parseMatch(b []byte) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return errShort
		}
		class := binary.BigEndian.Uint16(b[0:2])
		field, masked, l := b[2]>>1, b[2]&1 == 1, int(b[3])
		if len(b) < 4+l {
			return fmt.Errorf("openflow: OXM field of %d bytes overruns its packet-in match (%d bytes left)", l, len(b)-4)
		}
		v := b[4 : 4+l]
		b = b[4+l:]
		if masked {
			continue
		}
		switch {
		case class == oxmClassBasic && field == oxmInPort && l == 4:
			pi.InPort = binary.BigEndian.Uint32(v)
		case (class == oxmClassBasic && field == oxmTunnelID || class == oxmClassNXM1 && field == nxmTunID) && l == 8:
			pi.HasTunID, pi.TunID = true, binary.BigEndian.Uint64(v)
		case class == oxmClassNXM1 && field == nxmTunIPv4Src && l == 4:
			pi.TunSrc = netip.AddrFrom4([4]byte(v))
		case class == oxmClassNXM1 && field == nxmTunIPv6Src && l == 16:
			pi.TunSrc = netip.AddrFrom16([16]byte(v))
		}
	}
	return nil
}

// PacketInQueue is how many packet-ins a session holds for a consumer that
// has not taken them yet; past it they are dropped and counted
// (Counters.PacketInDrops): the reader must never wait for a consumer,
// or a packet-in flood would stall every reply behind it. A frame is at
// most 64 KiB (the message's length is 16 bits), so a switch can make a
// session hold 16 MiB at the worst, as much as one dump
// (DefaultMaxDumpBytes); probe frames are some 60 bytes.
const PacketInQueue = 256

// PacketIns returns the channel the session delivers packet-ins on, in
// arrival order. Until it is first called the session skips packet-ins
// unread, like other asynchronous messages, so a session nobody probes
// through costs nothing; afterwards up to PacketInQueue wait for the
// consumer. The channel is closed when the session ends (after Done).
// Only a master or equal controller gets packet-ins by default: OVS
// follows OpenFlow's default asynchronous configuration, which sends a
// slave none.
func (s *Session) PacketIns() <-chan PacketIn {
	s.pinOnce.Do(func() {
		ch := make(chan PacketIn, PacketInQueue)
		s.pins.Store(&ch)
	})
	return *s.pins.Load()
}

// wantPacketIn says whether the reader reads a packet-in whole: only when
// there is a consumer with room. Otherwise it is skipped in the read
// buffer, not allocated, and (if there is a consumer) counted as dropped.
func (s *Session) wantPacketIn() bool {
	p := s.pins.Load()
	if p == nil {
		return false
	}
	if len(*p) == cap(*p) {
		s.countPacketInDrop()
		return false
	}
	return true
}

// packetIn decodes and delivers one packet-in read whole.
func (s *Session) packetIn(msg []byte) {
	pi, err := parsePacketIn(msg)
	if err != nil {
		for _, ctr := range []*counters{&s.counters, &s.srv.counters} {
			ctr.packetInErrors.Add(1)
		}
		s.log().Debug("openflow: undecodable packet-in", "error", err.Error())
		return
	}
	p := s.pins.Load()
	select {
	case *p <- pi:
		for _, ctr := range []*counters{&s.counters, &s.srv.counters} {
			ctr.packetIns.Add(1)
		}
	default:
		s.countPacketInDrop()
	}
}

func (s *Session) countPacketInDrop() {
	for _, ctr := range []*counters{&s.counters, &s.srv.counters} {
		ctr.packetInDrops.Add(1)
	}
}

// closePacketIns closes the packet-in channel, if there is one; the reader,
// its only sender, calls it as it ends. Later callers of PacketIns get a
// closed channel too.
func (s *Session) closePacketIns() {
	s.pinOnce.Do(func() {
		ch := make(chan PacketIn)
		s.pins.Store(&ch)
	})
	close(*s.pins.Load())
}

// packetOutError reports whether an unsolicited error is about a
// packet-out (the switch echoes the start of the message it rejects); it
// is counted, and logged at debug only: a probe sends many.
func (s *Session) packetOutError(e *Error) bool {
	if len(e.Data) < 2 || e.Data[1] != of.Type_PacketOut {
		return false
	}
	for _, ctr := range []*counters{&s.counters, &s.srv.counters} {
		ctr.packetOutErrors.Add(1)
	}
	s.log().Debug("openflow: switch rejected a packet-out", "error", e.Error())
	return true
}
