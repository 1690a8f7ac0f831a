package cli

import (
	"testing"
)

// TestGatewayLimits: gateway create and gateway set take the capacity
// flags; a profile sets the limits, the flags override them.
func TestGatewayLimits(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "gateway", "create", "gw1", "--ovsdb", "tcp:198.18.255.31:6640", "--profile", "dell", "--tunnels", "4")
	gw, _ := f.b.Snapshot().GatewayByName("gw1")
	if gw.Limits.MACsTotal != 15000 || gw.Limits.Tunnels != 4 || gw.Limits.MACsPerSwitch != 0 {
		t.Fatalf("limits after create: %+v", gw.Limits)
	}
	if out := f.ok(t, "gateway", "set", "gw1", "--macs-per-switch", "100"); out != "gateway gw1 limits: 100 MACs per switch, 15000 MACs in all, 4 tunnels\n" {
		t.Fatalf("gateway set: %q", out)
	}
	if out := f.ok(t, "gateway", "set", "gw1", "--profile", "ovs-vtep"); out != "gateway gw1 limits: unlimited MACs per switch, unlimited MACs in all, unlimited tunnels\n" {
		t.Fatalf("gateway set --profile: %q", out)
	}
	f.fails(t, ExitError, `profile: "nope": unknown (one of arista, aruba-cx, cumulus, dell, ovs-vtep) (HTTP 400)`, "gateway", "set", "gw1", "--profile", "nope")
	f.fails(t, ExitError, "limits.tunnels: must be between 0 (unlimited) and 1073741824 (HTTP 400)", "gateway", "set", "gw1", "--tunnels", "-1")
	f.fails(t, ExitUsage, "gateway set: give --profile or a limit flag", "gateway", "set", "gw1")
	f.fails(t, ExitError, `gateway "nope" not found (HTTP 404)`, "gateway", "set", "nope", "--tunnels", "1")
}
