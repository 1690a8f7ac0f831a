package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
	"github.com/ferry-sdn/ferry/rest/api"
)

// TestTrace: a trace of a frame from a VM to a bare-metal server behind the
// VTEP names the hypervisor, the tunnel, the gateway, its port and VLAN in
// both views — hv1 through ofproto/trace over its unixctl socket
// (--trace-appctl), hv3 by simulation on its installed flows — and agrees.
// With hv1's remote-MAC flow for the server deleted by hand and repair
// off, the real view floods where the logical one sends to the VTEP, and
// the trace says so at hop 1.
func TestTrace(t *testing.T) {
	e := newEnvFor(t, func(l *lab.Lab) []string {
		hv1, _ := l.Hypervisor("hv1")
		return []string{"--repair=false", "--trace-appctl", "hv1=" + hv1.Dir}
	})
	e.registerChassis()
	gw := e.lab.UpGateway(t)
	e.must("POST", "/v1/gateways", map[string]any{"name": "gw1", "ovsdb": gw.OVSDB})
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 6001, "encap": "gre"})
	e.addGuests("blue", guest{"hv1", "vm-a", "198.18.110.1/24", "02:00:00:a0:00:01"}, guest{"hv3", "vm-b", "198.18.110.2/24", "02:00:00:a0:00:02"})
	e.lab.BareMetal(t, "bm1", "198.18.110.10/24", bmMAC)
	e.must("POST", "/v1/switches/blue/bindings", map[string]any{"gateway": "gw1", "port": "p0", "vlan": 0})
	e.waitRealized("blue", 2)
	if err := e.lab.WaitPing(t, "vm-a", "198.18.110.10", 30*time.Second); err != nil {
		t.Fatalf("VM -> bare-metal: %v", err)
	}
	if err := e.lab.WaitLocalMAC(t, "ferry-blue", bmMAC, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, hv := range []string{"hv1", "hv3"} {
		e.waitFlow(hv, "dl_dst="+bmMAC+" actions=output:")
	}

	query := "/v1/trace?switch=blue&dst_mac=" + bmMAC + "&ip_dst=198.18.110.10&from="
	var tr api.Trace
	json.Unmarshal(e.must("GET", query+"vm-a", nil), &tr)
	if len(tr.Logical.Hops) != 2 || len(tr.Real.Hops) != 2 || len(tr.Disagreements) != 0 {
		t.Fatalf("trace: %s", e.must("GET", query+"vm-a", nil))
	}
	gwTunnel := ""
	for i, h := range []api.Trace{tr, tr} {
		view := h.Logical
		if i == 1 {
			view = h.Real
		}
		hv, g := view.Hops[0], view.Hops[1]
		if hv.Device != "hv1" || hv.Verdict != "unicast" || len(hv.Outputs) != 1 || hv.Outputs[0].Kind != "tunnel" ||
			!strings.HasPrefix(hv.Outputs[0].Port, "fvx") || hv.Outputs[0].Remote != "gw1" {
			t.Fatalf("view %d, hop 1: %+v", i, hv)
		}
		gwTunnel = hv.Outputs[0].Port
		if g.Device != "gw1" || g.Verdict != "unicast" || len(g.Outputs) != 1 || g.Outputs[0].Port != "p0" || g.Outputs[0].VLAN == nil || *g.Outputs[0].VLAN != 0 {
			t.Fatalf("view %d, hop 2: %+v", i, g)
		}
	}
	if tr.Logical.Hops[0].Outputs[0].RemoteIP != gw.TunnelIP || tr.Real.Hops[0].Source != "ofproto/trace" || tr.Real.Hops[1].Source != "observed" {
		t.Fatalf("trace: %+v", tr)
	}
	out := e.ctlOK("trace", "--switch", "blue", "--from", "vm-a", "--dst-mac", bmMAC)
	for _, want := range []string{"1. chassis hv1 (br-int), in v-vm-a", "-> tunnel " + gwTunnel + " to gw1 " + gw.TunnelIP + " (vxlan, vni 6001)",
		"2. gateway gw1", "-> port p0 untagged", "(ofproto/trace)", "(observed)", "the views agree"} {
		if !strings.Contains(out, want) {
			t.Errorf("ferryctl trace lacks %q:\n%s", want, out)
		}
	}
	// hv3 has no --trace-appctl: simulated on what its bridge holds.
	json.Unmarshal(e.must("GET", query+"vm-b", nil), &tr)
	if tr.Real.Hops[0].Device != "hv3" || tr.Real.Hops[0].Source != "simulated" || len(tr.Disagreements) != 0 {
		t.Fatalf("trace from hv3: %s", e.must("GET", query+"vm-b", nil))
	}

	// Delete hv1's remote-MAC flow for the server; with --repair=false
	// it stays deleted, and the frame now hits blue's flood flow.
	e.lab.OVS(t, "hv1", "ovs-ofctl", "-O", "OpenFlow15", "--strict", "del-flows", "br-int",
		"table=10,priority=100,tun_id=0x1771,metadata=0x1,dl_dst="+bmMAC)
	for _, f := range e.ferryFlows("hv1") {
		if strings.Contains(f, "metadata=0x1,dl_dst="+bmMAC) {
			t.Fatalf("flow not deleted: %s", f)
		}
	}
	json.Unmarshal(e.must("GET", query+"vm-a", nil), &tr)
	real := tr.Real.Hops[0]
	if tr.Logical.Hops[0].Verdict != "unicast" || real.Verdict != "flood" || len(real.Outputs) != 2 || len(tr.Disagreements) != 1 {
		t.Fatalf("after the deletion: %s", e.must("GET", query+"vm-a", nil))
	}
	d := tr.Disagreements[0]
	for _, want := range []string{"hop 1 (chassis hv1)", "logical: output to tunnel " + gwTunnel + " to gw1", "real: flooded through group 0x80002ee2", "tunnel fgr"} {
		if !strings.Contains(d, want) {
			t.Errorf("disagreement %q lacks %q", d, want)
		}
	}
	out = e.ctlOK("trace", "--switch", "blue", "--from", "vm-a", "--dst-mac", bmMAC)
	if !strings.Contains(out, "real: flood") || !strings.Contains(out, "disagreements:\n    hop 1 (chassis hv1)") {
		t.Errorf("ferryctl trace after the deletion:\n%s", out)
	}
	// hv3 (simulated on its dumped flows) sees the same after the same edit.
	e.lab.OVS(t, "hv3", "ovs-ofctl", "-O", "OpenFlow15", "--strict", "del-flows", "br-int",
		"table=10,priority=100,tun_id=0x1771,metadata=0x1,dl_dst="+bmMAC)
	json.Unmarshal(e.must("GET", query+"vm-b", nil), &tr)
	if real := tr.Real.Hops[0]; real.Source != "simulated" || real.Verdict != "flood" || len(tr.Disagreements) != 1 ||
		!strings.Contains(tr.Disagreements[0], "hop 1 (chassis hv3)") || !strings.Contains(real.Steps[0], "1 desired flows are missing") {
		t.Fatalf("simulated after the deletion: %s", e.must("GET", query+"vm-b", nil))
	}
	// The trace changed nothing: the flow is still gone.
	for _, f := range e.ferryFlows("hv1") {
		if strings.Contains(f, "metadata=0x1,dl_dst="+bmMAC) {
			t.Fatalf("the flow came back with --repair=false: %s", f)
		}
	}
}

// waitFlow waits until one of ferry's flows on hv contains text.
func (e *env) waitFlow(hv, text string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		flows := strings.Join(e.ferryFlows(hv), "\n")
		if strings.Contains(flows, text) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s has no flow with %q:\n%s", hv, text, flows)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
