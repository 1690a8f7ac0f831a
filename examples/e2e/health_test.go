package e2e

import (
	"encoding/json"
	"testing"
	"time"
)

type statusTunnel struct{ A, B, Encap, State, Path string }

// tunnelsBy returns "a-b" → what field picks of each of a switch's tunnels.
func (e *env) tunnelsBy(sw string, field func(statusTunnel) string) map[string]string {
	e.t.Helper()
	var st struct {
		Status struct {
			Tunnels []statusTunnel
		} `json:"status"`
	}
	json.Unmarshal(e.must("GET", "/v1/switches/"+sw, nil), &st)
	out := map[string]string{}
	for _, tn := range st.Status.Tunnels {
		out[tn.A+"-"+tn.B] = field(tn)
	}
	return out
}

// tunnelStates returns "a-b" → BFD state from a switch's status.
func (e *env) tunnelStates(sw string) map[string]string {
	return e.tunnelsBy(sw, func(tn statusTunnel) string { return tn.State })
}

// waitTunnels waits until every pair has the wanted state and returns how
// long that took.
func (e *env) waitTunnels(sw string, want map[string]string, timeout time.Duration) time.Duration {
	e.t.Helper()
	start := time.Now()
	for {
		got := e.tunnelStates(sw)
		ok := len(got) == len(want)
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			e.t.Fatalf("tunnels of %s: %v, want %v", sw, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTunnelHealth: BFD shows a hypervisor cut off from the underlay as
// down within seconds, flooding among the others keeps working, and the
// tunnels come back up when it returns.
func TestTunnelHealth(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 8001})
	e.addGuests("blue", guest{"hv1", "h-a", "198.18.120.1/24", "02:00:00:c0:00:01"},
		guest{"hv2", "h-b", "198.18.120.2/24", "02:00:00:c0:00:02"},
		guest{"hv3", "h-c", "198.18.120.3/24", "02:00:00:c0:00:03"})
	e.waitRealized("blue", 3)
	allUp := map[string]string{"hv1-hv2": "up", "hv1-hv3": "up", "hv2-hv3": "up"}
	e.waitTunnels("blue", allUp, 20*time.Second)

	// Cut hv3 off the underlay (its management link stays, so ferry still
	// hears from it).
	if _, err := e.lab.Exec(t, "hv3", "ip", "link", "set", "ul", "down"); err != nil {
		t.Fatal(err)
	}
	took := e.waitTunnels("blue", map[string]string{"hv1-hv2": "up", "hv1-hv3": "down", "hv2-hv3": "down"}, 10*time.Second)
	t.Logf("tunnels to the cut-off hypervisor reported down after %v", took)
	if took > 5*time.Second {
		t.Errorf("detection took %v, want a few seconds", took)
	}
	// Flooding still reaches the healthy endpoint: a fresh ARP from h-a
	// must find h-b.
	e.lab.Exec(t, e.lab.Namespace("h-a"), "ip", "neigh", "flush", "all")
	if err := e.lab.Ping(t, "h-a", "198.18.120.2", 3); err != nil {
		t.Errorf("h-a -> h-b while hv3 is cut off: %v", err)
	}
	if err := e.lab.Ping(t, "h-a", "198.18.120.3", 1); err == nil {
		t.Errorf("h-c answered while its hypervisor is cut off; the test cut nothing")
	}

	if _, err := e.lab.Exec(t, "hv3", "ip", "link", "set", "ul", "up"); err != nil {
		t.Fatal(err)
	}
	took = e.waitTunnels("blue", allUp, 20*time.Second)
	t.Logf("tunnels back up %v after the link returned", took)
	if err := e.lab.WaitPing(t, "h-a", "198.18.120.3", 10*time.Second); err != nil {
		t.Errorf("h-c unreachable after its hypervisor returned: %v", err)
	}
}
