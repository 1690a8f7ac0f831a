package openflow_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/openflow"
)

// ethProbe is the Ethernet type of ferry's probe frames in these tests
// (IEEE 802 local experimental).
const ethProbe = 0x88b5

// probeFrame is a minimum-size Ethernet frame of type ethProbe carrying n.
func probeFrame(n int) []byte {
	f := make([]byte, 60)
	copy(f[0:6], mac2)
	copy(f[6:12], mac1)
	f[12], f[13] = ethProbe>>8, ethProbe&0xff
	copy(f[14:], "ferry probe ")
	f[26], f[27] = byte(n>>8), byte(n)
	return f
}

// punt is the probe flow: frames of type ethProbe from vif1 go to the
// controller whole.
func punt() openflow.Flow {
	return openflow.Flow{Table: 0, Priority: 100,
		Match:   openflow.Match{InPort: vif1, Proto: &openflow.Proto{EthType: ethProbe}},
		Actions: []openflow.Action{openflow.Controller{MaxLen: openflow.ControllerNoBuffer}}}
}

// probeOut is a packet-out of frame as if from vif1, through the pipeline.
func probeOut(frame []byte, acts ...openflow.Action) openflow.PacketOut {
	return openflow.PacketOut{InPort: vif1, Actions: append(acts, openflow.Output{Port: openflow.PortTable}), Data: frame}
}

func recvPacketIn(t *testing.T, ch <-chan openflow.PacketIn, within time.Duration) openflow.PacketIn {
	t.Helper()
	select {
	case pi, ok := <-ch:
		if !ok {
			t.Fatal("packet-in channel closed")
		}
		return pi
	case <-time.After(within):
		t.Fatalf("no packet-in within %v", within)
	}
	panic("unreachable")
}

func TestSandboxPacketOutIn(t *testing.T) { bothVersions(t, testSandboxPacketOutIn) }

func testSandboxPacketOutIn(t *testing.T, sb *sandbox) {
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	flow := punt()
	if err := s.Commit(ctx(t), openflow.Changes{AddFlows: []openflow.Flow{flow}}); err != nil {
		t.Fatal(err)
	}
	// The controller action prints as ovs-ofctl prints it, so the cookie
	// (a hash of the text) survives a restart.
	if got := dumpFlows(t, sb.ovs); len(got) != 1 || got[flow.String()] != flow.Cookie() {
		t.Fatalf("dump-flows:\n%s\nwant %s with cookie %#x", fmtMap(got), flow, flow.Cookie())
	}
	ch := s.PacketIns()

	frame := probeFrame(1)
	if err := s.PacketOut(ctx(t), probeOut(frame)); err != nil {
		t.Fatal(err)
	}
	// OVS says why it sent the frame the way the version can: 1.3 knows
	// only "action", 1.5 tells a packet-out's frame.
	reason := openflow.PacketInPacketOut
	if s.Version() == openflow.Version13 {
		reason = openflow.PacketInAction
	}
	pi := recvPacketIn(t, ch, 5*time.Second)
	if !bytes.Equal(pi.Data, frame) || pi.Cookie != flow.Cookie() || pi.Table != flow.Table ||
		pi.InPort != vif1 || pi.HasTunID || pi.TunSrc.IsValid() || pi.Reason != reason {
		t.Errorf("packet-in %+v, want frame % x from in_port %d, cookie %#x, table %d, reason %d",
			pi, frame, vif1, flow.Cookie(), flow.Table, reason)
	}

	// A tunnel ID set by the packet-out is pipeline metadata the packet-in
	// reports.
	frame = probeFrame(2)
	if err := s.PacketOut(ctx(t), probeOut(frame, openflow.SetTunnelID{ID: 100})); err != nil {
		t.Fatal(err)
	}
	pi = recvPacketIn(t, ch, 5*time.Second)
	if !bytes.Equal(pi.Data, frame) || !pi.HasTunID || pi.TunID != 100 || pi.Cookie != flow.Cookie() {
		t.Errorf("packet-in %+v, want tun_id 100 and frame % x", pi, frame)
	}

	// A packet-out the switch rejects is counted, not warned about, and
	// does not end the session.
	if err := s.PacketOut(ctx(t), openflow.PacketOut{InPort: vif1, Actions: []openflow.Action{openflow.Group{ID: 77}},
		Data: probeFrame(3)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Barrier(ctx(t)); err != nil {
		t.Fatal(err)
	}
	c := s.Counters()
	if c.PacketOuts != 3 || c.PacketOutErrors != 1 || c.PacketIns != 2 || c.PacketInDrops != 0 || c.PacketInErrors != 0 {
		t.Errorf("counters %+v, want 3 packet-outs (1 rejected), 2 packet-ins", c)
	}
	if sc := sb.srv.Counters(); sc != c {
		t.Errorf("server counters %+v, session %+v", sc, c)
	}
	if logs := sb.logs.String(); strings.Contains(logs, "level=WARN msg=\"openflow: unsolicited error") ||
		!strings.Contains(logs, "switch rejected a packet-out") {
		t.Errorf("a rejected packet-out should be logged at debug only:\n%s", logs)
	}

	// Input ferry must not send fails here, before the wire.
	for _, p := range []openflow.PacketOut{
		{InPort: vif1, Actions: []openflow.Action{openflow.Output{Port: openflow.PortTable}}},
		{InPort: vif1, Data: make([]byte, 13)},
		{InPort: vif1, Data: make([]byte, 64<<10)},
		{InPort: vif1, Actions: []openflow.Action{openflow.Unknown{Type: 11}}, Data: probeFrame(4)},
	} {
		if err := s.PacketOut(ctx(t), p); err == nil || !strings.HasPrefix(err.Error(), "openflow: ") {
			t.Errorf("PacketOut(%d-byte frame, %v) = %v, want an openflow: error", len(p.Data), p.Actions, err)
		}
	}
	if n := s.Counters().PacketOuts; n != 3 {
		t.Errorf("%d packet-outs counted, want 3: refused ones are not sent", n)
	}
	select {
	case pi := <-ch:
		t.Errorf("unexpected packet-in %+v", pi)
	default:
	}
}

// TestSandboxPacketInFlood: a consumer that does not keep up loses
// packet-ins (counted), and nothing else: barriers and dumps still answer
// promptly, and once it drains the queue packet-ins flow again.
func TestSandboxPacketInFlood(t *testing.T) { bothVersions(t, testSandboxPacketInFlood) }

func testSandboxPacketInFlood(t *testing.T, sb *sandbox) {
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	if err := s.Commit(ctx(t), openflow.Changes{AddFlows: []openflow.Flow{punt()}}); err != nil {
		t.Fatal(err)
	}
	ch := s.PacketIns()
	const n = 4 * openflow.PacketInQueue
	for i := range n {
		if err := s.PacketOut(ctx(t), probeOut(probeFrame(i))); err != nil {
			t.Fatal(err)
		}
	}
	// Round trips complete while nobody reads the packet-ins.
	for range 3 {
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		if err := s.Barrier(c); err != nil {
			t.Fatalf("barrier during a packet-in flood: %v", err)
		}
		if _, err := s.DumpFlows(c); err != nil {
			t.Fatalf("dump during a packet-in flood: %v", err)
		}
		cancel()
		t.Logf("barrier and dump took %v", time.Since(start))
	}
	deadline := time.Now().Add(10 * time.Second)
	for c := s.Counters(); c.PacketIns+c.PacketInDrops < n; c = s.Counters() {
		if time.Now().After(deadline) {
			// OVS may drop packet-ins itself; what matters is that the
			// queue filled and the rest were dropped here.
			t.Logf("switch delivered %d of %d packet-ins", c.PacketIns+c.PacketInDrops, n)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := s.Counters()
	t.Logf("counters after the flood: %+v", c)
	if c.PacketIns != openflow.PacketInQueue || c.PacketInDrops == 0 || len(ch) != openflow.PacketInQueue {
		t.Fatalf("counters %+v with %d queued, want the queue (%d) full and the rest dropped", c, len(ch), openflow.PacketInQueue)
	}
	// The first ones queued are the first ones sent, in order.
	for i := range openflow.PacketInQueue {
		pi := <-ch
		if !bytes.Equal(pi.Data, probeFrame(i)) {
			t.Fatalf("packet-in %d carries % x, want probe %d", i, pi.Data, i)
		}
	}
	frame := probeFrame(n)
	if err := s.PacketOut(ctx(t), probeOut(frame)); err != nil {
		t.Fatal(err)
	}
	if pi := recvPacketIn(t, ch, 5*time.Second); !bytes.Equal(pi.Data, frame) {
		t.Errorf("after draining: packet-in % x, want % x", pi.Data, frame)
	}
}

// TestSandboxPacketInRoles records what OVS does with packet-ins when a
// bridge has two controllers (one per ferryd replica): while both are
// equal, both get every packet-in, even of the other's packet-out; once
// one is master and the other slave, the master gets them and the slave
// does not (OpenFlow's default asynchronous configuration), and a slave
// may not send packet-outs.
func TestSandboxPacketInRoles(t *testing.T) {
	sb, _, a, b := twoControllers(t)
	if err := a.Commit(ctx(t), openflow.Changes{AddFlows: []openflow.Flow{punt()}}); err != nil {
		t.Fatal(err)
	}
	chA, chB := a.PacketIns(), b.PacketIns()
	frame := probeFrame(0)
	if err := a.PacketOut(ctx(t), probeOut(frame)); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan openflow.PacketIn{chA, chB} {
		if pi := recvPacketIn(t, ch, 5*time.Second); !bytes.Equal(pi.Data, frame) {
			t.Errorf("equal controller's packet-in % x, want % x", pi.Data, frame)
		}
	}

	requestRole(t, a, openflow.RoleMaster, 1)
	requestRole(t, b, openflow.RoleSlave, 1)
	frame = probeFrame(1)
	if err := a.PacketOut(ctx(t), probeOut(frame)); err != nil {
		t.Fatal(err)
	}
	if pi := recvPacketIn(t, chA, 5*time.Second); !bytes.Equal(pi.Data, frame) {
		t.Errorf("master's packet-in % x, want % x", pi.Data, frame)
	}
	if err := b.PacketOut(ctx(t), probeOut(probeFrame(2))); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*openflow.Session{a, b} {
		if err := s.Barrier(ctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond)
	select {
	case pi := <-chB:
		t.Errorf("slave got a packet-in %+v", pi)
	default:
	}
	select {
	case pi := <-chA:
		t.Errorf("the slave's packet-out reached the pipeline: %+v", pi)
	default:
	}
	if c := b.Counters(); c.PacketOutErrors != 1 {
		t.Errorf("slave's counters %+v, want its packet-out rejected", c)
	}
	_ = sb
}
