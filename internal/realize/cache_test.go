package realize

import (
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
)

func stateSummary(st ChassisState) string {
	refs := make([]string, 0, len(st.Flows))
	for _, f := range st.Flows {
		refs = append(refs, f.String())
	}
	sort.Strings(refs)
	var groups, tunnels []string
	for _, g := range st.Groups {
		groups = append(groups, g.String())
	}
	for _, t := range st.Tunnels {
		tunnels = append(tunnels, fmt.Sprintf("%s:%s@%d", t.Name, t.Type, t.OFPort))
	}
	return fmt.Sprintf("switches %v\ntunnels %v\ngroups %v\nflows %v", st.Switches, tunnels, groups, refs)
}

// The cache gives exactly DesiredChassis' answer through a random sequence
// of port additions, removals, moves, switch deletions and gateway MACs.
func TestChassisCacheMatchesFull(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	snap := &model.Snapshot{}
	for i := 0; i < 5; i++ {
		snap.Chassis = append(snap.Chassis, model.Chassis{Name: fmt.Sprintf("hv%d", i),
			TunnelIP: net.IPv4(198, 18, 1, byte(10+i)).To4(), Encaps: []string{"vxlan", "gre"}})
	}
	snap.Chassis[4].Encaps = []string{"vxlan"}
	views := map[string]GatewayView{"gw1": {Name: "gw1", TunnelIP: "198.18.3.31", SourceNode: true, LocalMACs: map[string][]net.HardwareAddr{}}}
	obs := map[string][]Interface{}
	nextPort := 1
	addSwitch := func(i int) {
		enc := "vxlan"
		if i%2 == 1 {
			enc = "gre"
		}
		sw := model.Switch{Name: fmt.Sprintf("s%02d", i), VNI: uint32(100 + i), Encap: enc}
		if i%3 == 0 {
			sw.Bindings = []model.GatewayBinding{{Switch: sw.Name, Gateway: "gw1", Port: "p0"}}
		}
		snap.Switches = append(snap.Switches, sw)
	}
	for i := 0; i < 8; i++ {
		addSwitch(i)
	}
	caches := map[string]*ChassisCache{}
	observed := map[string]map[string]int{} // chassis → tunnel ofports from the last pass
	for step := 0; step < 150; step++ {
		switch op := r.IntN(6); {
		case op <= 2 && len(snap.Switches) > 0: // add a port
			si := r.IntN(len(snap.Switches))
			sw := &snap.Switches[si]
			id := fmt.Sprintf("vif%d", nextPort)
			ch := snap.Chassis[r.IntN(len(snap.Chassis))].Name
			mac := net.HardwareAddr{2, 0, 0, 0, byte(nextPort >> 8), byte(nextPort)}
			obs[ch] = append(obs[ch], Interface{Name: id, IfaceID: id, MAC: mac, Active: true, OFPort: nextPort})
			sw.Ports = append(slices.Clone(sw.Ports), model.Port{Switch: sw.Name, Name: id, IfaceID: id})
			nextPort++
		case op == 3: // move a VIF to another chassis
			from := snap.Chassis[r.IntN(len(snap.Chassis))].Name
			if len(obs[from]) == 0 {
				continue
			}
			i := r.IntN(len(obs[from]))
			v := obs[from][i]
			obs[from] = slices.Delete(slices.Clone(obs[from]), i, i+1)
			to := snap.Chassis[r.IntN(len(snap.Chassis))].Name
			obs[to] = append(obs[to], v)
		case op == 4 && len(snap.Switches) > 2: // delete or re-add a switch
			i := r.IntN(len(snap.Switches))
			snap.Switches = slices.Delete(slices.Clone(snap.Switches), i, i+1)
			if r.IntN(2) == 0 {
				addSwitch(20 + step)
			}
		default: // the gateway learns or forgets a MAC
			v := views["gw1"]
			lm := map[string][]net.HardwareAddr{}
			for _, sw := range snap.Switches {
				if len(sw.Bindings) > 0 && r.IntN(2) == 0 {
					lm[sw.Name] = []net.HardwareAddr{{2, 0xbb, 0, 0, 0, byte(step)}}
				}
			}
			v.LocalMACs = lm
			views["gw1"] = v
		}
		b := Bind(snap, obs)
		for _, ch := range snap.Chassis {
			tp := observed[ch.Name]
			used := map[int]bool{}
			for _, p := range tp {
				used[p] = true
			}
			in := ChassisInputs{Snapshot: snap, Bindings: b, Chassis: ch, Gateways: views, TunnelOFPorts: tp, UsedOFPorts: used}
			full := DesiredChassis(in)
			if caches[ch.Name] == nil {
				caches[ch.Name] = NewChassisCache()
			}
			got := caches[ch.Name].Desired(in)
			if a, b := stateSummary(got), stateSummary(full); a != b {
				t.Fatalf("step %d, %s: cache differs from DesiredChassis\ncache:\n%s\nfull:\n%s", step, ch.Name, a, b)
			}
			for i, f := range got.Flows {
				if got.Refs[i] != f.Ref() {
					t.Fatalf("step %d: ref %d does not match its flow", step, i)
				}
			}
			next := map[string]int{}
			for _, tn := range full.Tunnels {
				next[tn.Name] = tn.OFPort
			}
			observed[ch.Name] = next
		}
	}
}

// Each kind of input change alone reaches the cached switch.
func TestChassisCacheSeesEachInput(t *testing.T) {
	snap, obs, views := gatewayLab(true)
	ch := snap.Chassis[0]
	// observed plays the bridge: the tunnels of the last committed pass.
	observed := map[string]int{}
	run := func(c *ChassisCache, snap *model.Snapshot, obs map[string][]Interface, views map[string]GatewayView) {
		t.Helper()
		used := map[int]bool{}
		for _, p := range observed {
			used[p] = true
		}
		in := ChassisInputs{Snapshot: snap, Bindings: Bind(snap, obs), Chassis: ch, Gateways: views, TunnelOFPorts: observed, UsedOFPorts: used}
		full := DesiredChassis(in)
		if a, b := stateSummary(c.Desired(in)), stateSummary(full); a != b {
			t.Fatalf("cache stale:\n%s\nwant\n%s", a, b)
		}
		observed = map[string]int{}
		for _, tn := range full.Tunnels {
			observed[tn.Name] = tn.OFPort
		}
	}
	c := NewChassisCache()
	run(c, snap, obs, views)
	// The VTEP learns another MAC.
	v := views["gw1"]
	v.LocalMACs = map[string][]net.HardwareAddr{"blue": {mac("02:00:00:00:bb:01"), mac("02:00:00:00:bb:02")}}
	views = map[string]GatewayView{"gw1": v}
	run(c, snap, obs, views)
	// The VTEP can no longer replicate: hv1 becomes blue's replicator.
	v.SourceNode = false
	views = map[string]GatewayView{"gw1": v}
	run(c, snap, obs, views)
	// A remote VIF's MAC changes (the port gives none: attached-mac).
	obs2 := map[string][]Interface{}
	for k, vs := range obs {
		obs2[k] = slices.Clone(vs)
	}
	obs2["hv3"][0].MAC = mac("52:54:00:00:01:ff")
	run(c, snap, obs2, views)
	// A tunnel port got another ofport (recreated by hand, say).
	observed["fvxc612020d"] = 40000
	run(c, snap, obs2, views)
	// The replicator changes: hv1's blue ports go away.
	obs3 := map[string][]Interface{"hv2": obs2["hv2"], "hv3": obs2["hv3"], "hv1": {{Name: "x", IfaceID: "red-a", OFPort: 9, Active: true}}}
	run(c, snap, obs3, views)
	// A chassis changes its tunnel address.
	snap2 := *snap
	snap2.Chassis = slices.Clone(snap.Chassis)
	snap2.Chassis[2].TunnelIP = net.IPv4(198, 18, 2, 99).To4()
	run(c, &snap2, obs2, views)
}
