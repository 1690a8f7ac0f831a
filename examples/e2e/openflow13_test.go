package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestOpenFlow13Bridges: bridges whose protocols the operator pinned to
// OpenFlow 1.0 and 1.3 (an Open vSwitch 2.5 era host) carry VXLAN and GRE
// switches with a 1.5 bridge: hv2 told "openflow": "1.3", hv3 left on
// auto. ferry leaves their protocols alone, speaks 1.3 to them without
// bundles, and a port added and removed on them drops no frame of a ping
// between other ports; a restart sends no flow_mod.
func TestOpenFlow13Bridges(t *testing.T) {
	e := newEnv(t)
	const pinned = "[OpenFlow10,OpenFlow13]"
	for _, hv := range []string{"hv2", "hv3"} {
		e.lab.OVS(t, hv, "ovs-vsctl", "set", "bridge", "br-int", "protocols=OpenFlow10,OpenFlow13")
	}
	for _, hv := range e.lab.Hypervisors() {
		body := map[string]any{"name": hv.Name, "ovsdb": hv.OVSDB, "tunnel_ip": hv.TunnelIP, "kind": "kvm"}
		if hv.Name == "hv2" {
			body["openflow"] = "1.3"
		}
		e.must("POST", "/v1/chassis", body)
	}
	e.must("POST", "/v1/switches", map[string]any{"name": "vx", "vni": 2101, "encap": "vxlan"})
	e.must("POST", "/v1/switches", map[string]any{"name": "gr", "vni": 2102, "encap": "gre"})
	vxA := guest{"hv1", "vx-a", "198.18.103.1/24", "02:00:00:0c:01:01"}
	vxB := guest{"hv2", "vx-b", "198.18.103.2/24", "02:00:00:0c:01:02"}
	vxC := guest{"hv3", "vx-c", "198.18.103.3/24", "02:00:00:0c:01:03"}
	grA := guest{"hv1", "gr-a", "198.18.104.1/24", "02:00:00:0d:01:01"}
	grB := guest{"hv2", "gr-b", "198.18.104.2/24", "02:00:00:0d:01:02"}
	grC := guest{"hv3", "gr-c", "198.18.104.3/24", "02:00:00:0d:01:03"}
	e.addGuests("vx", vxA, vxB, vxC)
	e.addGuests("gr", grA, grB, grC)
	e.waitRealized("vx", 3)
	e.waitRealized("gr", 3)

	for hv, want := range map[string][2]string{"hv1": {"auto", "1.5"}, "hv2": {"1.3", "1.3"}, "hv3": {"auto", "1.3"}} {
		var ch struct {
			OpenFlow string `json:"openflow"`
			Status   struct {
				OpenFlowVersion string `json:"openflow_version"`
			} `json:"status"`
		}
		if err := json.Unmarshal(e.must("GET", "/v1/chassis/"+hv, nil), &ch); err != nil {
			t.Fatal(err)
		}
		if ch.OpenFlow != want[0] || ch.Status.OpenFlowVersion != want[1] {
			t.Errorf("%s: openflow %q, openflow_version %q; want %q, %q", hv, ch.OpenFlow, ch.Status.OpenFlowVersion, want[0], want[1])
		}
	}
	for _, hv := range []string{"hv2", "hv3"} {
		if got := strings.TrimSpace(e.lab.OVS(t, hv, "ovs-vsctl", "get", "bridge", "br-int", "protocols")); strings.NewReplacer(" ", "", `"`, "").Replace(got) != pinned {
			t.Errorf("%s: ferry rewrote the pinned protocols to %s", hv, got)
		}
	}

	for _, p := range []struct{ from, to guest }{{vxA, vxB}, {vxA, vxC}, {vxB, vxC}, {grA, grB}, {grA, grC}, {grB, grC}} {
		if err := e.lab.WaitPing(t, p.from.name, p.to.ip(), 10*time.Second); err != nil {
			t.Errorf("%s (%s) -> %s (%s): %v", p.from.name, p.from.hv, p.to.name, p.to.hv, err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// A port comes and goes on both 1.3 bridges while vx-b pings vx-c
	// across them: every frame of the ping arrives.
	waitPing := e.startPing(vxB.name, vxC.ip(), "0.05", 120)
	time.Sleep(time.Second)
	vxD := guest{"hv2", "vx-d", "198.18.103.4/24", "02:00:00:0c:01:04"}
	vxE := guest{"hv3", "vx-e", "198.18.103.5/24", "02:00:00:0c:01:05"}
	e.addGuests("vx", vxD, vxE)
	e.waitRealized("vx", 5)
	if err := e.lab.WaitPing(t, vxD.name, vxE.ip(), 10*time.Second); err != nil {
		t.Errorf("the added ports do not reach each other: %v", err)
	}
	e.must("DELETE", "/v1/switches/vx/ports/vx-d", nil)
	e.waitRealized("vx", 4)
	out, err := waitPing()
	if err != nil || !strings.Contains(out, "120 received, 0% packet loss") {
		t.Errorf("ping between other ports across the port change: %v\n%s", err, tailLines(out, 3))
	}

	// A restart with nothing changed sends nothing to either kind of bridge.
	flowsBefore := map[string]int{}
	for _, hv := range []string{"hv1", "hv2", "hv3"} {
		flowsBefore[hv] = len(e.ferryFlows(hv))
	}
	if err := e.ferryd.Stop(); err != nil {
		t.Fatalf("stopping ferryd: %v", err)
	}
	restarted := time.Now()
	e.ferryd.Restart(t)
	e.waitAPI()
	e.waitRealized("vx", 4)
	e.waitRealized("gr", 3)
	if n := e.metric("ferry_openflow_flow_mods_total"); n != 0 {
		t.Errorf("restarted ferryd sent %v flow_mods", n)
	}
	for hv, before := range flowsBefore {
		if age := e.minFlowAge(hv); age < time.Since(restarted) {
			t.Errorf("%s: a ferry flow is %v old, younger than the restart: re-installed", hv, age)
		}
		if got := len(e.ferryFlows(hv)); got != before {
			t.Errorf("%s: %d ferry flows before the restart, %d after", hv, before, got)
		}
	}
	if err := e.lab.WaitPing(t, vxB.name, vxC.ip(), 5*time.Second); err != nil {
		t.Errorf("vx-b -> vx-c after the restart: %v", err)
	}

	// Told 1.5, ferry adds OpenFlow15 to hv3's protocols, and the bridge
	// comes back at 1.5 with its switches.
	e.must("PATCH", "/v1/chassis/hv3", map[string]any{"openflow": "1.5"})
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ch struct {
			Status struct {
				OpenFlowVersion string `json:"openflow_version"`
			} `json:"status"`
		}
		if err := json.Unmarshal(e.must("GET", "/v1/chassis/hv3", nil), &ch); err != nil {
			t.Fatal(err)
		}
		if ch.Status.OpenFlowVersion == "1.5" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hv3 told 1.5 still speaks %q; protocols %s", ch.Status.OpenFlowVersion,
				e.lab.OVS(t, "hv3", "ovs-vsctl", "get", "bridge", "br-int", "protocols"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := e.lab.OVS(t, "hv3", "ovs-vsctl", "get", "bridge", "br-int", "protocols"); !strings.Contains(got, "OpenFlow15") {
		t.Errorf("hv3 speaks 1.5 with protocols %s", got)
	}
	e.waitRealized("vx", 4)
	if err := e.lab.WaitPing(t, vxB.name, vxC.ip(), 10*time.Second); err != nil {
		t.Errorf("vx-b -> vx-c once hv3 speaks 1.5: %v", err)
	}
}
