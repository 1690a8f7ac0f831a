package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

const (
	bmMAC  = "02:00:00:b0:00:10"
	esxMAC = "02:00:00:e5:00:20"
)

// TestGateway: bare-metal servers and an ESXi VLAN island join a GRE switch
// through the ovs-vtep gateway that ferry drives as NVC.
func TestGateway(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	gw := e.lab.UpGateway(t)
	e.must("POST", "/v1/gateways", map[string]any{"name": "gw1", "ovsdb": gw.OVSDB})
	deadline := time.Now().Add(15 * time.Second)
	for {
		var g struct {
			Status struct {
				Connected bool
				TunnelIPs []string `json:"tunnel_ips"`
				Ports     []struct{ Name string }
			} `json:"status"`
		}
		json.Unmarshal(e.must("GET", "/v1/gateways/gw1", nil), &g)
		if g.Status.Connected && len(g.Status.TunnelIPs) == 1 && g.Status.TunnelIPs[0] == gw.TunnelIP && len(g.Status.Ports) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway status: %+v", g.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// blue runs over GRE between hypervisors; VTEP pairs must use VXLAN.
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 6001, "encap": "gre"})
	e.addGuests("blue", guest{"hv1", "vm-a", "198.18.110.1/24", "02:00:00:a0:00:01"}, guest{"hv3", "vm-b", "198.18.110.2/24", "02:00:00:a0:00:02"})
	e.lab.BareMetal(t, "bm1", "198.18.110.10/24", bmMAC)
	e.lab.ESXiVM(t, "esx-a", "198.18.110.20/24", esxMAC, 100)
	e.must("POST", "/v1/switches/blue/bindings", map[string]any{"gateway": "gw1", "port": "p0", "vlan": 0})
	e.must("POST", "/v1/switches/blue/bindings", map[string]any{"gateway": "gw1", "port": "p1", "vlan": 100})
	e.waitRealized("blue", 2)

	for _, c := range [][3]string{
		{"vm-a", "198.18.110.10", "VM -> bare-metal"},
		{"vm-b", "198.18.110.20", "VM -> ESXi VM"},
		{"bm1", "198.18.110.20", "bare-metal -> ESXi VM"},
		{"esx-a", "198.18.110.1", "ESXi VM -> VM"},
	} {
		if err := e.lab.WaitPing(t, c[0], c[1], 20*time.Second); err != nil {
			t.Fatalf("%s: %v", c[2], err)
		}
	}

	// The VTEP learned the server's MAC; every hypervisor of the switch
	// sends it straight to the VTEP.
	if err := e.lab.WaitLocalMAC(t, "ferry-blue", bmMAC, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, hv := range []string{"hv1", "hv3"} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			flows := strings.Join(e.ferryFlows(hv), "\n")
			if strings.Contains(flows, "dl_dst="+bmMAC+" actions=output:") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s has no unicast flow for the bare-metal MAC:\n%s", hv, flows)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	ports := e.lab.OVS(t, "hv1", "ovs-vsctl", "--columns=name,type", "find", "Interface", "external_ids:ferry/owner=ferry")
	if !strings.Contains(ports, "fvxc612031f") || !strings.Contains(ports, "fgrc612020d") {
		t.Errorf("hv1 should reach the VTEP over VXLAN and hv3 over GRE:\n%s", ports)
	}
	var st struct {
		Status struct {
			Gateways []struct {
				Name            string
				Realized        bool
				ReplicationMode string `json:"replication_mode"`
			}
			Tunnels []struct{ A, B, Encap string }
		} `json:"status"`
	}
	json.Unmarshal(e.must("GET", "/v1/switches/blue", nil), &st)
	if len(st.Status.Gateways) != 1 || st.Status.Gateways[0].ReplicationMode != "source_node" {
		t.Errorf("switch gateways: %+v", st.Status.Gateways)
	}
	vxlanToGW := 0
	for _, tn := range st.Status.Tunnels {
		if tn.B == "gw1" && tn.Encap == "vxlan" {
			vxlanToGW++
		}
	}
	if vxlanToGW != 2 {
		t.Errorf("tunnels: %+v", st.Status.Tunnels)
	}

	// BFD runs towards the VTEP too (ovs-vtep applies the bfd_params
	// ferry writes on its Tunnel rows).
	e.waitTunnels("blue", map[string]string{"hv1-hv3": "up", "hv1-gw1": "up", "hv3-gw1": "up"}, 30*time.Second)

	// A (gateway, port, vlan) belongs to one switch; unknown ports are
	// refused while the gateway is connected.
	e.must("POST", "/v1/switches", map[string]any{"name": "red", "vni": 6002})
	if code, body := e.do("POST", "/v1/switches/red/bindings", map[string]any{"gateway": "gw1", "port": "p0", "vlan": 0}); code != 409 {
		t.Errorf("taken binding: %d %s", code, body)
	}
	if code, body := e.do("POST", "/v1/switches/red/bindings", map[string]any{"gateway": "gw1", "port": "p9", "vlan": 0}); code != 400 || !strings.Contains(string(body), "p9") {
		t.Errorf("unknown port: %d %s", code, body)
	}

	// Stopping ferryd leaves the VTEP as it is: remote MACs stay and
	// traffic keeps flowing.
	if err := e.ferryd.Stop(); err != nil {
		t.Fatal(err)
	}
	if macs := e.lab.VTEPCtl(t, "list-remote-macs", "ferry-blue"); !strings.Contains(macs, "02:00:00:a0:00:01") {
		t.Errorf("remote MACs gone after ferryd stopped:\n%s", macs)
	}
	if err := e.lab.Ping(t, "vm-a", "198.18.110.10", 3); err != nil {
		t.Errorf("VM -> bare-metal while ferryd is down: %v", err)
	}
	e.ferryd.Restart(t)
	e.waitAPI()
	e.waitRealized("blue", 2)

	// Removing the ESXi binding cuts the VLAN island off; the server
	// stays reachable.
	e.must("DELETE", "/v1/switches/blue/bindings/gw1/p1/100", nil)
	e.waitRealized("blue", 2)
	deadline = time.Now().Add(15 * time.Second)
	for e.lab.Ping(t, "vm-a", "198.18.110.20", 1) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the ESXi VM still answers after its binding was removed")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err := e.lab.WaitPing(t, "vm-a", "198.18.110.10", 10*time.Second); err != nil {
		t.Errorf("bare-metal lost when the ESXi binding went: %v", err)
	}

	// Deleting the switch removes ferry's rows from the VTEP.
	e.must("DELETE", "/v1/switches/blue", nil)
	deadline = time.Now().Add(20 * time.Second)
	for {
		ls := e.lab.VTEPCtl(t, "list-ls")
		if !strings.Contains(ls, "ferry-blue") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ferry-blue still on the VTEP after the switch was deleted:\n%s\n%s", ls, e.lab.VTEPCtl(t, "list-bindings", "vtep0", "p0"))
		}
		time.Sleep(250 * time.Millisecond)
	}
}
