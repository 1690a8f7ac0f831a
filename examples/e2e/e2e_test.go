package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var (
	blueA = guest{"hv1", "blue-a", "198.18.100.1/24", "02:b1:0e:00:00:0a"}
	blueB = guest{"hv3", "blue-b", "198.18.100.2/24", "02:b1:0e:00:00:0b"}
	blueC = guest{"hv2", "blue-c", "198.18.100.3/24", "02:b1:0e:00:00:0c"}
	redA  = guest{"hv2", "red-a", "198.18.100.1/24", "02:7e:d0:00:00:0a"}
	redB  = guest{"hv3", "red-b", "198.18.100.2/24", "02:7e:d0:00:00:0b"}
)

// TestSwitches covers the foundation's data plane: VM to VM across routed
// underlay subnets, isolation of two switches with the same guest IPs, ARP
// broadcast reaching exactly the switch's guests, and deletion.
func TestSwitches(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	e.must("POST", "/v1/switches", map[string]any{"name": "red"}) // VNI allocated
	e.addGuests("blue", blueA, blueB)
	e.addGuests("red", redA, redB)
	// Time one change from the REST call to realized on every carrier.
	e.lab.Guest(t, blueC.hv, blueC.name, blueC.cidr, blueC.mac, "iface-blue-c")
	start := time.Now()
	e.must("POST", "/v1/switches/blue/ports", map[string]any{"name": "blue-c", "iface_id": "iface-blue-c"})
	e.waitRealized("blue", 3)
	t.Logf("POST port → blue realized on 3 chassis: %v", time.Since(start))
	e.waitRealized("red", 2)

	// hv1 (198.18.1.0/24) to hv3 (198.18.2.0/24) through the router.
	if err := e.lab.Ping(t, "blue-a", blueB.ip(), 3); err != nil {
		t.Fatalf("blue-a -> blue-b across subnets: %v", err)
	}
	if err := e.lab.Ping(t, "red-a", redB.ip(), 3); err != nil {
		t.Fatalf("red-a -> red-b: %v", err)
	}
	// The frames really crossed the router as VXLAN with blue's VNI.
	capRtr := e.lab.Capture(t, "rtr", "any", "udp port 4789")
	if err := e.lab.Ping(t, "blue-a", blueB.ip(), 1); err != nil {
		t.Fatal(err)
	}
	if !capRtr.WaitFor("vni 1001", 3*time.Second) {
		t.Errorf("router saw no VXLAN frame with vni 1001:\n%s", capRtr)
	}
	capRtr.Stop()

	// Same IP, different switch: blue-a's neighbour is blue-b's MAC.
	if out, err := e.lab.Exec(t, e.lab.Namespace("blue-a"), "ip", "neigh", "show", blueB.ip()); err != nil || !strings.Contains(out, blueB.mac) {
		t.Errorf("blue-a resolves %s as %q (%v), want %s", blueB.ip(), out, err, blueB.mac)
	}

	// An ARP broadcast from blue-a reaches blue-b and blue-c, not red.
	caps := map[string]bool{"blue-a": true, "blue-b": true, "blue-c": true, "red-a": false, "red-b": false}
	running := map[string]interface {
		WaitFor(string, time.Duration) bool
		Count(string) int
		String() string
	}{}
	for name := range caps {
		running[name] = e.lab.Capture(t, e.lab.Namespace(name), "eth0", "arp")
	}
	e.lab.Exec(t, e.lab.Namespace("blue-a"), "ping", "-c", "2", "-W", "1", "198.18.100.99")
	for name, want := range caps {
		got := running[name].WaitFor("who-has 198.18.100.99", 2*time.Second)
		if got != want {
			t.Errorf("%s saw blue-a's ARP broadcast: %v, want %v\n%s", name, got, want, running[name])
		}
	}
	// Each request arrives exactly once: no duplicate from a loop.
	time.Sleep(500 * time.Millisecond)
	sent := running["blue-a"].Count("who-has 198.18.100.99")
	for _, name := range []string{"blue-b", "blue-c"} {
		if n := running[name].Count("who-has 198.18.100.99"); n != sent {
			t.Errorf("%s saw %d copies of the %d ARP requests blue-a sent", name, n, sent)
		}
	}

	// Deleting red stops its traffic and removes its state; blue goes on.
	e.must("DELETE", "/v1/switches/red", nil)
	e.waitRealized("blue", 3)
	if err := e.lab.Ping(t, "red-a", redB.ip(), 2); err == nil {
		t.Errorf("red-a still reaches red-b after red was deleted")
	}
	if err := e.lab.Ping(t, "blue-a", blueB.ip(), 2); err != nil {
		t.Errorf("blue broke when red was deleted: %v", err)
	}
	// Only blue's VNI (0x3e9) may remain in any flow.
	for _, hv := range []string{"hv2", "hv3"} {
		for _, f := range e.ferryFlows(hv) {
			if strings.Contains(f, "tun_id=") && !strings.Contains(f, "tun_id=0x3e9") {
				t.Errorf("%s keeps a flow of another switch after red was deleted: %s", hv, f)
			}
		}
		if g := e.groups(hv); strings.Count(g, "group_id=") != 2 {
			t.Errorf("%s groups after red was deleted:\n%s", hv, g)
		}
	}
	e.must("DELETE", "/v1/switches/blue", nil)
	deadline := time.Now().Add(10 * time.Second)
	for _, hv := range e.lab.Hypervisors() {
		for {
			flows, groups := e.ferryFlows(hv.Name), e.groups(hv.Name)
			ports := e.lab.OVS(t, hv.Name, "ovs-vsctl", "list-ports", "br-int")
			// What stays is the bridge's own: the table-miss drops and
			// the probe flows (docs/pipeline.md).
			clean := len(flows) == 6 && !strings.Contains(groups, "group_id") && !strings.Contains(ports, "fvx")
			for _, f := range flows {
				clean = clean && (strings.Contains(f, "priority=0 ") || strings.Contains(f, "dl_type=0x88b5"))
			}
			if clean {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s keeps state after every switch was deleted:\nflows %s\ngroups %s\nports %s",
					hv.Name, strings.Join(flows, "\n"), groups, ports)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := e.lab.Ping(t, "blue-a", blueB.ip(), 1); err == nil {
		t.Errorf("blue-a still reaches blue-b after blue was deleted")
	}
}

// TestRestart proves that restarting ferryd with nothing changed drops no
// packet of a running ping and re-installs no flow.
func TestRestart(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	e.addGuests("blue", blueA, blueB)
	e.waitRealized("blue", 2)
	if err := e.lab.WaitPing(t, "blue-a", blueB.ip(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	flowsBefore := map[string][]string{}
	for _, hv := range []string{"hv1", "hv3"} {
		flowsBefore[hv] = e.ferryFlows(hv)
	}

	// 200 pings, 50 ms apart: 10 s of traffic across the restart.
	waitPing := e.startPing("blue-a", blueB.ip(), "0.05", 200)
	time.Sleep(2 * time.Second)
	if err := e.ferryd.Stop(); err != nil {
		t.Fatalf("stopping ferryd: %v", err)
	}
	time.Sleep(1 * time.Second)
	restarted := time.Now()
	e.ferryd.Restart(t)
	e.waitAPI()
	e.waitRealized("blue", 2)
	realizedAfter := time.Since(restarted)
	out, err := waitPing()
	if err != nil {
		t.Errorf("ping across the restart failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "200 received, 0% packet loss") {
		t.Errorf("packets lost across the restart:\n%s", tailLines(out, 3))
	}
	t.Logf("restarted ferryd realized blue %v after start; ping: %s", realizedAfter, tailLines(strings.TrimSpace(out), 2))

	if n := e.metric("ferry_openflow_flow_mods_total"); n != 0 {
		t.Errorf("restarted ferryd sent %v flow_mods", n)
	}
	if n := e.metric("ferry_ovsdb_device_transactions_total"); n != 0 {
		t.Errorf("restarted ferryd sent %v OVSDB transactions", n)
	}
	for hv, before := range flowsBefore {
		if age := e.minFlowAge(hv); age < time.Since(restarted) {
			t.Errorf("%s: a ferry flow is %v old, younger than the restart (%v ago): re-installed", hv, age, time.Since(restarted))
		}
		if got := len(e.ferryFlows(hv)); got != len(before) {
			t.Errorf("%s: %d ferry flows before the restart, %d after", hv, len(before), got)
		}
	}
}

// TestChangesWhileDown: what changed on the devices while ferryd was down
// is reconciled when it starts, and the northbound survives the restart.
func TestChangesWhileDown(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	e.addGuests("blue", blueA, blueB)
	e.must("POST", "/v1/switches/blue/ports", map[string]any{"name": "blue-c", "iface_id": "iface-blue-c"})
	e.waitRealized("blue", 2)
	if err := e.ferryd.Stop(); err != nil {
		t.Fatal(err)
	}
	// While ferryd is down: an operator deletes ferry's flows on hv1 and a
	// VM for a registered port boots on hv2.
	e.lab.OVS(t, "hv1", "ovs-ofctl", "-O", "OpenFlow15", "del-flows", "br-int", "table=10")
	e.lab.Guest(t, blueC.hv, blueC.name, blueC.cidr, blueC.mac, "iface-blue-c")
	if err := e.lab.Ping(t, "blue-a", blueB.ip(), 1); err == nil {
		t.Fatalf("ping works with table 10 deleted; the test proves nothing")
	}
	e.ferryd.Restart(t)
	e.waitAPI()
	e.waitRealized("blue", 3)
	for _, dst := range []guest{blueB, blueC} {
		if err := e.lab.WaitPing(t, "blue-a", dst.ip(), 10*time.Second); err != nil {
			t.Errorf("blue-a -> %s after restart: %v", dst.name, err)
		}
	}
	var sw switchStatus
	if err := json.Unmarshal(e.must("GET", "/v1/switches/blue", nil), &sw); err != nil || sw.VNI != 1001 {
		t.Errorf("northbound lost across restart: %+v %v", sw, err)
	}
}

// TestBadInput checks the error contract against the real daemon: 4xx with
// a JSON error naming the field, and nothing half-applied.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	cases := []struct {
		method, path string
		body         any
		code         int
		mention      string
	}{
		{"POST", "/v1/switches", `{"name":"x",`, 400, ""},
		{"POST", "/v1/switches", `{"name":"x","colour":"red"}`, 400, "colour"},
		{"POST", "/v1/switches", map[string]any{"name": "x", "vni": 16777216}, 400, "vni"},
		{"POST", "/v1/switches", map[string]any{"name": "x", "encap": "geneve"}, 400, "encap"},
		{"POST", "/v1/switches", map[string]any{"name": "blue"}, 409, "blue"},
		{"POST", "/v1/switches", map[string]any{"name": "x", "vni": 1001}, 409, "vni"},
		{"POST", "/v1/chassis", map[string]any{"name": "hv9", "ovsdb": "tcp:198.18.255.19", "tunnel_ip": "198.18.1.19"}, 400, "ovsdb"},
		{"POST", "/v1/chassis", map[string]any{"name": "hv9", "ovsdb": "tcp:198.18.255.19:6640", "tunnel_ip": "198.18.1"}, 400, "tunnel_ip"},
		{"POST", "/v1/switches/blue/ports", map[string]any{"name": "p", "iface_id": "i", "mac": "02:00:00:00:00"}, 400, "mac"},
		{"POST", "/v1/switches/nope/ports", map[string]any{"name": "p", "iface_id": "i"}, 404, "nope"},
		{"GET", "/v1/chassis/nope", nil, 404, "nope"},
		{"DELETE", "/v1/switches/blue/ports/nope", nil, 404, "nope"},
	}
	for _, c := range cases {
		code, data := e.do(c.method, c.path, c.body)
		var body struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(data, &body); err != nil || body.Error == "" {
			t.Errorf("%s %s: body %q is not a JSON error", c.method, c.path, data)
		}
		if code != c.code || !strings.Contains(body.Error, c.mention) {
			t.Errorf("%s %s %v: %d %q, want %d mentioning %q", c.method, c.path, c.body, code, body.Error, c.code, c.mention)
		}
	}
	var list []map[string]any
	if err := json.Unmarshal(e.must("GET", "/v1/switches", nil), &list); err != nil || len(list) != 1 {
		t.Errorf("bad input changed the switch list: %v %v", list, err)
	}
}
