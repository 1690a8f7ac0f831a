package e2e

import (
	"encoding/json"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

var (
	flowNoise = regexp.MustCompile(` ?(cookie|duration|n_packets|n_bytes|idle_age|hard_age|reset_counts)=[^,]*,`)
	bucketIDs = regexp.MustCompile(`bucket_id:\d+,`)
)

// bridgeState returns br-int's flows as dump-flows prints them without
// cookies and counters, and its groups without bucket IDs: the forms a
// plan lists them in.
func (e *env) bridgeState(hv string) (flows, groups []string) {
	for _, l := range strings.Split(e.lab.OVS(e.t, hv, "ovs-ofctl", "-O", "OpenFlow15", "dump-flows", "br-int"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "OFPST_") && !strings.HasPrefix(l, "NXST_") {
			flows = append(flows, strings.TrimSpace(flowNoise.ReplaceAllString(l, "")))
		}
	}
	for _, l := range strings.Split(e.groups(hv), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "group_id=") {
			groups = append(groups, bucketIDs.ReplaceAllString(l, ""))
		}
	}
	sort.Strings(flows)
	sort.Strings(groups)
	return flows, groups
}

func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

type dryRun struct {
	DryRun bool `json:"dry_run"`
	Status int  `json:"status"`
	Plan   struct {
		Generation int64    `json:"generation"`
		Switches   []string `json:"switches"`
		Devices    []struct {
			Kind, Name string
			Exact      bool
			OVSDB      []string `json:"ovsdb"`
			Flows      struct {
				AddFlows     []string `json:"add_flows"`
				DeleteFlows  []string `json:"delete_flows"`
				AddGroups    []string `json:"add_groups"`
				ModifyGroups []string `json:"modify_groups"`
			} `json:"flows"`
		} `json:"devices"`
	} `json:"plan"`
}

// TestDryRunPlan: a dry run of adding a port to a switch spanning three
// hypervisors commits nothing (the northbound generation and every bridge
// unchanged, the port absent) and lists exactly the flows and groups the
// real change then installs on each hypervisor, which then carries the
// new guest's traffic.
func TestDryRunPlan(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	e.addGuests("blue", blueA, blueB, blueC)
	e.waitRealized("blue", 3)
	blueD := guest{"hv1", "blue-d", "198.18.100.4/24", "02:b1:0e:00:00:0d"}
	e.lab.Guest(t, blueD.hv, blueD.name, blueD.cidr, blueD.mac, "iface-blue-d")
	e.waitRealized("blue", 3) // the new VIF observed, nothing to do yet

	hvs := []string{"hv1", "hv2", "hv3"}
	type state struct{ flows, groups []string }
	before := map[string]state{}
	for _, hv := range hvs {
		f, g := e.bridgeState(hv)
		before[hv] = state{f, g}
	}
	gen := e.metric("ferry_northbound_generation")

	port := map[string]any{"name": "blue-d", "iface_id": "iface-blue-d"}
	var dr dryRun
	code, data := e.do("POST", "/v1/switches/blue/ports?dry_run=true", port)
	if code != 200 {
		t.Fatalf("dry run: %d %s", code, data)
	}
	if err := json.Unmarshal(data, &dr); err != nil || !dr.DryRun || dr.Status != 201 {
		t.Fatalf("dry run answer %s: %v", data, err)
	}
	t.Logf("plan: %s", data)
	if g := e.metric("ferry_northbound_generation"); g != gen {
		t.Errorf("the dry run moved the northbound generation %v → %v", gen, g)
	}
	if code, _ := e.do("GET", "/v1/switches/blue/ports/blue-d", nil); code != 404 {
		t.Errorf("after the dry run GET port: %d, want 404", code)
	}
	for _, hv := range hvs {
		if f, g := e.bridgeState(hv); !slices.Equal(f, before[hv].flows) || !slices.Equal(g, before[hv].groups) {
			t.Errorf("the dry run changed %s's bridge", hv)
		}
	}
	if !slices.Equal(dr.Plan.Switches, []string{"blue"}) || int64(gen)+1 != dr.Plan.Generation {
		t.Errorf("plan switches %v at generation %d, want [blue] at %d", dr.Plan.Switches, dr.Plan.Generation, int64(gen)+1)
	}

	// ferryctl prints the same plan, and writes nothing either.
	out := e.ctlOK("port", "create", "blue", "blue-d", "--iface-id", "iface-blue-d", "--dry-run")
	t.Logf("ferryctl port create --dry-run:\n%s", out)
	for _, d := range dr.Plan.Devices {
		for _, f := range d.Flows.AddFlows {
			if !strings.Contains(out, "  + "+f+"\n") {
				t.Errorf("ferryctl's plan lacks %s's flow %s", d.Name, f)
			}
		}
	}
	if code, _ := e.do("GET", "/v1/switches/blue/ports/blue-d", nil); code != 404 {
		t.Errorf("after ferryctl --dry-run GET port: %d, want 404", code)
	}

	e.must("POST", "/v1/switches/blue/ports", port)
	e.waitRealized("blue", 4)
	planned := 0
	for _, d := range dr.Plan.Devices {
		if d.Kind != "chassis" {
			continue
		}
		if !d.Exact {
			t.Errorf("%s: plan not exact", d.Name)
		}
		f, g := e.bridgeState(d.Name)
		added := without(f, before[d.Name].flows)
		want := slices.Sorted(slices.Values(d.Flows.AddFlows))
		if !slices.Equal(added, want) {
			t.Errorf("%s: the change installed\n  %s\nthe dry run said\n  %s", d.Name, strings.Join(added, "\n  "), strings.Join(want, "\n  "))
		}
		changed := without(g, before[d.Name].groups)
		wantG := slices.Sorted(slices.Values(append(d.Flows.AddGroups, d.Flows.ModifyGroups...)))
		if !slices.Equal(changed, wantG) {
			t.Errorf("%s: groups changed\n  %s\nthe dry run said\n  %s", d.Name, strings.Join(changed, "\n  "), strings.Join(wantG, "\n  "))
		}
		planned++
	}
	if planned != 3 {
		t.Errorf("the plan covers %d chassis, want all 3", planned)
	}
	// And the planned flows carry the new guest's traffic.
	if err := e.lab.Ping(t, "blue-d", blueB.ip(), 3); err != nil {
		t.Errorf("blue-d -> blue-b after the real change: %v", err)
	}
}
