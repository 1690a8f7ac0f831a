package e2e

import (
	"encoding/json"
	"testing"
	"time"
)

// TestPassiveGateway: a VTEP that dials ferry (vtep-ctl set-manager) is
// driven like one ferry dials, and shows disconnected when it hangs up.
func TestPassiveGateway(t *testing.T) {
	e := newEnv(t, "--ovsdb-listen", "ptcp:16640:198.18.255.1")
	e.registerChassis()
	e.lab.UpGateway(t)
	e.must("POST", "/v1/gateways", map[string]any{"name": "gw1", "ovsdb": "passive", "physical_switch": "vtep0"})
	e.lab.VTEPCtl(t, "set-manager", "tcp:198.18.255.1:16640")
	connected := func() bool {
		var g struct {
			Status struct{ Connected bool } `json:"status"`
		}
		json.Unmarshal(e.must("GET", "/v1/gateways/gw1", nil), &g)
		return g.Status.Connected
	}
	waitFor := func(what string, want bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for connected() != want {
			if time.Now().After(deadline) {
				t.Fatalf("gateway %s", what)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("never connected", true)
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 9001})
	e.addGuests("blue", guest{"hv1", "pg-a", "198.18.130.1/24", "02:00:00:d0:00:01"})
	e.lab.BareMetal(t, "pg-bm", "198.18.130.10/24", "02:00:00:d0:00:10")
	e.must("POST", "/v1/switches/blue/bindings", map[string]any{"gateway": "gw1", "port": "p0"})
	e.waitRealized("blue", 1)
	if err := e.lab.WaitPing(t, "pg-a", "198.18.130.10", 20*time.Second); err != nil {
		t.Fatalf("VM -> bare-metal through a passive gateway: %v", err)
	}
	e.lab.VTEPCtl(t, "del-manager")
	waitFor("still connected after it hung up", false)
}
