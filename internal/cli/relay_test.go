package cli

import (
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
)

// A relayed pair shows in switch show, the network tree and status.
func TestRelayedPairsShown(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "chassis", "create", "hv2", "--ovsdb", "tcp:198.18.255.12:6640", "--tunnel-ip", "198.18.1.12", "--relay")
	if out := f.ok(t, "chassis", "show", "hv2", "-o", "json"); !strings.Contains(out, `"relay": true`) {
		t.Errorf("chassis create --relay: %s", out)
	}
	f.ok(t, "chassis", "set", "hv2", "--relay=false")
	if out := f.ok(t, "chassis", "show", "hv2", "-o", "json"); !strings.Contains(out, `"relay": false`) {
		t.Errorf("chassis set --relay=false: %s", out)
	}
	f.ok(t, "switch", "create", "blue", "--vni", "1001")
	f.st.SetSwitch("blue", model.SwitchStatus{Chassis: []model.SwitchChassis{{Name: "hv1"}, {Name: "hv3"}}, Tunnels: []model.SwitchTunnel{
		{A: "hv1", B: "hv3", Encap: "vxlan", State: "down", Path: "relayed via hv2", Relay: "hv2",
			Probe: &model.PairProbe{State: model.ProbeFailing, Loss: 0.5}},
		{A: "hv1", B: "hv4", Encap: "vxlan", State: "up", Path: "direct",
			Probe: &model.PairProbe{State: model.ProbeOK, Loss: 0.1, RTTMillis: 2.54, PathMTU: 1400, MTUBelowUnderlay: true}},
		{A: "hv3", B: "hv4", Encap: "vxlan", State: "up", Path: "direct"},
	}})
	wantLines(t, f.ok(t, "switch", "show", "blue"),
		"Tunnels:",
		"PAIR ENCAP STATE PATH PROBE LOSS RTT PATH MTU",
		"hv1 <-> hv3 vxlan down relayed via hv2 failing 50% - -",
		"hv1 <-> hv4 vxlan up direct ok 10% 2.5ms 1400 (below underlay)",
		"hv3 <-> hv4 vxlan up direct - - - -")
	wantLines(t, f.ok(t, "show"), "tunnel hv1 <-> hv3: vxlan, down, relayed via hv2")
	if out := f.ok(t, "status"); !strings.Contains(out, "1/3 (1 relayed, 1 probe failing)") {
		t.Errorf("status does not count the relayed pair:\n%s", out)
	}

	// wait --verified holds out for the probes.
	f.st.SetSwitch("blue", model.SwitchStatus{Realized: true, Chassis: []model.SwitchChassis{{Name: "hv1", Realized: true}}, Tunnels: []model.SwitchTunnel{
		{A: "hv1", B: "hv3", Encap: "vxlan", State: "up", Probe: &model.PairProbe{State: model.ProbeFailing}},
	}})
	f.ok(t, "wait", "blue")
	if code, _, errs := f.run("wait", "blue", "--verified", "--timeout", "300ms"); code != ExitError ||
		!strings.Contains(errs, "timed out after 300ms waiting for blue: realized, 0/1 pairs verified by probes") {
		t.Errorf("wait --verified on an unverified switch: exit %d, %q", code, errs)
	}
	f.st.SetSwitch("blue", model.SwitchStatus{Realized: true, ForwardingVerified: true, Chassis: []model.SwitchChassis{{Name: "hv1", Realized: true}}})
	if out := f.ok(t, "wait", "blue", "--verified"); !strings.Contains(out, "realized and verified") {
		t.Errorf("wait --verified: %q", out)
	}
}
