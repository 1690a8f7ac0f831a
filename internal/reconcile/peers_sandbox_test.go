package reconcile

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	of "antrea.io/libOpenflow/openflow15"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/ovstest"
	"github.com/ferry-sdn/ferry/openflow"
	"github.com/ferry-sdn/ferry/openflow/oftest"
)

// dialImpostor connects to addr from the loopback address from and claims
// datapath dpid.
func dialImpostor(t *testing.T, from, addr string, dpid uint64) *oftest.Switch {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := oftest.Handshake(conn, dpid, oftest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sw.Close)
	return sw
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
	case <-im.Done():
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
	case <-dup.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("duplicate of hv1's live session still connected after 10 s")
	}
	if r := s.ctl.Chassis("hv1").OpenFlowRefused; r == nil || r.Reason != openflow.RefusedDuplicate || r.Count != 2 {
		t.Errorf("hv1 status refusal %+v, want a duplicate, the second refusal", r)
	}
	for _, p := range []*oftest.Switch{im, dup} {
		for _, typ := range []uint8{of.Type_MultiPartRequest, of.Type_BundleControl, of.Type_BundleAddMessage, of.Type_FlowMod} {
			if p.Received(typ) > 0 {
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
	case <-late.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("impostor connected while hv1's bridge is down still connected after 10 s")
	}
	for _, typ := range []uint8{of.Type_MultiPartRequest, of.Type_BundleControl, of.Type_FlowMod} {
		if late.Received(typ) > 0 {
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
