package reconcile

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
)

var bucketID = regexp.MustCompile(`bucket_id:\d+,`)

// dumpGroups returns br-int's groups as dump-groups prints them, without
// bucket IDs (GroupEntry.String's form), sorted.
func (s *sandbox) dumpGroups(hv string) []string {
	var lines []string
	for _, l := range strings.Split(s.hvs[hv].Ofctl(s.t, "dump-groups", "br-int"), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "group_id=") {
			lines = append(lines, bucketID.ReplaceAllString(l, ""))
		}
	}
	sort.Strings(lines)
	return lines
}

// minus returns what a holds and b does not, sorted.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// TestSandboxPlanMatchesPass: the plan of adding a port, computed against
// real bridges, lists exactly the flows and groups the pass then
// installs, and planning changes nothing on any bridge.
func TestSandboxPlanMatchesPass(t *testing.T) {
	s := newSandbox(t)
	s.blueAcross()
	s.addVIF("hv1", "vm3", "blue-c", "52:54:00:00:01:0c")
	eventually(t, "vm3 observed", func() (bool, string) {
		for _, v := range s.ctl.observedVIFs()["hv1"] {
			if v.IfaceID == "blue-c" && v.OFPort > 0 {
				return true, ""
			}
		}
		return false, "no blue-c"
	})
	time.Sleep(200 * time.Millisecond) // the VIF's estate settles
	s.waitRealized()
	hvs := []string{"hv1", "hv2"}
	before := map[string][2][]string{}
	for _, hv := range hvs {
		before[hv] = [2][]string{s.dumpFlows(hv), s.dumpGroups(hv)}
	}

	next := *s.snap
	sw := next.Switches[0]
	sw.Ports = append(slices.Clone(sw.Ports), model.Port{Switch: "blue", Name: "c", IfaceID: "blue-c"})
	next.Generation++
	sw.Generation = next.Generation
	next.Switches = []model.Switch{sw}
	plan, err := s.ctl.Plan(context.Background(), &next)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plan.Switches, []string{"blue"}) || plan.Generation != next.Generation {
		t.Fatalf("plan switches %v at %d, want [blue] at %d", plan.Switches, plan.Generation, next.Generation)
	}
	byName := map[string]model.DevicePlan{}
	for _, d := range plan.Devices {
		byName[d.Name] = d
	}
	for _, hv := range hvs {
		if flows, groups := s.dumpFlows(hv), s.dumpGroups(hv); !slices.Equal(flows, before[hv][0]) || !slices.Equal(groups, before[hv][1]) {
			t.Fatalf("planning changed %s's bridge", hv)
		}
		if d := byName[hv]; !d.Exact || d.Flows == nil || !slices.Equal(d.Recomputed, []string{"blue"}) {
			t.Fatalf("%s plan %+v, want exact, recomputing blue", hv, d)
		}
	}

	s.addPort("c", "blue-c")
	s.waitRealized()
	for _, hv := range hvs {
		d := byName[hv]
		added := minus(s.dumpFlows(hv), before[hv][0])
		planned := slices.Sorted(slices.Values(d.Flows.AddFlows))
		if !slices.Equal(added, planned) {
			t.Errorf("%s: the pass installed\n  %s\nthe plan said\n  %s", hv, strings.Join(added, "\n  "), strings.Join(planned, "\n  "))
		}
		changedGroups := minus(s.dumpGroups(hv), before[hv][1])
		plannedGroups := slices.Sorted(slices.Values(append(slices.Clone(d.Flows.AddGroups), d.Flows.ModifyGroups...)))
		if !slices.Equal(changedGroups, plannedGroups) {
			t.Errorf("%s: groups changed\n  %s\nthe plan said\n  %s", hv, strings.Join(changedGroups, "\n  "), strings.Join(plannedGroups, "\n  "))
		}
		if len(d.OVSDB) != 0 {
			t.Errorf("%s: plan has OVSDB operations %v for a port add", hv, d.OVSDB)
		}
		t.Logf("%s: %d flows added, %d deleted, %d groups changed", hv, len(planned), len(d.Flows.DeleteFlows), len(plannedGroups))
	}
	if len(byName["hv1"].Flows.AddFlows) == 0 || len(byName["hv2"].Flows.AddFlows) == 0 {
		t.Error("the plan adds nothing on some chassis: the test proves nothing")
	}
}

// TestSandboxPlanGateway: the plan of binding a switch to a VTEP port lists
// the rows the gateway's pass writes, and planning writes none of them.
func TestSandboxPlanGateway(t *testing.T) {
	s := newSandbox(t)
	gw, vtepctl := startVTEP(t, "p0")
	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	s.waitBridge("hv2")
	s.update(func(n *model.Snapshot) {
		n.Gateways = []model.Gateway{{Name: "gw1", OVSDB: "unix:" + gw.DBSock}}
		n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1,
			Ports: []model.Port{{Switch: "blue", Name: "a", IfaceID: "blue-a"}}}}
	})
	eventually(t, "the gateway connected", func() (bool, string) {
		st := s.ctl.Gateway("gw1")
		return st.Connected, fmt.Sprintf("%+v", st)
	})
	s.waitRealized()

	next := *s.snap
	sw := next.Switches[0]
	next.Generation++
	sw.Generation = next.Generation
	sw.Bindings = []model.GatewayBinding{{Switch: "blue", Gateway: "gw1", Port: "p0", VLAN: 0}}
	next.Switches = []model.Switch{sw}
	plan, err := s.ctl.Plan(context.Background(), &next)
	if err != nil {
		t.Fatal(err)
	}
	var gwPlan *model.DevicePlan
	for i, d := range plan.Devices {
		if d.Kind == "gateway" && d.Name == "gw1" {
			gwPlan = &plan.Devices[i]
		}
	}
	if gwPlan == nil || !gwPlan.Exact {
		t.Fatalf("no exact plan for gw1: %+v", plan)
	}
	ops := strings.Join(gwPlan.OVSDB, "\n")
	for _, want := range []string{"insert Logical_Switch ferry-blue", "insert Ucast_Macs_Remote", "insert Physical_Locator"} {
		if !strings.Contains(ops, want) {
			t.Errorf("gateway plan lacks %q:\n%s", want, ops)
		}
	}
	if ls := vtepctl("list-ls"); strings.Contains(ls, "ferry-blue") {
		t.Fatalf("planning wrote the logical switch: %s", ls)
	}
	s.update(func(n *model.Snapshot) { *n = next; n.Generation-- })
	eventually(t, "the planned rows written", func() (bool, string) {
		macs, _ := gw.RunErr("vtep-ctl", "--db=unix:"+gw.DBSock, "list-remote-macs", "ferry-blue")
		return strings.Contains(macs, "52:54:00:00:01:0a"), macs
	})
}
