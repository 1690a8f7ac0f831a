package rest

import (
	"slices"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	"github.com/ferry-sdn/ferry/rest/api"
)

// TestWithNorthbound runs the API over the real store (internal/nbdb on
// libovsdb's in-memory server): read-after-write, error mapping and garbage
// collection as ferryd will see them.
func TestWithNorthbound(t *testing.T) {
	db := nbdbtest.New(t, nbdbtest.InMemory(t))
	f := &fixture{h: NewHandler(db, nil, nil, nil)}

	f.do(t, "GET", "/healthz", "").want(t, 200)
	f.do(t, "POST", "/v1/chassis", hv1).want(t, 201)
	f.do(t, "POST", "/v1/chassis", hv2).want(t, 201)
	var sw api.Switch
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201).decode(t, &sw)
	if sw.VNI != 1 || sw.Generation != 3 {
		t.Fatalf("created %+v", sw)
	}
	f.do(t, "POST", "/v1/switches", `{"name":"red","vni":1}`).want(t, 409, "vni:", "blue")
	f.do(t, "POST", "/v1/switches", `{"name":"blue","encap":"gre"}`).want(t, 409, "name:")
	f.do(t, "POST", "/v1/switches/blue/ports", `{"name":"vm1","iface_id":"if-1","mac":"02:00:00:00:00:01"}`).want(t, 201)
	f.do(t, "POST", "/v1/switches/blue/ports", `{"name":"vm2","iface_id":"if-1"}`).want(t, 409, "iface_id:")
	f.do(t, "POST", "/v1/switches/green/ports", `{"name":"vm2","iface_id":"if-2"}`).want(t, 404, "green")
	f.do(t, "POST", "/v1/chassis", `{"name":"hv3","ovsdb":"tcp:198.18.255.11:6640","tunnel_ip":"198.18.1.13"}`).want(t, 409, "ovsdb:", "hv1")

	// Read after write: no waiting.
	f.do(t, "GET", "/v1/switches/blue", "").want(t, 200).decode(t, &sw)
	if !slices.Equal(sw.Ports, []string{"vm1"}) || sw.Generation != 4 {
		t.Fatalf("blue %+v", sw)
	}
	var p api.Port
	f.do(t, "GET", "/v1/switches/blue/ports/vm1", "").want(t, 200).decode(t, &p)
	if p.MAC != "02:00:00:00:00:01" || p.IfaceID != "if-1" {
		t.Fatalf("vm1 %+v", p)
	}
	var chassis []api.Chassis
	f.do(t, "GET", "/v1/chassis", "").want(t, 200).decode(t, &chassis)
	if len(chassis) != 2 || chassis[1].Kind != "xenserver" || !slices.Equal(chassis[1].Encaps, []string{"gre"}) {
		t.Fatalf("chassis %+v", chassis)
	}

	f.do(t, "DELETE", "/v1/switches/blue", "").want(t, 204)
	f.do(t, "GET", "/v1/switches/blue/ports", "").want(t, 404)
	// The deleted switch's port went with it: its iface_id is free.
	f.do(t, "POST", "/v1/switches", `{"name":"red"}`).want(t, 201)
	f.do(t, "POST", "/v1/switches/red/ports", `{"name":"vm1","iface_id":"if-1"}`).want(t, 201)
	f.do(t, "DELETE", "/v1/chassis/hv2", "").want(t, 204)
	f.do(t, "DELETE", "/v1/chassis/hv2", "").want(t, 404)

	if g := db.Snapshot().Generation; g != 8 {
		t.Fatalf("generation %d, want 8 (one per successful change)", g)
	}
}

func TestWithNorthboundDown(t *testing.T) {
	c := nbdbtest.Connect(t, nbdbtest.InMemory(t))
	db := nbdb.New(c, nil)
	f := &fixture{h: NewHandler(db, nil, nil, nil)}
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	c.Disconnect()
	for deadline := time.Now().Add(5 * time.Second); db.Healthy(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("still healthy after Disconnect")
		}
	}
	f.do(t, "GET", "/healthz", "").want(t, 503)
	f.do(t, "POST", "/v1/switches", `{"name":"red"}`).want(t, 503)
	// Reads serve the last known state.
	f.do(t, "GET", "/v1/switches/blue", "").want(t, 200)
}
