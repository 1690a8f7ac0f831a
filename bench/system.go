package bench

import (
	"context"
	"fmt"
)

// System is a control plane under test. The harness owns the hypervisors,
// the workload, the clock and the report; a System only knows how to start
// its control plane on those hypervisors, how to create what the workload
// asks for, and how to tell that it is done. Ferry is one; OVN plugs in the
// same way.
//
// Every method may be called with a context that carries the step's
// deadline. Wait methods poll as cheaply as the system allows and return
// when the condition holds (the harness stops its clock then) or the
// context ends.
type System interface {
	// Name is the report's column heading, e.g. "ferry".
	Name() string
	// Version describes what runs, for the report header.
	Version(ctx context.Context) string

	// Start starts the control plane and attaches every hypervisor (whose
	// br-int and VIFs already exist); it returns once all are connected.
	Start(ctx context.Context, hvs []*Hypervisor) error
	// Stop stops the control plane; devices keep their state.
	Stop()

	// CreateSwitch creates a logical switch (no ports).
	CreateSwitch(ctx context.Context, sw Switch) error
	// CreatePort creates a logical port of sw bound to the VIF whose
	// external_ids:iface-id is p.IfaceID.
	CreatePort(ctx context.Context, sw string, p Port) error

	// WaitAll returns once every switch of sws is realized on every
	// hypervisor that carries it, with all its ports bound.
	WaitAll(ctx context.Context, sws []Switch) error
	// WaitSwitch returns once sw (with every port in sw.Ports bound) is
	// realized on every chassis: the latency step's end of a sample.
	WaitSwitch(ctx context.Context, sw Switch) error

	// Crash kills the control plane with SIGKILL.
	Crash(ctx context.Context) error
	// Restart starts it again on the state it had; it returns as soon as
	// the process runs, so that the harness times the catch-up.
	Restart(ctx context.Context) error
	// WaitInStep returns once every device is verified in step with the
	// (unchanged) northbound state after Restart.
	WaitInStep(ctx context.Context) error

	// Counters reads what the system sent to devices since it last
	// started.
	Counters(ctx context.Context) (Counters, error)
	// Processes names the control plane's processes (for RSS and CPU
	// time), the main one first.
	Processes() []NamedPid
}

// NamedPid is one process of a System.
type NamedPid struct {
	Name string
	Pid  int
}

// Counters are device writes a System reports about itself; -1 where it
// cannot tell.
type Counters struct {
	FlowMods    int64   // OpenFlow flow_mods committed
	OVSDBWrites int64   // OVSDB transactions sent to devices
	Bundles     int64   // OpenFlow bundles committed
	BundleTime  float64 // seconds spent committing them
	Passes      int64   // reconcile passes (or the system's unit of work)
}

// Unknown is the value of a Counters field a System cannot report.
const Unknown = -1

// Sub returns c - o field by field, keeping Unknown.
func (c Counters) Sub(o Counters) Counters {
	sub := func(a, b int64) int64 {
		if a == Unknown || b == Unknown {
			return Unknown
		}
		return a - b
	}
	bt := float64(Unknown)
	if c.BundleTime != Unknown && o.BundleTime != Unknown {
		bt = c.BundleTime - o.BundleTime
	}
	return Counters{FlowMods: sub(c.FlowMods, o.FlowMods), OVSDBWrites: sub(c.OVSDBWrites, o.OVSDBWrites),
		Bundles: sub(c.Bundles, o.Bundles), BundleTime: bt, Passes: sub(c.Passes, o.Passes)}
}

// Switch is one logical switch of the workload.
type Switch struct {
	Name  string
	VNI   int
	Ports []Port
}

// Port is one logical port and the VIF it binds to.
type Port struct {
	Name       string
	IfaceID    string
	MAC        string
	Hypervisor int // index into the hypervisors
	VIF        string
}

func (p Port) vif() VIF { return VIF{Name: p.VIF, IfaceID: p.IfaceID, MAC: p.MAC} }

// Workload is what a profile creates: the switches with their ports (step
// 1) and, separately, the ports the latency step adds one at a time and
// the switches the bulk step creates whole.
type Workload struct {
	Switches []Switch
	// Latency ports, in creation order; Switch indexes Switches.
	Latency []LatencyPort
	Bulk    []Switch
}

// BulkCreator is a System that creates a switch with all its ports in one
// call: ferry's PUT /v1/switches/{name}, one OVN northbound transaction
// (what `ovn-nbctl ls-add SW -- lsp-add SW P1 -- ...` sends).
type BulkCreator interface {
	CreateSwitchWithPorts(ctx context.Context, sw Switch) error
}

// LatencyPort is a port the latency step creates.
type LatencyPort struct {
	Switch int
	Port   Port
}

// NewWorkload lays out a profile's switches and ports: switch i spans
// Span hypervisors starting at a stride through the list, its ports placed
// round-robin over them; consecutive switches start one hypervisor further
// on, so that every hypervisor carries about the same number of switches
// and VIFs.
func NewWorkload(p Profile) Workload {
	var w Workload
	m := p.Hypervisors
	span := p.span()
	idx := 0
	mkPort := func(hv int) Port {
		idx++
		return Port{
			Name:       fmt.Sprintf("p%05d", idx),
			IfaceID:    fmt.Sprintf("bench-%05d", idx),
			MAC:        fmt.Sprintf("02:be:%02x:%02x:%02x:%02x", byte(idx>>24), byte(idx>>16), byte(idx>>8), byte(idx)),
			Hypervisor: hv,
			VIF:        fmt.Sprintf("vp%05d", idx),
		}
	}
	hvOf := func(sw, j int) int { return (sw*(span+1) + j%span) % m }
	for i := 0; i < p.Switches; i++ {
		sw := Switch{Name: fmt.Sprintf("sw%04d", i), VNI: 1000 + i}
		n := p.Ports / p.Switches
		if i < p.Ports%p.Switches {
			n++
		}
		for j := 0; j < n; j++ {
			sw.Ports = append(sw.Ports, mkPort(hvOf(i, j)))
		}
		w.Switches = append(w.Switches, sw)
	}
	for k := 0; k < p.LatencySamples; k++ {
		// Scatter samples over switches; the new VM lands on one of the
		// switch's hypervisors.
		s := (k * 37) % p.Switches
		w.Latency = append(w.Latency, LatencyPort{Switch: s, Port: mkPort(hvOf(s, k))})
	}
	for i := 0; i < p.BulkSwitches; i++ {
		k := p.Switches + i // placed as the next switches of step 1
		sw := Switch{Name: fmt.Sprintf("bulk%04d", i), VNI: 1000 + k}
		for j := 0; j < p.Ports/max(p.Switches, 1); j++ {
			sw.Ports = append(sw.Ports, mkPort(hvOf(k, j)))
		}
		w.Bulk = append(w.Bulk, sw)
	}
	return w
}

// VIFs returns every VIF the workload needs, by hypervisor.
func (w Workload) VIFs(hypervisors int) [][]VIF {
	out := make([][]VIF, hypervisors)
	for _, sw := range w.Switches {
		for _, p := range sw.Ports {
			out[p.Hypervisor] = append(out[p.Hypervisor], p.vif())
		}
	}
	for _, lp := range w.Latency {
		out[lp.Port.Hypervisor] = append(out[lp.Port.Hypervisor], lp.Port.vif())
	}
	for _, sw := range w.Bulk {
		for _, p := range sw.Ports {
			out[p.Hypervisor] = append(out[p.Hypervisor], p.vif())
		}
	}
	return out
}
