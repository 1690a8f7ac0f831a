package openflow

import (
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	of "antrea.io/libOpenflow/openflow15"

	"github.com/ferry-sdn/ferry/internal/ovstest"
)

// packetInCapture is where TestCapturePacketIns writes, and the packet-in
// tests read, real OVS 3.1 packet-ins (testdata/README.md).
const packetInCapture = "testdata/ovs-3.1-packet-in.bin"

// TestCapturePacketIns regenerates packetInCapture when
// FERRY_CAPTURE_PACKET_INS=1: every packet-in OVS sends for a set of
// probes, on an OpenFlow 1.5 session and then on a 1.3 one.
func TestCapturePacketIns(t *testing.T) {
	if os.Getenv("FERRY_CAPTURE_PACKET_INS") != "1" {
		t.Skip("set FERRY_CAPTURE_PACKET_INS=1 to rewrite " + packetInCapture)
	}
	var all []byte
	for _, protocols := range []string{"OpenFlow10,OpenFlow13,OpenFlow15", "OpenFlow10,OpenFlow13"} {
		all = append(all, capturePacketIns(t, protocols)...)
	}
	if err := os.WriteFile(packetInCapture, all, 0o644); err != nil {
		t.Fatal(err)
	}
}

func capturePacketIns(t *testing.T, protocols string) []byte {
	var mu sync.Mutex
	var raw []byte
	srv, addr, _ := startServer(t, nil, func(c *config) {
		c.testHook = func(msg []byte) {
			if msg[1] == of.Type_PacketIn {
				mu.Lock()
				raw = append(raw, msg...)
				mu.Unlock()
			}
		}
	})
	ovs := ovstest.Start(t, ovstest.Options{Vswitchd: true})
	if !strings.Contains(protocols, "OpenFlow15") {
		ovs.OfctlProtocols = "OpenFlow13"
	}
	ovs.Vsctl(t, "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=dummy", "fail_mode=secure",
		"protocols="+protocols, "other_config:disable-in-band=true", "other_config:datapath-id=00000000feed0013",
		"--", "add-port", "br0", "p1", "--", "set", "interface", "p1", "type=dummy", "ofport_request=1",
		"--", "add-port", "br0", "p2", "--", "set", "interface", "p2", "type=dummy", "ofport_request=2",
		"--", "add-port", "br0", "p3", "--", "set", "interface", "p3", "type=dummy", "ofport_request=3",
		"--", "set-controller", "br0", "tcp:"+addr)
	s := sessionOf(t, srv, 0xfeed0013)
	ch := s.PacketIns()
	probe := Proto{EthType: 0x88b5}
	flows := []Flow{
		// The probe flow, whole frames.
		{Table: 0, Priority: 100, Match: Match{InPort: 1, Proto: &probe}, Actions: []Action{Controller{MaxLen: ControllerNoBuffer}}},
		// Truncated to 20 bytes.
		{Table: 0, Priority: 100, Match: Match{InPort: 2, Proto: &probe}, Actions: []Action{Controller{MaxLen: 20}}},
		// From another table, after metadata was written.
		{Table: 0, Priority: 100, Match: Match{InPort: 3, Proto: &probe}, WriteMetadata: &Metadata{Value: 7, Mask: 0xff}, GotoTable: ptr(uint8(30))},
		{Table: 30, Priority: 1, Actions: []Action{Controller{MaxLen: ControllerNoBuffer}}},
	}
	if err := s.Commit(t.Context(), Changes{AddFlows: flows}); err != nil {
		t.Fatal(err)
	}
	// As a frame from a tunnel would be: tunnel metadata set, IPv4 and
	// IPv6 outer addresses (ferry cannot set them; ovs-ofctl can).
	ovs.Ofctl(t, "add-flow", "br0", "table=0,priority=200,in_port=3,dl_type=0x88b5,dl_dst=02:00:00:00:00:04,"+
		"actions=set_field:0x1388->tun_id,set_field:198.18.0.11->tun_src,set_field:198.18.0.12->tun_dst,CONTROLLER:65535")
	ovs.Ofctl(t, "add-flow", "br0", "table=0,priority=200,in_port=3,dl_type=0x88b5,dl_dst=02:00:00:00:00:06,"+
		"actions=set_field:0x64->tun_id,set_field:2001:db8::11->tun_ipv6_src,set_field:2001:db8::12->tun_ipv6_dst,CONTROLLER:65535")
	frame := func(dst byte, n int) []byte {
		f := make([]byte, n)
		copy(f, []byte{2, 0, 0, 0, 0, dst, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
		copy(f[14:], "ferry probe "+strconv.Itoa(n))
		return f
	}
	outs := []PacketOut{
		{InPort: 1, Actions: []Action{Output{Port: PortTable}}, Data: frame(2, 60)},
		{InPort: 1, Actions: []Action{SetTunnelID{ID: 100}, Output{Port: PortTable}}, Data: frame(2, 1500)},
		{InPort: 2, Actions: []Action{Output{Port: PortTable}}, Data: frame(2, 60)},
		{InPort: 3, Actions: []Action{Output{Port: PortTable}}, Data: frame(2, 64)},
		{InPort: 3, Actions: []Action{Output{Port: PortTable}}, Data: frame(4, 60)},
		{InPort: 3, Actions: []Action{Output{Port: PortTable}}, Data: frame(6, 60)},
		// Straight to the controller, no flow involved.
		{Actions: []Action{Controller{MaxLen: ControllerNoBuffer}}, Data: frame(2, 60)},
	}
	for _, p := range outs {
		if err := s.PacketOut(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	for i := range outs {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: %d packet-ins of %d", protocols, i, len(outs))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return raw
}

func ptr[T any](v T) *T { return &v }

// capturedPacketIns are the packet-ins of packetInCapture, split.
func capturedPacketIns(tb testing.TB) [][]byte {
	tb.Helper()
	b, err := os.ReadFile(packetInCapture)
	if err != nil {
		tb.Fatal(err)
	}
	var msgs [][]byte
	for len(b) > 0 {
		if len(b) < 8 {
			tb.Fatalf("%s: %d trailing bytes", packetInCapture, len(b))
		}
		l := int(binary.BigEndian.Uint16(b[2:4]))
		if l < 8 || l > len(b) {
			tb.Fatalf("%s: bad message length %d", packetInCapture, l)
		}
		msgs = append(msgs, b[:l])
		b = b[l:]
	}
	return msgs
}
