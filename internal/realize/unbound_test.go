package realize

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
)

func TestUnbound(t *testing.T) {
	three := []model.Chassis{{Name: "hv1"}, {Name: "hv2"}, {Name: "hv3"}}
	vm := func(id string, ofport int, active bool) hypervisor.VIF {
		return hypervisor.VIF{Name: "vif3.1", IfaceID: id, OFPort: ofport, Active: active}
	}
	all := func(string) string { return "" }
	down := func(names ...string) func(string) string {
		return func(ch string) string {
			for _, n := range names {
				if n == ch {
					return "not connected"
				}
			}
			return ""
		}
	}
	cases := []struct {
		name     string
		chassis  []model.Chassis
		observed map[string][]hypervisor.VIF
		unseen   func(string) string
		want     string
	}{
		{"nowhere", three, map[string][]hypervisor.VIF{"hv1": {vm("other", 5, true)}}, all,
			"no VIF with iface-id vm-1 on any connected chassis"},
		{"nowhere, one down", three, nil, down("hv3"),
			"no VIF with iface-id vm-1 on any connected chassis; chassis hv3 not connected"},
		{"the only chassis down", three[2:], nil, down("hv3"), "chassis hv3 not connected"},
		{"every chassis down", three, nil, down("hv1", "hv2", "hv3"),
			"no chassis connected: chassis hv1 not connected, chassis hv2 not connected, chassis hv3 not connected"},
		{"no chassis", nil, nil, all, "no chassis registered"},
		{"no ofport", three, map[string][]hypervisor.VIF{"hv3": {vm("vm-1", -1, true)}}, all,
			"found on hv3 (interface vif3.1) but it has no OpenFlow port (ofport -1"},
		{"inactive without ofport", three, map[string][]hypervisor.VIF{"hv3": {vm("vm-1", 0, false)}}, all,
			"found on hv3 (interface vif3.1) but iface-status is inactive and it has no OpenFlow port"},
		// A chassis that is not registered does not count.
		{"on an unregistered chassis", three[:1], map[string][]hypervisor.VIF{"hv9": {vm("vm-1", -1, true)}}, all,
			"no VIF with iface-id vm-1 on any connected chassis"},
	}
	for _, c := range cases {
		got := Unbound(c.chassis, c.observed, c.unseen, "vm-1")
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("%s: %q, want %q…", c.name, got, c.want)
		}
	}

	// Many chassis down: a few are named, the rest counted.
	var many []model.Chassis
	for i := range 1000 {
		many = append(many, model.Chassis{Name: fmt.Sprintf("hv%d", i)})
	}
	got := Unbound(many, nil, func(string) string { return "not connected" }, "vm-1")
	if !strings.HasSuffix(got, "and 997 more") || len(got) > 200 {
		t.Errorf("1,000 chassis down: %q", got)
	}
}

// What Unbound explains is what Bind did not bind: an interface that Bind
// takes is never one Unbound reports.
func TestUnboundAgreesWithBind(t *testing.T) {
	chassis := []model.Chassis{{Name: "hv1"}, {Name: "hv2"}}
	snap := &model.Snapshot{Chassis: chassis, Switches: []model.Switch{{Name: "s", Ports: []model.Port{
		{Switch: "s", Name: "a", IfaceID: "a"}, {Switch: "s", Name: "b", IfaceID: "b"}, {Switch: "s", Name: "c", IfaceID: "c"},
	}}}}
	observed := map[string][]hypervisor.VIF{
		"hv1": {{Name: "p-a", IfaceID: "a", OFPort: 3, Active: true}, {Name: "p-b", IfaceID: "b", OFPort: -1, Active: true}},
		"hv2": {{Name: "p-a2", IfaceID: "a", OFPort: 4, Active: false}},
	}
	b := Bind(snap, observed)
	for _, p := range snap.Switches[0].Ports {
		_, bound := b[PortKey{"s", p.Name}]
		why := Unbound(chassis, observed, func(string) string { return "" }, p.IfaceID)
		switch p.Name {
		case "a":
			if !bound {
				t.Errorf("a is not bound")
			}
		case "b":
			if bound || !strings.Contains(why, "found on hv1 (interface p-b)") {
				t.Errorf("b: bound %v, reason %q", bound, why)
			}
		case "c":
			if bound || !strings.HasPrefix(why, "no VIF with iface-id c") {
				t.Errorf("c: bound %v, reason %q", bound, why)
			}
		}
	}
}
