package rest

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
)

// TestCheckGateway: POST /v1/gateways/{name}/check returns the Status's
// report, 404 for an unknown gateway, 409 while a check runs, 503 when
// the gateway is offline, and is admin-only.
func TestCheckGateway(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/gateways", `{"name":"gw1","ovsdb":"tcp:198.18.255.31:6640"}`).want(t, 201)
	f.st.SetCheck(func(string) (model.GatewayCheck, error) { return model.GatewayCheck{}, model.ErrGatewayOffline })
	f.do(t, "POST", "/v1/gateways/gw1/check", "").want(t, 503, "not connected")
	want := model.GatewayCheck{Gateway: "gw1", Items: []model.CheckItem{{Name: "schema", Result: "pass", Evidence: "hardware_vtep 1.7.0"}}, LeftBehind: []string{}}
	f.st.SetCheck(func(name string) (model.GatewayCheck, error) {
		if name != "gw1" {
			return model.GatewayCheck{}, fmt.Errorf("asked for %q", name)
		}
		return want, nil
	})
	var got model.GatewayCheck
	f.do(t, "POST", "/v1/gateways/gw1/check", "").want(t, 200).decode(t, &got)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("report %+v, want %+v", got, want)
	}
	f.do(t, "POST", "/v1/gateways/nope/check", "").want(t, 404, "nope")
	f.do(t, "GET", "/v1/gateways/gw1/check", "").want(t, 405)
	f.st.SetCheck(func(string) (model.GatewayCheck, error) { return model.GatewayCheck{}, model.ErrCheckRunning })
	f.do(t, "POST", "/v1/gateways/gw1/check", "").want(t, 409, "already running")
	f.st.SetCheck(func(string) (model.GatewayCheck, error) {
		return model.GatewayCheck{}, fmt.Errorf("reconcile: %w: run the check on replica r2", model.ErrNotOwner)
	})
	f.do(t, "POST", "/v1/gateways/gw1/check", "").want(t, 409, "replica r2")
}
