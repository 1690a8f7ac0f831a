package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/ovstest"
)

// TestServiceNodeReplication: a VTEP that refuses source-node replication
// (ovs-vtep behind ovstest.RefuseSourceNode) is found out by ferry's probe
// before ferry writes its switch, gets service_node replication through
// the replicator hypervisor, and a bare-metal host's broadcast reaches
// every hypervisor VM exactly once.
func TestServiceNodeReplication(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	gw := e.lab.UpGateway(t)
	refuser := ovstest.RefuseSourceNode(t, func(args ...string) (string, error) { return e.lab.VTEPCtlErr(t, args...) })
	e.must("POST", "/v1/gateways", map[string]any{"name": "gw1", "ovsdb": gw.OVSDB})

	type replication struct{ Mode, Probe, Evidence string }
	var rep replication
	deadline := time.Now().Add(20 * time.Second)
	for {
		var g struct {
			Status struct{ Replication replication } `json:"status"`
		}
		json.Unmarshal(e.must("GET", "/v1/gateways/gw1", nil), &g)
		if rep = g.Status.Replication; rep.Probe == "unsupported" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gw1's probe did not find the refusal: %+v", rep)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("gw1 replication: %+v", rep)
	if rep.Mode != "service_node" {
		t.Errorf("mode %s, want service_node", rep.Mode)
	}

	vms := []guest{
		{"hv1", "vm-a", "198.18.120.1/24", "02:00:00:c0:00:01"},
		{"hv2", "vm-b", "198.18.120.2/24", "02:00:00:c0:00:02"},
		{"hv3", "vm-c", "198.18.120.3/24", "02:00:00:c0:00:03"},
	}
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 7001})
	e.addGuests("blue", vms...)
	e.lab.BareMetal(t, "bm1", "198.18.120.10/24", bmMAC)
	e.must("POST", "/v1/switches/blue/bindings", map[string]any{"gateway": "gw1", "port": "p0", "vlan": 0})
	e.waitRealized("blue", 3)
	if mode := strings.TrimSpace(e.lab.VTEPCtl(t, "get", "Logical_Switch", "ferry-blue", "replication_mode")); mode != "service_node" && mode != `"service_node"` {
		t.Errorf("ferry-blue replication_mode %s, want service_node", mode)
	}
	flood := e.lab.VTEPCtl(t, "list-remote-macs", "ferry-blue")
	t.Logf("ferry-blue remote MACs:\n%s", flood)
	for _, vm := range vms {
		if err := e.lab.WaitPing(t, "bm1", vm.ip(), 20*time.Second); err != nil {
			t.Fatalf("bm1 -> %s: %v", vm.name, err)
		}
	}

	// An ARP broadcast from bm1: each VM sees each request exactly once.
	caps := map[string]interface {
		WaitFor(string, time.Duration) bool
		Count(string) int
		String() string
	}{}
	for _, name := range []string{"bm1", "vm-a", "vm-b", "vm-c"} {
		caps[name] = e.lab.Capture(t, e.lab.Namespace(name), "eth0", "arp")
	}
	e.lab.Exec(t, e.lab.Namespace("bm1"), "ping", "-c", "3", "-W", "1", "198.18.120.99")
	for _, vm := range vms {
		if !caps[vm.name].WaitFor("who-has 198.18.120.99", 3*time.Second) {
			t.Errorf("%s did not see bm1's broadcast:\n%s", vm.name, caps[vm.name])
		}
	}
	time.Sleep(500 * time.Millisecond)
	sent := caps["bm1"].Count("who-has 198.18.120.99")
	if sent == 0 {
		t.Fatalf("bm1 sent no ARP request:\n%s", caps["bm1"])
	}
	for _, vm := range vms {
		if n := caps[vm.name].Count("who-has 198.18.120.99"); n != sent {
			t.Errorf("%s saw %d copies of bm1's %d ARP requests\n%s", vm.name, n, sent, caps[vm.name])
		}
	}
	if n := caps["bm1"].Count("who-has 198.18.120.99"); n != sent {
		t.Errorf("bm1 saw its own broadcast come back: %d", n-sent)
	}
	if asked := refuser.Asked(); slices.ContainsFunc(asked, func(n string) bool { return !strings.HasPrefix(n, "ferry-check-") }) {
		t.Errorf("ferry asked the refusing VTEP for source_node on its own switches: %v", asked)
	}
}
