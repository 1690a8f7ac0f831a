package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

type fullStatus struct {
	Status struct {
		Realized    bool `json:"realized"`
		AdoptedVIFs int  `json:"adopted_vifs"`
		MTU         int  `json:"mtu"`
		Tunnels     []struct {
			A, B, Encap string
		} `json:"tunnels"`
	} `json:"status"`
}

func (e *env) status(sw string) fullStatus {
	e.t.Helper()
	var st fullStatus
	if err := json.Unmarshal(e.must("GET", "/v1/switches/"+sw, nil), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// dfPing sends one don't-fragment ping whose IP packet is exactly size
// bytes.
func (e *env) dfPing(from, to string, size int) error {
	out, err := e.lab.Exec(e.t, e.lab.Namespace(from), "ping", "-c", "2", "-W", "1", "-M", "do", "-s", fmt.Sprint(size-28), to)
	if err != nil {
		return fmt.Errorf("%v: %s", err, tailLines(out, 3))
	}
	return nil
}

// TestGREAndVXLAN: a GRE switch and a VXLAN switch over the same pair of
// hypervisors, with traffic, the tunnel type on the chassis and on the
// wire, and don't-fragment pings at the reported MTU and one byte over.
func TestGREAndVXLAN(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "vx", "vni": 2001, "encap": "vxlan"})
	e.must("POST", "/v1/switches", map[string]any{"name": "gr", "vni": 2002, "encap": "gre"})
	e.addGuests("vx", guest{"hv1", "vx-a", "198.18.101.1/24", "02:00:00:0a:01:01"}, guest{"hv3", "vx-b", "198.18.101.2/24", "02:00:00:0a:01:02"})
	e.addGuests("gr", guest{"hv1", "gr-a", "198.18.102.1/24", "02:00:00:0b:01:01"}, guest{"hv3", "gr-b", "198.18.102.2/24", "02:00:00:0b:01:02"})
	e.waitRealized("vx", 2)
	e.waitRealized("gr", 2)

	capRtr := e.lab.Capture(t, "rtr", "any", "udp port 4789 or ip proto 47")
	for _, p := range [][2]string{{"vx-a", "198.18.101.2"}, {"gr-a", "198.18.102.2"}} {
		if err := e.lab.WaitPing(t, p[0], p[1], 10*time.Second); err != nil {
			t.Fatalf("%s -> %s: %v", p[0], p[1], err)
		}
	}
	if !capRtr.WaitFor("vni 2001", 3*time.Second) {
		t.Errorf("no VXLAN vni 2001 on the underlay:\n%s", capRtr)
	}
	if !capRtr.WaitFor("GREv0", 3*time.Second) || capRtr.Count("key=0x7d2") == 0 {
		t.Errorf("no GRE with key 0x7d2 (2002) on the underlay:\n%s", capRtr)
	}
	capRtr.Stop()

	types := e.lab.OVS(t, "hv1", "ovs-vsctl", "--columns=name,type", "find", "Interface", "external_ids:ferry/owner=ferry")
	if !strings.Contains(types, "fgrc612020d") || !strings.Contains(types, `"gre"`) && !strings.Contains(types, ": gre") ||
		!strings.Contains(types, "fvxc612020d") || !strings.Contains(types, "vxlan") {
		t.Errorf("hv1 tunnel ports:\n%s", types)
	}

	for _, c := range []struct {
		sw, a, b, bIP string
		mtu           int
		encap         string
	}{{"vx", "vx-a", "vx-b", "198.18.101.2", 1450, "vxlan"}, {"gr", "gr-a", "gr-b", "198.18.102.2", 1458, "gre"}} {
		st := e.status(c.sw)
		if st.Status.MTU != c.mtu || len(st.Status.Tunnels) != 1 || st.Status.Tunnels[0].Encap != c.encap {
			t.Errorf("%s status: mtu %d tunnels %+v, want %d over %s", c.sw, st.Status.MTU, st.Status.Tunnels, c.mtu, c.encap)
			continue
		}
		// Let the guests send more than the MTU so that only the underlay
		// decides.
		for _, g := range []string{c.a, c.b} {
			if _, err := e.lab.Exec(t, e.lab.Namespace(g), "ip", "link", "set", "eth0", "mtu", "1500"); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.dfPing(c.a, c.bIP, c.mtu); err != nil {
			t.Errorf("%s: DF ping of %d bytes (the reported MTU) failed: %v", c.sw, c.mtu, err)
		}
		if err := e.dfPing(c.a, c.bIP, c.mtu+1); err == nil {
			t.Errorf("%s: DF ping of %d bytes passed; the reported MTU %d is too small", c.sw, c.mtu+1, c.mtu)
		}
	}
}

// TestXenServer: a XenServer-style chassis (VIFs vifD.N on xapi1, bound by
// xs-vif-uuid, with an inactive tap twin) in a switch with KVM guests, and
// a switch adopting a XenServer network that picks up a VIF added later.
func TestXenServer(t *testing.T) {
	e := newEnv(t)
	for _, hv := range e.lab.Hypervisors() {
		body := map[string]any{"name": hv.Name, "ovsdb": hv.OVSDB, "tunnel_ip": hv.TunnelIP, "kind": "kvm"}
		if hv.Name == "hv2" {
			body["kind"], body["bridge"], body["datapath_type"] = "xenserver", "xapi1", "netdev"
		}
		e.must("POST", "/v1/chassis", body)
	}
	// ferry creates xapi1 (userspace) on hv2.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if out, _ := e.lab.Exec(t, "hv2", "ovs-vsctl", "get", "bridge", "xapi1", "datapath_type", "fail_mode"); strings.Contains(out, "netdev") && strings.Contains(out, "secure") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ferry did not create xapi1 (netdev, secure) on hv2")
		}
		time.Sleep(100 * time.Millisecond)
	}

	const vif = "3f1c9f4e-6d3b-4e0a-9d2b-5a1e2c7b8d01"
	e.must("POST", "/v1/switches", map[string]any{"name": "mixed", "vni": 3001})
	e.addGuests("mixed", guest{"hv1", "kvm-a", "198.18.103.1/24", "02:00:00:0c:01:01"})
	e.lab.XSGuest(t, "hv2", "xen-a", "198.18.103.2/24", "02:00:00:0c:01:02", "xapi1", vif, "net-0001", 5, true)
	e.must("POST", "/v1/switches/mixed/ports", map[string]any{"name": "xen-a", "iface_id": vif})
	e.waitRealized("mixed", 2)
	if err := e.lab.WaitPing(t, "kvm-a", "198.18.103.2", 10*time.Second); err != nil {
		t.Fatalf("KVM guest -> XenServer guest: %v", err)
	}
	var port struct {
		Status struct{ Interface, Chassis string } `json:"status"`
	}
	json.Unmarshal(e.must("GET", "/v1/switches/mixed/ports/xen-a", nil), &port)
	if port.Status.Interface != "vif5.0" || port.Status.Chassis != "hv2" {
		t.Errorf("xen-a bound to %+v, want vif5.0 on hv2 (not the inactive tap5.0)", port.Status)
	}

	// A switch adopting network net-0002 picks up a VIF that appears later.
	e.must("POST", "/v1/switches", map[string]any{"name": "xnet", "vni": 3002, "xenserver_networks": []string{"net-0002"}})
	e.addGuests("xnet", guest{"hv3", "kvm-b", "198.18.104.1/24", "02:00:00:0d:01:01"})
	e.waitRealized("xnet", 1)
	e.lab.XSGuest(t, "hv2", "xen-b", "198.18.104.2/24", "02:00:00:0d:01:02", "xapi1", "6e0d7f2a-1b3c-4d5e-8f90-a1b2c3d4e5f6", "net-0002", 6, false)
	e.waitRealized("xnet", 2)
	if st := e.status("xnet"); st.Status.AdoptedVIFs != 1 {
		t.Errorf("xnet adopted %d VIFs, want 1", st.Status.AdoptedVIFs)
	}
	if err := e.lab.WaitPing(t, "kvm-b", "198.18.104.2", 10*time.Second); err != nil {
		t.Fatalf("KVM guest -> adopted XenServer VIF: %v", err)
	}
	// Dropping the network from the switch cuts the VIF off again.
	e.must("PATCH", "/v1/switches/xnet", map[string]any{"xenserver_networks": []string{}})
	e.waitRealized("xnet", 1)
	if err := e.lab.Ping(t, "kvm-b", "198.18.104.2", 2); err == nil {
		t.Errorf("the VIF still answers after its network left the switch")
	}
}

// TestMigration: a guest whose interface leaves one hypervisor and appears
// on another keeps answering, with no API call.
func TestMigration(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "mig", "vni": 4001})
	e.addGuests("mig", guest{"hv1", "mover", "198.18.105.1/24", "02:00:00:0e:01:01"}, guest{"hv3", "peer", "198.18.105.2/24", "02:00:00:0e:01:02"})
	e.waitRealized("mig", 2)
	if err := e.lab.WaitPing(t, "peer", "198.18.105.1", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	e.lab.Migrate(t, "mover", "hv2")
	start := time.Now()
	if err := e.lab.WaitPing(t, "peer", "198.18.105.1", 15*time.Second); err != nil {
		t.Fatalf("guest unreachable after migrating to hv2: %v", err)
	}
	t.Logf("reachable again %v after the interface moved", time.Since(start))
	var port struct {
		Status struct{ Chassis string } `json:"status"`
	}
	json.Unmarshal(e.must("GET", "/v1/switches/mig/ports/mover", nil), &port)
	if port.Status.Chassis != "hv2" {
		t.Errorf("port bound to %q after migration, want hv2", port.Status.Chassis)
	}
	for _, f := range e.ferryFlows("hv1") {
		if strings.Contains(f, "tun_id=0xfa1") {
			t.Errorf("hv1 keeps a flow of the switch it no longer carries: %s", f)
		}
	}
}

// TestDialIn: a hypervisor configured with set-manager dials ferry and is
// managed like any other; a host whose system-id is not registered as
// passive is refused.
func TestDialIn(t *testing.T) {
	e := newEnv(t, "--ovsdb-listen", "ptcp:16640:198.18.255.1")
	hv1, _ := e.lab.Hypervisor("hv1")
	e.must("POST", "/v1/chassis", map[string]any{"name": "hv1", "ovsdb": hv1.OVSDB, "tunnel_ip": hv1.TunnelIP})
	e.must("POST", "/v1/chassis", map[string]any{"name": "hv3", "ovsdb": "passive", "tunnel_ip": "198.18.2.13"})
	// hv3 dials ferry, as a host behind NAT would; so does hv2, which
	// nobody registered.
	e.lab.OVS(t, "hv3", "ovs-vsctl", "set-manager", "tcp:198.18.255.1:16640")
	e.lab.OVS(t, "hv2", "ovs-vsctl", "set-manager", "tcp:198.18.255.1:16640")

	e.must("POST", "/v1/switches", map[string]any{"name": "nat", "vni": 5001})
	e.addGuests("nat", guest{"hv1", "in-a", "198.18.106.1/24", "02:00:00:0f:01:01"}, guest{"hv3", "in-b", "198.18.106.2/24", "02:00:00:0f:01:02"})
	e.waitRealized("nat", 2)
	if err := e.lab.WaitPing(t, "in-a", "198.18.106.2", 10*time.Second); err != nil {
		t.Fatalf("guest on the dial-in host unreachable: %v", err)
	}
	var ch struct {
		Status struct {
			OVSDB bool `json:"ovsdb_connected"`
		} `json:"status"`
	}
	json.Unmarshal(e.must("GET", "/v1/chassis/hv3", nil), &ch)
	if !ch.Status.OVSDB {
		t.Errorf("hv3 not shown as connected")
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.metric("ferry_ovsdb_passive_refused_total") < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("hv2's unregistered connection was not refused")
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A refused host may dial again and be refused again; it is never
	// managed: its bridge gets no controller from ferry.
	if out, _ := e.lab.Exec(t, "hv2", "ovs-vsctl", "get-controller", "br-int"); strings.TrimSpace(out) != "" {
		t.Errorf("the unregistered host was managed: controller %q", out)
	}
}
