package reconcile

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	of "antrea.io/libOpenflow/openflow15"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/ovstest"
	"github.com/ferry-sdn/ferry/openflow"
)

// impostor is a scripted OpenFlow peer claiming a datapath ID: it does the
// handshake, answers echoes, dumps (with nothing) and bundle controls, and
// records the type of every message it receives.
type impostor struct {
	conn net.Conn
	mu   sync.Mutex
	got  []uint8
	done chan struct{} // closed when the connection ends
}

func ofMsg(typ uint8, xid uint32, body []byte) []byte {
	m := make([]byte, 8, 8+len(body))
	m[0], m[1] = of.VERSION, typ
	binary.BigEndian.PutUint16(m[2:4], uint16(8+len(body)))
	binary.BigEndian.PutUint32(m[4:8], xid)
	return append(m, body...)
}

// dialImpostor connects to addr from the loopback address from.
func dialImpostor(t *testing.T, from, addr string, dpid uint64) *impostor {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	im := &impostor{conn: conn, done: make(chan struct{})}
	go im.run(dpid)
	return im
}

func (im *impostor) run(dpid uint64) {
	defer close(im.done)
	br := bufio.NewReader(im.conn)
	hello := ofMsg(of.Type_Hello, 1, []byte{0, 1, 0, 8, 0, 0, 0, 1 << of.VERSION})
	if _, err := im.conn.Write(hello); err != nil {
		return
	}
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(hdr[2:4]))
		copy(msg, hdr[:])
		if _, err := io.ReadFull(br, msg[8:]); err != nil {
			return
		}
		typ, xid := msg[1], binary.BigEndian.Uint32(msg[4:8])
		im.mu.Lock()
		im.got = append(im.got, typ)
		im.mu.Unlock()
		var reply []byte
		switch typ {
		case of.Type_FeaturesRequest:
			body := make([]byte, 24)
			binary.BigEndian.PutUint64(body[0:8], dpid)
			body[12] = 254
			reply = ofMsg(of.Type_FeaturesReply, xid, body)
		case of.Type_EchoRequest:
			reply = ofMsg(of.Type_EchoReply, xid, msg[8:])
		case of.Type_MultiPartRequest:
			reply = ofMsg(of.Type_MultiPartReply, xid, append([]byte(nil), msg[8:16]...))
			reply[10], reply[11] = 0, 0 // no OFPMPF_REPLY_MORE
		case of.Type_BarrierRequest:
			reply = ofMsg(of.Type_BarrierReply, xid, nil)
		case of.Type_BundleControl:
			body := append([]byte(nil), msg[8:16]...)
			body[5]++ // the request's type + 1 is its reply's
			reply = ofMsg(of.Type_BundleControl, xid, body)
		}
		if reply != nil {
			if _, err := im.conn.Write(reply); err != nil {
				return
			}
		}
	}
}

// received reports whether the impostor was sent a message of type typ.
func (im *impostor) received(typ uint8) bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	for _, g := range im.got {
		if g == typ {
			return true
		}
	}
	return false
}

// TestSandboxImpostorRefused: hv1 is registered with a tcp: OVSDB target
// on 127.0.0.1 and its real ovs-vswitchd is connected. A plain-tcp peer
// from 127.0.0.2 (an address hv1 is not known by) claiming br-int's
// datapath ID is refused at once: it is closed without being sent a dump,
// a bundle or a flow_mod, hv1's status shows the refusal, and the real
// bridge keeps being served. A second connection from hv1's own address
// is refused as a duplicate while the real bridge answers.
func TestSandboxImpostorRefused(t *testing.T) {
	s := newSandboxWith(t, ovstest.Options{Vswitchd: true, Remotes: []string{"ptcp:0:127.0.0.1"}}, "hv1", "hv2")
	s.update(func(n *model.Snapshot) {
		n.Chassis = append([]model.Chassis(nil), n.Chassis...)
		for i := range n.Chassis {
			n.Chassis[i].OVSDB = s.hvs[n.Chassis[i].Name].Remote(t, "ptcp:0:127.0.0.1")
		}
	})
	s.blueAcross()
	st := s.ctl.Chassis("hv1")
	dpid, ok := hypervisor.ParseDatapathID(st.DatapathID)
	if !ok {
		t.Fatalf("hv1 status %+v has no datapath ID", st)
	}
	if st.OpenFlowRefused != nil {
		t.Fatalf("refusal before any impostor: %+v", st.OpenFlowRefused)
	}

	im := dialImpostor(t, "127.0.0.2", s.ofLn.Addr().String(), dpid)
	select {
	case <-im.done:
	case <-time.After(10 * time.Second):
		t.Fatal("impostor from 127.0.0.2 still connected after 10 s")
	}
	r := s.ctl.Chassis("hv1").OpenFlowRefused
	if r == nil || r.Reason != openflow.RefusedAddress || r.Peer != "127.0.0.2" || r.Count != 1 ||
		!strings.Contains(r.Detail, "known by 127.0.0.1, 198.18.1.11 only") {
		t.Errorf("hv1 status refusal %+v, want the impostor's, by address", r)
	}

	// The real bridge is still served: a change reaches it.
	s.addVIF("hv1", "vm3", "blue-c", "52:54:00:00:01:0c")
	s.addPort("c", "blue-c")
	s.waitRealized()
	if flows := strings.Join(s.dumpFlows("hv1"), "\n"); !strings.Contains(flows, "dl_dst=52:54:00:00:01:0c") {
		t.Errorf("hv1 lacks the new port's flow after the impostor:\n%s", flows)
	}

	// A duplicate from hv1's own address, while the bridge answers.
	dup := dialImpostor(t, "127.0.0.1", s.ofLn.Addr().String(), dpid)
	select {
	case <-dup.done:
	case <-time.After(10 * time.Second):
		t.Fatal("duplicate of hv1's live session still connected after 10 s")
	}
	if r := s.ctl.Chassis("hv1").OpenFlowRefused; r == nil || r.Reason != openflow.RefusedDuplicate || r.Count != 2 {
		t.Errorf("hv1 status refusal %+v, want a duplicate, the second refusal", r)
	}
	for _, p := range []*impostor{im, dup} {
		for _, typ := range []uint8{of.Type_MultiPartRequest, of.Type_BundleControl, of.Type_BundleAddMessage, of.Type_FlowMod} {
			if p.received(typ) {
				t.Errorf("a refused peer was sent message type %d", typ)
			}
		}
	}
	if st := s.ctl.Chassis("hv1"); !st.OpenFlowConnected {
		t.Errorf("hv1 lost its session: %+v", st)
	}

	// With hv1's ovs-vswitchd down there is no live session to defend the
	// datapath: only the address check stops an impostor then, through
	// the dump and the passes a change causes.
	hv1 := s.hvs["hv1"]
	hv1.StopVswitchd()
	eventually(t, "hv1's session gone", func() (bool, string) {
		st := s.ctl.Chassis("hv1")
		return !st.OpenFlowConnected, fmt.Sprintf("%+v", st)
	})
	late := dialImpostor(t, "127.0.0.2", s.ofLn.Addr().String(), dpid)
	s.update(func(n *model.Snapshot) { n.Switches[0].Generation = n.Generation + 1 })
	select {
	case <-late.done:
	case <-time.After(10 * time.Second):
		t.Fatal("impostor connected while hv1's bridge is down still connected after 10 s")
	}
	for _, typ := range []uint8{of.Type_MultiPartRequest, of.Type_BundleControl, of.Type_FlowMod} {
		if late.received(typ) {
			t.Errorf("impostor connected while hv1's bridge was down was sent message type %d", typ)
		}
	}
	if err := hv1.StartVswitchd(); err != nil {
		t.Fatal(err)
	}
	s.waitRealized()
	if flows := strings.Join(s.dumpFlows("hv1"), "\n"); !strings.Contains(flows, "dl_dst=52:54:00:00:01:0c") {
		t.Errorf("hv1's restarted bridge not served again:\n%s", flows)
	}
}
