package openflow

import (
	"encoding/binary"
	"fmt"
	"time"
)

// OpenFlow 1.3 dump replies. Like the 1.5 decoders they trust no length
// the switch sends before checking it against what encloses it.

// Fixed parts of the OpenFlow 1.3 structures.
const (
	flowStats13HeaderLen = 48 // ofp_flow_stats up to its ofp_match
	// minFlowStats13Len is a flow_stats with an empty match, padded.
	minFlowStats13Len = flowStats13HeaderLen + 8
	aggregate13Len    = 24 // ofp_aggregate_stats_reply
)

// parseFlowStats13 decodes the body of an OpenFlow 1.3 OFPMP_FLOW reply
// (struct ofp_flow_stats entries): the fixed counters, then a match and
// instructions, which are skipped (a dumped flow's identity is its cookie).
func parseFlowStats13(body []byte, out []FlowStat) ([]FlowStat, error) {
	for len(body) > 0 {
		if len(body) < minFlowStats13Len {
			return out, errShort
		}
		l := int(binary.BigEndian.Uint16(body[0:2]))
		if l < minFlowStats13Len || l > len(body) {
			return out, fmt.Errorf("openflow: bad flow_stats length %d (%d bytes left)", l, len(body))
		}
		e := body[:l]
		ml := int(binary.BigEndian.Uint16(e[flowStats13HeaderLen+2 : flowStats13HeaderLen+4]))
		if ml < matchHeaderLen || flowStats13HeaderLen+pad8(ml) > l {
			return out, fmt.Errorf("openflow: bad match length %d in flow_stats of %d bytes", ml, l)
		}
		out = append(out, FlowStat{
			Table: e[2],
			Duration: time.Duration(binary.BigEndian.Uint32(e[4:8]))*time.Second +
				time.Duration(binary.BigEndian.Uint32(e[8:12])),
			Priority:    binary.BigEndian.Uint16(e[12:14]),
			IdleTimeout: binary.BigEndian.Uint16(e[14:16]),
			HardTimeout: binary.BigEndian.Uint16(e[16:18]),
			Cookie:      binary.BigEndian.Uint64(e[24:32]),
			Packets:     binary.BigEndian.Uint64(e[32:40]),
			Bytes:       binary.BigEndian.Uint64(e[40:48]),
		})
		body = body[l:]
	}
	return out, nil
}

// parseAggregate13 decodes the body of an OpenFlow 1.3 OFPMP_AGGREGATE
// reply into its flow count.
func parseAggregate13(body []byte, out []uint32) ([]uint32, error) {
	if len(body) < aggregate13Len {
		return out, errShort
	}
	return append(out, binary.BigEndian.Uint32(body[16:20])), nil
}

// parseGroupDescs13 decodes the body of an OpenFlow 1.3 OFPMP_GROUP_DESC
// reply (struct ofp_group_desc_stats entries, whose buckets run to the
// entry's end).
func parseGroupDescs13(body []byte, out []GroupEntry) ([]GroupEntry, error) {
	for len(body) > 0 {
		if len(body) < groupDesc13Len {
			return out, errShort
		}
		l := int(binary.BigEndian.Uint16(body[0:2]))
		if l < groupDesc13Len || l > len(body) {
			return out, fmt.Errorf("openflow: bad group_desc length %d", l)
		}
		e := body[:l]
		g := GroupEntry{ID: binary.BigEndian.Uint32(e[4:8])}
		if t := e[2]; t != groupTypeAll {
			g.Buckets = append(g.Buckets, []Action{otherGroupType(t)})
		}
		for buckets := e[groupDesc13Len:]; len(buckets) > 0; {
			if len(buckets) < bucket13Len {
				return out, errShort
			}
			blen := int(binary.BigEndian.Uint16(buckets[0:2]))
			if blen < bucket13Len || blen > len(buckets) {
				return out, fmt.Errorf("openflow: bad bucket length %d in group %d", blen, g.ID)
			}
			acts, err := parseActions(buckets[bucket13Len:blen])
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
