package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

type driftEvent struct {
	Time     time.Time `json:"time"`
	Device   string    `json:"device"`
	Kind     string    `json:"kind"`
	What     string    `json:"what"`
	Repaired bool      `json:"repaired"`
}

// events lists GET /v1/events for device and kind.
func (e *env) events(device, kind string) []driftEvent {
	e.t.Helper()
	var out []driftEvent
	q := url.Values{"device": {device}, "kind": {kind}}
	if err := json.Unmarshal(e.must("GET", "/v1/events?"+q.Encode(), nil), &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// awaitEvent waits until the n-th event of device and kind is listed and
// returns it with how long after since it appeared (n 0: the one after
// those listed now).
func (e *env) awaitEvent(device, kind string, n int, since time.Time) (driftEvent, time.Duration) {
	e.t.Helper()
	for {
		if evs := e.events(device, kind); len(evs) >= n {
			return evs[n-1], time.Since(since)
		}
		if time.Since(since) > 15*time.Second {
			e.t.Fatalf("no %s event for %s within 15s: %+v", kind, device, e.events(device, ""))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ferryFlowWith returns the cookie of the ferry flow on hv matching every
// fragment.
func (e *env) ferryFlowWith(hv string, fragments ...string) string {
	e.t.Helper()
next:
	for _, f := range e.ferryFlows(hv) {
		for _, frag := range fragments {
			if !strings.Contains(f, frag) {
				continue next
			}
		}
		return strings.TrimPrefix(strings.TrimSuffix(strings.Fields(f)[0], ","), "cookie=")
	}
	e.t.Fatalf("no ferry flow on %s with %q:\n%s", hv, fragments, strings.Join(e.ferryFlows(hv), "\n"))
	return ""
}

// driftBound is the bound from a hand edit to its repair being
// listed in /v1/events.
const driftBound = 5 * time.Second

// TestDriftRepaired: in the namespace lab, a ferry flow deleted by hand, a
// tunnel's remote_ip edited by hand and a VTEP Ucast_Macs_Remote row
// deleted by hand are each detected, repaired and listed in /v1/events
// within 5 s, and the guests' pings work again; an operator's own flow is
// reported and left in place.
func TestDriftRepaired(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	gw := e.lab.UpGateway(t)
	e.must("POST", "/v1/gateways", map[string]any{"name": "gw1", "ovsdb": gw.OVSDB})
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	e.addGuests("blue", blueA, blueB)
	e.lab.BareMetal(t, "bm1", "198.18.100.10/24", bmMAC)
	e.must("POST", "/v1/switches/blue/bindings", map[string]any{"gateway": "gw1", "port": "p0", "vlan": 0})
	e.waitRealized("blue", 2)
	for _, to := range []string{blueB.ip(), "198.18.100.10"} {
		if err := e.lab.WaitPing(t, "blue-a", to, 20*time.Second); err != nil {
			t.Fatalf("blue-a -> %s: %v", to, err)
		}
	}

	// 1. The classify flow of blue-a's VIF on hv1: without it blue-a's
	// frames are dropped.
	ofport := strings.TrimSpace(e.lab.OVS(t, "hv1", "ovs-vsctl", "get", "interface", "v-blue-a", "ofport"))
	cookie := e.ferryFlowWith("hv1", "table=0", "in_port="+ofport+" ")
	n := len(e.events("chassis/hv1", "flows")) + 1
	edit := time.Now()
	e.lab.OVS(t, "hv1", "ovs-ofctl", "-O", "OpenFlow15", "del-flows", "br-int", fmt.Sprintf("cookie=%s/-1", cookie))
	ev, took := e.awaitEvent("chassis/hv1", "flows", n, edit)
	t.Logf("deleted flow: listed after %v: %s", took, ev.What)
	if !ev.Repaired || took > driftBound {
		t.Errorf("deleted flow: repaired %v after %v, want repaired within %v", ev.Repaired, took, driftBound)
	}
	if err := e.lab.Ping(t, "blue-a", blueB.ip(), 2); err != nil {
		t.Errorf("blue-a -> blue-b after the flow's repair: %v", err)
	}

	// 2. The tunnel to hv3 pointed elsewhere.
	tunnel := strings.TrimSpace(e.lab.OVS(t, "hv1", "ovs-vsctl", "--bare", "--columns=name", "find", "interface", "type=vxlan", "options:remote_ip=198.18.2.13"))
	if tunnel == "" || strings.Contains(tunnel, "\n") {
		t.Fatalf("hv1's VXLAN tunnel to hv3: %q", tunnel)
	}
	n = len(e.events("chassis/hv1", "ovsdb")) + 1
	edit = time.Now()
	e.lab.OVS(t, "hv1", "ovs-vsctl", "set", "interface", tunnel, "options:remote_ip=198.18.9.9")
	ev, took = e.awaitEvent("chassis/hv1", "ovsdb", n, edit)
	t.Logf("edited tunnel: listed after %v: %s", took, ev.What)
	if !ev.Repaired || took > driftBound {
		t.Errorf("edited tunnel: repaired %v after %v, want repaired within %v", ev.Repaired, took, driftBound)
	}
	if ip := strings.TrimSpace(e.lab.OVS(t, "hv1", "ovs-vsctl", "get", "interface", tunnel, "options:remote_ip")); ip != `"198.18.2.13"` {
		t.Errorf("remote_ip after the repair: %s", ip)
	}
	if err := e.lab.WaitPing(t, "blue-a", blueB.ip(), 5*time.Second); err != nil {
		t.Errorf("blue-a -> blue-b after the tunnel's repair: %v", err)
	}

	// 3. The VTEP's row for blue-a's MAC.
	n = len(e.events("gateway/gw1", "vtep")) + 1
	edit = time.Now()
	e.lab.VTEPCtl(t, "del-ucast-remote", "ferry-blue", blueA.mac)
	ev, took = e.awaitEvent("gateway/gw1", "vtep", n, edit)
	t.Logf("deleted VTEP row: listed after %v: %s", took, ev.What)
	if !strings.Contains(ev.What, "Ucast_Macs_Remote") {
		t.Errorf("the VTEP event does not name the row: %s", ev.What)
	}
	if !ev.Repaired || took > driftBound {
		t.Errorf("deleted VTEP row: repaired %v after %v, want repaired within %v", ev.Repaired, took, driftBound)
	}
	if macs := e.lab.VTEPCtl(t, "list-remote-macs", "ferry-blue"); !strings.Contains(macs, blueA.mac) {
		t.Errorf("blue-a's MAC not back on the VTEP:\n%s", macs)
	}
	if err := e.lab.WaitPing(t, "bm1", blueA.ip(), 5*time.Second); err != nil {
		t.Errorf("bm1 -> blue-a after the row's repair: %v", err)
	}

	// 4. An operator's flow: reported, kept.
	n = len(e.events("chassis/hv1", "foreign_flows")) + 1
	edit = time.Now()
	e.lab.OVS(t, "hv1", "ovs-ofctl", "-O", "OpenFlow15", "add-flow", "br-int", "table=0,priority=1,cookie=0x1234,actions=drop")
	ev, took = e.awaitEvent("chassis/hv1", "foreign_flows", n, edit)
	t.Logf("operator's flow: listed after %v: %s", took, ev.What)
	if ev.Repaired || took > driftBound {
		t.Errorf("operator's flow: repaired %v after %v, want reported (not repaired) within %v", ev.Repaired, took, driftBound)
	}
	time.Sleep(2500 * time.Millisecond) // a drift check later
	if out := e.lab.OVS(t, "hv1", "ovs-ofctl", "-O", "OpenFlow15", "dump-flows", "br-int"); !strings.Contains(out, "cookie=0x1234") {
		t.Error("the operator's flow was removed")
	}
}

// TestDriftReportOnly: with --repair=false a hand-deleted flow is listed,
// not repaired, and stays deleted (blue-a stays cut off).
func TestDriftReportOnly(t *testing.T) {
	e := newEnv(t, "--repair=false")
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	e.addGuests("blue", blueA, blueB)
	e.waitRealized("blue", 2)
	if err := e.lab.WaitPing(t, "blue-a", blueB.ip(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	ofport := strings.TrimSpace(e.lab.OVS(t, "hv1", "ovs-vsctl", "get", "interface", "v-blue-a", "ofport"))
	cookie := e.ferryFlowWith("hv1", "table=0", "in_port="+ofport+" ")
	edit := time.Now()
	e.lab.OVS(t, "hv1", "ovs-ofctl", "-O", "OpenFlow15", "del-flows", "br-int", fmt.Sprintf("cookie=%s/-1", cookie))
	ev, took := e.awaitEvent("chassis/hv1", "flows", 1, edit)
	t.Logf("deleted flow, repair off: listed after %v: %s", took, ev.What)
	if ev.Repaired || took > driftBound {
		t.Errorf("repaired %v after %v, want reported only within %v", ev.Repaired, took, driftBound)
	}
	time.Sleep(2500 * time.Millisecond)
	for _, f := range e.ferryFlows("hv1") {
		if strings.Contains(f, "cookie="+cookie+",") {
			t.Fatalf("with --repair=false the deleted flow came back: %s", f)
		}
	}
	if err := e.lab.Ping(t, "blue-a", blueB.ip(), 2); err == nil {
		t.Error("blue-a reaches blue-b without its classify flow: the edit did not matter")
	}
	if n := len(e.events("chassis/hv1", "flows")); n != 1 {
		t.Errorf("the drift was listed %d times, want once", n)
	}
}
