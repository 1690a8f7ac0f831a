package openflow

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	of "antrea.io/libOpenflow/openflow15"
	"antrea.io/libOpenflow/util"
)

// Fuzz targets for every decoder of switch input. Each must be total: no
// panic, no endless loop, no allocation a length field asks for, whatever
// the bytes. Where it is cheap they also check what a correct decoder
// does: a valid input re-encoded decodes to the same value, and a valid
// length-delimited input cut short is an error.
//
// Run one with: go test ./openflow/ -run '^$' -fuzz '^FuzzParseFlowDescs$' -fuzztime 20s

// watchdog turns an iteration that runs for seconds into a crash the
// fuzzer reports with its input: Go's fuzzing has no hang detection, and
// "never loop forever" is one of the properties checked.
func watchdog() (stop func()) {
	t := time.AfterFunc(5*time.Second, func() { panic("fuzz iteration still running after 5s") })
	return func() { t.Stop() }
}

// captured is what OVS 3.1 sent ferry in one session (testdata/README.md
// says how it was made), split into messages.
func captured(tb testing.TB) [][]byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/ovs-3.1-session.bin")
	if err != nil {
		tb.Fatal(err)
	}
	var msgs [][]byte
	br := bufio.NewReader(bytes.NewReader(b))
	for {
		m, err := readMsg(br)
		if errors.Is(err, io.EOF) {
			return msgs
		}
		if err != nil {
			tb.Fatalf("testdata/ovs-3.1-session.bin: %v", err)
		}
		msgs = append(msgs, m)
	}
}

// capturedOf returns the captured messages of type typ (and, for multipart
// replies, of multipart type mp).
func capturedOf(tb testing.TB, typ uint8, mp uint16) [][]byte {
	var out [][]byte
	for _, m := range captured(tb) {
		if m[1] == typ && (typ != of.Type_MultiPartReply || binary.BigEndian.Uint16(m[8:10]) == mp) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		tb.Fatalf("no captured %s", msgTypeName(typ))
	}
	return out
}

// TestCapturedOVSReplies pins what the fuzz seeds are: real replies that
// decode to the sandbox pipeline and the foreign flows and groups added
// beside it.
func TestCapturedOVSReplies(t *testing.T) {
	flows, err := parseFlowDescs(capturedOf(t, of.Type_MultiPartReply, of.MultipartType_FlowDesc)[0][multipartHeaderLen:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 7 {
		t.Fatalf("%d flows, want 7", len(flows))
	}
	foreign := flows[6]
	if foreign.Table != 20 || foreign.Priority != 5 || foreign.Cookie != 0x1234 || foreign.IdleTimeout != 60 || foreign.HardTimeout != 120 {
		t.Errorf("foreign flow %+v", foreign)
	}
	if flows[0].Packets != 1 || flows[0].Bytes != 36 || flows[0].Duration == 0 {
		t.Errorf("first flow's stats %+v, want the packet-out counted", flows[0])
	}
	groups, err := parseGroupDescs(capturedOf(t, of.Type_MultiPartReply, of.MultipartType_GroupDesc)[0][multipartHeaderLen:], nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2,bucket=actions=set_field:0x64->tun_id,output:32768"
	if len(groups) != 3 || groups[0].String() != want {
		t.Errorf("groups %v, want 3 starting with %s", groups, want)
	}
	dpid, n, err := parseFeaturesReply(capturedOf(t, of.Type_FeaturesReply, 0)[0])
	if err != nil || dpid != 0x56638222654f || n != 254 {
		t.Errorf("features: dpid %x tables %d err %v", dpid, n, err)
	}
}

// encodeFlowDesc is libOpenflow's ofp_flow_desc for fs, an encoder
// independent of the decoder under test.
func encodeFlowDesc(tb testing.TB, fs FlowStat, match ...*of.MatchField) []byte {
	tb.Helper()
	fd := of.NewFlowDesc()
	fd.TableId, fd.Priority, fd.Cookie = fs.Table, fs.Priority, fs.Cookie
	fd.IdleTimeout, fd.HardTimeout = fs.IdleTimeout, fs.HardTimeout
	for _, m := range match {
		fd.Match.AddField(*m)
	}
	d := of.NewDurationStatField()
	d.Sec, d.NSec = uint32(fs.Duration/time.Second), uint32(fs.Duration%time.Second)
	p := of.NewPacketCountStatField()
	p.Count = fs.Packets
	b := of.NewByteCountStatField()
	b.Count = fs.Bytes
	fd.Stats.AddField(d)
	fd.Stats.AddField(p)
	fd.Stats.AddField(b)
	fd.AddInstruction(of.NewInstrGotoTable(1))
	enc, err := fd.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return enc
}

// errorIfTruncated checks the property every length-delimited list decoder
// has: body decoded, so body less its last byte must not.
func errorIfTruncated(t *testing.T, name string, body []byte, decode func([]byte) error) {
	t.Helper()
	if len(body) == 0 {
		return
	}
	if err := decode(body[:len(body)-1]); err == nil {
		t.Fatalf("%s decoded % x but not an error for it less its last byte", name, body)
	}
}

// addCapturedBodies seeds f with the bodies of the captured multipart
// replies of type mp.
func addCapturedBodies(f *testing.F, mp uint16) {
	for _, m := range capturedOf(f, of.Type_MultiPartReply, mp) {
		f.Add(m[multipartHeaderLen:])
	}
}

// decodeDump runs a dump decoder on body and checks what any of them must
// do: its errors carry the package prefix, and a body it accepts does not
// decode once cut short. ok reports whether body decoded.
func decodeDump[T any](t *testing.T, body []byte, parse func([]byte, []T) ([]T, error)) (got []T, ok bool) {
	t.Helper()
	got, err := parse(body, nil)
	if err != nil {
		if !strings.HasPrefix(err.Error(), "openflow: ") {
			t.Fatalf("error %q lacks the package prefix", err)
		}
		return nil, false
	}
	errorIfTruncated(t, "dump decoder", body, func(b []byte) error { _, err := parse(b, nil); return err })
	return got, true
}

func FuzzParseFlowDescs(f *testing.F) {
	f.Add(flowDescEntry(1, 0)) // the reported crash: stats length 0
	f.Add(flowDescEntry(1, 3))
	f.Add(flowDescEntry(1, statsHeaderLen))
	f.Add(append(flowDescEntry(1, statsHeaderLen), flowDescEntry(2, 200)...))
	f.Add(encodeFlowDesc(f, FlowStat{Table: 10, Priority: 100, Cookie: 0xfe77000000000001, Packets: 7, Bytes: 700,
		Duration: 2*time.Second + 5}, of.NewTunnelIdField(5), of.NewInPortField(1)))
	addCapturedBodies(f, of.MultipartType_FlowDesc)
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := decodeDump(t, body, parseFlowDescs)
		if !ok {
			return
		}
		if len(got) > len(body)/minFlowDescLen {
			t.Fatalf("%d entries from %d bytes", len(got), len(body))
		}
		// What was decoded survives libOpenflow's encoding unchanged.
		for _, fs := range got {
			if fs.Duration/time.Second > math.MaxUint32 {
				continue // seconds and nanoseconds both near their maximum: not representable canonically
			}
			again, err := parseFlowDescs(encodeFlowDesc(t, fs), nil)
			if err != nil || len(again) != 1 || again[0] != fs {
				t.Fatalf("%+v re-encoded decodes to %+v, %v", fs, again, err)
			}
		}
	})
}

func FuzzParseGroupDescs(f *testing.F) {
	for _, g := range []GroupEntry{
		{ID: 42, Buckets: [][]Action{{Output{Port: 1}}, {SetTunnelID{ID: 100}, Output{Port: 32768}}, {}}},
		{ID: 7, Buckets: [][]Action{{Group{ID: 3}}}},
		{ID: 1},
	} {
		gm, err := groupMod(g, of.OFPGC_ADD)
		if err != nil {
			f.Fatal(err)
		}
		b, err := marshal(gm, 1)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(groupDescOf(b))
	}
	addCapturedBodies(f, of.MultipartType_GroupDesc)
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := decodeDump(t, body, parseGroupDescs)
		if !ok {
			return
		}
		// A group of only modelled actions is one ferry could have
		// written: encoding it with groupMod must give it back.
		for _, g := range got {
			if hasUnknown(g) {
				continue
			}
			gm, err := groupMod(g, of.OFPGC_ADD)
			if err != nil {
				t.Fatalf("decoded group %v does not encode: %v", g, err)
			}
			b, err := marshal(gm, 1)
			if err != nil {
				continue // past 64 KiB once re-encoded
			}
			again, err := parseGroupDescs(groupDescOf(b), nil)
			if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0], g) {
				t.Fatalf("%v re-encoded decodes to %v, %v", g, again, err)
			}
		}
	})
}

func hasUnknown(g GroupEntry) bool {
	for _, b := range g.Buckets {
		for _, a := range b {
			if _, ok := a.(Unknown); ok {
				return true
			}
		}
	}
	return false
}

func FuzzParseActions(f *testing.F) {
	var all []byte
	for _, a := range []of.Action{
		of.NewActionOutput(32768), of.NewActionGroup(9), of.NewActionSetField(*of.NewTunnelIdField(0x64)),
		of.NewActionDecNwTtl(), of.NewActionSetField(*of.NewEthDstField(mac("00:00:00:00:00:01"), nil)),
	} {
		b, err := a.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		all = append(all, b...)
	}
	f.Add(all)
	// NXM_NX_TUN_ID as OVS may render a set_field.
	f.Add([]byte{0, 25, 0, 16, 0, 1, nxmTunID << 1, 8, 0, 0, 0, 0, 0, 0, 0, 0x64})
	f.Fuzz(func(t *testing.T, b []byte) {
		acts, err := parseActions(b)
		if err != nil {
			return
		}
		errorIfTruncated(t, "parseActions", b, func(b []byte) error { _, err := parseActions(b); return err })
		for _, a := range acts {
			if a.String() == "" {
				t.Fatalf("action %#v renders empty", a)
			}
			if _, ok := a.(Unknown); ok {
				continue
			}
			oa, err := encodeAction(a)
			if err != nil {
				t.Fatalf("decoded %v does not encode: %v", a, err)
			}
			enc, err := oa.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if again, err := parseActions(enc); err != nil || len(again) != 1 || again[0] != a {
				t.Fatalf("%v re-encoded decodes to %v, %v", a, again, err)
			}
		}
	})
}

// encodeError is the OFPT_ERROR a switch sends for e about request xid.
func encodeError(xid uint32, e *Error) []byte {
	m := header(of.Type_Error, xid, errorHeaderLen)
	binary.BigEndian.PutUint16(m[8:10], e.Type)
	binary.BigEndian.PutUint16(m[10:12], e.Code)
	if e.Type == errTypeExperimenter {
		binary.BigEndian.PutUint16(m[10:12], e.ExpType)
		m = binary.BigEndian.AppendUint32(m, e.Experimenter)
	}
	m = append(m, e.Data...)
	binary.BigEndian.PutUint16(m[2:4], uint16(len(m)))
	return m
}

func FuzzParseError(f *testing.F) {
	f.Add(header(of.Type_Error, 1, 8))
	f.Add(header(of.Type_Error, 1, 10))
	f.Add(encodeError(9, &Error{Type: 5, Code: 6, Data: header(of.Type_FlowMod, 7, 8)}))
	f.Add(encodeError(9, &Error{Type: errTypeExperimenter, ExpType: 3, Experimenter: 0x2320, Data: []byte{1}}))
	em := of.NewErrorMsg()
	em.Type, em.Code = of.ET_BAD_ACTION, of.BAC_BAD_OUT_GROUP
	if b, err := em.MarshalBinary(); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		e, err := parseError(msg)
		if (err != nil) != (len(msg) < errorHeaderLen) {
			t.Fatalf("parseError of %d bytes: %v", len(msg), err)
		}
		if err != nil {
			return
		}
		_ = e.Error() // must not panic on any Data
		if e.Type != binary.BigEndian.Uint16(msg[8:10]) {
			t.Fatalf("type %d from % x", e.Type, msg[8:10])
		}
		if e.Type == errTypeExperimenter && len(msg) < errorHeaderLen+4 {
			return // experimenter error without its experimenter ID: not re-encodable
		}
		if again, err := parseError(encodeError(9, e)); err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("%+v re-encoded decodes to %+v, %v", e, again, err)
		}
	})
}

func FuzzCheckBundleReply(f *testing.F) {
	for _, m := range capturedOf(f, of.Type_BundleControl, 0) {
		f.Add(m, uint16(of.BCT_OPEN_REPLY))
	}
	for _, typ := range []uint16{of.BCT_OPEN_REPLY, of.BCT_CLOSE_REPLY, of.BCT_COMMIT_REPLY} {
		b, err := marshal(of.NewBundleCtrl(1, typ, bundleFlags), 3)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, typ)
	}
	f.Add([]byte{6}, uint16(0))
	f.Add(header(of.Type_BundleControl, 1, 8), uint16(0))
	f.Fuzz(func(t *testing.T, reply []byte, want uint16) {
		err := checkBundleReply(reply, want)
		ok := len(reply) >= bundleCtrlLen && reply[1] == of.Type_BundleControl &&
			binary.BigEndian.Uint16(reply[12:14]) == want
		if (err == nil) != ok {
			t.Fatalf("checkBundleReply(% x, %d) = %v", reply, want, err)
		}
	})
}

// bigHello is a hello of n bytes whose version bitmap fills it, every bit
// set. At 64 KiB it used to take negotiate the best part of an hour.
func bigHello(n int) []byte {
	b := header(of.Type_Hello, 1, n&^7)
	binary.BigEndian.PutUint16(b[8:10], 1)
	binary.BigEndian.PutUint16(b[10:12], uint16(len(b)-8))
	for i := 12; i < len(b); i++ {
		b[i] = 0xff
	}
	return b
}

func FuzzNegotiate(f *testing.F) {
	f.Add(helloMsg(1))
	f.Add(capturedOf(f, of.Type_Hello, 0)[0])
	f.Add(header(of.Type_Hello, 1, 8))
	// Small: the fuzzer minimizes every new input it finds, which for a
	// 64 KiB one takes the whole run. TestNegotiateBigHello has the big one.
	f.Add(bigHello(256))
	f.Fuzz(func(t *testing.T, hello []byte) {
		defer watchdog()()
		version, offered := negotiate(hello)
		// At most 256 versions, each named in at most 19 bytes.
		if len(offered) > 256*20 {
			t.Fatalf("offered is %d bytes", len(offered))
		}
		switch {
		case version != 0 && version != Version15 && version != Version13:
			t.Fatalf("negotiated version %d", version)
		case version != 0 && !strings.Contains(offered, "OpenFlow1"+strconv.Itoa(int(version)-1)) && !strings.HasPrefix(offered, "wire versions up to"):
			t.Fatalf("negotiated %s with a hello offering %s", VersionName(version), offered)
		}
	})
}

// TestNegotiateBigHello: the largest bitmap a hello can carry is
// negotiated in well under a second (it took minutes).
func TestNegotiateBigHello(t *testing.T) {
	start := time.Now()
	version, offered := negotiate(bigHello(maxMsgLen))
	if version != Version15 || !strings.Contains(offered, "OpenFlow15") || time.Since(start) > time.Second {
		t.Errorf("negotiate = %d, %d bytes of versions, in %v", version, len(offered), time.Since(start))
	}
}

func FuzzParseFeaturesReply(f *testing.F) {
	f.Add(capturedOf(f, of.Type_FeaturesReply, 0)[0])
	f.Add(header(of.Type_FeaturesReply, 2, 24))
	f.Add([]byte{6})
	f.Fuzz(func(t *testing.T, r []byte) {
		dpid, n, err := parseFeaturesReply(r)
		ok := len(r) >= featuresReplyLen && r[1] == of.Type_FeaturesReply
		if (err == nil) != ok {
			t.Fatalf("parseFeaturesReply(% x) = %v", r, err)
		}
		if ok && (dpid != binary.BigEndian.Uint64(r[8:16]) || n != r[20]) {
			t.Fatalf("dpid %x tables %d from % x", dpid, n, r)
		}
	})
}

func FuzzReadMsg(f *testing.F) {
	b, err := os.ReadFile("testdata/ovs-3.1-session.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-1])
	f.Add([]byte{6, 0, 0, 7, 0, 0, 0, 1}) // length below the header
	f.Add([]byte{6, 0, 0xff, 0xff, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, stream []byte) {
		defer watchdog()()
		br := bufio.NewReader(bytes.NewReader(stream))
		read := 0
		for {
			m, err := readMsg(br)
			if err != nil {
				if errors.Is(err, io.EOF) != (read == len(stream)) {
					t.Fatalf("readMsg: %v after %d of %d bytes", err, read, len(stream))
				}
				return
			}
			if len(m) < 8 || int(binary.BigEndian.Uint16(m[2:4])) != len(m) || !bytes.Equal(m, stream[read:read+len(m)]) {
				t.Fatalf("message % x at offset %d", m, read)
			}
			read += len(m)
		}
	})
}

// fuzzConn is a connection whose peer says stream and then hangs up;
// whatever ferry writes is dropped.
type fuzzConn struct {
	r      *bytes.Reader
	closed atomic.Bool
}

func (c *fuzzConn) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	return c.r.Read(p)
}
func (c *fuzzConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *fuzzConn) Close() error                     { c.closed.Store(true); return nil }
func (c *fuzzConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fuzzConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzHandshake runs the server side of the handshake against a peer
// that says stream: it must end (the stream ends), and succeed only with
// the datapath ID of a features reply.
func FuzzHandshake(f *testing.F) {
	b, err := os.ReadFile("testdata/ovs-3.1-session.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	features := header(of.Type_FeaturesReply, 2, featuresReplyLen)
	binary.BigEndian.PutUint64(features[8:16], 0xabc)
	f.Add(append(helloMsg(1), features...))
	f.Add(append(helloMsg(1), header(of.Type_FeaturesReply, 2, 24)...))
	f.Add(append(helloMsg(1), header(of.Type_Error, 2, 8)...))
	f.Add(append(bigHello(256), features...))
	f.Fuzz(func(t *testing.T, stream []byte) {
		defer watchdog()()
		srv := NewServer(nil, WithHandshakeTimeout(10*time.Second))
		ss := newSession(srv, &fuzzConn{r: bytes.NewReader(stream)})
		dpid, _, err := ss.handshake()
		ss.close(errors.New("fuzz iteration over"))
		if err == nil && !bytes.Contains(stream, binary.BigEndian.AppendUint64(nil, dpid)) {
			t.Fatalf("handshake succeeded with datapath %x, not in the stream", dpid)
		}
	})
}

// FuzzSessionReplies feeds stream to a session's reader while a flow dump,
// a group dump, a barrier, a bundle (xids 1 to 5) and a role request (xid
// 6) are outstanding, with ROLE_STATUS messages and packet-ins arriving
// unasked, then decodes what the dumps received as DumpFlows and DumpGroups
// would. The session must end with the stream, leave no request waiting,
// and close its packet-in channel holding no more than its queue.
func FuzzSessionReplies(f *testing.F) {
	const limit = 8 << 10 // small, so that the fuzzer can reach it
	withXid := func(m []byte, xid uint32) []byte {
		m = append([]byte(nil), m...)
		binary.BigEndian.PutUint32(m[4:8], xid)
		return m
	}
	flows := capturedOf(f, of.Type_MultiPartReply, of.MultipartType_FlowDesc)[0]
	groups := capturedOf(f, of.Type_MultiPartReply, of.MultipartType_GroupDesc)[0]
	bundle := capturedOf(f, of.Type_BundleControl, 0)[0]
	var good []byte
	for _, m := range [][]byte{
		withXid(flows, 1), withXid(groups, 2), header(of.Type_BarrierReply, 3, 8),
		encodeError(4, &Error{Type: 5, Code: 6}), withXid(bundle, 5), header(of.Type_EchoRequest, 0, 8),
		roleMsg(of.Type_RoleReply, 6, RoleMaster, 0, 2), roleMsg(of.Type_RoleStatus, 0, RoleSlave, 0, 3),
		encodeError(3, &Error{Type: errTypeBadRequest, Code: errCodeIsSlave}),
		capturedPacketIns(f)[1],
	} {
		good = append(good, m...)
	}
	f.Add(good)
	req := header(of.Type_MultiPartRequest, 1, multipartHeaderLen)
	binary.BigEndian.PutUint16(req[8:10], of.MultipartType_FlowDesc)
	f.Add(mpReply(req, false, flowDescEntry(1, 0)))
	f.Add(append(mpReply(req, true, flowDescEntry(1, 4)), mpReply(req, true, flowDescEntry(2, 4))...))
	f.Add(header(of.Type_Error, 4, 8))
	f.Add(append(roleMsg(of.Type_RoleStatus, 0, 7, 0, 3), roleMsg(of.Type_RoleReply, 6, RoleSlave, 0, 1)[:20]...))
	f.Fuzz(func(t *testing.T, stream []byte) {
		defer watchdog()()
		s := newSession(NewServer(nil), &fuzzConn{r: bytes.NewReader(stream)})
		fl := &call{done: make(chan struct{}), multi: true, mpType: of.MultipartType_FlowDesc, limit: limit}
		gr := &call{done: make(chan struct{}), multi: true, mpType: of.MultipartType_GroupDesc, limit: limit}
		barrier := &call{done: make(chan struct{})}
		open := &call{done: make(chan struct{})}
		sink := &bundleSink{ops: []op{{kind: opDeleteGroup, gid: 1}}, xids: map[uint32]int{4: 0}}
		role := &call{done: make(chan struct{}), isRole: true}
		s.pending = map[uint32]*call{1: fl, 2: gr, 3: barrier, 4: {sink: sink}, 5: open, 6: role}
		pins := s.PacketIns()
		s.readLoop()
		if !s.isClosed() {
			t.Fatal("session outlived its connection")
		}
		n := 0
		for pi := range pins { // ends: the reader closed it
			if n++; n > PacketInQueue || len(pi.Data) > maxMsgLen {
				t.Fatalf("packet-in %d of %d bytes", n, len(pi.Data))
			}
		}
		for _, c := range []*call{fl, gr, barrier, open, role} {
			select {
			case <-c.done:
			default:
				t.Fatal("request still waiting after the connection closed")
			}
			if c.reply != nil && len(c.reply) < 8 {
				t.Fatalf("reply of %d bytes", len(c.reply))
			}
		}
		for _, c := range []*call{fl, gr} {
			kept := 0
			for _, p := range c.parts {
				kept += len(p)
			}
			if kept > limit {
				t.Fatalf("kept %d bytes of reply, limit %d", kept, limit)
			}
		}
		if fl.err == nil {
			_, _ = decodeParts(fl.parts, parseFlowDescs)
		}
		if gr.err == nil {
			_, _ = decodeParts(gr.parts, parseGroupDescs)
		}
		if open.err == nil {
			_ = checkBundleReply(open.reply, of.BCT_OPEN_REPLY)
		}
		for _, e := range sink.errors() {
			_ = e.Error()
		}
		if r := s.Role().Role; r != RoleEqual && r != RoleMaster && r != RoleSlave {
			t.Fatalf("session recorded role %v", r)
		}
		if role.err == nil && role.role.Role == RoleNoChange {
			t.Fatal("role request succeeded without a role")
		}
	})
}

func FuzzParseRole(f *testing.F) {
	rr := of.NewRoleReply()
	rr.Role, rr.GenerationId = of.CR_ROLE_MASTER, 7
	st := of.NewRoleStatus()
	st.Role, st.Reason, st.GenerationId = of.CR_ROLE_SLAVE, of.CRR_MASTER_REQUEST, math.MaxUint64
	for _, m := range []interface{ MarshalBinary() ([]byte, error) }{rr, st} {
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, b[1])
	}
	f.Add(roleMsg(of.Type_RoleStatus, 0, RoleEqual, 1, 1), uint8(of.Type_RoleReply))
	f.Add(append(roleMsg(of.Type_RoleStatus, 0, RoleSlave, 0, 2), 0xff, 0xff, 0, 8, 1, 2, 3, 4), uint8(of.Type_RoleStatus))
	f.Add(header(of.Type_RoleReply, 1, 8), uint8(of.Type_RoleReply))
	f.Fuzz(func(t *testing.T, msg []byte, typ uint8) {
		got, err := parseRole(msg, typ)
		ok := len(msg) >= roleMsgLen && msg[1] == typ
		if ok {
			r := Role(binary.BigEndian.Uint32(msg[8:12]))
			ok = r == RoleEqual || r == RoleMaster || r == RoleSlave
		}
		if (err == nil) != ok {
			t.Fatalf("parseRole(% x, %d) = %+v, %v", msg, typ, got, err)
		}
		if err != nil {
			return
		}
		reason := uint8(0)
		if typ == of.Type_RoleStatus {
			reason = got.Reason
		}
		if again, err := parseRole(roleMsg(typ, 1, got.Role, reason, got.Generation), typ); err != nil || again != got {
			t.Fatalf("%+v re-encoded decodes to %+v, %v", got, again, err)
		}
	})
}

// FuzzParseAggregate: an aggregate reply from a switch decodes or fails,
// never panics, and a count is only returned from a well-formed OXS field.
func FuzzParseAggregate(f *testing.F) {
	// OVS 3.1's answer for 17 flows: ofp_stats with duration, flow_count,
	// packet_count and byte_count (what the sandbox test reads).
	f.Add([]byte{0, 0, 0, 0x20, 0x80, 0x02, 0x06, 0x04, 0, 0, 0, 17, 0x80, 0x02, 0x08, 0x08, 0, 0, 0, 0, 0, 0, 0, 9,
		0x80, 0x02, 0x0a, 0x08, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 4})
	f.Add([]byte{0, 0, 0xff, 0xff, 0x80, 0x02, 0x06, 0x04})
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := parseAggregate(body, nil)
		if err == nil && len(out) != 1 {
			t.Fatalf("no error and %d counts", len(out))
		}
	})
}

// encodePacketIn is libOpenflow's OFPT_PACKET_IN for pi in wire version
// version, an encoder independent of the decoder under test.
func encodePacketIn(tb testing.TB, version uint8, pi PacketIn) []byte {
	tb.Helper()
	m := of.NewPacketIn()
	m.Reason, m.TableId, m.Cookie, m.TotalLen = pi.Reason, pi.Table, pi.Cookie, uint16(len(pi.Data))
	m.Match.AddField(*of.NewInPortField(pi.InPort))
	if pi.HasTunID {
		m.Match.AddField(*of.NewTunnelIdField(pi.TunID))
	}
	switch {
	case pi.TunSrc.Is4():
		m.Match.AddField(*of.NewTunnelIpv4SrcField(net.IP(pi.TunSrc.AsSlice()), nil))
	case pi.TunSrc.Is6():
		m.Match.AddField(*of.NewTunnelIpv6SrcField(net.IP(pi.TunSrc.AsSlice()), nil))
	}
	m.Data = util.NewBuffer(pi.Data)
	b, err := m.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	b[0] = version
	return b
}

// FuzzParsePacketIn: the message's first byte is its version, so both
// layouts are fuzzed; seeds are OVS 3.1's packet-ins of both.
func FuzzParsePacketIn(f *testing.F) {
	for _, m := range capturedPacketIns(f) {
		f.Add(m)
	}
	// NXM tun_id, a masked field, an experimenter OXM, an empty match.
	withMatch := func(version uint8, oxms string) []byte {
		oxm, _ := hex.DecodeString(oxms)
		m := header(of.Type_PacketIn, 0, packetInFixedLen)
		m[0] = version
		binary.BigEndian.PutUint32(m[8:12], noBuffer)
		m = binary.BigEndian.AppendUint16(m, matchTypeOXM)
		m = binary.BigEndian.AppendUint16(m, uint16(matchHeaderLen+len(oxm)))
		m = append(m, oxm...)
		m = append(m, make([]byte, pad8(matchHeaderLen+len(oxm))-matchHeaderLen-len(oxm)+packetInPad)...)
		m = append(m, make([]byte, 60)...)
		binary.BigEndian.PutUint16(m[2:4], uint16(len(m)))
		return m
	}
	f.Add(withMatch(Version13, "00012008000000000000abcd"))
	f.Add(withMatch(Version15, "80004d10000000000000abcdffffffffffffffff"))
	f.Add(withMatch(Version15, "ffff0c0800002320deadbeef"))
	f.Add(withMatch(Version13, ""))
	f.Fuzz(func(t *testing.T, msg []byte) {
		defer watchdog()()
		pi, err := parsePacketIn(msg)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "openflow: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if len(pi.Data) > len(msg)-minPacketInLen {
			t.Fatalf("%d bytes of frame from a %d-byte message", len(pi.Data), len(msg))
		}
		if len(msg) > minPacketInLen {
			if _, err := parsePacketIn(msg[:len(msg)-1]); err == nil {
				t.Fatalf("decoded % x but not it less its last byte", msg)
			}
		}
		// The layouts are alike: the other version reads the same.
		other := bytes.Clone(msg)
		other[0] ^= Version13 ^ Version15
		if again, err := parsePacketIn(other); err != nil || !reflect.DeepEqual(again, pi) {
			t.Fatalf("as %s: %+v, %v; as %s: %+v", VersionName(other[0]), again, err, VersionName(msg[0]), pi)
		}
		// What was decoded survives libOpenflow's encoding unchanged.
		if again, err := parsePacketIn(encodePacketIn(t, msg[0], pi)); err != nil || !reflect.DeepEqual(again, pi) {
			t.Fatalf("%+v re-encoded decodes to %+v, %v", pi, again, err)
		}
	})
}
