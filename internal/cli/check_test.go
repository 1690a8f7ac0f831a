package cli

import (
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
)

// TestGatewayCheck: the report prints as a table, exits 0 when nothing
// failed and 1 when an item failed, and -o json is the server's report.
func TestGatewayCheck(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "gateway", "create", "gw1", "--ovsdb", "tcp:198.18.255.31:6640")
	rep := model.GatewayCheck{Gateway: "gw1", LeftBehind: []string{}, Items: []model.CheckItem{
		{Name: "schema", Result: model.CheckPass, Evidence: "hardware_vtep 1.7.0"},
		{Name: "bfd", Result: model.CheckUnsupported, Evidence: "no Tunnel row"},
	}}
	f.st.SetCheck(func(string) (model.GatewayCheck, error) { return rep, nil })
	out := f.ok(t, "gateway", "check", "gw1")
	for _, want := range []string{"ITEM", "schema", "pass", "hardware_vtep 1.7.0", "bfd", "unsupported"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if out = f.ok(t, "gateway", "check", "gw1", "-o", "json"); !strings.Contains(out, `"left_behind"`) {
		t.Errorf("json: %s", out)
	}
	rep.Items = append(rep.Items, model.CheckItem{Name: "tunnel_key", Result: model.CheckFail, Evidence: "wrote 7, read back 8"})
	// The report is the useful output of a failed check: it is printed too.
	code, out, errs := f.run("gateway", "check", "gw1")
	if code != ExitError || !strings.Contains(errs, "gateway gw1 failed the check") || !strings.Contains(out, "wrote 7, read back 8") {
		t.Errorf("failed check: code %d stdout %q stderr %q", code, out, errs)
	}
}
