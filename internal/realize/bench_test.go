package realize

import (
	"fmt"
	"net"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
)

// scale builds nChassis chassis and nSwitches switches with portsPer ports
// each, spread round-robin over the chassis.
func scale(nChassis, nSwitches, portsPer int) (*model.Snapshot, map[string][]Interface) {
	snap := &model.Snapshot{Generation: 1}
	for i := 0; i < nChassis; i++ {
		snap.Chassis = append(snap.Chassis, model.Chassis{Name: fmt.Sprintf("hv%02d", i),
			TunnelIP: net.IPv4(198, 18, byte(1+i/200), byte(1+i%200)).To4(), Bridge: "br-int", Encaps: []string{"vxlan", "gre"}})
	}
	obs := make(map[string][]Interface)
	n := 0
	for s := 0; s < nSwitches; s++ {
		sw := model.Switch{Name: fmt.Sprintf("sw%04d", s), VNI: uint32(1000 + s), Encap: "vxlan", Generation: 1}
		for p := 0; p < portsPer; p++ {
			id := fmt.Sprintf("port-%d-%d", s, p)
			sw.Ports = append(sw.Ports, model.Port{Switch: sw.Name, Name: fmt.Sprintf("p%03d", p), IfaceID: id})
			ch := snap.Chassis[n%nChassis].Name
			obs[ch] = append(obs[ch], Interface{Name: id, IfaceID: id, Active: true, OFPort: len(obs[ch]) + 1,
				MAC: net.HardwareAddr{2, 0, byte(n >> 16), byte(n >> 8), byte(n), 1}})
			n++
		}
		snap.Switches = append(snap.Switches, sw)
	}
	return snap, obs
}

// BenchmarkDesiredChassis: one chassis' full desired state with 10,000
// ports in 500 switches on 16 chassis.
func BenchmarkDesiredChassis(b *testing.B) {
	snap, obs := scale(16, 500, 20)
	bindings := Bind(snap, obs)
	in := ChassisInputs{Snapshot: snap, Bindings: bindings, Chassis: snap.Chassis[0], Controller: "tcp:198.18.255.1:6653"}
	b.ReportAllocs()
	var flows int
	for b.Loop() {
		flows = len(DesiredChassis(in).Flows)
	}
	b.ReportMetric(float64(flows), "flows")
}

// BenchmarkBind: binding 10,000 ports to their chassis.
func BenchmarkBind(b *testing.B) {
	snap, obs := scale(16, 500, 20)
	b.ReportAllocs()
	for b.Loop() {
		Bind(snap, obs)
	}
}

// BenchmarkNoopDiff: the cost of a pass that finds nothing to do.
func BenchmarkNoopDiff(b *testing.B) {
	snap, obs := scale(16, 500, 20)
	st := DesiredChassis(ChassisInputs{Snapshot: snap, Bindings: Bind(snap, obs), Chassis: snap.Chassis[0]})
	inst := NewInstalled()
	inst.Apply(DiffFlows(inst, st.Flows, st.Groups))
	b.ReportAllocs()
	for b.Loop() {
		if p := DiffFlowsRefs(inst, st.Flows, st.Refs, st.Groups); !p.Empty() {
			b.Fatal("not a no-op")
		}
	}
}

// BenchmarkCachedPortAdd: a chassis' desired state after one port is added
// to one of 500 switches (10,000 ports, 16 chassis), with the cache warm.
func BenchmarkCachedPortAdd(b *testing.B) {
	snap, obs := scale(16, 500, 20)
	c := NewChassisCache()
	in := ChassisInputs{Snapshot: snap, Bindings: Bind(snap, obs), Chassis: snap.Chassis[0]}
	c.Desired(in)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// Alternate one extra port on and off the first switch.
		s2 := *snap
		s2.Switches = append([]model.Switch(nil), snap.Switches...)
		if i%2 == 0 {
			sw := s2.Switches[0]
			sw.Ports = append(append([]model.Port(nil), sw.Ports...), model.Port{Switch: sw.Name, Name: "zz", IfaceID: "port-0-0"})
			s2.Switches[0] = sw
		}
		i++
		in.Snapshot = &s2
		c.Desired(in)
	}
}
