package openflow

import (
	"encoding/binary"
	"fmt"
	"net"

	of "antrea.io/libOpenflow/openflow15"
	"antrea.io/libOpenflow/util"
)

// maxMsgLen is the largest OpenFlow message (the header's length is 16 bits).
const maxMsgLen = 0xffff

// bundleAddOverhead is the size of ofp_bundle_add_msg without the message.
const bundleAddOverhead = 16

// flowMod builds the OFPFC_ADD for f: OXM match, then apply_actions,
// write_metadata and goto_table instructions; no instruction means drop.
func flowMod(f Flow) (*of.FlowMod, error) {
	fm := of.NewFlowMod()
	fm.Command = of.FC_ADD
	fm.TableId = f.Table
	fm.Priority = f.Priority
	fm.Cookie = f.Cookie()
	fm.CookieMask = 0
	if err := addMatch(&fm.Match, f.Match); err != nil {
		return nil, fmt.Errorf("openflow: flow %q: %w", f.String(), err)
	}
	if len(f.Actions) > 0 {
		apply := of.NewInstrApplyActions()
		for _, a := range f.Actions {
			oa, err := encodeAction(a)
			if err != nil {
				return nil, fmt.Errorf("openflow: flow %q: %w", f.String(), err)
			}
			_ = apply.AddAction(oa, false)
		}
		fm.AddInstruction(apply)
	}
	if f.WriteMetadata != nil {
		fm.AddInstruction(of.NewInstrWriteMetadata(f.WriteMetadata.Value, f.WriteMetadata.Mask))
	}
	if f.GotoTable != nil {
		fm.AddInstruction(of.NewInstrGotoTable(*f.GotoTable))
	}
	return fm, nil
}

// addMatch adds m's OXM fields in prerequisite order: OVS checks each
// field's prerequisites against the fields before it (eth_type before
// ip_proto before icmpv6_type before nd_target).
func addMatch(om *of.Match, m Match) error {
	if m.InPort != 0 {
		om.AddField(*of.NewInPortField(m.InPort))
	}
	if m.HasTunID {
		om.AddField(*of.NewTunnelIdField(m.TunID))
	}
	if m.HasMetadata {
		om.AddField(*of.NewMetadataField(m.Metadata, nil))
	}
	if m.EthDst != nil {
		if len(m.EthDst) != 6 {
			return fmt.Errorf("dl_dst must be 6 bytes")
		}
		om.AddField(*of.NewEthDstField(m.EthDst, nil))
	}
	if m.EthSrc != nil {
		if len(m.EthSrc) != 6 {
			return fmt.Errorf("dl_src must be 6 bytes")
		}
		om.AddField(*of.NewEthSrcField(m.EthSrc, nil))
	}
	if m.Proto != nil {
		return addProto(om, m.Proto)
	}
	return nil
}

// addProto adds the fields after the Ethernet addresses.
func addProto(om *of.Match, p *Proto) error {
	for _, e := range []struct {
		name string
		mac  net.HardwareAddr
	}{{"arp_sha", p.ARPSHA}, {"nd_sll", p.NDSLL}, {"nd_tll", p.NDTLL}} {
		if e.mac != nil && len(e.mac) != 6 {
			return fmt.Errorf("%s must be 6 bytes", e.name)
		}
	}
	if p.EthType != 0 {
		om.AddField(*of.NewEthTypeField(p.EthType))
	}
	if p.IPProto != 0 {
		om.AddField(*of.NewIpProtoField(p.IPProto))
	}
	if p.IPSrc.IsValid() {
		ip := net.IP(p.IPSrc.AsSlice())
		if p.IPSrc.Is4() {
			om.AddField(*of.NewIpv4SrcField(ip, nil))
		} else {
			om.AddField(*of.NewIpv6SrcField(ip, nil))
		}
	}
	if d := p.IPDst; d.IsValid() {
		ip := net.IP(d.Addr().AsSlice())
		var mask *net.IP
		if d.Bits() != d.Addr().BitLen() {
			mk := net.IP(net.CIDRMask(d.Bits(), d.Addr().BitLen()))
			mask = &mk
			ip = ip.Mask(net.IPMask(mk))
		}
		if d.Addr().Is4() {
			om.AddField(*of.NewIpv4DstField(ip, mask))
		} else {
			om.AddField(*of.NewIpv6DstField(ip, mask))
		}
	}
	if p.UDPSrc != 0 {
		om.AddField(*of.NewUdpSrcField(p.UDPSrc))
	}
	if p.UDPDst != 0 {
		om.AddField(*of.NewUdpDstField(p.UDPDst))
	}
	if p.ARPSPA.IsValid() {
		if !p.ARPSPA.Is4() {
			return fmt.Errorf("arp_spa must be IPv4")
		}
		om.AddField(*of.NewArpSpaField(net.IP(p.ARPSPA.AsSlice())))
	}
	if p.ARPSHA != nil {
		om.AddField(*of.NewArpShaField(p.ARPSHA))
	}
	if p.HasICMPType {
		om.AddField(basicField(of.OXM_FIELD_ICMPV6_TYPE, &of.IcmpTypeField{Type: p.ICMPType}))
	}
	if p.HasICMPCode {
		om.AddField(basicField(of.OXM_FIELD_ICMPV6_CODE, &of.IcmpCodeField{Code: p.ICMPCode}))
	}
	if p.NDTarget.IsValid() {
		om.AddField(basicField(of.OXM_FIELD_IPV6_ND_TARGET, &of.Ipv6DstField{Ipv6Dst: net.IP(p.NDTarget.AsSlice())}))
	}
	if p.NDSLL != nil {
		om.AddField(basicField(of.OXM_FIELD_IPV6_ND_SLL, &of.EthSrcField{EthSrc: p.NDSLL}))
	}
	if p.NDTLL != nil {
		om.AddField(basicField(of.OXM_FIELD_IPV6_ND_TLL, &of.EthDstField{EthDst: p.NDTLL}))
	}
	return nil
}

// basicField is an unmasked OpenFlow-basic OXM field, for the fields
// libOpenflow has no constructor for (ICMPv6, neighbour discovery).
func basicField(field uint8, v util.Message) of.MatchField {
	return of.MatchField{Class: of.OXM_CLASS_OPENFLOW_BASIC, Field: field, Length: uint8(v.Len()), Value: v}
}

// flowDelete builds the OFPFC_DELETE that removes a flow by identity: its
// table and exact cookie, with no match fields, so nothing else can be hit.
func flowDelete(r FlowRef) *of.FlowMod {
	fm := of.NewFlowMod()
	fm.Command = of.FC_DELETE
	fm.TableId = r.Table
	fm.Cookie = r.Cookie
	fm.CookieMask = ^uint64(0)
	fm.Priority = 0
	fm.OutPort = of.P_ANY
	fm.OutGroup = of.OFPG_ANY
	return fm
}

// groupMod builds an OFPGC_ADD or OFPGC_MODIFY for a type-all group. Bucket
// IDs are the bucket's index, which is also what OVS assigns by default.
func groupMod(g GroupEntry, command uint16) (*of.GroupMod, error) {
	gm := of.NewGroupMod()
	gm.Command = command
	gm.Type = of.GT_ALL
	gm.GroupId = g.ID
	for i, bucket := range g.Buckets {
		b := of.NewBucket(uint32(i))
		for _, a := range bucket {
			oa, err := encodeAction(a)
			if err != nil {
				return nil, fmt.Errorf("openflow: group %d: %w", g.ID, err)
			}
			b.AddAction(oa)
		}
		gm.AddBucket(*b)
	}
	return gm, nil
}

// groupDelete builds the OFPGC_DELETE for one group. OVS also removes every
// flow that still outputs to it, hence deletes go last in a bundle.
func groupDelete(id uint32) *of.GroupMod {
	gm := of.NewGroupMod()
	gm.Command = of.OFPGC_DELETE
	gm.GroupId = id
	return gm
}

func encodeAction(a Action) (of.Action, error) {
	switch a := a.(type) {
	case Output:
		return of.NewActionOutput(a.Port), nil
	case Group:
		return of.NewActionGroup(a.ID), nil
	case SetTunnelID:
		return of.NewActionSetField(*of.NewTunnelIdField(a.ID)), nil
	case Controller:
		o := of.NewActionOutput(PortController)
		o.MaxLen = a.MaxLen
		return o, nil
	default:
		return nil, fmt.Errorf("cannot encode action %T (%v)", a, a)
	}
}

// marshal encodes m with the given xid and checks that it fits in one
// OpenFlow message: libOpenflow computes lengths in uint16 and would
// silently wrap.
func marshal(m util.Message, xid uint32) ([]byte, error) {
	b, err := m.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("openflow: encode: %w", err)
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("openflow: encode: message too short (%d bytes)", len(b))
	}
	if len(b) > maxMsgLen || int(binary.BigEndian.Uint16(b[2:4])) != len(b) {
		return nil, fmt.Errorf("openflow: %s of %d bytes exceeds the OpenFlow message limit", msgTypeName(b[1]), len(b))
	}
	binary.BigEndian.PutUint32(b[4:8], xid)
	return b, nil
}

// bundleAdd wraps an encoded message (whose xid is already set) into an
// OFPT_BUNDLE_ADD_MESSAGE carrying the same xid, as the spec requires.
func bundleAdd(bundleID uint32, flags uint16, inner []byte) ([]byte, error) {
	if len(inner)+bundleAddOverhead > maxMsgLen {
		return nil, fmt.Errorf("openflow: %s of %d bytes is too large to add to a bundle", msgTypeName(inner[1]), len(inner))
	}
	add := of.NewBndleAdd(bundleID, flags)
	add.Message = util.NewBuffer(inner)
	return marshal(add, binary.BigEndian.Uint32(inner[4:8]))
}
