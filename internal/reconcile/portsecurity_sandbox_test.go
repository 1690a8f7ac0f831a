package reconcile

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
)

// spoofedCount scrapes the registry (which reads the bridges) and returns
// ferry_port_security_drops_total for sw.
func (s *sandbox) spoofedCount(sw string) float64 {
	s.t.Helper()
	fams, err := s.reg.Gather()
	if err != nil {
		s.t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "ferry_port_security_drops_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "switch" && l.GetValue() == sw {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

// receive makes vm's dummy port receive frames from its guest, and waits
// until the datapath's counts reached the flows.
func (s *sandbox) receive(hv, vm string, frames ...string) {
	s.t.Helper()
	for _, f := range frames {
		s.hvs[hv].Appctl(s.t, "ovs-vswitchd", "netdev-dummy/receive", vm, f)
	}
	s.hvs[hv].Appctl(s.t, "ovs-vswitchd", "revalidator/wait")
}

// Port security on a real ovs-vswitchd: the bridge accepts the pipeline,
// drops vm1's frames from another MAC and its ARP claiming another
// address, counts them per switch in ferry_port_security_drops_total, lets
// its own through; "port_security": false lets everything through again;
// a restarted ferry with nothing changed sends nothing and does not count
// the old drops again.
func TestSandboxPortSecurity(t *testing.T) {
	s := newSandbox(t)
	s.waitBridge("hv2")
	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	s.addVIF("hv2", "vm2", "blue-b", "52:54:00:00:01:0b")
	port := model.Port{Switch: "blue", Name: "a", IfaceID: "blue-a", IPs: []netip.Addr{netip.MustParseAddr("198.18.100.1")}}
	setPort := func(p model.Port) {
		s.update(func(n *model.Snapshot) {
			n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1, Ports: []model.Port{
				p, {Switch: "blue", Name: "b", IfaceID: "blue-b"}}}}
		})
		s.waitRealized()
	}
	setPort(port)
	if st := s.ctl.Port(port); !st.PortSecurity {
		t.Errorf("port a's status %+v, want port security on", st)
	}
	hv1 := s.hvs["hv1"]
	flows := strings.Join(s.dumpFlows("hv1"), "\n")
	for _, want := range []string{
		"table=1, priority=100,arp,in_port=2,dl_src=52:54:00:00:01:0a,arp_spa=198.18.100.1,arp_sha=52:54:00:00:01:0a actions=goto_table:10",
		"table=2, priority=100,icmp6,in_port=2,icmp_type=136,icmp_code=0,nd_target=fe80::5054:ff:fe00:10a,nd_tll=52:54:00:00:01:0a actions=goto_table:10",
		"table=3, priority=100,tun_id=0x3e9 actions=drop",
	} {
		if !strings.Contains(flows, want) {
			t.Errorf("hv1 lacks %q:\n%s", want, flows)
		}
	}
	if n := s.spoofedCount("blue"); n != 0 {
		t.Fatalf("drops before any frame: %v", n)
	}

	arp := func(src, sha, spa string) string {
		return "in_port(1),eth(src=" + src + ",dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=" + spa +
			",tip=198.18.100.9,op=2,sha=" + sha + ",tha=00:00:00:00:00:00)"
	}
	own, other := "52:54:00:00:01:0a", "52:54:00:00:01:99"
	s.receive("hv1", "vm1", arp(other, other, "198.18.100.1"), arp(other, other, "198.18.100.1"), // another MAC
		arp(own, own, "198.18.100.2"), // another VM's address
		arp(own, own, "198.18.100.1")) // its own
	if n := s.spoofedCount("blue"); n != 3 {
		t.Fatalf("ferry_port_security_drops_total{switch=blue} = %v after 3 spoofed frames and 1 own, want 3", n)
	}
	trace := func(flow string) string {
		return hv1.Appctl(t, "ovs-vswitchd", "ofproto/trace", "br-int", "in_port=2,dl_dst=ff:ff:ff:ff:ff:ff,"+flow)
	}
	if out := trace("dl_src=" + other); !strings.Contains(out, " 3. tun_id=0x3e9, priority 100") || strings.Contains(out, "output:32768") {
		t.Errorf("a frame from another MAC is not dropped in table 3:\n%s", out)
	}
	if out := trace("dl_src=" + own + ",arp,arp_spa=198.18.100.1,arp_sha=" + own); !strings.Contains(out, "output:32768") {
		t.Errorf("vm1's own ARP does not reach the tunnel:\n%s", out)
	}

	// Off: both pass, nothing more is counted.
	off := false
	port.PortSecurity = &off
	setPort(port)
	if st := s.ctl.Port(port); st.PortSecurity || !st.Bound {
		t.Errorf("port a's status %+v, want bound without port security", st)
	}
	if out := trace("dl_src=" + other); !strings.Contains(out, "output:32768") {
		t.Errorf("with port_security false a frame from another MAC is dropped:\n%s", out)
	}
	s.receive("hv1", "vm1", arp(other, other, "198.18.100.2"))
	if n := s.spoofedCount("blue"); n != 3 {
		t.Fatalf("drops %v with port security off, want still 3", n)
	}

	// On again, then a restart with nothing changed: no flow_mod, and the
	// drops the bridge counted before are not counted again.
	port.PortSecurity = nil
	setPort(port)
	s.receive("hv1", "vm1", arp(other, other, "198.18.100.1"))
	if n := s.spoofedCount("blue"); n != 4 {
		t.Fatalf("drops %v, want 4", n)
	}
	before := s.of.Counters()
	s.stop()
	s.start()
	s.waitRealized()
	if after := s.of.Counters(); after.FlowMods != before.FlowMods {
		t.Errorf("restart sent %d flow_mods", after.FlowMods-before.FlowMods)
	}
	if n := s.spoofedCount("blue"); n != 0 {
		t.Errorf("a restarted ferry counts %v drops it did not see, want 0", n)
	}
	s.receive("hv1", "vm1", arp(own, own, "198.18.100.3"))
	if n := s.spoofedCount("blue"); n != 1 {
		t.Errorf("drops after the restart %v, want 1", n)
	}
}
