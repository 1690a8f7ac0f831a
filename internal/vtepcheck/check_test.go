package vtepcheck

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/ovstest"
	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/vtep"
	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

// startVTEP serves hardware_vtep from a real ovsdb-server with ps1/p0.
func startVTEP(t *testing.T) (*ovstest.Instance, *ovsdb.Conn) {
	t.Helper()
	if _, err := exec.LookPath("vtep-ctl"); err != nil {
		ovstest.SkipIfMissing(t)
		t.Skip("vtep-ctl not installed")
	}
	inst := ovstest.Start(t, ovstest.Options{Schemas: []string{ovstest.VtepSchema}})
	ctl(t, inst, "add-ps", "ps1", "--", "add-port", "ps1", "p0")
	target, err := ovsdb.ParseActive(inst.DBRemote())
	if err != nil {
		t.Fatal(err)
	}
	m, err := hwvtep.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ovsdb.NewConn(ovsdb.ConnConfig{Targets: []ovsdb.Target{target}, Model: m, Tables: vtep.Tables(),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	select {
	case <-conn.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no connection to the VTEP database")
	}
	return inst, conn
}

func ctl(t *testing.T, inst *ovstest.Instance, args ...string) string {
	t.Helper()
	return strings.TrimSpace(inst.Run(t, "vtep-ctl", append([]string{"--db=" + inst.DBRemote(), "--timeout=10"}, args...)...))
}

func results(rep model.GatewayCheck) map[string]model.CheckItem {
	m := map[string]model.CheckItem{}
	for _, it := range rep.Items {
		m[it.Name] = it
	}
	return m
}

// TestRunGradesPlainVTEPDatabase: a bare hardware_vtep database accepts
// every NVC write (pass), has no traffic nor tunnels (unsupported), and
// is left with no scratch row.
func TestRunGradesPlainVTEPDatabase(t *testing.T) {
	inst, conn := startVTEP(t)
	ctl(t, inst, "add-ls", "other", "--", "set", "Logical_Switch", "other", "tunnel_key=5000")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rep := Run(ctx, conn.Client(), "gw1", nil)
	if rep.Gateway != "gw1" || len(rep.Items) != 8 {
		t.Fatalf("report %+v: want gateway gw1 and 8 items", rep)
	}
	got := results(rep)
	want := map[string]string{
		ItemSchema: model.CheckPass, ItemNVCWrites: model.CheckPass, ItemLocatorSet: model.CheckPass,
		ItemUcastRemote: model.CheckPass, ItemMACLearning: model.CheckUnsupported, ItemReplication: model.CheckPass,
		ItemBFD: model.CheckUnsupported, ItemTunnelKey: model.CheckPass,
	}
	for name, res := range want {
		if got[name].Result != res || got[name].Evidence == "" {
			t.Errorf("item %s = %+v, want %s with evidence", name, got[name], res)
		}
	}
	if rep.Items[0].Name != ItemSchema || rep.Items[1].Name != ItemNVCWrites {
		t.Errorf("order %v", rep.Items)
	}
	if rep.Failed() || len(rep.LeftBehind) != 0 {
		t.Errorf("failed=%v left_behind=%v", rep.Failed(), rep.LeftBehind)
	}
	if ls := ctl(t, inst, "list-ls"); ls != "other" {
		t.Errorf("logical switches after the check: %q, want only other", ls)
	}
	for _, table := range []string{"Ucast_Macs_Remote", "Mcast_Macs_Remote", "Physical_Locator_Set"} {
		if out := ctl(t, inst, "--columns=_uuid", "list", table); out != "" {
			t.Errorf("%s left behind: %s", table, out)
		}
	}
}

// TestRunCancelledBeforeStart: a context already gone
// grades failures but leaves nothing behind nor panics.
func TestRunCancelledBeforeStart(t *testing.T) {
	inst, conn := startVTEP(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rep := Run(ctx, conn.Client(), "gw1", nil)
	if !rep.Failed() {
		t.Errorf("a cancelled check passed: %+v", rep)
	}
	if ls := ctl(t, inst, "list-ls"); ls != "" {
		t.Errorf("logical switches after the check: %q", ls)
	}
}

// TestRunSeesLearnedMACs: a VTEP that has learned a MAC into
// Ucast_Macs_Local passes mac_learning, naming the MAC and its switch.
func TestRunSeesLearnedMACs(t *testing.T) {
	inst, conn := startVTEP(t)
	ctl(t, inst, "add-ls", "other", "--", "set", "Logical_Switch", "other", "tunnel_key=5000")
	ctl(t, inst, "add-ucast-local", "other", "02:00:00:00:00:42", "198.18.255.9")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := results(Run(ctx, conn.Client(), "gw1", nil))[ItemMACLearning]
	if got.Result != model.CheckPass || !strings.Contains(got.Evidence, "02:00:00:00:00:42") || !strings.Contains(got.Evidence, "other") {
		t.Errorf("mac_learning = %+v, want pass naming the learned MAC and its switch", got)
	}
}
