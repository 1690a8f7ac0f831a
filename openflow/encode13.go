package openflow

import (
	"encoding/binary"
	"fmt"

	of "antrea.io/libOpenflow/openflow15"
	"antrea.io/libOpenflow/util"
)

// OpenFlow 1.3 encodings. Most of what ferry sends is laid out the same in
// 1.3 and 1.5 and only carries another version byte: the flow_mod (1.5's
// importance is 1.3's padding, and ferry leaves it 0), the OXM match, the
// instructions and actions, the flow and aggregate stats requests, barrier,
// echo, features and role requests. Groups differ: 1.5 gave group_mod a
// bucket array length and command bucket ID and made bucket weight and
// watch port properties, so the 1.3 group_mod and group_desc are ours.

// marshal encodes m in the session's version: libOpenflow encodes 1.5,
// and the messages sent through here are laid out alike in 1.3.
func (s *Session) marshal(m util.Message, xid uint32) ([]byte, error) {
	b, err := marshal(m, xid)
	if err != nil {
		return nil, err
	}
	b[0] = s.wire()
	return b, nil
}

// Sizes of the OpenFlow 1.3 group structures.
const (
	groupMod13Len     = 16 // ofp_group_mod without buckets
	bucket13Len       = 16 // ofp_bucket without actions
	groupDesc13Len    = 8  // ofp_group_desc_stats without buckets
	anyPort13         = 0xffffffff
	anyGroup13        = 0xffffffff
	groupCommandAdd   = 0
	groupCommandMod   = 1
	groupCommandDel   = 2
	multipartGroupDsc = 7
)

// groupMod13 encodes an OpenFlow 1.3 OFPT_GROUP_MOD for a type-all group:
// each bucket is weight 0, watching nothing, then its actions.
func groupMod13(g GroupEntry, command uint16, xid uint32) ([]byte, error) {
	b := make([]byte, groupMod13Len, groupMod13Len+len(g.Buckets)*(bucket13Len+16))
	binary.BigEndian.PutUint16(b[8:10], command)
	b[10] = groupTypeAll
	binary.BigEndian.PutUint32(b[12:16], g.ID)
	for _, bucket := range g.Buckets {
		start := len(b)
		b = append(b, make([]byte, bucket13Len)...)
		binary.BigEndian.PutUint32(b[start+4:start+8], anyPort13)
		binary.BigEndian.PutUint32(b[start+8:start+12], anyGroup13)
		for _, a := range bucket {
			oa, err := encodeAction(a)
			if err != nil {
				return nil, fmt.Errorf("openflow: group %d: %w", g.ID, err)
			}
			ab, err := oa.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("openflow: group %d: encode: %w", g.ID, err)
			}
			b = append(b, ab...)
		}
		if len(b)-start > maxMsgLen {
			return nil, fmt.Errorf("openflow: group %d: bucket of %d bytes exceeds the OpenFlow message limit", g.ID, len(b)-start)
		}
		binary.BigEndian.PutUint16(b[start:start+2], uint16(len(b)-start))
	}
	if len(b) > maxMsgLen {
		return nil, fmt.Errorf("openflow: group_mod of %d bytes exceeds the OpenFlow message limit", len(b))
	}
	fill13Header(b, of.Type_GroupMod, xid)
	return b, nil
}

// groupDelete13 encodes the OpenFlow 1.3 OFPGC_DELETE of one group.
func groupDelete13(id uint32, xid uint32) []byte {
	b := make([]byte, groupMod13Len)
	binary.BigEndian.PutUint16(b[8:10], groupCommandDel)
	binary.BigEndian.PutUint32(b[12:16], id)
	fill13Header(b, of.Type_GroupMod, xid)
	return b
}

// groupDescRequest13 is the OpenFlow 1.3 OFPMP_GROUP_DESC request, which
// has no body (1.5 added the group ID to it).
func groupDescRequest13(xid uint32) []byte {
	b := make([]byte, multipartHeaderLen)
	binary.BigEndian.PutUint16(b[8:10], multipartGroupDsc)
	fill13Header(b, of.Type_MultiPartRequest, xid)
	return b
}

func fill13Header(b []byte, typ uint8, xid uint32) {
	b[0] = Version13
	b[1] = typ
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	binary.BigEndian.PutUint32(b[4:8], xid)
}

// groupModFor encodes a group add or modify in the session's version.
func (s *Session) groupModFor(g GroupEntry, modify bool, xid uint32) ([]byte, error) {
	if s.version == Version13 {
		cmd := uint16(groupCommandAdd)
		if modify {
			cmd = groupCommandMod
		}
		return groupMod13(g, cmd, xid)
	}
	cmd := uint16(of.OFPGC_ADD)
	if modify {
		cmd = of.OFPGC_MODIFY
	}
	m, err := groupMod(g, cmd)
	if err != nil {
		return nil, err
	}
	return marshal(m, xid)
}
