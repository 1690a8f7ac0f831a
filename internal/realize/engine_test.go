package realize

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow"
)

// switchTable plays a bridge's OpenFlow tables: what committed plans left.
type switchTable struct {
	flows  map[openflow.FlowRef]string
	groups map[uint32]string
}

func newSwitchTable() *switchTable {
	return &switchTable{flows: map[openflow.FlowRef]string{}, groups: map[uint32]string{}}
}

// apply checks the plan the way OVS would (no add of an existing group, no
// modify or delete of a missing one) and applies it in bundle order.
func (s *switchTable) apply(t *testing.T, p FlowPlan) {
	t.Helper()
	for _, g := range p.AddGroups {
		if _, ok := s.groups[g.ID]; ok {
			t.Fatalf("add of existing group %d", g.ID)
		}
		s.groups[g.ID] = g.String()
	}
	for _, g := range p.ModifyGroups {
		if _, ok := s.groups[g.ID]; !ok {
			t.Fatalf("modify of missing group %d", g.ID)
		}
		s.groups[g.ID] = g.String()
	}
	for _, r := range p.DeleteFlows {
		delete(s.flows, r)
	}
	for _, f := range p.AddFlows {
		s.flows[f.Ref()] = f.String()
	}
	for _, id := range p.DeleteGroups {
		if _, ok := s.groups[id]; !ok {
			t.Fatalf("delete of missing group %d", id)
		}
		delete(s.groups, id)
		// As OVS does: deleting a group deletes the flows that use it.
		suffix := fmt.Sprintf("group:%d", id)
		for r, f := range s.flows {
			if strings.HasSuffix(f, suffix) {
				delete(s.flows, r)
			}
		}
	}
}

func (s *switchTable) dump() ([]openflow.FlowRef, []openflow.GroupEntry) {
	var refs []openflow.FlowRef
	for r := range s.flows {
		refs = append(refs, r)
	}
	var groups []openflow.GroupEntry
	for id, text := range s.groups {
		// A stand-in with the same text: only ID and String matter.
		groups = append(groups, parsedGroup(id, text))
	}
	return refs, groups
}

// parsedGroup rebuilds a GroupEntry from its text, enough for String.
func parsedGroup(id uint32, text string) openflow.GroupEntry {
	g := openflow.GroupEntry{ID: id}
	for _, b := range strings.Split(text, ",bucket=actions=")[1:] {
		var bucket []openflow.Action
		for _, a := range strings.Split(b, ",") {
			var port uint32
			fmt.Sscanf(a, "output:%d", &port)
			bucket = append(bucket, openflow.Output{Port: port})
		}
		g.Buckets = append(g.Buckets, bucket)
	}
	return g
}

func (s *switchTable) summary() string {
	var lines []string
	for _, f := range s.flows {
		lines = append(lines, f)
	}
	for _, g := range s.groups {
		lines = append(lines, g)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func stateSummary(st ChassisState) string {
	var lines []string
	for _, f := range st.Flows {
		lines = append(lines, f.String())
	}
	for _, g := range st.Groups {
		lines = append(lines, g.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func tunnelSummary(ts []hypervisor.Tunnel) string {
	var out []string
	for _, t := range ts {
		out = append(out, fmt.Sprintf("%s:%s>%s@%d", t.Name, t.Type, t.RemoteIP, t.OFPort))
	}
	return strings.Join(out, " ")
}

// device is one chassis as the engine drives it: its Bridge, the tables
// committed plans left, the tunnel ofports the bridge shows, and the
// estate it last saw.
type device struct {
	br      *Bridge
	table   *switchTable
	tunnels map[string]int
	seen    uint64
}

func (d *device) pass(t *testing.T, e *Estate, ch model.Chassis, full bool) *BridgePlan {
	t.Helper()
	dirty, ok := e.ChangedSince(d.seen)
	used := map[int]bool{}
	for _, p := range d.tunnels {
		used[p] = true
	}
	p := d.br.Plan(BridgeInputs{Estate: e, Chassis: ch, Full: full || !ok, Dirty: dirty, TunnelOFPorts: d.tunnels, UsedOFPorts: used})
	d.table.apply(t, p.Flows)
	d.br.Commit(p)
	d.tunnels = map[string]int{}
	for _, tn := range p.Config.Tunnels {
		d.tunnels[tn.Name] = tn.OFPort
	}
	d.seen = e.Seq
	return p
}

// The incremental engine (NextEstate, then one Bridge per chassis planning
// only the switches that changed) leaves every bridge exactly as a
// from-scratch computation says, through random sequences of port
// additions and removals, VIF moves, switch deletions and re-creations,
// gateway MACs and chassis changes, port security turned on and off,
// ports' addresses and VIFs' attached-macs changing; a restarted engine that dumps those
// tables finds nothing to send; and every carried switch is recorded at
// its current version (what switch status reads).
func TestEngineMatchesFromScratch(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { engineSequence(t, seed) })
	}
}

func engineSequence(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 2))
	snap := &model.Snapshot{Generation: 1}
	for i := 0; i < 5; i++ {
		snap.Chassis = append(snap.Chassis, model.Chassis{Name: fmt.Sprintf("hv%d", i),
			TunnelIP: net.IPv4(198, 18, 1, byte(10+i)).To4(), Encaps: []string{"vxlan", "gre"}})
	}
	snap.Chassis[4].Encaps = []string{"vxlan"}
	snap.Chassis[0].Relay = true
	var relays Relays
	views := map[string]GatewayView{"gw1": {Name: "gw1", TunnelIP: "198.18.3.31", SourceNode: true, LocalMACs: map[string][]net.HardwareAddr{}}}
	obs := map[string][]hypervisor.VIF{}
	vifsVer := uint64(1)
	nextPort := 1
	addSwitch := func(i int) {
		enc := "vxlan"
		if i%2 == 1 {
			enc = "gre"
		}
		sw := model.Switch{Name: fmt.Sprintf("s%02d", i), VNI: uint32(100 + i%12), Encap: enc, Generation: snap.Generation}
		if i%3 == 0 {
			sw.Bindings = []model.GatewayBinding{{Switch: sw.Name, Gateway: "gw1", Port: "p0"}}
		}
		for _, o := range snap.Switches {
			if o.VNI == sw.VNI {
				return // VNIs are unique in the northbound
			}
		}
		snap.Switches = append(snap.Switches, sw)
		sort.Slice(snap.Switches, func(a, b int) bool { return snap.Switches[a].Name < snap.Switches[b].Name })
	}
	for i := 0; i < 8; i++ {
		addSwitch(i)
	}
	devices := map[string]*device{}
	var e *Estate
	for step := 0; step < 120; step++ {
		next := *snap
		next.Switches = slices.Clone(snap.Switches)
		next.Chassis = slices.Clone(snap.Chassis)
		snap = &next
		snap.Generation++
		switch op := r.IntN(12); {
		case op <= 2 && len(snap.Switches) > 0: // add a port
			sw := &snap.Switches[r.IntN(len(snap.Switches))]
			id := fmt.Sprintf("vif%d", nextPort)
			ch := snap.Chassis[r.IntN(len(snap.Chassis))].Name
			m := net.HardwareAddr{2, 0, 0, 0, byte(nextPort >> 8), byte(nextPort)}
			obs[ch] = append(slices.Clone(obs[ch]), hypervisor.VIF{Name: id, IfaceID: id, MAC: m, Active: true, OFPort: nextPort})
			vifsVer++
			sw.Ports = append(slices.Clone(sw.Ports), model.Port{Switch: sw.Name, Name: id, IfaceID: id})
			sw.Generation = snap.Generation
			nextPort++
		case op == 3 && len(snap.Switches) > 0: // remove a port
			sw := &snap.Switches[r.IntN(len(snap.Switches))]
			if len(sw.Ports) > 0 {
				i := r.IntN(len(sw.Ports))
				sw.Ports = slices.Delete(slices.Clone(sw.Ports), i, i+1)
				sw.Generation = snap.Generation
			}
		case op == 4: // move a VIF to another chassis
			from := snap.Chassis[r.IntN(len(snap.Chassis))].Name
			if len(obs[from]) == 0 {
				continue
			}
			i := r.IntN(len(obs[from]))
			v := obs[from][i]
			obs[from] = slices.Delete(slices.Clone(obs[from]), i, i+1)
			to := snap.Chassis[r.IntN(len(snap.Chassis))].Name
			obs[to] = append(slices.Clone(obs[to]), v)
			vifsVer++
		case op == 5 && len(snap.Switches) > 2: // delete or re-add a switch
			i := r.IntN(len(snap.Switches))
			old := snap.Switches[i]
			snap.Switches = slices.Delete(snap.Switches, i, i+1)
			switch r.IntN(3) {
			case 0:
				addSwitch(20 + step)
			case 1: // recreated at once under another name: same VNI, same VIFs
				sw := old
				sw.Name = fmt.Sprintf("r%02d", step)
				sw.Generation = snap.Generation
				sw.Ports = nil
				for _, p := range old.Ports {
					p.Switch = sw.Name
					sw.Ports = append(sw.Ports, p)
				}
				sw.Bindings = nil
				for _, b := range old.Bindings {
					b.Switch = sw.Name
					sw.Bindings = append(sw.Bindings, b)
				}
				snap.Switches = append(snap.Switches, sw)
				sort.Slice(snap.Switches, func(a, b int) bool { return snap.Switches[a].Name < snap.Switches[b].Name })
			}
		case op == 6: // a chassis changes its tunnel address
			i := r.IntN(len(snap.Chassis))
			c := snap.Chassis[i]
			c.TunnelIP = net.IPv4(198, 18, 2, byte(step)).To4()
			c.Generation = snap.Generation
			snap.Chassis[i] = c
		case op == 7: // some pairs lose their direct path and go through a relay, or get it back
			ends := []string{"hv1", "hv2", "hv3", "hv4", "gw1"}
			relays = Relays{}
			for i := range ends {
				for j := i + 1; j < len(ends); j++ {
					if r.IntN(4) == 0 {
						relays[PairOf(ends[i], ends[j])] = "hv0"
					}
				}
			}
		case op == 9 && len(snap.Switches) > 0: // port security: default, off, on
			sw := &snap.Switches[r.IntN(len(snap.Switches))]
			if len(sw.Ports) > 0 {
				i := r.IntN(len(sw.Ports))
				sw.Ports = slices.Clone(sw.Ports)
				sw.Ports[i].PortSecurity = []*bool{nil, boolp(false), boolp(true)}[r.IntN(3)]
				sw.Generation = snap.Generation
			}
		case op == 10 && len(snap.Switches) > 0: // a port's addresses change
			sw := &snap.Switches[r.IntN(len(snap.Switches))]
			if len(sw.Ports) > 0 {
				i := r.IntN(len(sw.Ports))
				sw.Ports = slices.Clone(sw.Ports)
				pool := addrs("198.18.100.1", "198.18.100.2", "2001:db8::1", "fe80::1")
				var ips []netip.Addr
				for _, a := range pool {
					if r.IntN(2) == 0 {
						ips = append(ips, a)
					}
				}
				sw.Ports[i].IPs = ips
				sw.Generation = snap.Generation
			}
		case op == 11: // a VIF's attached-mac changes or goes: the port's MAC is known only from its binding
			ch := snap.Chassis[r.IntN(len(snap.Chassis))].Name
			if len(obs[ch]) == 0 {
				continue
			}
			i := r.IntN(len(obs[ch]))
			obs[ch] = slices.Clone(obs[ch])
			if r.IntN(3) == 0 {
				obs[ch][i].MAC = nil
			} else {
				obs[ch][i].MAC = net.HardwareAddr{2, 0xcc, 0, 0, byte(step), byte(i)}
			}
			vifsVer++
		default: // the gateway learns or forgets a MAC
			v := views["gw1"]
			lm := map[string][]net.HardwareAddr{}
			for _, sw := range snap.Switches {
				if len(sw.Bindings) > 0 && r.IntN(2) == 0 {
					lm[sw.Name] = []net.HardwareAddr{{2, 0xbb, 0, 0, 0, byte(step)}}
				}
			}
			v.LocalMACs = lm
			views = map[string]GatewayView{"gw1": v}
		}
		in := EstateInputs{Snapshot: snap, VIFs: obs, VIFsVersion: vifsVer, Gateways: views, Relays: relays}
		e, _ = NextEstate(e, in)
		fresh, _ := NextEstate(nil, in)
		b := Bind(snap, obs)
		for name, sv := range e.Switches {
			fs := fresh.Switches[name]
			if !slices.Equal(sv.Carriers, fs.Carriers) || !sameBindings(sv.Bound, fs.Bound) {
				t.Fatalf("step %d: estate's %s differs from a fresh one: %v %v / %v %v", step, name, sv.Carriers, sv.Bound, fs.Carriers, fs.Bound)
			}
			for _, p := range sv.Ports {
				bd, ok := b[PortKey{name, p.Name}]
				if got, bound := sv.Bound[p.Name]; ok != bound || ok && bd.Chassis != got.Chassis {
					t.Fatalf("step %d: %s/%s bound %v, Bind says %v", step, name, p.Name, sv.Bound[p.Name], bd)
				}
			}
		}
		for _, ch := range snap.Chassis {
			d := devices[ch.Name]
			if d == nil {
				d = &device{br: NewBridge(nil, nil), table: newSwitchTable()}
				devices[ch.Name] = d
			}
			p := d.pass(t, e, ch, false)
			used := map[int]bool{}
			for _, port := range d.tunnels {
				used[port] = true
			}
			full := DesiredChassis(ChassisInputs{Snapshot: e.Snapshot, Bindings: b, Chassis: ch, Gateways: views, Relays: relays,
				TunnelOFPorts: d.tunnels, UsedOFPorts: used})
			if got, want := d.table.summary(), stateSummary(full); got != want {
				t.Fatalf("step %d, %s: bridge differs from DesiredChassis\nbridge:\n%s\nwant:\n%s", step, ch.Name, got, want)
			}
			if got, want := tunnelSummary(p.Config.Tunnels), tunnelSummary(full.Tunnels); got != want {
				t.Fatalf("step %d, %s: tunnels %s, want %s", step, ch.Name, got, want)
			}
			if d.br.Flows() != len(d.table.flows) || d.br.Groups() != len(d.table.groups) {
				t.Fatalf("step %d, %s: engine counts %d flows %d groups, table has %d %d", step, ch.Name,
					d.br.Flows(), d.br.Groups(), len(d.table.flows), len(d.table.groups))
			}
			for _, name := range full.Switches {
				v, _, ok := d.br.Realized(name)
				if !ok || v != e.Switches[name].Version {
					t.Fatalf("step %d, %s: switch %s realized at %d (%v), estate has it at %d", step, ch.Name, name, v, ok, e.Switches[name].Version)
				}
			}
			if !slices.Equal(d.br.Switches(), full.Switches) {
				t.Fatalf("step %d, %s: carries %v, want %v", step, ch.Name, d.br.Switches(), full.Switches)
			}
			// A restarted ferry dumps the tables and sends nothing.
			refs, groups := d.table.dump()
			restarted := &device{br: NewBridge(refs, groups), table: d.table, tunnels: d.tunnels}
			if rp := restarted.br.Plan(BridgeInputs{Estate: e, Chassis: ch, Full: true, TunnelOFPorts: d.tunnels, UsedOFPorts: used}); !rp.Flows.Empty() {
				t.Fatalf("step %d, %s: restart plan not empty: %+v", step, ch.Name, rp.Flows)
			}
		}
	}
}

// A change to one switch wakes only its switch: the estate lists it alone,
// the other switches keep their views (and so their realization), and a
// chassis' pass recomputes and sends that switch's entries only.
func TestChangeTouchesOnlyItsSwitch(t *testing.T) {
	snap, obs := scale(4, 50, 8)
	in := EstateInputs{Snapshot: snap, VIFs: obs, VIFsVersion: 1}
	e, _ := NextEstate(nil, in)
	d := &device{br: NewBridge(nil, nil), table: newSwitchTable()}
	d.pass(t, e, snap.Chassis[0], true)

	obs["hv00"] = append(slices.Clone(obs["hv00"]), hypervisor.VIF{Name: "x", IfaceID: "port-0-0x", Active: true, OFPort: 999,
		MAC: net.HardwareAddr{2, 9, 9, 9, 9, 9}})
	in.VIFs, in.VIFsVersion = obs, 2
	e2, changed := NextEstate(e, in) // a VIF appears that no port names yet
	if len(changed) != 0 {
		t.Fatalf("a VIF no port names changed %v", changed)
	}
	in.Snapshot = withPort(snap, 2)
	e3, changed := NextEstate(e2, in)
	if !slices.Equal(changed, []string{"sw0000"}) {
		t.Fatalf("changed %v, want sw0000", changed)
	}
	for name, sv := range e3.Switches {
		if name != "sw0000" && sv != e.Switches[name] {
			t.Fatalf("%s got a new view", name)
		}
	}
	before := d.table.summary()
	p := d.pass(t, e3, snap.Chassis[0], false)
	if len(p.Recomputed) != 1 {
		t.Fatalf("pass touched %d switches", len(p.Recomputed))
	}
	for _, f := range p.Flows.AddFlows {
		if f.Match.TunID != 1000 && !(f.Match.InPort == 999) {
			t.Fatalf("pass sent a flow of another switch: %s", f)
		}
	}
	if len(p.Flows.AddFlows) == 0 || p.Flows.FlowMods() > 4 || len(p.Flows.ModifyGroups) != 2 {
		t.Fatalf("one port add sent %d flow_mods, %d group mods: %+v", p.Flows.FlowMods(), len(p.Flows.ModifyGroups), p.Flows)
	}
	if d.table.summary() == before {
		t.Fatal("the port add changed nothing")
	}
	for name := range e3.Switches {
		if v, _, ok := d.br.Realized(name); ok && v != e3.Switches[name].Version {
			t.Fatalf("%s is not realized after the pass", name)
		}
	}
}

// Applying a change and then its reverse leaves the tables exactly as they
// were.
func TestApplyRevert(t *testing.T) {
	snap, obs := labSnapshot()
	in := EstateInputs{Snapshot: snap, VIFs: obs, VIFsVersion: 1}
	e, _ := NextEstate(nil, in)
	d := &device{br: NewBridge(nil, nil), table: newSwitchTable()}
	ch := snap.Chassis[2]
	d.pass(t, e, ch, false)
	orig := d.table.summary()

	// Delete red and move blue-b's VIF: flows and groups change.
	snap2 := *snap
	snap2.Generation++
	snap2.Switches = snap.Switches[:1]
	obs2 := map[string][]hypervisor.VIF{"hv1": obs["hv1"], "hv2": obs["hv2"], "hv3": {{Name: "vnet0", IfaceID: "blue-b", MAC: mac("52:54:00:00:01:0b"), Active: true, OFPort: 7}}}
	e, _ = NextEstate(e, EstateInputs{Snapshot: &snap2, VIFs: obs2, VIFsVersion: 2})
	p := d.pass(t, e, ch, false)
	if len(p.Flows.DeleteGroups) != 2 || len(p.Flows.DeleteFlows) == 0 || len(p.Flows.AddFlows) == 0 {
		t.Fatalf("unexpected plan %+v", p.Flows)
	}
	if q := d.pass(t, e, ch, true); !q.Flows.Empty() {
		t.Fatalf("not converged after apply: %+v", q.Flows)
	}
	e, _ = NextEstate(e, EstateInputs{Snapshot: snap, VIFs: obs, VIFsVersion: 3})
	d.pass(t, e, ch, false)
	if got := d.table.summary(); got != orig {
		t.Fatalf("apply then revert differs:\n%s\nwant\n%s", got, orig)
	}
}

// A full pass deletes ferry's flows and groups that nothing wants (left by
// an earlier ferry, say) and keeps the rest.
func TestFullPassDeletesStale(t *testing.T) {
	snap, obs := labSnapshot()
	e, _ := NextEstate(nil, EstateInputs{Snapshot: snap, VIFs: obs, VIFsVersion: 1})
	d := &device{br: NewBridge(nil, nil), table: newSwitchTable()}
	ch := snap.Chassis[0]
	d.pass(t, e, ch, true)
	want := d.table.summary()
	stale := openflow.Flow{Table: openflow.TableL2, Priority: 7}
	d.table.flows[stale.Ref()] = stale.String()
	staleGroup := openflow.GroupEntry{ID: openflow.GroupBase + 2*4242, Buckets: [][]openflow.Action{{openflow.Output{Port: 1}}}}
	d.table.groups[staleGroup.ID] = staleGroup.String()
	refs, groups := d.table.dump()
	d.br = NewBridge(refs, groups)
	p := d.pass(t, e, ch, true)
	if len(p.Flows.DeleteFlows) != 1 || len(p.Flows.DeleteGroups) != 1 || len(p.Flows.AddFlows) != 0 {
		t.Fatalf("plan %+v", p.Flows)
	}
	if got := d.table.summary(); got != want {
		t.Fatalf("after the full pass:\n%s\nwant\n%s", got, want)
	}
}
