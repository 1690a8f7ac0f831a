package rest

import (
	"testing"

	"github.com/ferry-sdn/ferry/rest/api"
)

// TestPatchGatewayLimits: PATCH /v1/gateways/{name} changes the limits it
// names, a profile replaces all three, bad values are 400s naming the
// field and change nothing, an unknown gateway is a 404.
func TestPatchGatewayLimits(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/gateways", `{"name":"gw1","ovsdb":"tcp:198.18.255.31:6640","limits":{"tunnels":8}}`).want(t, 201)
	var gw api.Gateway
	f.do(t, "PATCH", "/v1/gateways/gw1", `{"limits":{"macs_per_switch":100}}`).want(t, 200).decode(t, &gw)
	if gw.Limits != (api.Limits{MACsPerSwitch: 100, Tunnels: 8}) {
		t.Fatalf("after a limits patch: %+v", gw.Limits)
	}
	f.do(t, "PATCH", "/v1/gateways/gw1", `{"profile":"dell","limits":{"tunnels":4}}`).want(t, 200).decode(t, &gw)
	if gw.Limits != (api.Limits{MACsTotal: 15000, Tunnels: 4}) {
		t.Fatalf("after a profile patch: %+v", gw.Limits)
	}
	gen := f.b.Snapshot().Generation
	for _, c := range []struct{ body, field string }{
		{`{}`, "limits"},
		{`{"profile":"nope"}`, "profile"},
		{`{"limits":{"macs_total":-1}}`, "limits.macs_total"},
		{`{"limits":{"tunnels":1073741825}}`, "limits.tunnels"},
		{`{"ovsdb":"tcp:198.18.255.32:6640"}`, "ovsdb"},
	} {
		f.do(t, "PATCH", "/v1/gateways/gw1", c.body).want(t, 400, c.field)
	}
	if f.b.Snapshot().Generation != gen {
		t.Fatal("a refused patch changed the northbound")
	}
	f.do(t, "PATCH", "/v1/gateways/nope", `{"limits":{"tunnels":1}}`).want(t, 404, "nope")
	// Unchanged: no new generation.
	f.do(t, "PATCH", "/v1/gateways/gw1", `{"limits":{"tunnels":4}}`).want(t, 200)
	if f.b.Snapshot().Generation != gen {
		t.Error("a patch that changes nothing made a generation")
	}
}
