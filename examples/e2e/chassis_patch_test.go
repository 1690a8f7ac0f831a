package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestChassisPatch changes a chassis live through PATCH /v1/chassis: hv1
// moves its tunnel endpoint to a second underlay address it has, and
// hv3's tunnel towards it follows (options:remote_ip) while blue keeps
// forwarding, over the new address; then hv1's encaps and underlay_mtu
// change, and blue's tunnel and guest MTU in its status follow; last, hv1
// is reached on another target of its database.
func TestChassisPatch(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	e.addGuests("blue", blueA, blueB) // hv1 (site A) and hv3 (site B)
	e.waitRealized("blue", 2)
	if err := e.lab.Ping(t, "blue-a", blueB.ip(), 3); err != nil {
		t.Fatalf("blue-a -> blue-b before the change: %v", err)
	}
	if st := e.blueStatus(); st.MTU != 1450 || len(st.Tunnels) != 1 || st.Tunnels[0].Encap != "vxlan" {
		t.Fatalf("blue before the change: %+v", st)
	}

	// hv1 has a second address on its underlay bridge.
	const newIP = "198.18.1.21"
	if out, err := e.lab.Exec(t, "hv1", "ip", "addr", "add", newIP+"/24", "dev", "br-phy"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	e.must("PATCH", "/v1/chassis/hv1", map[string]any{"tunnel_ip": newIP})
	e.waitTunnel("hv3", "vxlan", newIP, "198.18.1.11")
	e.waitRealized("blue", 2)
	capRtr := e.lab.Capture(t, "rtr", "any", "udp port 4789 and src host "+newIP)
	if err := e.lab.WaitPing(t, "blue-a", blueB.ip(), 10*time.Second); err != nil {
		t.Fatalf("blue-a -> blue-b after hv1's tunnel_ip changed: %v", err)
	}
	if err := e.lab.Ping(t, "blue-a", blueB.ip(), 3); err != nil {
		t.Fatalf("blue-a -> blue-b after hv1's tunnel_ip changed: %v", err)
	}
	if !capRtr.WaitFor(newIP, 3*time.Second) {
		t.Errorf("the router saw no VXLAN frame from hv1's new address %s:\n%s", newIP, capRtr)
	}
	capRtr.Stop()

	// GRE only, on a smaller underlay: the pair falls back to GRE and
	// the guest MTU is what GRE leaves of 1400.
	e.must("PATCH", "/v1/chassis/hv1", map[string]any{"encaps": []string{"gre"}, "underlay_mtu": 1400})
	e.waitTunnel("hv3", "gre", newIP, "")
	e.waitRealized("blue", 2)
	if st := e.blueStatus(); st.MTU != 1400-42 || len(st.Tunnels) != 1 || st.Tunnels[0].Encap != "gre" {
		t.Errorf("blue after hv1 went GRE-only with underlay_mtu 1400: %+v", st)
	}
	if err := e.lab.WaitPing(t, "blue-a", blueB.ip(), 10*time.Second); err != nil {
		t.Fatalf("blue-a -> blue-b over GRE: %v", err)
	}

	// Another way to the same database: ferry redials hv1 on its unix
	// socket. The bridge still connects from hv1's management address,
	// which only the OVSDB target's host vouched for (without it, the
	// connection is refused: openflow_refused), so it becomes an
	// openflow_peer in the same change.
	hv1, _ := e.lab.Hypervisor("hv1")
	sock := "unix:" + hv1.Dir + "/db.sock"
	e.must("PATCH", "/v1/chassis/hv1", map[string]any{"ovsdb": sock, "openflow_peers": []string{hv1.MgmtIP}})
	gen := e.waitChassis("hv1", sock)
	t.Logf("hv1 realized generation %d on %s", gen, sock)
	e.waitRealized("blue", 2)
	if err := e.lab.WaitPing(t, "blue-a", blueB.ip(), 10*time.Second); err != nil {
		t.Fatalf("blue-a -> blue-b after hv1's ovsdb changed: %v", err)
	}
}

// waitChassis waits until chassis name, reached on target, is connected
// on OVSDB and OpenFlow and has realized its own generation; it returns
// the realized generation.
func (e *env) waitChassis(name, target string) int64 {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ch struct {
			OVSDB      string `json:"ovsdb"`
			Generation int64  `json:"generation"`
			Status     struct {
				OVSDBConnected     bool  `json:"ovsdb_connected"`
				OpenFlowConnected  bool  `json:"openflow_connected"`
				RealizedGeneration int64 `json:"realized_generation"`
			} `json:"status"`
		}
		data := e.must("GET", "/v1/chassis/"+name, nil)
		if err := json.Unmarshal(data, &ch); err != nil {
			e.t.Fatal(err)
		}
		st := ch.Status
		if ch.OVSDB == target && st.OVSDBConnected && st.OpenFlowConnected && st.RealizedGeneration >= ch.Generation {
			return st.RealizedGeneration
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("chassis %s not connected and realized on %s within 30s: %s", name, target, data)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type blueStatus struct {
	MTU     int `json:"mtu"`
	Tunnels []struct {
		A, B, Encap string
	} `json:"tunnels"`
}

func (e *env) blueStatus() blueStatus {
	e.t.Helper()
	var sw struct {
		Status blueStatus `json:"status"`
	}
	if err := json.Unmarshal(e.must("GET", "/v1/switches/blue", nil), &sw); err != nil {
		e.t.Fatal(err)
	}
	return sw.Status
}

// waitTunnel waits until hv has a tunnel interface of type encap with
// options:remote_ip=remote and, when gone is not "", none towards gone.
func (e *env) waitTunnel(hv, encap, remote, gone string) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := e.lab.OVS(e.t, hv, "ovs-vsctl", "--bare", "--columns=options", "find", "interface", "type="+encap)
		all := e.lab.OVS(e.t, hv, "ovs-vsctl", "--bare", "--columns=options", "list", "interface")
		has := func(out, ip string) bool { return slices.Contains(strings.Fields(out), "remote_ip="+ip) }
		if has(out, remote) && (gone == "" || !has(all, gone)) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s has no %s tunnel to %s (or still one to %q) within 30s:\n%s", hv, encap, remote, gone, all)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
