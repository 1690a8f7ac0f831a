package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// tunnelPaths returns "a-b" → path from a switch's status.
func (e *env) tunnelPaths(sw string) map[string]string {
	return e.tunnelsBy(sw, func(tn statusTunnel) string { return tn.Path })
}

// waitPaths waits until the pairs named have the wanted paths.
func (e *env) waitPaths(sw string, want map[string]string, timeout time.Duration) time.Duration {
	e.t.Helper()
	start := time.Now()
	for {
		got := e.tunnelPaths(sw)
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			e.t.Fatalf("paths of %s: %v, want %v\ntunnel states: %v\nferryd's decisions:\n%s", sw, got, want, e.tunnelStates(sw), e.pathDecisions())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pathDecisions returns ferryd's log lines about pairs changing path.
func (e *env) pathDecisions() string {
	var out []string
	for _, l := range strings.Split(e.ferryd.Log(), "\n") {
		if strings.Contains(l, "msg=\"pair ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// blockUnderlay makes the router drop underlay traffic between two tunnel
// IPs, both ways, and returns what lifts the block.
func (e *env) blockUnderlay(a, b string) func() {
	e.t.Helper()
	rules := [][]string{{"-s", a, "-d", b, "-j", "DROP"}, {"-s", b, "-d", a, "-j", "DROP"}}
	for _, r := range rules {
		if out, err := e.lab.Exec(e.t, "rtr", append([]string{"iptables", "-I", "FORWARD"}, r...)...); err != nil {
			e.t.Fatalf("iptables: %v: %s", err, out)
		}
	}
	done := false
	lift := func() {
		if done {
			return
		}
		done = true
		for _, r := range rules {
			if out, err := e.lab.Exec(e.t, "rtr", append([]string{"iptables", "-D", "FORWARD"}, r...)...); err != nil {
				e.t.Errorf("iptables -D: %v: %s", err, out)
			}
		}
	}
	e.t.Cleanup(lift)
	return lift
}

// relayedFlows returns the flows on hv that forward for a relayed pair.
func (e *env) relayedFlows(hv string) []string {
	var out []string
	for _, f := range e.ferryFlows(hv) {
		if strings.Contains(f, "metadata=0x4") || strings.Contains(f, "write_metadata:0x4") {
			out = append(out, f)
		}
	}
	return out
}

// TestRelay: the router drops underlay traffic between hv1 (site A) and
// both hv3 and the VTEP gw1 (sites B and C), while hv2, a relay on site
// A, reaches everyone. VMs on hv1 and hv3 keep talking through hv2 on a
// VXLAN switch (hv2 carries it too) and a GRE switch (hv2 carries nothing
// of it), hv1's VM reaches a bare-metal server behind the VTEP through
// hv2, a broadcast arrives exactly once everywhere, status says "relayed
// via hv2"; lifting the block returns every pair to direct and hv2's
// transit flows disappear.
func TestRelay(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	e.must("PATCH", "/v1/chassis/hv2", map[string]any{"relay": true})
	gw := e.lab.UpGateway(t)
	e.must("POST", "/v1/gateways", map[string]any{"name": "gw1", "ovsdb": gw.OVSDB})

	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 9001, "encap": "vxlan"})
	e.must("POST", "/v1/switches", map[string]any{"name": "red", "vni": 9002, "encap": "gre"})
	a := guest{"hv1", "rl-a", "198.18.130.1/24", "02:00:00:d0:00:01"}
	b := guest{"hv2", "rl-b", "198.18.130.2/24", "02:00:00:d0:00:02"}
	c := guest{"hv3", "rl-c", "198.18.130.3/24", "02:00:00:d0:00:03"}
	ra := guest{"hv1", "rl-ra", "198.18.131.1/24", "02:00:00:d1:00:01"}
	rc := guest{"hv3", "rl-rc", "198.18.131.3/24", "02:00:00:d1:00:03"}
	e.addGuests("blue", a, b, c)
	e.addGuests("red", ra, rc)
	e.lab.BareMetal(t, "rl-bm", "198.18.130.10/24", "02:00:00:d0:00:10")
	e.must("POST", "/v1/switches/blue/bindings", map[string]any{"gateway": "gw1", "port": "p0", "vlan": 0})
	e.waitRealized("blue", 3)
	e.waitRealized("red", 2)
	pings := [][3]string{
		{a.name, c.ip(), "blue hv1 -> hv3"},
		{c.name, a.ip(), "blue hv3 -> hv1"},
		{ra.name, rc.ip(), "red hv1 -> hv3"},
		{a.name, "198.18.130.10", "blue hv1 -> bare metal"},
		{"rl-bm", a.ip(), "bare metal -> blue hv1"},
	}
	for _, p := range pings {
		if err := e.lab.WaitPing(t, p[0], p[1], 20*time.Second); err != nil {
			t.Fatalf("%s before the block: %v", p[2], err)
		}
	}
	direct := map[string]string{"hv1-hv3": "direct", "hv1-hv2": "direct", "hv1-gw1": "direct"}
	e.waitPaths("blue", direct, 10*time.Second)
	e.waitTunnels("blue", map[string]string{"hv1-hv2": "up", "hv1-hv3": "up", "hv2-hv3": "up", "hv1-gw1": "up", "hv2-gw1": "up", "hv3-gw1": "up"}, 20*time.Second)

	hv1, _ := e.lab.Hypervisor("hv1")
	hv3, _ := e.lab.Hypervisor("hv3")
	t.Logf("blocking at %s", time.Now().UTC().Format(time.RFC3339Nano))
	liftHV3 := e.blockUnderlay(hv1.TunnelIP, hv3.TunnelIP)
	liftGW := e.blockUnderlay(hv1.TunnelIP, gw.TunnelIP)
	took := e.waitPaths("blue", map[string]string{"hv1-hv3": "relayed via hv2", "hv1-gw1": "relayed via hv2", "hv1-hv2": "direct", "hv2-hv3": "direct"}, 20*time.Second)
	t.Logf("blue relayed %v after the block; ferryd's decisions:\n%s", took, e.pathDecisions())
	e.waitPaths("red", map[string]string{"hv1-hv3": "relayed via hv2"}, 10*time.Second)
	for _, p := range pings {
		if err := e.lab.WaitPing(t, p[0], p[1], 15*time.Second); err != nil {
			t.Errorf("%s through the relay: %v", p[2], err)
		}
	}
	if len(e.relayedFlows("hv2")) == 0 {
		t.Errorf("hv2 has no transit flows while it relays:\n%s", strings.Join(e.ferryFlows("hv2"), "\n"))
	}

	// A broadcast from hv1's VM reaches every other endpoint exactly once.
	const target = "198.18.130.99"
	caps := map[string]interface {
		WaitFor(string, time.Duration) bool
		Count(string) int
		String() string
	}{}
	for _, name := range []string{a.name, b.name, c.name, "rl-bm"} {
		caps[name] = e.lab.Capture(t, e.lab.Namespace(name), "eth0", "arp")
	}
	e.lab.Exec(t, e.lab.Namespace(a.name), "ping", "-c", "3", "-W", "1", target)
	time.Sleep(500 * time.Millisecond)
	sent := caps[a.name].Count("who-has " + target)
	if sent == 0 {
		t.Fatalf("no ARP request seen leaving %s:\n%s", a.name, caps[a.name])
	}
	for _, name := range []string{b.name, c.name, "rl-bm"} {
		if n := caps[name].Count("who-has " + target); n != sent {
			t.Errorf("%s saw %d copies of the %d ARP requests %s sent through the relay\n%s", name, n, sent, a.name, caps[name])
		}
	}

	liftHV3()
	liftGW()
	took = e.waitPaths("blue", direct, 20*time.Second)
	t.Logf("blue back to direct %v after the block was lifted", took)
	e.waitPaths("red", map[string]string{"hv1-hv3": "direct"}, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for len(e.relayedFlows("hv2")) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("hv2 keeps transit flows after the pairs returned to direct:\n%s", strings.Join(e.relayedFlows("hv2"), "\n"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if flows := strings.Join(e.ferryFlows("hv2"), "\n"); strings.Contains(flows, fmt.Sprintf("tun_id=%#x", 9002)) {
		t.Errorf("hv2 keeps red's flows after relaying ended:\n%s", flows)
	}
	for _, p := range pings {
		if err := e.lab.WaitPing(t, p[0], p[1], 15*time.Second); err != nil {
			t.Errorf("%s direct again: %v", p[2], err)
		}
	}
}
