package rest

import (
	"reflect"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/version"
	"github.com/ferry-sdn/ferry/rest/api"
)

// TestGatewayMACs: the route shows what the Status reports, lists are
// never null, and an unknown gateway is 404.
func TestGatewayMACs(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/gateways", `{"name":"gw1","ovsdb":"tcp:198.18.255.31:6640"}`).want(t, 201)
	var macs model.GatewayMACs
	f.do(t, "GET", "/v1/gateways/gw1/macs", "").want(t, 200).decode(t, &macs)
	if macs.Local == nil || macs.Remote == nil || len(macs.Local)+len(macs.Remote) != 0 {
		t.Fatalf("no MACs: %+v", macs)
	}
	want := model.GatewayMACs{
		Local:  []model.GatewayMAC{{Switch: "blue", MAC: "02:00:00:00:00:10", TunnelIP: "198.18.3.31", IP: "198.18.100.10"}},
		Remote: []model.GatewayMAC{{Switch: "blue", MAC: "02:00:00:00:00:01", TunnelIP: "198.18.1.11"}},
	}
	f.st.SetGatewayMACs("gw1", want)
	f.do(t, "GET", "/v1/gateways/gw1/macs", "").want(t, 200).decode(t, &macs)
	if len(macs.Local) != 1 || macs.Local[0] != want.Local[0] || len(macs.Remote) != 1 || macs.Remote[0] != want.Remote[0] {
		t.Fatalf("MACs %+v, want %+v", macs, want)
	}
	f.do(t, "GET", "/v1/gateways/nope/macs", "").want(t, 404, "nope")
}

func TestVersion(t *testing.T) {
	f := newFixture(t)
	var v version.Info
	f.do(t, "GET", "/v1/version", "").want(t, 200).decode(t, &v)
	if v != version.Get() || v.Version == "" || v.Commit == "" {
		t.Fatalf("version %+v, want %+v", v, version.Get())
	}
}

// TestReplicas: the route shows the replicas the Status reports, with
// device lists never null, and an empty list without any.
func TestReplicas(t *testing.T) {
	f := newFixture(t)
	var got []api.Replica
	f.do(t, "GET", "/v1/replicas", "").want(t, 200).decode(t, &got)
	if got == nil || len(got) != 0 {
		t.Fatalf("no replicas: %#v", got)
	}
	var h api.Health
	f.do(t, "GET", "/healthz", "").want(t, 200).decode(t, &h)
	if h.Replica != nil {
		t.Errorf("healthz of a single ferryd names a replica: %+v", h.Replica)
	}
	want := []api.Replica{
		{ID: "a", API: "http://198.18.255.1:8470", OpenFlow: "tcp:198.18.255.1:6653", Started: "2026-12-03T17:00:00Z", Self: true, Healthy: true, Devices: []string{"chassis/hv1"}},
		{ID: "b", OpenFlow: "tcp:198.18.255.2:6653", Started: "2026-12-03T17:00:01Z", Healthy: true},
	}
	f.st.SetReplicas(want)
	f.do(t, "GET", "/v1/replicas", "").want(t, 200).decode(t, &got)
	want[1].Devices = []string{}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("replicas %+v, want %+v", got, want)
	}
	f.do(t, "GET", "/healthz", "").want(t, 200).decode(t, &h)
	if h.Replica == nil || *h.Replica != (api.ReplicaHealth{ID: "a", Registered: true}) {
		t.Errorf("healthz replica %+v", h.Replica)
	}
}
