package openflow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"antrea.io/libOpenflow/common"
	of "antrea.io/libOpenflow/openflow15"
	"antrea.io/libOpenflow/util"
)

func u8(v uint8) *uint8 { return &v }

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// oxms walks the OXM TLVs of an encoded ofp_match: libOpenflow's decoder
// drops eth_dst values, so the test reads the wire bytes itself.
func oxms(t *testing.T, match []byte) map[uint8][]byte {
	t.Helper()
	if typ := binary.BigEndian.Uint16(match[0:2]); typ != of.MatchType_OXM {
		t.Fatalf("match type %d, want OXM", typ)
	}
	l := int(binary.BigEndian.Uint16(match[2:4]))
	out := map[uint8][]byte{}
	for b := match[4:l]; len(b) > 0; {
		class := binary.BigEndian.Uint16(b[0:2])
		field, hasMask, n := b[2]>>1, b[2]&1 == 1, int(b[3])
		if class != oxmClassBasic || hasMask {
			t.Fatalf("unexpected OXM class %#x mask %v", class, hasMask)
		}
		out[field] = b[4 : 4+n]
		b = b[4+n:]
	}
	return out
}

// encodeFlow is flowMod and marshal, which must not fail.
func encodeFlow(t *testing.T, f Flow, xid uint32) []byte {
	t.Helper()
	fm, err := flowMod(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := marshal(fm, xid)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFlowModEncoding(t *testing.T) {
	f := Flow{
		Table:    TableL2,
		Priority: PriorityExact,
		Match: Match{InPort: 3, HasTunID: true, TunID: 0x1234, HasMetadata: true, Metadata: MetaFromLocal,
			EthDst: mac("aa:bb:cc:00:00:01")},
		Actions:       []Action{SetTunnelID{ID: 0x5678}, Output{Port: 32768}, Group{ID: 7}},
		WriteMetadata: &Metadata{Value: 2, Mask: 3},
		GotoTable:     u8(20),
	}
	b := encodeFlow(t, f, 0xabcd)
	if got := binary.BigEndian.Uint32(b[4:8]); got != 0xabcd {
		t.Errorf("xid %#x", got)
	}
	if b[0] != of.VERSION || b[1] != of.Type_FlowMod || int(binary.BigEndian.Uint16(b[2:4])) != len(b) {
		t.Fatalf("bad header % x", b[:8])
	}
	var got of.FlowMod
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got.Command != of.FC_ADD || got.TableId != TableL2 || got.Priority != PriorityExact ||
		got.Cookie != f.Cookie() || got.CookieMask != 0 || got.IdleTimeout != 0 || got.HardTimeout != 0 ||
		got.BufferId != 0xffffffff || got.Flags != 0 {
		t.Errorf("flow_mod fields: %+v", got)
	}
	m := oxms(t, b[48:])
	want := map[uint8][]byte{
		of.OXM_FIELD_IN_PORT:   {0, 0, 0, 3},
		of.OXM_FIELD_TUNNEL_ID: {0, 0, 0, 0, 0, 0, 0x12, 0x34},
		of.OXM_FIELD_METADATA:  {0, 0, 0, 0, 0, 0, 0, 1},
		of.OXM_FIELD_ETH_DST:   {0xaa, 0xbb, 0xcc, 0, 0, 1},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("match = %v, want %v", m, want)
	}
	if len(got.Instructions) != 3 {
		t.Fatalf("%d instructions, want 3", len(got.Instructions))
	}
	apply, ok := got.Instructions[0].(*of.InstrActions)
	if !ok || apply.Type != of.InstrType_APPLY_ACTIONS || len(apply.Actions) != 3 {
		t.Fatalf("first instruction %#v", got.Instructions[0])
	}
	sf, ok := apply.Actions[0].(*of.ActionSetField)
	if !ok || sf.Field.Field != of.OXM_FIELD_TUNNEL_ID || sf.Field.Value.(*of.TunnelIdField).TunnelId != 0x5678 {
		t.Errorf("action 0 = %#v", apply.Actions[0])
	}
	if o, ok := apply.Actions[1].(*of.ActionOutput); !ok || o.Port != 32768 {
		t.Errorf("action 1 = %#v", apply.Actions[1])
	}
	if g, ok := apply.Actions[2].(*of.ActionGroup); !ok || g.GroupId != 7 {
		t.Errorf("action 2 = %#v", apply.Actions[2])
	}
	if wm, ok := got.Instructions[1].(*of.InstrWriteMetadata); !ok || wm.Metadata != 2 || wm.MetadataMask != 3 {
		t.Errorf("instruction 1 = %#v", got.Instructions[1])
	}
	if gt, ok := got.Instructions[2].(*of.InstrGotoTable); !ok || gt.TableId != 20 {
		t.Errorf("instruction 2 = %#v", got.Instructions[2])
	}

	// Our own action decoder reads the same bytes back into Actions.
	// Instructions are apply (8 + actions), write_metadata (24), goto (8).
	start := len(b) - 32 - int(apply.Len())
	acts, err := parseActions(b[start+8 : len(b)-32])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(acts, f.Actions) {
		t.Errorf("parseActions = %v, want %v", acts, f.Actions)
	}
}

// A port-security flow's OXM fields go out in prerequisite order, which
// OVS checks field by field (eth_type before ip_proto before icmpv6_type
// before nd_target), with the values and masks the match says.
func TestFlowModPrerequisiteOrder(t *testing.T) {
	f := Flow{Table: TableND, Priority: PriorityExact, Match: Match{InPort: 4, EthSrc: mac("02:00:00:00:00:01"), Proto: &Proto{
		EthType: EthIPv6, IPProto: IPProtoICMPv6,
		IPSrc: netip.MustParseAddr("::"), IPDst: netip.MustParsePrefix("ff02::1:ff00:1/104"),
		HasICMPType: true, ICMPType: 136, HasICMPCode: true, NDTarget: netip.MustParseAddr("2001:db8::1"),
		NDTLL: mac("02:00:00:00:00:01"),
	}}}
	match := encodeFlow(t, f, 1)[48:]
	var order []uint8
	values := map[uint8]string{}
	for rest := match[4:binary.BigEndian.Uint16(match[2:4])]; len(rest) > 0; {
		field, n := rest[2]>>1, int(rest[3])
		order = append(order, field)
		values[field] = fmt.Sprintf("%x", rest[4:4+n])
		rest = rest[4+n:]
	}
	want := []uint8{of.OXM_FIELD_IN_PORT, of.OXM_FIELD_ETH_SRC, of.OXM_FIELD_ETH_TYPE, of.OXM_FIELD_IP_PROTO,
		of.OXM_FIELD_IPV6_SRC, of.OXM_FIELD_IPV6_DST, of.OXM_FIELD_ICMPV6_TYPE, of.OXM_FIELD_ICMPV6_CODE,
		of.OXM_FIELD_IPV6_ND_TARGET, of.OXM_FIELD_IPV6_ND_TLL}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("OXM order %v, want %v", order, want)
	}
	for field, v := range map[uint8]string{
		of.OXM_FIELD_ETH_TYPE:       "86dd",
		of.OXM_FIELD_IP_PROTO:       "3a",
		of.OXM_FIELD_IPV6_DST:       "ff0200000000000000000001ff000000" + "ffffffffffffffffffffffffff000000",
		of.OXM_FIELD_ICMPV6_TYPE:    "88",
		of.OXM_FIELD_ICMPV6_CODE:    "00",
		of.OXM_FIELD_IPV6_ND_TARGET: "20010db8000000000000000000000001",
		of.OXM_FIELD_IPV6_ND_TLL:    "020000000001",
	} {
		if values[field] != v {
			t.Errorf("field %d = %s, want %s", field, values[field], v)
		}
	}
	// A malformed address is the caller's bug, reported, not encoded.
	f.Match.Proto.NDTLL = net.HardwareAddr{1, 2, 3}
	if _, err := flowMod(f); err == nil || !strings.Contains(err.Error(), "nd_tll") {
		t.Fatalf("short nd_tll: %v", err)
	}
}

func TestFlowModDropAndWildcards(t *testing.T) {
	f := Flow{Table: TableClassify, Priority: PriorityDrop}
	fm, err := flowMod(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := marshal(fm, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got of.FlowMod
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if len(got.Instructions) != 0 || len(oxms(t, b[48:])) != 0 {
		t.Errorf("drop flow has instructions %v or match fields", got.Instructions)
	}
	// A zero tunnel ID or metadata is still matched when Has* says so.
	f.Match = Match{HasTunID: true, HasMetadata: true}
	fm, _ = flowMod(f)
	b, _ = marshal(fm, 1)
	if m := oxms(t, b[48:]); len(m) != 2 {
		t.Errorf("match fields %v, want tun_id=0 and metadata=0", m)
	}
}

func TestFlowDeleteEncoding(t *testing.T) {
	f := Flow{Table: TableL2, Priority: PriorityFlood, Match: Match{HasTunID: true, TunID: 5},
		Actions: []Action{Group{ID: 1}}}
	b, err := marshal(flowDelete(f.Ref()), 9)
	if err != nil {
		t.Fatal(err)
	}
	var got of.FlowMod
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got.Command != of.FC_DELETE || got.TableId != TableL2 || got.Cookie != f.Cookie() ||
		got.CookieMask != ^uint64(0) || got.OutPort != of.P_ANY || got.OutGroup != of.OFPG_ANY {
		t.Errorf("delete = %+v", got)
	}
	if len(got.Match.Fields) != 0 || len(got.Instructions) != 0 {
		t.Errorf("delete carries match %v / instructions %v", got.Match.Fields, got.Instructions)
	}
}

func TestGroupModEncoding(t *testing.T) {
	g := GroupEntry{ID: 42, Buckets: [][]Action{
		{Output{Port: 1}},
		{SetTunnelID{ID: 100}, Output{Port: 32768}},
		{Output{Port: 2}},
	}}
	for _, cmd := range []uint16{of.OFPGC_ADD, of.OFPGC_MODIFY} {
		gm, err := groupMod(g, cmd)
		if err != nil {
			t.Fatal(err)
		}
		b, err := marshal(gm, 3)
		if err != nil {
			t.Fatal(err)
		}
		var got of.GroupMod
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if got.Command != cmd || got.Type != of.GT_ALL || got.GroupId != 42 || len(got.Buckets) != 3 {
			t.Fatalf("group_mod = %+v", got)
		}
		for i, bk := range got.Buckets {
			if bk.BucketId != uint32(i) {
				t.Errorf("bucket %d has id %d", i, bk.BucketId)
			}
		}
		// Decode the bucket list the way DumpGroups does: same entry back.
		groups, err := parseGroupDescs(groupDescOf(b), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(groups) != 1 || !reflect.DeepEqual(groups[0], g) || groups[0].String() != g.String() {
			t.Errorf("decoded %v, want %v", groups, g)
		}
	}
	b, err := marshal(groupDelete(42), 4)
	if err != nil {
		t.Fatal(err)
	}
	var del of.GroupMod
	if err := del.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if del.Command != of.OFPGC_DELETE || del.GroupId != 42 || len(del.Buckets) != 0 {
		t.Errorf("delete = %+v", del)
	}
}

// groupDescOf turns an encoded type-all group_mod into the ofp_group_desc a
// switch holding that group dumps: same group ID and bucket list.
func groupDescOf(groupMod []byte) []byte {
	desc := append([]byte{0, 0, of.GT_ALL, 0}, groupMod[12:16]...) // length, type, pad, group_id
	desc = append(desc, groupMod[16:18]...)                        // bucket_array_len
	desc = append(desc, make([]byte, 6)...)
	desc = append(desc, groupMod[24:]...)
	binary.BigEndian.PutUint16(desc[0:2], uint16(len(desc)))
	return desc
}

func TestOversizedGroupRejected(t *testing.T) {
	g := GroupEntry{ID: 1}
	for i := 0; i < 3000; i++ {
		g.Buckets = append(g.Buckets, []Action{Output{Port: uint32(i + 1)}})
	}
	gm, err := groupMod(g, of.OFPGC_ADD)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := marshal(gm, 1); err == nil {
		t.Fatal("a 72 kB group_mod encoded without error")
	}
	s := &Session{}
	if _, _, _, _, err := s.encodeBundle(1, Changes{AddGroups: []GroupEntry{g}}); err == nil ||
		!strings.Contains(err.Error(), "group_mod add group_id=1") {
		t.Errorf("encodeBundle error = %v", err)
	}
}

func TestBundleOrder(t *testing.T) {
	fl := func(p uint16) Flow {
		return Flow{Table: TableL2, Priority: p, Actions: []Action{Output{Port: uint32(p)}}}
	}
	c := Changes{
		DeleteGroups: []uint32{9},
		AddFlows:     []Flow{fl(1), fl(2)},
		DeleteFlows:  []FlowRef{fl(3).Ref()},
		ModifyGroups: []GroupEntry{{ID: 8, Buckets: [][]Action{{Output{Port: 1}}}}},
		AddGroups:    []GroupEntry{{ID: 7, Buckets: [][]Action{{Output{Port: 1}}}}},
	}
	s := &Session{}
	msgs, openXid, closeXid, sink, err := s.encodeBundle(77, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != c.Len()+2 {
		t.Fatalf("%d messages, want %d", len(msgs), c.Len()+2)
	}
	ctrl := func(m []byte) *of.BundleCtrl {
		var bc of.BundleCtrl
		if err := bc.UnmarshalBinary(m); err != nil {
			t.Fatal(err)
		}
		return &bc
	}
	if bc := ctrl(msgs[0]); bc.Type != of.BCT_OPEN_REQUEST || bc.BundleId != 77 || bc.Flags != of.BF_ATOMIC|of.BF_ORDERED || bc.Xid != openXid {
		t.Errorf("first message %+v, want open of bundle 77", bc)
	}
	if bc := ctrl(msgs[len(msgs)-1]); bc.Type != of.BCT_CLOSE_REQUEST || bc.BundleId != 77 || bc.Xid != closeXid {
		t.Errorf("last message %+v, want close", bc)
	}
	var order []string
	for _, m := range msgs[1 : len(msgs)-1] {
		var add of.BndleAdd
		if err := add.UnmarshalBinary(m); err != nil {
			t.Fatal(err)
		}
		if add.BundleId != 77 || add.Flags != of.BF_ATOMIC|of.BF_ORDERED {
			t.Errorf("bundle add %+v", add)
		}
		inner, _ := add.Message.MarshalBinary()
		if ix := binary.BigEndian.Uint32(inner[4:8]); ix != add.Xid {
			t.Errorf("inner xid %#x differs from bundle add xid %#x", ix, add.Xid)
		}
		if _, ok := sink.xids[add.Xid]; !ok {
			t.Errorf("xid %#x not tracked for errors", add.Xid)
		}
		switch im := add.Message.(type) {
		case *of.FlowMod:
			if im.Command == of.FC_DELETE {
				order = append(order, "del-flow")
			} else {
				order = append(order, "add-flow")
			}
		case *of.GroupMod:
			order = append(order, map[uint16]string{of.OFPGC_ADD: "add-group", of.OFPGC_MODIFY: "mod-group", of.OFPGC_DELETE: "del-group"}[im.Command])
		default:
			t.Fatalf("unexpected inner message %T", im)
		}
	}
	want := []string{"add-group", "mod-group", "del-flow", "add-flow", "add-flow", "del-group"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("bundle order %v, want %v", order, want)
	}
}

func TestParseFlowDescs(t *testing.T) {
	entry := func(table uint8, prio uint16, cookie, pkts, bytes uint64, withMatch bool) []byte {
		e := make([]byte, 24)
		e[4] = table
		binary.BigEndian.PutUint16(e[6:], prio)
		binary.BigEndian.PutUint64(e[16:], cookie)
		m := of.NewMatch()
		if withMatch {
			m.AddField(*of.NewTunnelIdField(5))
			m.AddField(*of.NewInPortField(1))
		}
		mb, _ := m.MarshalBinary()
		binary.BigEndian.PutUint16(mb[2:4], m.Length)
		e = append(e, mb...)
		// ofp_stats: duration, idle_time, packet_count, byte_count.
		st := []byte{0, 0, 0, 0}
		oxs := func(field uint8, v []byte) {
			st = append(st, 0x80, 0x02, field<<1, byte(len(v)))
			st = append(st, v...)
		}
		oxs(oxsDuration, []byte{0, 0, 0, 2, 0, 0, 0, 5})
		oxs(1, make([]byte, 8))
		v := make([]byte, 8)
		binary.BigEndian.PutUint64(v, pkts)
		oxs(oxsPacketCount, v)
		v = make([]byte, 8)
		binary.BigEndian.PutUint64(v, bytes)
		oxs(oxsByteCount, v)
		binary.BigEndian.PutUint16(st[2:4], uint16(len(st)))
		for len(st)%8 != 0 {
			st = append(st, 0)
		}
		e = append(e, st...)
		// An instruction ferry does not look at.
		gt, _ := of.NewInstrGotoTable(3).MarshalBinary()
		e = append(e, gt...)
		binary.BigEndian.PutUint16(e[0:2], uint16(len(e)))
		return e
	}
	body := append(entry(10, 100, 0xfe77000000000001, 7, 700, true), entry(0, 0, 0, 0, 0, false)...)
	got, err := parseFlowDescs(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []FlowStat{
		{Table: 10, Priority: 100, Cookie: 0xfe77000000000001, Packets: 7, Bytes: 700, Duration: 2*time.Second + 5},
		{Duration: 2*time.Second + 5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if _, err := parseFlowDescs(body[:len(body)-3], nil); err == nil {
		t.Error("truncated reply parsed without error")
	}
}

func TestParseGroupDescUnknownActions(t *testing.T) {
	gd := of.NewGroupDesc()
	gd.Type = of.GT_ALL
	gd.GroupId = 3
	b0 := of.NewBucket(0)
	b0.AddAction(of.NewActionOutput(1))
	b0.AddAction(of.NewActionDecNwTtl())
	gd.AddBucket(*b0)
	b1 := of.NewBucket(1)
	b1.AddAction(of.NewActionSetField(*of.NewEthDstField(mac("00:00:00:00:00:01"), nil)))
	gd.AddBucket(*b1)
	body, err := gd.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint16(body[0:2], uint16(len(body)))
	groups, err := parseGroupDescs(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || len(groups[0].Buckets) != 2 {
		t.Fatalf("groups = %v", groups)
	}
	g := groups[0]
	if g.Buckets[0][0] != (Output{Port: 1}) {
		t.Errorf("bucket 0 action 0 = %v", g.Buckets[0][0])
	}
	for _, a := range []Action{g.Buckets[0][1], g.Buckets[1][0]} {
		if _, ok := a.(Unknown); !ok {
			t.Errorf("action %v decoded as %T, want Unknown", a, a)
		}
	}
	desired := GroupEntry{ID: 3, Buckets: [][]Action{{Output{Port: 1}}, {}}}
	if g.String() == desired.String() || reflect.DeepEqual(g, desired) {
		t.Errorf("group with unknown actions compares equal to %v", desired)
	}
	// == on Action interfaces must not panic.
	_ = g.Buckets[0][1] == Action(Output{Port: 1})

	// A group of another type never equals a desired type-all group.
	gd.Type = of.GT_SELECT
	body, _ = gd.MarshalBinary()
	binary.BigEndian.PutUint16(body[0:2], uint16(len(body)))
	groups, _ = parseGroupDescs(body, nil)
	if !strings.Contains(groups[0].String(), "group_type_1") {
		t.Errorf("select group renders as %s", groups[0])
	}
}

func TestNegotiate(t *testing.T) {
	hello := func(ver uint8, bitmap ...uint32) []byte {
		b := header(of.Type_Hello, 1, 8)
		b[0] = ver
		if len(bitmap) > 0 {
			e := make([]byte, 4+4*len(bitmap))
			binary.BigEndian.PutUint16(e[0:2], 1)
			binary.BigEndian.PutUint16(e[2:4], uint16(len(e)))
			for i, w := range bitmap {
				binary.BigEndian.PutUint32(e[4+4*i:], w)
			}
			for len(e)%8 != 0 {
				e = append(e, 0)
			}
			b = append(b, e...)
		}
		binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
		return b
	}
	for _, tc := range []struct {
		msg     []byte
		version uint8
		offered string
	}{
		{hello(6, 1<<1|1<<4|1<<6), Version15, "OpenFlow10,OpenFlow13,OpenFlow15"},
		{hello(4, 1<<1|1<<4), Version13, "OpenFlow10,OpenFlow13"},
		{hello(5, 1<<1|1<<4|1<<5), Version13, "OpenFlow10,OpenFlow13,OpenFlow14"},
		{hello(5, 1<<1|1<<5), 0, "OpenFlow10,OpenFlow14"},
		{hello(2, 1<<1|1<<2), 0, "OpenFlow10,OpenFlow11"},
		{hello(6), Version15, ""},
		{hello(7), Version15, ""},
		{hello(4), Version13, ""},
		{hello(5), 0, ""},
		{hello(1), 0, ""},
		{hello(6, 1<<6, 0), Version15, "OpenFlow15"},
	} {
		version, offered := negotiate(tc.msg)
		if version != tc.version || (tc.offered != "" && offered != tc.offered) {
			t.Errorf("negotiate(% x) = %d, %q; want %d, %q", tc.msg, version, offered, tc.version, tc.offered)
		}
	}
	// Our own hello is what libOpenflow parses as a 1.5 hello with a bitmap.
	var h common.Hello
	if err := h.UnmarshalBinary(helloMsg(1)); err != nil {
		t.Fatal(err)
	}
	if h.Version != of.VERSION || len(h.Elements) != 1 {
		t.Fatalf("hello = %+v", h)
	}
	if bm := h.Elements[0].(*common.HelloElemVersionBitmap); !reflect.DeepEqual(bm.Bitmaps, []uint32{1<<6 | 1<<4}) {
		t.Errorf("bitmap %v", bm.Bitmaps)
	}
}

func TestErrorNames(t *testing.T) {
	em := of.NewErrorMsg()
	em.Type, em.Code = of.ET_BAD_ACTION, of.BAC_BAD_OUT_GROUP
	em.Data = *util.NewBuffer(header(of.Type_FlowMod, 0x55, 8))
	b, _ := em.MarshalBinary()
	e, err := parseError(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Name() != "OFPBAC_BAD_OUT_GROUP" {
		t.Errorf("name %q", e.Name())
	}
	if got := e.Error(); !strings.Contains(got, "OFPT_FLOW_MOD (xid 0x55)") {
		t.Errorf("error %q does not name the request", got)
	}
	e.Op = "flow_mod add table=10, priority=1 actions=group:9"
	if got := e.Error(); got != "openflow: switch rejected flow_mod add table=10, priority=1 actions=group:9: OFPBAC_BAD_OUT_GROUP" {
		t.Errorf("error %q", got)
	}
	if (&Error{Type: 17, Code: 13}).Name() != "OFPBFC_MSG_FAILED" {
		t.Error("bundle error name")
	}
	if (&Error{Type: 99, Code: 1}).Name() != "OFPET(type=99,code=1)" {
		t.Error("unknown type name")
	}
	var target *Error
	if !errors.As(error(e), &target) {
		t.Error("errors.As")
	}
}
