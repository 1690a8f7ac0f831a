package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

type pairProbe struct {
	State            string  `json:"state"`
	Loss             float64 `json:"loss"`
	RTT              float64 `json:"rtt_ms"`
	PathMTU          int     `json:"path_mtu"`
	MTUBelowUnderlay bool    `json:"mtu_below_underlay"`
}

type probedStatus struct {
	Status struct {
		Realized           bool `json:"realized"`
		ForwardingVerified bool `json:"forwarding_verified"`
		MTU                int  `json:"mtu"`
		Tunnels            []struct {
			A, B, State string
			Probe       *pairProbe `json:"probe"`
		} `json:"tunnels"`
	} `json:"status"`
}

func (e *env) probed(sw string) probedStatus {
	e.t.Helper()
	var st probedStatus
	if err := json.Unmarshal(e.must("GET", "/v1/switches/"+sw, nil), &st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

// pairProbes returns "a-b" → the pair's probe ("" state while unprobed).
func (st probedStatus) pairProbes() map[string]pairProbe {
	out := map[string]pairProbe{}
	for _, tn := range st.Status.Tunnels {
		if tn.Probe != nil {
			out[tn.A+"-"+tn.B] = *tn.Probe
		} else {
			out[tn.A+"-"+tn.B] = pairProbe{}
		}
	}
	return out
}

// waitMetric polls /metrics until a series satisfies ok (the probe metrics
// are reported once a round, after the status they sum up).
func (e *env) waitMetric(name string, ok func(float64) bool, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := e.metric(name)
		if ok(v) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Errorf("%s = %v after %v", name, v, timeout)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitProbe polls a switch until cond holds and returns how long it took.
func (e *env) waitProbe(sw, what string, timeout time.Duration, cond func(probedStatus) bool) time.Duration {
	e.t.Helper()
	start := time.Now()
	for {
		st := e.probed(sw)
		if cond(st) {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			e.t.Fatalf("%s: not after %v: %+v", what, timeout, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProbes: data-plane probes verify every pair of a switch's
// hypervisors, see a hand-deleted unicast flow as a failing probe while BFD
// stays up, and measure the real path MTU when a router link shrinks, the
// switch's guest MTU following it (checked with don't-fragment pings of
// the reported size and one byte more). The drift check is off so that
// the probe alone notices the deleted flow (with it on, the two race: the
// drift check counts flows every 2 s and repairs, the probe fails within
// an interval).
func TestProbes(t *testing.T) {
	e := newEnv(t, "--drift-check", "0", "--probe-interval", "500ms")
	const interval = 500 * time.Millisecond
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 9101, "encap": "vxlan"})
	a := guest{"hv1", "pr-a", "198.18.140.1/24", "02:00:00:e0:00:01"}
	b := guest{"hv2", "pr-b", "198.18.140.2/24", "02:00:00:e0:00:02"}
	c := guest{"hv3", "pr-c", "198.18.140.3/24", "02:00:00:e0:00:03"}
	e.addGuests("blue", a, b, c)
	e.waitRealized("blue", 3)
	took := e.waitProbe("blue", "forwarding verified", 15*time.Second, func(st probedStatus) bool {
		ps := st.pairProbes()
		return st.Status.ForwardingVerified && len(ps) == 3 &&
			ps["hv1-hv2"].State == "ok" && ps["hv1-hv3"].State == "ok" && ps["hv2-hv3"].State == "ok"
	})
	e.waitProbe("blue", "path MTU measured", 15*time.Second, func(st probedStatus) bool {
		for _, p := range st.pairProbes() {
			if p.PathMTU == 0 {
				return false
			}
		}
		return true
	})
	e.waitTunnels("blue", map[string]string{"hv1-hv2": "up", "hv1-hv3": "up", "hv2-hv3": "up"}, 20*time.Second)
	t.Logf("forwarding verified %v after realized", took)
	// Probes sent while the switch was still being realized may have
	// been lost; on a healthy switch the loss window empties of them.
	e.waitProbe("blue", "healthy pairs: an RTT, no loss, path MTU 1500", 15*time.Second, func(st probedStatus) bool {
		for _, p := range st.pairProbes() {
			if p.RTT <= 0 || p.Loss != 0 || p.PathMTU != 1500 || p.MTUBelowUnderlay {
				return false
			}
		}
		return true
	})

	// Delete hv1's unicast flow towards pr-c by hand: BFD stays up, the
	// probe hv1 → hv3 fails.
	out := e.lab.OVS(t, "hv1", "ovs-ofctl", "-O", "OpenFlow15", "del-flows", "br-int",
		fmt.Sprintf("table=10,tun_id=%#x,metadata=0x1,dl_dst=%s", 9101, c.mac))
	t.Logf("del-flows: %s", out)
	took = e.waitProbe("blue", "failing probe for hv1-hv3", 4*interval+2*time.Second, func(st probedStatus) bool {
		return st.pairProbes()["hv1-hv3"].State == "failing"
	})
	t.Logf("probe failing %v after the flow was deleted (interval %v)", took, interval)
	if took > 2*interval+500*time.Millisecond {
		t.Errorf("probe saw the deleted flow after %v, want within two intervals (%v)", took, 2*interval)
	}
	e.waitMetric(`ferry_probe_pairs{state="failing"}`, func(v float64) bool { return v >= 1 }, 5*time.Second)
	st := e.probed("blue")
	if st.Status.ForwardingVerified {
		t.Errorf("forwarding still verified with a flow missing")
	}
	for _, tn := range st.Status.Tunnels {
		if tn.State != "up" {
			t.Errorf("BFD of %s-%s says %s: the test must keep the tunnels up", tn.A, tn.B, tn.State)
		}
		if ps := st.pairProbes()[tn.A+"-"+tn.B]; tn.A+"-"+tn.B != "hv1-hv3" && ps.State != "ok" {
			t.Errorf("pair %s-%s probe %+v, want ok: only hv1-hv3 lost a flow", tn.A, tn.B, ps)
		}
	}
	// A restarted ferryd dumps the tables and puts the flow back; the
	// probe recovers.
	if err := e.ferryd.Stop(); err != nil {
		t.Fatalf("stopping ferryd: %v", err)
	}
	e.ferryd.Restart(t)
	e.waitAPI()
	e.waitProbe("blue", "probe ok again after the repair", 30*time.Second, func(st probedStatus) bool {
		return st.Status.ForwardingVerified && st.pairProbes()["hv1-hv3"].State == "ok"
	})

	// The router's link to site B (hv3) shrinks to MTU 1400.
	for _, dev := range []string{"hv3", "site-b"} {
		if out, err := e.lab.Exec(t, "rtr", "ip", "link", "set", dev, "mtu", "1400"); err != nil {
			t.Fatalf("mtu: %v %s", err, out)
		}
	}
	t.Cleanup(func() {
		for _, dev := range []string{"hv3", "site-b"} {
			e.lab.Exec(t, "rtr", "ip", "link", "set", dev, "mtu", "1500")
		}
	})
	took = e.waitProbe("blue", "path MTU 1400 towards hv3", 60*time.Second, func(st probedStatus) bool {
		ps := st.pairProbes()
		return ps["hv1-hv3"].PathMTU == 1400 && ps["hv2-hv3"].PathMTU == 1400 && ps["hv1-hv2"].PathMTU == 1500
	})
	t.Logf("path MTU measured %v after the link shrank", took)
	st = e.probed("blue")
	ps := st.pairProbes()
	e.waitMetric("ferry_path_mtu_below_underlay_pairs", func(v float64) bool { return v == 2 }, 5*time.Second)
	if !ps["hv1-hv3"].MTUBelowUnderlay || ps["hv1-hv2"].MTUBelowUnderlay {
		t.Errorf("mtu_below_underlay: %+v", ps)
	}
	if st.Status.MTU != 1400-50 {
		t.Errorf("guest MTU %d, want %d (path MTU 1400 less VXLAN's 50)", st.Status.MTU, 1400-50)
	}
	if err := e.dfPing(a.name, c.ip(), st.Status.MTU); err != nil {
		t.Errorf("DF ping of the reported MTU %d: %v", st.Status.MTU, err)
	}
	if err := e.dfPing(a.name, c.ip(), st.Status.MTU+1); err == nil {
		t.Errorf("DF ping of %d crossed: the reported MTU %d is too small", st.Status.MTU+1, st.Status.MTU)
	} else if !strings.Contains(err.Error(), "100% packet loss") && !strings.Contains(err.Error(), "exit status") {
		t.Logf("DF ping of %d: %v", st.Status.MTU+1, err)
	}
	if err := e.dfPing(a.name, b.ip(), 1400); err != nil {
		t.Errorf("DF ping hv1 -> hv2 of 1400 (their path is whole): %v", err)
	}
}
