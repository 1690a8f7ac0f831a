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
		{A: "hv1", B: "hv3", Encap: "vxlan", State: "down", Path: "relayed via hv2", Relay: "hv2"},
		{A: "hv1", B: "hv4", Encap: "vxlan", State: "up", Path: "direct"},
	}})
	wantLines(t, f.ok(t, "switch", "show", "blue"),
		"Tunnels:",
		"PAIR ENCAP STATE PATH",
		"hv1 <-> hv3 vxlan down relayed via hv2",
		"hv1 <-> hv4 vxlan up direct")
	wantLines(t, f.ok(t, "show"), "tunnel hv1 <-> hv3: vxlan, down, relayed via hv2")
	if out := f.ok(t, "status"); !strings.Contains(out, "1/2 (1 relayed)") {
		t.Errorf("status does not count the relayed pair:\n%s", out)
	}
}
