package openflow

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Unknown is an action ferry does not model, as found in a dumped group
// bucket. Its String never equals a modelled action's, so a group holding
// one never compares equal to a desired group and gets rewritten. It is a
// comparable value (Data is hex), so == on Actions is safe.
type Unknown struct {
	Type uint16 // ofp_action_type; 0xffff for experimenter actions
	Data string // hex of the whole action, header included
}

func (a Unknown) String() string { return fmt.Sprintf("unknown(type=%#x,%s)", a.Type, a.Data) }
func (Unknown) isAction()        {}

// FlowStat is one flow entry as dumped from the switch.
type FlowStat struct {
	Table       uint8
	Priority    uint16
	Cookie      uint64
	IdleTimeout uint16
	HardTimeout uint16
	Packets     uint64 // packet count, if the switch reports it
	Bytes       uint64 // byte count, if the switch reports it
	Duration    time.Duration
}

// OpenFlow 1.5 OXM/OXS constants that libOpenflow does not name the way we
// need them for decoding.
const (
	oxmClassBasic  = 0x8000
	oxmClassNXM1   = 0x0001
	oxmTunnelID    = 38 // OFPXMT_OFB_TUNNEL_ID
	nxmTunID       = 16 // NXM_NX_TUN_ID
	oxsClassBasic  = 0x8002
	oxsDuration    = 0
	oxsPacketCount = 4
	oxsByteCount   = 5

	actionOutput   = 0
	actionGroup    = 22
	actionSetField = 25

	groupTypeAll = 0

	multipartReplyMore = 1
)

var errShort = errors.New("openflow: truncated message")

func pad8(n int) int { return (n + 7) &^ 7 }

// Fixed parts of the OpenFlow 1.5 structures a flow dump is made of. Each
// variable part carries a length that includes its own header, so a length
// below the header's size is malformed, not "empty".
const (
	flowDescHeaderLen = 24 // ofp_flow_desc up to its ofp_match
	matchHeaderLen    = 4  // ofp_match type and length
	statsHeaderLen    = 4  // ofp_stats reserved and length
	oxsHeaderLen      = 4  // OXS class, field and length
	// minFlowDescLen is a flow_desc with an empty match and empty stats,
	// each padded to 8 bytes.
	minFlowDescLen = flowDescHeaderLen + 8 + 8
)

// parseFlowDescs decodes the body of an OFPMP_FLOW_DESC reply
// (struct ofp_flow_desc entries). Instructions are skipped: a dumped flow's
// identity is its cookie. Every length is checked against what encloses it
// before it is used: the body comes from the switch, and a decoder that
// trusts it lets any peer that passes the handshake crash ferryd.
func parseFlowDescs(body []byte, out []FlowStat) ([]FlowStat, error) {
	for len(body) > 0 {
		if len(body) < minFlowDescLen {
			return out, errShort
		}
		l := int(binary.BigEndian.Uint16(body[0:2]))
		if l < minFlowDescLen || l > len(body) {
			return out, fmt.Errorf("openflow: bad flow_desc length %d (%d bytes left)", l, len(body))
		}
		e := body[:l]
		fs := FlowStat{
			Table:       e[4],
			Priority:    binary.BigEndian.Uint16(e[6:8]),
			IdleTimeout: binary.BigEndian.Uint16(e[8:10]),
			HardTimeout: binary.BigEndian.Uint16(e[10:12]),
			Cookie:      binary.BigEndian.Uint64(e[16:24]),
		}
		n := flowDescHeaderLen
		// ofp_match: type, length (without padding), OXMs, padding.
		ml := int(binary.BigEndian.Uint16(e[n+2 : n+4]))
		if ml < matchHeaderLen || n+pad8(ml)+statsHeaderLen > l {
			return out, fmt.Errorf("openflow: bad match length %d in flow_desc of %d bytes", ml, l)
		}
		n += pad8(ml)
		// ofp_stats: reserved, length (without padding), OXS TLVs, padding.
		sl := int(binary.BigEndian.Uint16(e[n+2 : n+4]))
		if sl < statsHeaderLen || n+sl > l {
			return out, fmt.Errorf("openflow: bad stats length %d in flow_desc of %d bytes", sl, l)
		}
		if err := parseOXS(e[n+statsHeaderLen:n+sl], &fs); err != nil {
			return out, err
		}
		out = append(out, fs)
		body = body[l:]
	}
	return out, nil
}

// parseOXS decodes the OXS TLVs of an ofp_stats. Fields ferry does not use
// are skipped; a TLV running past the stats' length is an error, because
// then the length fields disagree and none of them can be trusted.
func parseOXS(b []byte, fs *FlowStat) error {
	for len(b) > 0 {
		if len(b) < oxsHeaderLen {
			return errShort
		}
		class := binary.BigEndian.Uint16(b[0:2])
		field := b[2] >> 1
		l := int(b[3])
		if len(b) < oxsHeaderLen+l {
			return fmt.Errorf("openflow: OXS field of %d bytes overruns its stats (%d bytes left)", l, len(b)-oxsHeaderLen)
		}
		v := b[oxsHeaderLen : oxsHeaderLen+l]
		if class == oxsClassBasic {
			switch {
			case field == oxsDuration && l == 8:
				fs.Duration = time.Duration(binary.BigEndian.Uint32(v[0:4]))*time.Second +
					time.Duration(binary.BigEndian.Uint32(v[4:8]))
			case field == oxsPacketCount && l == 8:
				fs.Packets = binary.BigEndian.Uint64(v)
			case field == oxsByteCount && l == 8:
				fs.Bytes = binary.BigEndian.Uint64(v)
			}
		}
		b = b[oxsHeaderLen+l:]
	}
	return nil
}

// parseGroupDescs decodes the body of an OFPMP_GROUP_DESC reply (OpenFlow
// 1.5 struct ofp_group_desc entries with ofp_bucket lists).
func parseGroupDescs(body []byte, out []GroupEntry) ([]GroupEntry, error) {
	for len(body) > 0 {
		if len(body) < 16 {
			return out, errShort
		}
		l := int(binary.BigEndian.Uint16(body[0:2]))
		if l < 16 || l > len(body) {
			return out, fmt.Errorf("openflow: bad group_desc length %d", l)
		}
		e := body[:l]
		g := GroupEntry{ID: binary.BigEndian.Uint32(e[4:8])}
		if t := e[2]; t != groupTypeAll {
			g.Buckets = append(g.Buckets, []Action{otherGroupType(t)})
		}
		bl := int(binary.BigEndian.Uint16(e[8:10]))
		if 16+bl > l {
			return out, errShort
		}
		buckets := e[16 : 16+bl]
		for len(buckets) > 0 {
			if len(buckets) < 8 {
				return out, errShort
			}
			blen := int(binary.BigEndian.Uint16(buckets[0:2]))
			alen := int(binary.BigEndian.Uint16(buckets[2:4]))
			if blen < 8 || blen > len(buckets) || 8+alen > blen {
				return out, fmt.Errorf("openflow: bad bucket length %d/%d in group %d", blen, alen, g.ID)
			}
			acts, err := parseActions(buckets[8 : 8+alen])
			if err != nil {
				return out, fmt.Errorf("openflow: group %d: %w", g.ID, err)
			}
			g.Buckets = append(g.Buckets, acts)
			buckets = buckets[blen:]
		}
		out = append(out, g)
		body = body[l:]
	}
	return out, nil
}

// otherGroupType stands for a group type ferry never writes (it writes
// only type all): a bucket of it makes the group visible and unequal to
// every desired group.
func otherGroupType(t uint8) Action {
	return Unknown{Type: 0xffff, Data: fmt.Sprintf("group_type_%d", t)}
}

// parseActions decodes an action list into ferry's Actions, mapping anything
// it does not model to Unknown.
func parseActions(b []byte) ([]Action, error) {
	acts := []Action{}
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errShort
		}
		t := binary.BigEndian.Uint16(b[0:2])
		l := int(binary.BigEndian.Uint16(b[2:4]))
		if l < 8 || l > len(b) {
			return nil, fmt.Errorf("openflow: bad action length %d", l)
		}
		a := b[:l]
		acts = append(acts, decodeAction(t, a))
		b = b[l:]
	}
	return acts, nil
}

func decodeAction(t uint16, a []byte) Action {
	switch t {
	case actionOutput:
		if len(a) == 16 {
			// Output to CONTROLLER is the one whose max_len counts.
			p := binary.BigEndian.Uint32(a[4:8])
			if p == PortController {
				return Controller{MaxLen: binary.BigEndian.Uint16(a[8:10])}
			}
			return Output{Port: p}
		}
	case actionGroup:
		if len(a) == 8 {
			return Group{ID: binary.BigEndian.Uint32(a[4:8])}
		}
	case actionSetField:
		// OXM header, then an 8-byte tunnel ID, unmasked.
		if len(a) >= 16 {
			class := binary.BigEndian.Uint16(a[4:6])
			field, hasMask, l := a[6]>>1, a[6]&1 == 1, a[7]
			if !hasMask && l == 8 && ((class == oxmClassBasic && field == oxmTunnelID) ||
				(class == oxmClassNXM1 && field == nxmTunID)) {
				return SetTunnelID{ID: binary.BigEndian.Uint64(a[8:16])}
			}
		}
	}
	return Unknown{Type: t, Data: hex.EncodeToString(a)}
}

// oxsFlowCount is OFPXST_OFB_FLOW_COUNT: a uint32 in aggregate replies.
const oxsFlowCount = 3

// parseAggregate decodes the body of an OFPMP_AGGREGATE_STATS reply (an
// OpenFlow 1.5 struct ofp_stats) into its flow count.
func parseAggregate(body []byte, out []uint32) ([]uint32, error) {
	if len(body) < statsHeaderLen {
		return out, errShort
	}
	sl := int(binary.BigEndian.Uint16(body[2:4]))
	if sl < statsHeaderLen || sl > len(body) {
		return out, fmt.Errorf("openflow: bad aggregate stats length %d (%d bytes)", sl, len(body))
	}
	b := body[statsHeaderLen:sl]
	for len(b) > 0 {
		if len(b) < oxsHeaderLen {
			return out, errShort
		}
		class, field, l := binary.BigEndian.Uint16(b[0:2]), b[2]>>1, int(b[3])
		if len(b) < oxsHeaderLen+l {
			return out, fmt.Errorf("openflow: OXS field of %d bytes overruns the aggregate stats", l)
		}
		if class == oxsClassBasic && field == oxsFlowCount && l == 4 {
			return append(out, binary.BigEndian.Uint32(b[oxsHeaderLen:oxsHeaderLen+4])), nil
		}
		b = b[oxsHeaderLen+l:]
	}
	return out, errors.New("openflow: aggregate stats without a flow count")
}
