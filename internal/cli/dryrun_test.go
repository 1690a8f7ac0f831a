package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/api"
)

// TestDryRun: --dry-run on a write command and ferryctl diff print the
// server's plan, and nothing is written.
func TestDryRun(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "switch", "create", "blue", "--vni", "1001")
	f.st.SetPlan(func(snap *model.Snapshot) (model.Plan, error) {
		names := []string{}
		for _, sw := range snap.Switches {
			if sw.Name != "blue" || len(sw.Ports) > 0 {
				names = append(names, sw.Name)
			}
		}
		return model.Plan{Generation: snap.Generation, Switches: names, Unchanged: 1, Devices: []model.DevicePlan{{
			Kind: "chassis", Name: "hv1", Exact: true, Recomputed: names, OVSDB: []string{"insert Interface fvx1"},
			Flows: &model.FlowChanges{FlowMods: 1, AddFlows: []string{"table=0, priority=100,in_port=3 actions=set_field:0x3e9->tun_id,goto_table:10"},
				DeleteFlows: []string{}, AddGroups: []string{}, ModifyGroups: []string{"group_id=2147485650,type=all,bucket=actions=output:3"}, DeleteGroups: []string{}},
		}}}, nil
	})
	out := f.ok(t, "port", "create", "blue", "p1", "--iface-id", "if-1", "--dry-run")
	for _, want := range []string{
		"dry run of POST /v1/switches/blue/ports: nothing committed; the write would answer 201 Created",
		"switches whose state changes: blue",
		"chassis/hv1 (exact): 1 flows added, 0 deleted; 0 groups added, 1 modified, 0 deleted; 1 OVSDB operation",
		"  ovsdb: insert Interface fvx1",
		"  + table=0, priority=100,in_port=3 actions=set_field:0x3e9->tun_id,goto_table:10",
		"  ~ group_id=2147485650,type=all,bucket=actions=output:3",
		"1 device unchanged",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("dry-run output lacks %q:\n%s", want, out)
		}
	}
	if sw, _ := f.b.Snapshot().Switch("blue"); len(sw.Ports) != 0 {
		t.Fatal("port create --dry-run created the port")
	}
	var dr api.DryRun
	if err := json.Unmarshal([]byte(f.ok(t, "switch", "delete", "blue", "--dry-run", "-o", "json")), &dr); err != nil || !dr.DryRun || dr.Status != 204 {
		t.Fatalf("switch delete --dry-run -o json: %+v, %v", dr, err)
	}
	if _, ok := f.b.Snapshot().Switch("blue"); !ok {
		t.Fatal("switch delete --dry-run deleted the switch")
	}
	// Refused as the write is.
	f.fails(t, ExitError, `switch "nope" not found (HTTP 404)`, "port", "create", "nope", "p1", "--iface-id", "if-1", "--dry-run")

	// diff -f: a file that changes blue, and apply --dry-run is diff.
	file := filepath.Join(t.TempDir(), "net.yaml")
	if err := os.WriteFile(file, []byte("name: blue\nvni: 1001\nports:\n- name: p1\n  iface_id: if-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"diff", "-f", file}, {"apply", "-f", file, "--dry-run"}} {
		code, out, errs := f.run(args...)
		if code != ExitError || !strings.Contains(errs, "1 of 1 switch would change") || !strings.Contains(out, "dry run of switch/blue") || !strings.Contains(out, "  + table=0") {
			t.Fatalf("%v: exit %d, stdout\n%s\nstderr %s", args, code, out, errs)
		}
	}
	if sw, _ := f.b.Snapshot().Switch("blue"); len(sw.Ports) != 0 {
		t.Fatal("diff applied the file")
	}
	// A file matching what is there changes nothing: exit 0.
	if err := os.WriteFile(file, []byte("name: blue\nvni: 1001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := f.ok(t, "diff", "-f", file); !strings.Contains(out, "no switch's state changes") || !strings.HasSuffix(out, "no switch would change\n") {
		t.Fatalf("diff of an unchanged file:\n%s", out)
	}
}
