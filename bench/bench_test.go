package bench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestTinyProfile runs the whole harness (steps 1-4 and 6) against real OVS
// processes and a real ferryd in the tiny profile and asserts correctness,
// never timings: every switch realized, every latency sample realized, no
// flow_mod and no lost flow across a kill -9 restart, a VTEP second pass
// with nothing to do. It keeps the harness from rotting; CI runs it.
func TestTinyProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("starts OVS daemons and ferryd (about 20 s)")
	}
	if missing := MissingOVS(); len(missing) > 0 {
		msg := "bench: Open vSwitch not installed (missing " + strings.Join(missing, ", ") + ")"
		if os.Getenv("FERRY_REQUIRE_OVS") != "" {
			t.Fatal(msg + " and FERRY_REQUIRE_OVS is set")
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p := Profiles["tiny"]
	rep, err := Run(ctx, Options{Profile: p, Command: "go test ./bench -run TestTinyProfile", Progress: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", rep.Table())
	for _, bad := range rep.Check() {
		t.Error(bad)
	}
	if len(rep.Systems) != 1 {
		t.Fatalf("%d systems in the report, want ferry alone", len(rep.Systems))
	}
	s := rep.Systems[0]
	if s.PortsCreated != p.Ports || s.SwitchesCreated != p.Switches {
		t.Errorf("created %d switches and %d ports, want %d and %d", s.SwitchesCreated, s.PortsCreated, p.Switches, p.Ports)
	}
	if s.Flows == 0 || s.Groups != 2*p.Switches*p.Hypervisors {
		t.Errorf("%d flows and %d groups on the bridges; want some flows and two flood groups per switch and hypervisor (%d)",
			s.Flows, s.Groups, 2*p.Switches*p.Hypervisors)
	}
	if s.Latency.N != p.LatencySamples {
		t.Errorf("%d latency samples, want %d", s.Latency.N, p.LatencySamples)
	}
	if s.Ceiling == nil || s.Ceiling.Flows == 0 {
		t.Error("no ovs-ofctl --bundle ceiling measured")
	}
	if s.Repush == nil || len(s.Repush.Runs) != repeats {
		t.Error("no re-push measured")
	} else if d := s.Repush.Runs[0].Delta; d.FlowMods != int64(s.Repush.Flows) {
		t.Errorf("re-push sent %d flow_mods for a bridge of %d flows", d.FlowMods, s.Repush.Flows)
	}
	if s.Restart != nil && s.Restart.Counters.OVSDBWrites != 0 {
		t.Errorf("%d OVSDB writes after a restart with nothing changed", s.Restart.Counters.OVSDBWrites)
	}
	if b := s.Bulk; b == nil || !b.Realized || b.Calls != p.BulkSwitches || b.Ports != p.BulkSwitches*(p.Ports/p.Switches) {
		t.Errorf("bulk step: %+v", b)
	}
	if v := rep.VTEP; v == nil || v.Rows != p.VTEPMACs {
		t.Errorf("VTEP step: %+v", v)
	}
	// Step 6: both windows measured; with an underlay (root) probes
	// must have crossed, and none is sent with --probe-interval 0.
	if pr := rep.Probes; pr == nil || pr.Err != "" || pr.On == nil || pr.Off == nil {
		t.Errorf("probe step: %+v", pr)
	} else {
		if pr.On.Sent == 0 {
			t.Error("probe step: no probe sent with probes on")
		}
		if pr.Underlay != "" && !pr.Crossed {
			t.Error("probe step: no probe crossed the dummy underlay")
		}
		if pr.Off.Sent != 0 {
			t.Errorf("probe step: %.1f probes/s sent with --probe-interval 0", pr.Off.Sent)
		}
	}
	// Nothing left running: the work directory is gone.
	if _, err := os.Stat(rep.WorkDir); err == nil {
		t.Errorf("work directory %s left behind", rep.WorkDir)
	}
}

func TestWorkloadLayout(t *testing.T) {
	p := Profile{Hypervisors: 16, Switches: 500, Ports: 10000, Span: 0, LatencySamples: 1000}
	w := NewWorkload(p)
	if len(w.Switches) != 500 || len(w.Latency) != 1000 {
		t.Fatalf("%d switches, %d latency ports", len(w.Switches), len(w.Latency))
	}
	perHV := make([]int, p.Hypervisors)
	names := map[string]bool{}
	n := 0
	for _, sw := range w.Switches {
		if len(sw.Ports) != 20 {
			t.Fatalf("%s has %d ports, want 20", sw.Name, len(sw.Ports))
		}
		for _, port := range sw.Ports {
			perHV[port.Hypervisor]++
			n++
			for _, name := range []string{port.Name, port.IfaceID, port.MAC, port.VIF} {
				if names[name] {
					t.Fatalf("%s used twice", name)
				}
				names[name] = true
			}
			if len(port.VIF) > 15 {
				t.Fatalf("VIF name %q longer than a network device name may be", port.VIF)
			}
		}
	}
	if n != p.Ports {
		t.Fatalf("%d ports, want %d", n, p.Ports)
	}
	for hv, c := range perHV {
		if want := p.Ports / p.Hypervisors; c < want*99/100 || c > want*101/100 {
			t.Errorf("hypervisor %d has %d VIFs, want %d within 1 %%", hv, c, want)
		}
	}
	// A span limits the hypervisors a switch's ports land on.
	p.Span = 4
	for _, sw := range NewWorkload(p).Switches {
		hvs := map[int]bool{}
		for _, port := range sw.Ports {
			hvs[port.Hypervisor] = true
		}
		if len(hvs) != 4 {
			t.Fatalf("%s spans %d hypervisors, want 4", sw.Name, len(hvs))
		}
	}
}

func TestDist(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	d := NewDist(ds)
	if d.P50 != 50*time.Millisecond || d.P95 != 95*time.Millisecond || d.P99 != 99*time.Millisecond ||
		d.Max != 100*time.Millisecond || d.Min != time.Millisecond || d.N != 100 {
		t.Errorf("%+v", d)
	}
	if got := NewDist([]time.Duration{7}); got.P99 != 7 || got.P50 != 7 {
		t.Errorf("one sample: %+v", got)
	}
	if median([]float64{3, 1, 2, 10}) != 2.5 {
		t.Error("median")
	}
}

func TestCountersSub(t *testing.T) {
	a := Counters{FlowMods: 10, OVSDBWrites: Unknown, Bundles: 3, BundleTime: 1.5, Passes: 9}
	b := Counters{FlowMods: 4, OVSDBWrites: 2, Bundles: 1, BundleTime: 0.5, Passes: 2}
	if got := a.Sub(b); got != (Counters{FlowMods: 6, OVSDBWrites: Unknown, Bundles: 2, BundleTime: 1, Passes: 7}) {
		t.Errorf("%+v", got)
	}
}

// testLog sends the harness's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
