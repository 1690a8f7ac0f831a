package rest

import (
	"testing"

	"github.com/ferry-sdn/ferry/rest/api"
)

// Limits round-trip through the northbound database; a profile sets them
// and explicit fields override it; bad ones are 400 naming the field.
func TestGatewayLimits(t *testing.T) {
	f := newFixture(t)
	var gw api.Gateway
	f.do(t, "POST", "/v1/gateways", `{"name":"gw1","ovsdb":"tcp:198.18.255.31:6640","limits":{"macs_per_switch":2,"tunnels":8}}`).want(t, 201).decode(t, &gw)
	if gw.Limits != (api.Limits{MACsPerSwitch: 2, Tunnels: 8}) {
		t.Fatalf("limits %+v", gw.Limits)
	}
	gw = api.Gateway{}
	f.do(t, "GET", "/v1/gateways/gw1", "").want(t, 200).decode(t, &gw)
	if gw.Limits != (api.Limits{MACsPerSwitch: 2, Tunnels: 8}) {
		t.Fatalf("limits read back %+v", gw.Limits)
	}
	f.do(t, "POST", "/v1/gateways", `{"name":"gw2","ovsdb":"tcp:198.18.255.32:6640","profile":"aruba-cx","limits":{"macs_total":100}}`).want(t, 201).decode(t, &gw)
	if gw.Limits != (api.Limits{MACsPerSwitch: 2048, MACsTotal: 100}) {
		t.Fatalf("profile limits %+v", gw.Limits)
	}
	for body, field := range map[string]string{
		`{"name":"gw3","ovsdb":"tcp:198.18.255.33:6640","limits":{"macs_per_switch":-1}}`: "limits.macs_per_switch",
		`{"name":"gw3","ovsdb":"tcp:198.18.255.33:6640","limits":{"macs_total":-5}}`:      "limits.macs_total",
		`{"name":"gw3","ovsdb":"tcp:198.18.255.33:6640","limits":{"tunnels":2147483648}}`: "limits.tunnels",
		`{"name":"gw3","ovsdb":"tcp:198.18.255.33:6640","profile":"juniper"}`:             "profile",
	} {
		f.do(t, "POST", "/v1/gateways", body).want(t, 400, field)
	}
}
