package bench

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Profile sizes a run.
type Profile struct {
	Name        string
	Hypervisors int // M
	Switches    int
	Ports       int // spread over the switches
	// Span is the number of hypervisors each switch's ports are spread
	// over (0: all of them).
	Span int
	// Concurrency is the number of REST clients creating the scale
	// step's switches and ports.
	Concurrency    int
	LatencySamples int
	// BulkSwitches are created after step 3, each with as many ports as
	// a step 1 switch, in one call per switch (see BulkCreator).
	BulkSwitches int
	VTEPMACs     int
	// DataPlaneTrials is the number of port-create-to-ping trials (0:
	// skip the data plane step); TCPSeconds the length of each
	// throughput run.
	DataPlaneTrials int
	TCPSeconds      int
	// Budgets bound the steps, so that a run ends on time even when the
	// system is slower than the workload needs: step 1's REST writes
	// stop at WriteBudget (the rest of the run works on what was
	// created, and the report says how much that was), its wait for
	// realization at RealizeBudget, step 2 at LatencyBudget.
	WriteBudget   time.Duration
	RealizeBudget time.Duration
	LatencyBudget time.Duration
	// Timeout bounds one system's run, steps 4 and 5 included: step 2
	// ends early when it would leave too little for the steps after it.
	// With several systems (-systems ferry,ovn) the run takes longer.
	Timeout time.Duration
	// IdleWindow is how long the control plane's CPU use is watched
	// after step 1 with nothing changing.
	IdleWindow time.Duration
	// Step 6, the cost of ferryd's data-plane probes: ProbeSwitches
	// switches on ProbeHypervisors fresh hypervisors, ferryd's CPU read
	// over ProbeWindow (0: skip the step) with probes on and off, each
	// after ProbeSettle.
	ProbeHypervisors int
	ProbeSwitches    int
	ProbeWindow      time.Duration
	ProbeSettle      time.Duration
}

func (p Profile) span() int {
	if p.Span <= 0 || p.Span > p.Hypervisors {
		return p.Hypervisors
	}
	return p.Span
}

// Profiles are the named profiles: "default" (make bench), "small" (make
// bench SMALL=1) and "tiny" (the CI correctness test).
var Profiles = map[string]Profile{
	"default": {
		Name: "default", Hypervisors: 16, Switches: 500, Ports: 10000, Concurrency: 4,
		LatencySamples: 1000, BulkSwitches: 100, VTEPMACs: 20000, DataPlaneTrials: 50, TCPSeconds: 10,
		WriteBudget: 6 * time.Minute, RealizeBudget: 3 * time.Minute, LatencyBudget: 6 * time.Minute, Timeout: 14 * time.Minute,
		IdleWindow:       10 * time.Second,
		ProbeHypervisors: 16, ProbeSwitches: 500, ProbeWindow: 30 * time.Second, ProbeSettle: 5 * time.Second,
	},
	"small": {
		Name: "small", Hypervisors: 2, Switches: 20, Ports: 200, Concurrency: 4,
		LatencySamples: 50, BulkSwitches: 10, VTEPMACs: 2000, DataPlaneTrials: 10, TCPSeconds: 3,
		WriteBudget: 30 * time.Second, RealizeBudget: 15 * time.Second, LatencyBudget: 20 * time.Second, Timeout: 110 * time.Second,
		IdleWindow:       5 * time.Second,
		ProbeHypervisors: 4, ProbeSwitches: 50, ProbeWindow: 10 * time.Second, ProbeSettle: 3 * time.Second,
	},
	"tiny": {
		Name: "tiny", Hypervisors: 2, Switches: 4, Ports: 16, Concurrency: 2,
		LatencySamples: 5, BulkSwitches: 2, VTEPMACs: 200, DataPlaneTrials: 0, TCPSeconds: 1,
		WriteBudget: 15 * time.Second, RealizeBudget: 10 * time.Second, LatencyBudget: 10 * time.Second, Timeout: time.Minute,
		IdleWindow:       2 * time.Second,
		ProbeHypervisors: 2, ProbeSwitches: 4, ProbeWindow: time.Second, ProbeSettle: 1500 * time.Millisecond,
	},
}

// ProfileNames lists the profiles, sorted.
func ProfileNames() []string {
	var out []string
	for n := range Profiles {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Check rejects a profile the harness cannot run.
func (p Profile) Check() error {
	var bad []string
	if p.Hypervisors < 2 {
		bad = append(bad, "hypervisors must be at least 2")
	}
	if p.Hypervisors > 250 {
		bad = append(bad, "hypervisors must be at most 250")
	}
	if p.Switches < 1 || p.Ports < p.Switches {
		bad = append(bad, "need at least one switch and one port per switch")
	}
	if p.Switches > 9999 || p.Ports+p.LatencySamples > 99999 {
		bad = append(bad, "at most 9,999 switches and 99,999 ports")
	}
	if p.WriteBudget <= 0 || p.RealizeBudget <= 0 || p.LatencyBudget <= 0 {
		bad = append(bad, "every step needs a time budget")
	}
	if p.ProbeWindow > 0 && (p.ProbeHypervisors < 2 || p.ProbeHypervisors > 250 || p.ProbeSwitches < 1 || p.ProbeSwitches > 9999) {
		bad = append(bad, "the probe step needs 2-250 hypervisors and 1-9,999 switches")
	}
	if p.Concurrency < 1 {
		bad = append(bad, "concurrency must be at least 1")
	}
	if len(bad) > 0 {
		return fmt.Errorf("bench: profile %s: %s", p.Name, strings.Join(bad, "; "))
	}
	return nil
}

// String summarises the workload for the report.
func (p Profile) String() string {
	s := fmt.Sprintf("%d hypervisors, %d switches, %d ports (each switch on %d hypervisors), %d latency samples, %d VTEP MACs, %d data-plane trials",
		p.Hypervisors, p.Switches, p.Ports, p.span(), p.LatencySamples, p.VTEPMACs, p.DataPlaneTrials)
	if p.ProbeWindow > 0 {
		s += fmt.Sprintf("; probe step: %d hypervisors, %d switches, %v windows", p.ProbeHypervisors, p.ProbeSwitches, p.ProbeWindow)
	}
	return s
}
