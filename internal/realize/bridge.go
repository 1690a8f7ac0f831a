package realize

import (
	"slices"
	"sort"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow"
)

// Bridge is what ferry holds on one chassis' bridge, switch by switch, and
// the engine that turns estate changes into one pass' changes: the unit of
// work is (chassis, switch). A pass recomputes only the switches that
// changed since the last one (or all of them: the from-scratch pass after
// a dump, a failed commit or on resync) and diffs each against what that
// switch has installed. It is filled from a dump after every (re)connect
// and changes only when a plan is committed. Not safe for concurrent use:
// one per device loop.
type Bridge struct {
	units map[string]*unit
	base  unit // the bridge-wide flows (table-miss drops)
	// stray holds dumped flows of ferry's that no unit has claimed yet;
	// a full pass claims or deletes them all.
	stray map[openflow.FlowRef]struct{}
	// groups holds every ferry group on the bridge, by ID, with its text.
	groups  map[uint32]string
	tunnels map[string]hypervisor.Tunnel // in use by some unit, with their ofports
	users   map[string]int               // tunnel name → units using it
	owned   int                          // flows the units and base hold
}

// unit is what one switch has installed on the bridge.
type unit struct {
	refs    []openflow.FlowRef // sorted by compareRefs
	groups  []uint32           // sorted
	tunnels []string
	// version and generation are the switch's SwitchView.Version and the
	// northbound generation it was committed at.
	version    uint64
	generation int64
}

// NewBridge returns the engine for a bridge whose dump found flows (ferry's
// cookies only) and groups.
func NewBridge(flows []openflow.FlowRef, groups []openflow.GroupEntry) *Bridge {
	b := &Bridge{
		units:   make(map[string]*unit),
		stray:   make(map[openflow.FlowRef]struct{}, len(flows)),
		groups:  make(map[uint32]string, len(groups)),
		tunnels: make(map[string]hypervisor.Tunnel),
		users:   make(map[string]int),
	}
	for _, f := range flows {
		b.stray[f] = struct{}{}
	}
	for _, g := range groups {
		if openflow.IsFerryGroup(g.ID) {
			b.groups[g.ID] = g.String()
		}
	}
	return b
}

// Flows and Groups count what ferry has installed on the bridge.
func (b *Bridge) Flows() int  { return b.owned + len(b.stray) }
func (b *Bridge) Groups() int { return len(b.groups) }

// Realized returns the switch version and northbound generation the bridge
// holds for a switch it carries.
func (b *Bridge) Realized(sw string) (version uint64, generation int64, ok bool) {
	u := b.units[sw]
	if u == nil {
		return 0, 0, false
	}
	return u.version, u.generation, true
}

// TunnelTo returns the ofport of the bridge's tunnel of type encap to
// remote (a chassis or gateway name).
func (b *Bridge) TunnelTo(remote, encap string) (uint32, bool) {
	for _, t := range b.tunnels {
		if t.Remote == remote && t.Type == encap && t.OFPort > 0 {
			return uint32(t.OFPort), true
		}
	}
	return 0, false
}

// Switches returns the switches the bridge carries, sorted.
func (b *Bridge) Switches() []string {
	out := make([]string, 0, len(b.units))
	for name := range b.units {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// BridgeInputs are what one pass plans from.
type BridgeInputs struct {
	Estate  *Estate
	Chassis model.Chassis
	// Controller is the OpenFlow target the bridge must dial (--advertise).
	Controller string
	// PeerControllers are the other ferryd replicas' targets: the bridge
	// dials every replica, and the one owning the chassis is its master.
	PeerControllers []string
	// Full recomputes every switch; otherwise only Dirty ones are.
	Full  bool
	Dirty []string
	// TunnelOFPorts and UsedOFPorts are as observed on the bridge (see
	// TunnelOFPorts).
	TunnelOFPorts map[string]int
	UsedOFPorts   map[int]bool
}

// BridgePlan is one pass' changes: the bridge's OVSDB configuration (its
// tunnels) and one bundle. Commit records it once both are applied.
type BridgePlan struct {
	Config hypervisor.Config
	Flows  FlowPlan
	// Recomputed lists the switches the pass recomputed, sorted; Full
	// says that is every switch the bridge carries or carried.
	Recomputed []string
	Full       bool

	units   map[string]*unit // touched switches' new state; nil: removed
	base    unit
	claimed []openflow.FlowRef // stray flows that units took over
	tunnels map[string]hypervisor.Tunnel
	users   map[string]int
	groups  map[uint32]string // groups added or modified
}

// Plan computes the pass. It changes nothing: Commit does, after the
// device accepted the plan.
func (b *Bridge) Plan(in BridgeInputs) *BridgePlan {
	e := in.Estate
	ps := peers{chassis: e.Chassis, gateways: e.Gateways}
	self := in.Chassis
	p := &BridgePlan{
		Config: bridgeConfig(self, in.Controller, in.PeerControllers),
		Full:   in.Full,
		units:  make(map[string]*unit),
		users:  make(map[string]int, len(b.users)),
		groups: make(map[uint32]string),
	}

	touched := make(map[string]bool)
	if in.Full {
		for name, sv := range e.Switches {
			if sv.Serves(self.Name) {
				touched[name] = true
			}
		}
		for name := range b.units {
			touched[name] = true
		}
	} else {
		for _, name := range in.Dirty {
			touched[name] = true
		}
		// A tunnel that came back with another ofport (recreated by
		// hand, say) changes the flows of every switch using it.
		for name, t := range b.tunnels {
			if op := in.TunnelOFPorts[name]; op > 0 && op != t.OFPort {
				for sw, u := range b.units {
					if slices.Contains(u.tunnels, name) {
						touched[sw] = true
					}
				}
			}
		}
	}
	names := make([]string, 0, len(touched))
	for name := range touched {
		names = append(names, name)
	}
	sort.Strings(names)
	p.Recomputed = names

	// Tunnels first: the flows name their ofports.
	maps := func(m map[string]int) {
		for k, v := range m {
			p.users[k] = v
		}
	}
	maps(b.users)
	wanted := make(map[string][]hypervisor.Tunnel, len(names))
	fresh := make(map[string]hypervisor.Tunnel)
	for _, name := range names {
		if u := b.units[name]; u != nil {
			for _, t := range u.tunnels {
				p.users[t]--
			}
		}
		sv := e.Switches[name]
		if sv == nil || !sv.Serves(self.Name) {
			continue
		}
		ts := switchTunnels(sv, self, ps)
		wanted[name] = ts
		for _, t := range ts {
			p.users[t.Name]++
			fresh[t.Name] = t
		}
	}
	// The relays' tunnels belong to the bridge, not to a switch.
	for _, name := range b.base.tunnels {
		p.users[name]--
	}
	for _, t := range relayTunnels(self, e.Snapshot.Chassis) {
		p.base.tunnels = append(p.base.tunnels, t.Name)
		p.users[t.Name]++
		if _, ok := fresh[t.Name]; !ok {
			fresh[t.Name] = t
		}
	}
	p.tunnels = make(map[string]hypervisor.Tunnel, len(p.users))
	ports := make(map[string]int, len(p.users))
	used := make(map[int]bool, len(in.UsedOFPorts)+len(b.tunnels))
	for port := range in.UsedOFPorts {
		used[port] = true
	}
	var inUse []string
	for name, n := range p.users {
		if n <= 0 {
			delete(p.users, name)
			continue
		}
		inUse = append(inUse, name)
		t, ok := fresh[name]
		if !ok {
			t = b.tunnels[name]
		}
		p.tunnels[name] = t
		if op := in.TunnelOFPorts[name]; op > 0 {
			ports[name] = op
		} else if have, ok := b.tunnels[name]; ok && have.OFPort > 0 {
			ports[name] = have.OFPort
		}
		if ports[name] > 0 {
			used[ports[name]] = true
		}
	}
	sort.Strings(inUse)
	allocatePorts(inUse, ports, used)
	for _, name := range inUse {
		t := p.tunnels[name]
		t.OFPort = ports[name]
		p.tunnels[name] = t
		p.Config.Tunnels = append(p.Config.Tunnels, t)
	}

	// Then each touched switch's flows and groups, diffed against what it
	// has installed.
	var deleteGroups []uint32
	for _, name := range names {
		old := b.units[name]
		ts, carried := wanted[name]
		if !carried {
			if old != nil {
				p.units[name] = nil
				p.Flows.DeleteFlows = append(p.Flows.DeleteFlows, old.refs...)
				deleteGroups = append(deleteGroups, old.groups...)
			}
			continue
		}
		for i := range ts {
			ts[i].OFPort = ports[ts[i].Name]
		}
		sv := e.Switches[name]
		uf := desiredSwitch(sv, self, ps, ts)
		nu := &unit{version: sv.Version, generation: e.Snapshot.Generation}
		for _, t := range ts {
			nu.tunnels = append(nu.tunnels, t.Name)
		}
		var oldRefs []openflow.FlowRef
		var oldGroups []uint32
		if old != nil {
			oldRefs, oldGroups = old.refs, old.groups
		}
		nu.refs = b.diffFlows(p, oldRefs, uf.flows, uf.refs)
		for _, g := range uf.groups {
			nu.groups = append(nu.groups, g.ID)
			b.diffGroup(p, g)
		}
		slices.Sort(nu.groups)
		for _, id := range oldGroups {
			if _, ok := slices.BinarySearch(nu.groups, id); !ok {
				deleteGroups = append(deleteGroups, id)
			}
		}
		p.units[name] = nu
	}
	base := bridgeFlows()
	p.base.refs = b.diffFlows(p, b.base.refs, base, SortFlows(base))

	if in.Full {
		// What no switch claimed is stale.
		claimed := make(map[openflow.FlowRef]bool, len(p.claimed))
		for _, r := range p.claimed {
			claimed[r] = true
		}
		for r := range b.stray {
			if !claimed[r] {
				p.Flows.DeleteFlows = append(p.Flows.DeleteFlows, r)
			}
		}
		wantGroups := make(map[uint32]bool)
		for _, u := range p.units {
			if u != nil {
				for _, id := range u.groups {
					wantGroups[id] = true
				}
			}
		}
		for id := range b.groups {
			if !wantGroups[id] {
				deleteGroups = append(deleteGroups, id)
			}
		}
	}
	// A group leaving one switch and wanted by another in the same pass
	// (a switch recreated under another name with the same VNI) stays:
	// it is modified, or kept as it is when its buckets did not change,
	// never deleted after its add. OVS would delete with the group every
	// flow that uses it.
	kept := make(map[uint32]bool)
	for _, u := range p.units {
		if u != nil {
			for _, id := range u.groups {
				kept[id] = true
			}
		}
	}
	slices.Sort(deleteGroups)
	for _, id := range slices.Compact(deleteGroups) {
		if _, ok := p.groups[id]; !ok && !kept[id] {
			p.Flows.DeleteGroups = append(p.Flows.DeleteGroups, id)
		}
	}
	slices.SortFunc(p.Flows.DeleteFlows, compareRefs)
	p.Flows.DeleteFlows = slices.Compact(p.Flows.DeleteFlows)
	return p
}

// diffFlows adds to the plan what turns a unit's installed flows into the
// desired ones and returns the unit's new (sorted) references. A desired
// flow found among the stray ones (dumped after a reconnect) is claimed,
// not sent again: that is what makes a restart send no flow_mods.
func (b *Bridge) diffFlows(p *BridgePlan, old []openflow.FlowRef, flows []openflow.Flow, refs []openflow.FlowRef) []openflow.FlowRef {
	idx := make([]int32, len(refs))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(x, y int32) int { return compareRefs(refs[x], refs[y]) })
	out := make([]openflow.FlowRef, 0, len(refs))
	i := 0
	for _, k := range idx {
		r := refs[k]
		if len(out) > 0 && out[len(out)-1] == r {
			continue
		}
		for i < len(old) && compareRefs(old[i], r) < 0 {
			p.Flows.DeleteFlows = append(p.Flows.DeleteFlows, old[i])
			i++
		}
		out = append(out, r)
		if i < len(old) && old[i] == r {
			i++
			continue
		}
		if _, ok := b.stray[r]; ok {
			p.claimed = append(p.claimed, r)
			continue
		}
		p.Flows.AddFlows = append(p.Flows.AddFlows, flows[k])
	}
	p.Flows.DeleteFlows = append(p.Flows.DeleteFlows, old[i:]...)
	return out
}

// diffGroup adds a desired group to the plan unless the bridge has it.
func (b *Bridge) diffGroup(p *BridgePlan, g openflow.GroupEntry) {
	text := g.String()
	have, ok := b.groups[g.ID]
	switch {
	case !ok:
		p.Flows.AddGroups = append(p.Flows.AddGroups, g)
	case have != text:
		p.Flows.ModifyGroups = append(p.Flows.ModifyGroups, g)
	default:
		return
	}
	p.groups[g.ID] = text
}

// Commit records a plan the device applied.
func (b *Bridge) Commit(p *BridgePlan) {
	for _, r := range p.claimed {
		delete(b.stray, r)
	}
	if p.Full {
		clear(b.stray)
	}
	for name, u := range p.units {
		if old := b.units[name]; old != nil {
			b.owned -= len(old.refs)
		}
		if u == nil {
			delete(b.units, name)
			continue
		}
		b.owned += len(u.refs)
		b.units[name] = u
	}
	b.owned += len(p.base.refs) - len(b.base.refs)
	b.base = p.base
	b.tunnels, b.users = p.tunnels, p.users
	for _, id := range p.Flows.DeleteGroups {
		delete(b.groups, id)
	}
	for id, text := range p.groups {
		b.groups[id] = text
	}
}
