package rest

import (
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/api"
)

func TestGatewaysAndBindings(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	f.do(t, "POST", "/v1/switches", `{"name":"red"}`).want(t, 201)
	var gw api.Gateway
	f.do(t, "POST", "/v1/gateways", `{"name":"gw1","ovsdb":"tcp:198.18.255.31:6640","physical_switch":"vtep0"}`).want(t, 201).decode(t, &gw)
	if gw.PhysicalSwitch != "vtep0" || gw.Status.Ports == nil || gw.Status.TunnelIPs == nil {
		t.Fatalf("gateway %+v", gw)
	}
	f.do(t, "POST", "/v1/gateways", `{"name":"gw2","ovsdb":"passive"}`).want(t, 201)
	f.do(t, "POST", "/v1/gateways", `{"name":"gw3","ovsdb":"tcp:198.18.255.31"}`).want(t, 400, "ovsdb")
	f.do(t, "POST", "/v1/gateways", `{"name":"gw3","ovsdb":"tcp:198.18.255.33:6640","physical_switch":"a b"}`).want(t, 400, "physical_switch")
	f.do(t, "POST", "/v1/gateways", `{"name":"gw1","ovsdb":"tcp:198.18.255.34:6640"}`).want(t, 409, "gw1")
	f.do(t, "GET", "/v1/gateways/nope", "").want(t, 404, "nope")

	// While gw1 is connected ferry knows its ports: an unknown one is 400.
	f.st.SetGateway("gw1", model.GatewayStatus{Connected: true, Ports: []model.GatewayPort{{Name: "p0"}, {Name: "Ethernet1/1"}}})
	f.do(t, "POST", "/v1/switches/blue/bindings", `{"gateway":"gw1","port":"p9"}`).want(t, 400, "port", "p9")
	var b api.Binding
	f.do(t, "POST", "/v1/switches/blue/bindings", `{"gateway":"gw1","port":"p0"}`).want(t, 201).decode(t, &b)
	if b.VLAN != 0 || b.Switch != "blue" {
		t.Fatalf("binding %+v", b)
	}
	f.do(t, "POST", "/v1/switches/blue/bindings", `{"gateway":"gw1","port":"Ethernet1/1","vlan":100}`).want(t, 201)
	f.do(t, "POST", "/v1/switches/red/bindings", `{"gateway":"gw1","port":"p0","vlan":0}`).want(t, 409, "vlan")
	f.do(t, "POST", "/v1/switches/red/bindings", `{"gateway":"gw1","port":"p0","vlan":4096}`).want(t, 400, "vlan")
	f.do(t, "POST", "/v1/switches/red/bindings", `{"gateway":"nope","port":"p0"}`).want(t, 404, "nope")
	f.do(t, "POST", "/v1/switches/nope/bindings", `{"gateway":"gw1","port":"p0"}`).want(t, 404, "nope")
	// gw2 is not connected: its ports are unknown, the binding waits.
	f.do(t, "POST", "/v1/switches/red/bindings", `{"gateway":"gw2","port":"anything"}`).want(t, 201)

	var list []api.Binding
	f.do(t, "GET", "/v1/switches/blue/bindings", "").want(t, 200).decode(t, &list)
	if len(list) != 2 {
		t.Fatalf("bindings %+v", list)
	}
	f.do(t, "DELETE", "/v1/gateways/gw1", "").want(t, 409, "gw1")
	f.do(t, "DELETE", "/v1/switches/blue/bindings/gw1/Ethernet1%2F1/100", "").want(t, 204)
	f.do(t, "DELETE", "/v1/switches/blue/bindings/gw1/Ethernet1%2F1/100", "").want(t, 404)
	f.do(t, "DELETE", "/v1/switches/blue/bindings/gw1/p0/x", "").want(t, 400, "vlan")
	f.do(t, "DELETE", "/v1/switches/blue/bindings/gw1/p0/0", "").want(t, 204)
	f.do(t, "DELETE", "/v1/gateways/gw1", "").want(t, 204)
}
