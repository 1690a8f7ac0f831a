package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestGatewayCheck: ferryctl gateway check against ovs-vtep in the lab
// passes what ovs-vtep supports, grades the rest unsupported with
// evidence, fails nothing and leaves no row behind; once a bare-metal host
// has talked, MAC learning passes too.
func TestGatewayCheck(t *testing.T) {
	e := newEnv(t)
	gw := e.lab.UpGateway(t)
	e.must("POST", "/v1/gateways", map[string]any{"name": "gw1", "ovsdb": gw.OVSDB})
	deadline := time.Now().Add(15 * time.Second)
	for {
		var g struct {
			Status struct {
				Connected   bool
				Replication struct{ Probe string }
			} `json:"status"`
		}
		json.Unmarshal(e.must("GET", "/v1/gateways/gw1", nil), &g)
		// After ferry's own probe, which writes a scratch switch too.
		if p := g.Status.Replication.Probe; g.Status.Connected && (p == "supported" || p == "unsupported") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gw1 not connected and probed within 15s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	lsBefore := e.lab.VTEPCtl(t, "list-ls")

	code, out, errs := e.ctl("gateway", "check", "gw1", "-o", "json")
	t.Logf("ferryctl gateway check gw1 -o json: exit %d\n%s%s", code, out, errs)
	var rep struct {
		Gateway string `json:"gateway"`
		Items   []struct {
			Name, Result, Evidence string
		} `json:"items"`
		LeftBehind []string `json:"left_behind"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report: %v", err)
	}
	if code != 0 {
		t.Errorf("ferryctl gateway check exited %d: %s", code, errs)
	}
	results := map[string]string{}
	for _, it := range rep.Items {
		results[it.Name] = it.Result
		if it.Evidence == "" {
			t.Errorf("item %s has no evidence", it.Name)
		}
		if it.Result == "fail" {
			t.Errorf("ovs-vtep fails %s: %s", it.Name, it.Evidence)
		}
	}
	for _, name := range []string{"schema", "nvc_writes", "ucast_macs_remote", "tunnel_key"} {
		if results[name] != "pass" {
			t.Errorf("item %s: %q, want pass (ovs-vtep supports it)", name, results[name])
		}
	}
	if len(rep.LeftBehind) != 0 {
		t.Errorf("left behind: %v", rep.LeftBehind)
	}
	if ls := e.lab.VTEPCtl(t, "list-ls"); ls != lsBefore || strings.Contains(ls, "ferry-check") {
		t.Errorf("logical switches after the check:\n%s\nbefore:\n%s", ls, lsBefore)
	}
	for _, table := range []string{"Ucast_Macs_Remote", "Mcast_Macs_Remote"} {
		if rows := e.lab.VTEPCtl(t, "--columns=_uuid", "list", table); strings.TrimSpace(rows) != "" {
			t.Errorf("%s rows left after the check:\n%s", table, rows)
		}
	}
	if results["mac_learning"] != "unsupported" {
		t.Errorf("mac_learning %q before any traffic, want unsupported (nothing learned yet)", results["mac_learning"])
	}

	// Once a bare-metal server on a bound port has talked, the VTEP has
	// learned its MAC, and the check sees it.
	const mac = "02:00:00:c0:00:10"
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "chk", "vni": 6101})
	e.addGuests("chk", guest{"hv1", "chk-a", "198.18.111.1/24", "02:00:00:c0:00:01"})
	e.lab.BareMetal(t, "chk-bm", "198.18.111.10/24", mac)
	e.must("POST", "/v1/switches/chk/bindings", map[string]any{"gateway": "gw1", "port": "p0", "vlan": 0})
	e.waitRealized("chk", 1)
	if err := e.lab.WaitPing(t, "chk-bm", "198.18.111.1", 20*time.Second); err != nil {
		t.Fatalf("bare metal -> VM: %v", err)
	}
	if err := e.lab.WaitLocalMAC(t, "ferry-chk", mac, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	_, out, _ = e.ctl("gateway", "check", "gw1", "-o", "json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("second report: %v", err)
	}
	for _, it := range rep.Items {
		if it.Name == "mac_learning" && (it.Result != "pass" || !strings.Contains(it.Evidence, mac)) {
			t.Errorf("mac_learning after traffic: %s %q, want pass naming %s", it.Result, it.Evidence, mac)
		}
	}
	if err := e.lab.Ping(t, "chk-bm", "198.18.111.1", 1); err != nil {
		t.Errorf("the check disturbed a real switch: %v", err)
	}

	// The human table too.
	_, table, _ := e.ctl("gateway", "check", "gw1")
	if !strings.Contains(table, "ITEM") || !strings.Contains(table, "schema") {
		t.Errorf("ferryctl gateway check table:\n%s", table)
	}
}
