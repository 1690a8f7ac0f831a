package realize

import (
	"fmt"
	"net"
	"testing"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
)

// scale builds nChassis chassis and nSwitches switches with portsPer ports
// each, spread round-robin over the chassis.
func scale(nChassis, nSwitches, portsPer int) (*model.Snapshot, map[string][]hypervisor.VIF) {
	snap := &model.Snapshot{Generation: 1}
	for i := 0; i < nChassis; i++ {
		snap.Chassis = append(snap.Chassis, model.Chassis{Name: fmt.Sprintf("hv%02d", i),
			TunnelIP: net.IPv4(198, 18, byte(1+i/200), byte(1+i%200)).To4(), Bridge: "br-int", Encaps: []string{"vxlan", "gre"}})
	}
	obs := make(map[string][]hypervisor.VIF)
	n := 0
	for s := 0; s < nSwitches; s++ {
		sw := model.Switch{Name: fmt.Sprintf("sw%04d", s), VNI: uint32(1000 + s), Encap: "vxlan", Generation: 1}
		for p := 0; p < portsPer; p++ {
			id := fmt.Sprintf("port-%d-%d", s, p)
			sw.Ports = append(sw.Ports, model.Port{Switch: sw.Name, Name: fmt.Sprintf("p%03d", p), IfaceID: id})
			ch := snap.Chassis[n%nChassis].Name
			obs[ch] = append(obs[ch], hypervisor.VIF{Name: id, IfaceID: id, Active: true, OFPort: len(obs[ch]) + 1,
				MAC: net.HardwareAddr{2, 0, byte(n >> 16), byte(n >> 8), byte(n), 1}})
			n++
		}
		snap.Switches = append(snap.Switches, sw)
	}
	return snap, obs
}

// BenchmarkDesiredChassis: one chassis' full desired state from scratch
// with 10,000 ports in 500 switches on 16 chassis.
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

// withPort returns snap with one more port on its first switch, sharing
// every other switch (as the northbound's snapshots do).
func withPort(snap *model.Snapshot, gen int64) *model.Snapshot {
	s2 := *snap
	s2.Generation = gen
	s2.Switches = append([]model.Switch(nil), snap.Switches...)
	sw := s2.Switches[0]
	sw.Generation = gen
	sw.Ports = append(append([]model.Port(nil), sw.Ports...), model.Port{Switch: sw.Name, Name: "zz", IfaceID: "port-0-0x"})
	s2.Switches[0] = sw
	return &s2
}

// BenchmarkPortAdd is the cost of one port add at different estate sizes
// (20 ports per switch, 16 chassis): the estate step every device shares,
// and one chassis' pass over the changed switch. Neither should grow with
// the number of switches beyond the estate's per-switch comparison.
func BenchmarkPortAdd(b *testing.B) {
	for _, switches := range []int{100, 500, 2000} {
		snap, obs := scale(16, switches, 20)
		obs["hv00"] = append(obs["hv00"], hypervisor.VIF{Name: "x", IfaceID: "port-0-0x", Active: true, OFPort: 9999,
			MAC: net.HardwareAddr{2, 9, 9, 9, 9, 9}})
		in := EstateInputs{Snapshot: snap, VIFs: obs, VIFsVersion: 1}
		e, _ := NextEstate(nil, in)
		br := NewBridge(nil, nil)
		bin := BridgeInputs{Estate: e, Chassis: snap.Chassis[0], Full: true}
		br.Commit(br.Plan(bin))
		snaps := []*model.Snapshot{withPort(snap, 2), snap}
		b.Run(fmt.Sprintf("estate/switches=%d", switches), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				in.Snapshot = snaps[i%2]
				e, _ = NextEstate(e, in)
				i++
			}
		})
		b.Run(fmt.Sprintf("chassis-pass/switches=%d", switches), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				in.Snapshot = snaps[i%2]
				var dirty []string
				e, dirty = NextEstate(e, in)
				p := br.Plan(BridgeInputs{Estate: e, Chassis: snap.Chassis[0], Dirty: dirty})
				if p.Flows.Empty() || len(p.Recomputed) != 1 {
					b.Fatalf("pass touched %d switches, plan empty %v", len(p.Recomputed), p.Flows.Empty())
				}
				br.Commit(p)
				i++
			}
		})
	}
}

// BenchmarkFullNoop: a from-scratch pass (resync) that finds nothing to do,
// 10,000 ports in 500 switches.
func BenchmarkFullNoop(b *testing.B) {
	snap, obs := scale(16, 500, 20)
	e, _ := NextEstate(nil, EstateInputs{Snapshot: snap, VIFs: obs, VIFsVersion: 1})
	br := NewBridge(nil, nil)
	in := BridgeInputs{Estate: e, Chassis: snap.Chassis[0], Full: true}
	br.Commit(br.Plan(in))
	b.ReportAllocs()
	for b.Loop() {
		if p := br.Plan(in); !p.Flows.Empty() {
			b.Fatal("not a no-op")
		}
	}
}
