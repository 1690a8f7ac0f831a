package rest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/api"
)

// TestDryRun: every write with ?dry_run=true answers 200 with the response
// the write would have had and the plan for the state it would make, and
// commits nothing; bad input is refused as the write refuses it.
func TestDryRun(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/chassis", hv1).want(t, 201)
	f.do(t, "POST", "/v1/switches", `{"name":"blue","vni":1001}`).want(t, 201)
	f.do(t, "POST", "/v1/switches/blue/ports", `{"name":"p1","iface_id":"if-1"}`).want(t, 201)
	f.do(t, "POST", "/v1/gateways", `{"name":"gw1","ovsdb":"tcp:198.18.255.31:6640"}`).want(t, 201)
	var planned *model.Snapshot
	f.st.SetPlan(func(snap *model.Snapshot) (model.Plan, error) {
		planned = snap
		return model.Plan{Generation: snap.Generation, Switches: []string{"blue"}, Devices: []model.DevicePlan{
			{Kind: "chassis", Name: "hv1", Exact: true, OVSDB: []string{}, Flows: &model.FlowChanges{FlowMods: 1, AddFlows: []string{"table=0, priority=100,in_port=1 actions=goto_table:10"}}},
		}}, nil
	})
	writes := []struct {
		method, path, body string
		status             int
		// in says whether the planned snapshot shows the write.
		in func(s *model.Snapshot) bool
	}{
		{"POST", "/v1/switches", `{"name":"red"}`, 201, func(s *model.Snapshot) bool { _, ok := s.Switch("red"); return ok }},
		{"PUT", "/v1/switches/green", `{"name":"green","ports":[{"name":"g1","iface_id":"if-g1"}]}`, 201, func(s *model.Snapshot) bool { _, ok := s.Switch("green"); return ok }},
		{"PATCH", "/v1/switches/blue", `{"xenserver_networks":["net-1"]}`, 200, func(s *model.Snapshot) bool {
			sw, _ := s.Switch("blue")
			return slices.Equal(sw.XenServerNetworks, []string{"net-1"})
		}},
		{"DELETE", "/v1/switches/blue", "", 204, func(s *model.Snapshot) bool { _, ok := s.Switch("blue"); return !ok }},
		{"POST", "/v1/switches/blue/ports", `{"name":"p2","iface_id":"if-2"}`, 201, func(s *model.Snapshot) bool { return hasPort(s, "blue", "p2") }},
		{"POST", "/v1/switches/blue/ports", `[{"name":"p3","iface_id":"if-3"},{"name":"p4","iface_id":"if-4"}]`, 201, func(s *model.Snapshot) bool { return hasPort(s, "blue", "p4") }},
		{"PUT", "/v1/switches/blue/ports/p5", `{"name":"p5","iface_id":"if-5"}`, 201, func(s *model.Snapshot) bool { return hasPort(s, "blue", "p5") }},
		{"PATCH", "/v1/switches/blue/ports/p1", `{"mac":"02:00:00:00:00:01"}`, 200, func(s *model.Snapshot) bool {
			sw, _ := s.Switch("blue")
			return len(sw.Ports) == 1 && sw.Ports[0].MAC.String() == "02:00:00:00:00:01"
		}},
		{"DELETE", "/v1/switches/blue/ports/p1", "", 204, func(s *model.Snapshot) bool { return !hasPort(s, "blue", "p1") }},
		{"POST", "/v1/chassis", `{"name":"hv9","ovsdb":"tcp:198.18.255.19:6640","tunnel_ip":"198.18.1.19"}`, 201, func(s *model.Snapshot) bool { _, ok := s.ChassisByName("hv9"); return ok }},
		{"PATCH", "/v1/chassis/hv1", `{"tunnel_ip":"198.18.1.99"}`, 200, func(s *model.Snapshot) bool {
			ch, _ := s.ChassisByName("hv1")
			return ch.TunnelIP.String() == "198.18.1.99"
		}},
		{"DELETE", "/v1/chassis/hv1", "", 204, func(s *model.Snapshot) bool { _, ok := s.ChassisByName("hv1"); return !ok }},
		{"POST", "/v1/gateways", `{"name":"gw2","ovsdb":"tcp:198.18.255.32:6640"}`, 201, func(s *model.Snapshot) bool { _, ok := s.GatewayByName("gw2"); return ok }},
		{"PATCH", "/v1/gateways/gw1", `{"limits":{"tunnels":3}}`, 200, func(s *model.Snapshot) bool { gw, _ := s.GatewayByName("gw1"); return gw.Limits.Tunnels == 3 }},
		{"DELETE", "/v1/gateways/gw1", "", 204, func(s *model.Snapshot) bool { _, ok := s.GatewayByName("gw1"); return !ok }},
		{"POST", "/v1/switches/blue/bindings", `{"gateway":"gw1","port":"eth1","vlan":10}`, 201, func(s *model.Snapshot) bool {
			sw, _ := s.Switch("blue")
			return len(sw.Bindings) == 1
		}},
	}
	before := f.b.Snapshot()
	for _, w := range writes {
		t.Run(w.method+" "+w.path, func(t *testing.T) {
			planned = nil
			var got api.DryRun
			f.do(t, w.method, w.path+"?dry_run=true", w.body).want(t, 200).decode(t, &got)
			if !got.DryRun || got.Status != w.status {
				t.Fatalf("dry_run %v, status %d; want true, %d", got.DryRun, got.Status, w.status)
			}
			if w.status == 204 && string(got.Result) != "null" || w.status != 204 && len(got.Result) < 2 {
				t.Errorf("result %s", got.Result)
			}
			if planned == nil || !w.in(planned) {
				t.Fatalf("the planner was not given the written state: %+v", planned)
			}
			if len(got.Plan.Devices) != 1 || got.Plan.Devices[0].Flows.AddFlows[0] == "" {
				t.Errorf("plan %+v, want the planner's", got.Plan)
			}
			if after := f.b.Snapshot(); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("the dry run committed:\n%+v\nbefore:\n%+v", after, before)
			}
		})
	}

	// Refused as the write is; nothing planned.
	planned = nil
	f.do(t, "POST", "/v1/switches?dry_run=true", `{"name":"blue"}`).want(t, 409, "blue")
	f.do(t, "POST", "/v1/switches?dry_run=true", `{"name":"bad name!"}`).want(t, 400, "name")
	f.do(t, "POST", "/v1/switches/nope/ports?dry_run=true", `{"name":"p9","iface_id":"if-9"}`).want(t, 404, "nope")
	if planned != nil {
		t.Error("a refused write was planned")
	}
	f.do(t, "POST", "/v1/switches?dry_run=maybe", `{"name":"red"}`).want(t, 400, "dry_run")
	f.do(t, "POST", "/v1/switches?dry_run=true&dry_run=false", `{"name":"red"}`).want(t, 400, "dry_run")
	// A read has nothing to plan: dry_run changes nothing there.
	f.do(t, "GET", "/v1/switches?dry_run=true", "").want(t, 200)
	for _, w := range writes {
		f.do(t, w.method, w.path+"?dry_run=maybe", w.body).want(t, 400, "dry_run")
	}
	f.do(t, "POST", "/v1/gateways/gw1/check?dry_run=true", "").want(t, 400, "dry_run")
	// dry_run=false is the write itself.
	f.do(t, "POST", "/v1/switches?dry_run=false", `{"name":"red"}`).want(t, 201)
	if _, ok := f.b.Snapshot().Switch("red"); !ok {
		t.Fatal("dry_run=false did not write")
	}
}

func hasPort(s *model.Snapshot, sw, port string) bool {
	v, ok := s.Switch(sw)
	return ok && slices.ContainsFunc(v.Ports, func(p model.Port) bool { return p.Name == port })
}

// TestDryRunWithoutPlanner: a server whose status cannot plan refuses dry
// runs with a 503 rather than writing.
func TestDryRunWithoutPlanner(t *testing.T) {
	f := newFixture(t)
	f.h = NewHandler(f.b, nil, nil, nil)
	f.do(t, "POST", "/v1/switches?dry_run=true", `{"name":"red"}`).want(t, 503, "dry_run")
	if len(f.b.Snapshot().Switches) != 0 {
		t.Fatal("a refused dry run wrote")
	}
}
