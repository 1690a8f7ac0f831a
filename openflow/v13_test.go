package openflow

import (
	"encoding/binary"
	"math"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// groupDesc13Of turns an encoded OpenFlow 1.3 group_mod into the
// group_desc_stats entry a dump of that group returns: the buckets are laid
// out alike.
func groupDesc13Of(gm []byte) []byte {
	body := make([]byte, groupDesc13Len, len(gm)-groupMod13Len+groupDesc13Len)
	binary.BigEndian.PutUint16(body[0:2], uint16(len(gm)-groupMod13Len+groupDesc13Len))
	body[2] = gm[10]
	copy(body[4:8], gm[12:16])
	return append(body, gm[groupMod13Len:]...)
}

// encodeFlowStats13 encodes fs as an OpenFlow 1.3 ofp_flow_stats field
// by field from the specification (§7.3.5.2), with a tunnel ID match and a
// goto_table instruction.
func encodeFlowStats13(tb testing.TB, fs FlowStat) []byte {
	tb.Helper()
	match := []byte{0, 1, 0, 16, 0x80, 0, 38 << 1, 8, 0, 0, 0, 0, 0, 0, 0, 5} // OFPMT_OXM, tunnel_id=5
	instr := []byte{0, 1, 0, 8, 1, 0, 0, 0}                                   // goto_table:1
	b := make([]byte, 48, 48+len(match)+len(instr))
	b[2] = fs.Table
	binary.BigEndian.PutUint32(b[4:8], uint32(fs.Duration/time.Second))
	binary.BigEndian.PutUint32(b[8:12], uint32(fs.Duration%time.Second))
	binary.BigEndian.PutUint16(b[12:14], fs.Priority)
	binary.BigEndian.PutUint16(b[14:16], fs.IdleTimeout)
	binary.BigEndian.PutUint16(b[16:18], fs.HardTimeout)
	binary.BigEndian.PutUint64(b[24:32], fs.Cookie)
	binary.BigEndian.PutUint64(b[32:40], fs.Packets)
	binary.BigEndian.PutUint64(b[40:48], fs.Bytes)
	b = append(append(b, match...), instr...)
	binary.BigEndian.PutUint16(b[0:2], uint16(len(b)))
	return b
}

// aggregate13 is an OpenFlow 1.3 ofp_aggregate_stats_reply.
func aggregate13(packets, bytes uint64, flows uint32) []byte {
	b := make([]byte, aggregate13Len)
	binary.BigEndian.PutUint64(b[0:8], packets)
	binary.BigEndian.PutUint64(b[8:16], bytes)
	binary.BigEndian.PutUint32(b[16:20], flows)
	return b
}

var groups13 = []GroupEntry{
	{ID: 42, Buckets: [][]Action{{Output{Port: 1}}, {SetTunnelID{ID: 100}, Output{Port: 32768}}, {}}},
	{ID: 7, Buckets: [][]Action{{Group{ID: 3}}}},
	{ID: 1},
}

// TestGroupMod13Layout: the 1.3 group_mod is laid out as the
// specification says (§7.3.4.2), bucket by bucket, and a dump of it decodes
// back to the group.
func TestGroupMod13Layout(t *testing.T) {
	got, err := groupMod13(GroupEntry{ID: 42, Buckets: [][]Action{{Output{Port: 1}}, {}}}, groupCommandMod, 9)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		4, 15, 0, 64, 0, 0, 0, 9, // version 1.3, OFPT_GROUP_MOD, length 64, xid 9
		0, 1, 0, 0, 0, 0, 0, 42, // OFPGC_MODIFY, OFPGT_ALL, pad, group 42
		0, 32, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, // bucket of 32: weight 0, watch any
		0, 0, 0, 16, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0, 0, 0, // output:1, max_len OFPCML_NO_BUFFER
		0, 16, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, // empty bucket
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("group_mod:\n got % x\nwant % x", got, want)
	}
	for _, g := range groups13 {
		b, err := groupMod13(g, groupCommandAdd, 1)
		if err != nil {
			t.Fatal(err)
		}
		back, err := parseGroupDescs13(groupDesc13Of(b), nil)
		if err != nil || len(back) != 1 || back[0].String() != g.String() {
			t.Errorf("group %d decodes to %v, %v", g.ID, back, err)
		}
	}
	del := groupDelete13(42, 3)
	if len(del) != groupMod13Len || del[0] != Version13 || binary.BigEndian.Uint16(del[8:10]) != groupCommandDel ||
		binary.BigEndian.Uint32(del[12:16]) != 42 {
		t.Errorf("group delete % x", del)
	}
}

func TestParseFlowStats13(t *testing.T) {
	want := []FlowStat{
		{Table: 10, Priority: 100, Cookie: 0xfe77000000000001, Packets: 7, Bytes: 700, Duration: 2*time.Second + 5},
		{Table: 0, Priority: 1, Cookie: 0x1234, IdleTimeout: 60, HardTimeout: 120},
	}
	var body []byte
	for _, fs := range want {
		body = append(body, encodeFlowStats13(t, fs)...)
	}
	got, err := parseFlowStats13(body, nil)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("parseFlowStats13 = %+v, %v; want %+v", got, err, want)
	}
	if n, err := parseAggregate13(aggregate13(9, 900, 17), nil); err != nil || len(n) != 1 || n[0] != 17 {
		t.Errorf("parseAggregate13 = %v, %v", n, err)
	}
}

// TestSequenceOrder: without bundles the switch applies each message as it
// comes, so the order is what keeps frames from being misdelivered.
func TestSequenceOrder(t *testing.T) {
	flow := func(table uint8, prio uint16) Flow { return Flow{Table: table, Priority: prio} }
	c := Changes{
		AddGroups:    []GroupEntry{{ID: 1}},
		ModifyGroups: []GroupEntry{{ID: 2}},
		DeleteFlows:  []FlowRef{{Table: 30, Cookie: 1}, {Table: 0, Cookie: 2}, {Table: 10, Cookie: 3}},
		AddFlows:     []Flow{flow(0, 1), flow(30, 1), flow(10, 1), flow(30, 2)},
		DeleteGroups: []uint32{3},
	}
	var got []string
	for _, o := range c.sequenceOps() {
		switch o.kind {
		case opAddFlow:
			got = append(got, "add table "+strconv.Itoa(int(o.flow.Table))+" prio "+strconv.Itoa(int(o.flow.Priority)))
		case opDeleteFlow:
			got = append(got, "delete table "+strconv.Itoa(int(o.ref.Table)))
		case opAddGroup:
			got = append(got, "add group")
		case opModifyGroup:
			got = append(got, "modify group")
		case opDeleteGroup:
			got = append(got, "delete group")
		}
	}
	want := []string{
		"add group", "modify group",
		"add table 30 prio 1", "add table 30 prio 2", "add table 10 prio 1", "add table 0 prio 1",
		"delete table 0", "delete table 10", "delete table 30",
		"delete group",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sequence order:\n%q\nwant\n%q", got, want)
	}
}

func FuzzParseFlowStats13(f *testing.F) {
	f.Add(encodeFlowStats13(f, FlowStat{Table: 10, Priority: 100, Cookie: 0xfe77000000000001, Packets: 7, Bytes: 700,
		Duration: 2*time.Second + 5}))
	f.Add(append(encodeFlowStats13(f, FlowStat{Table: 1}), encodeFlowStats13(f, FlowStat{Table: 2})...))
	f.Add(make([]byte, minFlowStats13Len))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := decodeDump(t, body, parseFlowStats13)
		if !ok {
			return
		}
		if len(got) > len(body)/minFlowStats13Len {
			t.Fatalf("%d entries from %d bytes", len(got), len(body))
		}
		// What was decoded survives a re-encoding unchanged.
		for _, fs := range got {
			if fs.Duration/time.Second > math.MaxUint32 {
				continue // seconds and nanoseconds both near their maximum: not representable canonically
			}
			again, err := parseFlowStats13(encodeFlowStats13(t, fs), nil)
			if err != nil || len(again) != 1 || again[0] != fs {
				t.Fatalf("%+v re-encoded decodes to %+v, %v", fs, again, err)
			}
		}
	})
}

func FuzzParseGroupDescs13(f *testing.F) {
	for _, g := range groups13 {
		b, err := groupMod13(g, groupCommandAdd, 1)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(groupDesc13Of(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := decodeDump(t, body, parseGroupDescs13)
		if !ok {
			return
		}
		for _, g := range got {
			if hasUnknown(g) {
				continue
			}
			b, err := groupMod13(g, groupCommandAdd, 1)
			if err != nil {
				continue // past 64 KiB once re-encoded
			}
			again, err := parseGroupDescs13(groupDesc13Of(b), nil)
			if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], g) {
				t.Fatalf("%v re-encoded decodes to %v, %v", g, again, err)
			}
		}
	})
}

func FuzzParseAggregate13(f *testing.F) {
	ab := aggregate13(9, 900, 17)
	f.Add(ab)
	f.Add(ab[:20])
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := parseAggregate13(body, nil)
		if err == nil && len(out) != 1 {
			t.Fatalf("no error and %d counts", len(out))
		}
	})
}
