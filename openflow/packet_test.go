package openflow

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	of "antrea.io/libOpenflow/openflow15"
	"antrea.io/libOpenflow/util"
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestControllerAction(t *testing.T) {
	a := Controller{MaxLen: ControllerNoBuffer}
	if got := a.String(); got != "CONTROLLER:65535" {
		t.Errorf("String() = %q, want ovs-ofctl's CONTROLLER:65535", got)
	}
	f := Flow{Table: 0, Priority: 100, Match: Match{InPort: 1, Proto: &Proto{EthType: 0x88b5}}, Actions: []Action{a}}
	if got, want := f.String(), "table=0, priority=100,in_port=1,dl_type=0x88b5 actions=CONTROLLER:65535"; got != want {
		t.Errorf("Flow.String() = %q, want %q", got, want)
	}
	if got := (GroupEntry{ID: 1, Buckets: [][]Action{{Controller{MaxLen: 128}}}}).String(); got != "group_id=1,type=all,bucket=actions=CONTROLLER:128" {
		t.Errorf("group String() = %q", got)
	}
	// An output to the reserved port CONTROLLER, with max_len.
	oa, err := encodeAction(Controller{MaxLen: 128})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := oa.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "0000 0010 fffffffd 0080 000000000000"); !bytes.Equal(enc, want) {
		t.Errorf("encoded % x, want % x", enc, want)
	}
	// A group dump decodes it back, and an ordinary output stays one.
	out, _ := encodeAction(Output{Port: 2})
	outEnc, _ := out.MarshalBinary()
	acts, err := parseActions(append(enc, outEnc...))
	if err != nil || !reflect.DeepEqual(acts, []Action{Controller{MaxLen: 128}, Output{Port: 2}}) {
		t.Errorf("parseActions = %v, %v", acts, err)
	}
}

func TestEncodePacketOut(t *testing.T) {
	frame := unhex(t, "020000000002 020000000001 88b5")
	p := PacketOut{InPort: 1, Actions: []Action{SetTunnelID{ID: 0x64}, Output{Port: PortTable}}, Data: frame}
	setTunID := "0019 0010 80004c08 0000000000000064"
	outTable := "0000 0010 fffffff9 ffff 000000000000"
	for _, c := range []struct {
		version uint8
		want    string
	}{
		// buffer_id, in_port, actions_len, 6 pad, actions, frame.
		{Version13, "04 0d 0046 11223344  ffffffff 00000001 0020 000000000000" + setTunID + outTable + "020000000002 020000000001 88b5"},
		// buffer_id, actions_len, 2 pad, match {OXM in_port=1} padded, actions, frame.
		{Version15, "06 0d 004e 11223344  ffffffff 0020 0000 0001 000c 80000004 00000001 00000000" + setTunID + outTable + "020000000002 020000000001 88b5"},
	} {
		got, err := encodePacketOut(c.version, 0x11223344, p)
		if err != nil {
			t.Fatal(err)
		}
		if want := unhex(t, c.want); !bytes.Equal(got, want) {
			t.Errorf("%s packet-out:\n got % x\nwant % x", VersionName(c.version), got, want)
		}
	}
	// libOpenflow's 1.5 encoder, independent of ours, agrees.
	lo := of.NewPacketOut()
	lo.Match.AddField(*of.NewInPortField(1))
	for _, a := range p.Actions {
		oa, _ := encodeAction(a)
		lo.AddAction(oa)
	}
	lo.Data = util.NewBuffer(frame)
	want, err := marshal(lo, 0x11223344)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := encodePacketOut(Version15, 0x11223344, p); !bytes.Equal(got, want) {
		t.Errorf("1.5 packet-out % x, libOpenflow encodes % x", got, want)
	}
	// No InPort is "from the controller".
	got, err := encodePacketOut(Version13, 1, PacketOut{Data: frame})
	if err != nil || binary.BigEndian.Uint32(got[12:16]) != PortController || len(got) != packetOut13Len+len(frame) {
		t.Errorf("packet-out without in_port: % x, %v", got, err)
	}
}

func TestEncodePacketOutRejects(t *testing.T) {
	frame := make([]byte, 60)
	largest := maxMsgLen - packetOut15Len - pad8(inPortMatchLen) - 16
	for _, c := range []struct {
		name string
		p    PacketOut
		want string
	}{
		{"no frame", PacketOut{InPort: 1}, "shorter than an Ethernet header"},
		{"runt", PacketOut{Data: frame[:13]}, "shorter than an Ethernet header"},
		{"too large", PacketOut{Actions: []Action{Output{Port: 1}}, Data: make([]byte, largest+1)}, "exceeds the OpenFlow message limit"},
		{"64 KiB", PacketOut{Data: make([]byte, 64<<10)}, "exceeds the OpenFlow message limit"},
		{"unknown action", PacketOut{Actions: []Action{Unknown{Type: 11}}, Data: frame}, "cannot encode action"},
	} {
		_, err := encodePacketOut(Version15, 1, c.p)
		if err == nil || !strings.HasPrefix(err.Error(), "openflow: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an openflow: error saying %q", c.name, err, c.want)
		}
	}
	if b, err := encodePacketOut(Version15, 1, PacketOut{Actions: []Action{Output{Port: 1}}, Data: make([]byte, largest)}); err != nil || len(b) != maxMsgLen {
		t.Errorf("the largest packet-out: %d bytes, %v", len(b), err)
	}
}

// TestCapturedPacketIns pins what the OVS 3.1 packet-ins of
// packetInCapture (TestCapturePacketIns) decode to, in both versions.
func TestCapturedPacketIns(t *testing.T) {
	probe := Proto{EthType: 0x88b5}
	cookie := func(f Flow) uint64 { return f.Cookie() }
	punt1 := Flow{Table: 0, Priority: 100, Match: Match{InPort: 1, Proto: &probe}, Actions: []Action{Controller{MaxLen: ControllerNoBuffer}}}
	punt2 := Flow{Table: 0, Priority: 100, Match: Match{InPort: 2, Proto: &probe}, Actions: []Action{Controller{MaxLen: 20}}}
	punt30 := Flow{Table: 30, Priority: 1, Actions: []Action{Controller{MaxLen: ControllerNoBuffer}}}
	type want struct {
		table   uint8
		cookie  uint64
		inPort  uint32
		tunID   uint64
		hasTun  bool
		tunSrc  string
		dataLen int
		dst     byte
	}
	wants := []want{
		{0, cookie(punt1), 1, 0, false, "", 60, 2},
		{0, cookie(punt1), 1, 100, true, "", 1500, 2},
		// max_len 20, yet OVS 3.1 (which buffers nothing) sends it all.
		{0, cookie(punt2), 2, 0, false, "", 60, 2},
		{30, cookie(punt30), 3, 0, false, "", 64, 2},
		{0, 0, 3, 5000, true, "198.18.0.11", 60, 4},
		{0, 0, 3, 100, true, "2001:db8::11", 60, 6},
		// The packet-out's own controller action: no flow, no port.
		{0, ^uint64(0), PortController, 0, false, "", 60, 2},
	}
	msgs := capturedPacketIns(t)
	if len(msgs) != 2*len(wants) {
		t.Fatalf("%d captured packet-ins, want %d", len(msgs), 2*len(wants))
	}
	for i, m := range msgs {
		w := wants[i%len(wants)]
		version, reason := uint8(Version15), PacketInPacketOut
		if i >= len(wants) {
			version, reason = Version13, PacketInAction
		}
		pi, err := parsePacketIn(m)
		if err != nil {
			t.Fatalf("packet-in %d: %v", i, err)
		}
		var src netip.Addr
		if w.tunSrc != "" {
			src = netip.MustParseAddr(w.tunSrc)
		}
		if m[0] != version || pi.Table != w.table || pi.Cookie != w.cookie || pi.InPort != w.inPort || pi.Reason != reason ||
			pi.HasTunID != w.hasTun || pi.TunID != w.tunID || pi.TunSrc != src || len(pi.Data) != w.dataLen ||
			!bytes.HasPrefix(pi.Data, []byte{2, 0, 0, 0, 0, w.dst, 2, 0, 0, 0, 0, 1, 0x88, 0xb5}) {
			t.Errorf("packet-in %d (%s) = %+v, want %+v", i, VersionName(m[0]), pi, w)
		}
		// The frame is a copy: the message's buffer is not kept.
		if len(pi.Data) > 0 && &pi.Data[0] == &m[len(m)-len(pi.Data)] {
			t.Errorf("packet-in %d: Data aliases the message", i)
		}
	}
}

func TestParsePacketInRejects(t *testing.T) {
	good := capturedPacketIns(t)[1] // 1.5, in_port and tun_id
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	setLen := func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:4], uint16(len(b))); return b }
	for _, c := range []struct {
		name string
		msg  []byte
	}{
		{"empty", nil},
		{"header only", good[:8]},
		{"short", setLen(bytes.Clone(good[:minPacketInLen-1]))},
		{"truncated", good[:len(good)-1]},
		{"version 1.4", mutate(func(b []byte) []byte { b[0] = 5; return b })},
		{"not a packet-in", mutate(func(b []byte) []byte { b[1] = of.Type_EchoRequest; return b })},
		{"standard match", mutate(func(b []byte) []byte { b[25] = 0; return b })},
		{"match length 3", mutate(func(b []byte) []byte { b[27] = 3; return b })},
		{"match past the end", mutate(func(b []byte) []byte { binary.BigEndian.PutUint16(b[26:28], uint16(len(b))); return b })},
		{"OXM past the match", mutate(func(b []byte) []byte { b[31] = 40; return b })},
		{"OXM header cut", mutate(func(b []byte) []byte { b[27] -= 10; return b })},
	} {
		if pi, err := parsePacketIn(c.msg); err == nil || !strings.HasPrefix(err.Error(), "openflow: ") {
			t.Errorf("%s: %+v, %v; want an openflow: error", c.name, pi, err)
		}
	}
}

// barrierWith completes a barrier on s, answered by the fake switch f.
func barrierWith(t *testing.T, s *Session, f *fakeSwitch) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- s.Barrier(context.Background()) }()
	b := f.readSkippingEchoes()
	f.send(s.header(of.Type_BarrierReply, xidOf(b), 8))
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestSessionPacketIns: packet-ins are skipped until someone asks for
// them, then delivered in order; a full queue drops and counts without
// holding the reader up; bad ones are counted; the channel closes with
// the session.
func TestSessionPacketIns(t *testing.T) {
	srv, addr, _ := startServer(t, nil)
	f := dialFake(t, addr, 0x99)
	s := sessionOf(t, srv, 0x99)
	var pins [][]byte
	for _, m := range capturedPacketIns(t) {
		if m[0] == Version15 {
			pins = append(pins, m)
		}
	}
	f.send(pins[0])
	barrierWith(t, s, f)
	if c := s.Counters(); c != (Counters{}) {
		t.Errorf("packet-in before PacketIns was called: counters %+v", c)
	}

	ch := s.PacketIns()
	if s.PacketIns() != ch {
		t.Error("PacketIns returns another channel on a second call")
	}
	for _, m := range pins {
		f.send(m)
	}
	for i, m := range pins {
		want, _ := parsePacketIn(m)
		select {
		case got := <-ch:
			if !reflect.DeepEqual(got, want) {
				t.Errorf("packet-in %d = %+v, want %+v", i, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("packet-in %d not delivered", i)
		}
	}

	// Nobody reads: the queue fills, the rest are dropped, and replies
	// still come through.
	// (A bad one first: once the queue is full, packet-ins are skipped
	// unread, so dropped whatever they hold.)
	bad := bytes.Clone(pins[0])
	bad[25] = 0 // a standard (1.0) match
	f.send(bad)
	const extra = 10
	for range PacketInQueue + extra {
		f.send(pins[1])
	}
	barrierWith(t, s, f)
	c := s.Counters()
	if c.PacketIns != uint64(len(pins)+PacketInQueue) || c.PacketInDrops != extra || c.PacketInErrors != 1 || len(ch) != PacketInQueue {
		t.Errorf("counters %+v, %d queued; want %d delivered, %d dropped, 1 bad", c, len(ch), len(pins)+PacketInQueue, extra)
	}
	if sc := srv.Counters(); sc != c {
		t.Errorf("server counters %+v, session %+v", sc, c)
	}

	f.conn.Close()
	deadline := time.After(5 * time.Second)
	for n := 0; ; n++ {
		select {
		case _, ok := <-ch:
			if !ok {
				if n != PacketInQueue {
					t.Errorf("%d packet-ins before the close, want %d", n, PacketInQueue)
				}
				return
			}
		case <-deadline:
			t.Fatal("packet-in channel not closed after the session ended")
		}
	}
}

// TestPacketInsOfSessionThatNeverAsked: a session that ends before anyone
// called PacketIns hands out a closed channel.
func TestPacketInsOfSessionThatNeverAsked(t *testing.T) {
	srv, addr, _ := startServer(t, nil)
	f := dialFake(t, addr, 0x98)
	s := sessionOf(t, srv, 0x98)
	f.conn.Close()
	<-s.Done()
	select {
	case _, ok := <-s.PacketIns():
		if ok {
			t.Fatal("a packet-in from nowhere")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel of an ended session not closed")
	}
}

// TestPacketOutErrorCounted: an error about a packet-out is counted and
// not warned about; the session stays up.
func TestPacketOutErrorCounted(t *testing.T) {
	srv, addr, logs := startServer(t, nil)
	f := dialFake(t, addr, 0x97)
	s := sessionOf(t, srv, 0x97)
	if err := s.PacketOut(context.Background(), PacketOut{InPort: 1, Actions: []Action{Group{ID: 9}}, Data: make([]byte, 60)}); err != nil {
		t.Fatal(err)
	}
	po := f.readSkippingEchoes()
	if po[1] != of.Type_PacketOut {
		t.Fatalf("switch got %s", msgTypeName(po[1]))
	}
	f.send(encodeError(xidOf(po), &Error{Type: 2, Code: 9, Data: po[:64]}))
	barrierWith(t, s, f)
	if c := s.Counters(); c.PacketOuts != 1 || c.PacketOutErrors != 1 {
		t.Errorf("counters %+v", c)
	}
	if strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "OFPBAC_BAD_OUT_GROUP") {
		t.Errorf("log:\n%s", logs.String())
	}
	// A cancelled context sends nothing.
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PacketOut(cctx, PacketOut{Data: make([]byte, 60)}); err == nil {
		t.Error("PacketOut with a cancelled context succeeded")
	}
	var _ net.Conn = f.conn
}
