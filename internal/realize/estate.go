package realize

import (
	"bytes"
	"net"
	"slices"
	"sort"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
)

// SwitchView is one logical switch with where its ports are bound: with the
// chassis list and the gateways' views, everything any device's desired
// state for the switch depends on. It is immutable; an estate that finds a
// switch's inputs unchanged hands on the same SwitchView.
type SwitchView struct {
	model.Switch // with the ports adopted from XenServer networks
	// Bound holds the bindings of the switch's bound ports, by port name.
	Bound map[string]Binding
	// Carriers are the chassis with at least one bound port, sorted.
	Carriers []string
	// Version is the Seq of the estate in which the switch's inputs last
	// changed: a device that committed the switch at this version holds
	// its current state.
	Version uint64
	// Relayed holds the switch's pairs of endpoints (carriers and
	// gateways) whose traffic goes through a relay, with the relay.
	Relayed map[Pair]string
	// gatewayKey sums up what the switch's gateways contribute (tunnel
	// IP, replication, learned MACs), to notice when that changes;
	// relayKey the same for its relayed pairs.
	gatewayKey, relayKey string
}

// Carries reports whether chassis carries the switch.
func (sv *SwitchView) Carries(chassis string) bool {
	_, ok := slices.BinarySearch(sv.Carriers, chassis)
	return ok
}

// Replicator is the hypervisor that re-floods BUM for the switch's
// gateways that cannot replicate themselves (service_node mode): the first
// carrier by name, so every device agrees without coordination.
func (sv *SwitchView) Replicator() string {
	if len(sv.Carriers) > 0 {
		return sv.Carriers[0]
	}
	return ""
}

func newSwitchView(sw model.Switch, bound map[string]Binding, views map[string]GatewayView, relays Relays) *SwitchView {
	sv := &SwitchView{Switch: sw, Bound: bound}
	for _, p := range sw.Ports {
		if bd, ok := bound[p.Name]; ok && !slices.Contains(sv.Carriers, bd.Chassis) {
			sv.Carriers = append(sv.Carriers, bd.Chassis)
		}
	}
	sort.Strings(sv.Carriers)
	sv.gatewayKey = gatewayKey(sw, views)
	sv.setRelays(views, relays)
	return sv
}

// setRelays fills in the switch's relayed pairs.
func (sv *SwitchView) setRelays(views map[string]GatewayView, relays Relays) {
	sv.Relayed, sv.relayKey = sv.relaysFor(views, relays)
}

// relaysFor returns the switch's relayed pairs among relays and their key.
func (sv *SwitchView) relaysFor(views map[string]GatewayView, relays Relays) (map[Pair]string, string) {
	r := switchRelays(sv.Carriers, SwitchGateways(sv.Switch, views), relays)
	return r, relayKeyOf(r)
}

// viewsOf turns a snapshot and its bindings into switch views (version 0),
// for callers that compute desired state from scratch.
func viewsOf(snap *model.Snapshot, b Bindings, views map[string]GatewayView, relays Relays) map[string]*SwitchView {
	out := make(map[string]*SwitchView, len(snap.Switches))
	for _, sw := range snap.Switches {
		var bound map[string]Binding
		for _, p := range sw.Ports {
			if bd, ok := b[PortKey{sw.Name, p.Name}]; ok {
				if bound == nil {
					bound = make(map[string]Binding)
				}
				bound[p.Name] = bd
			}
		}
		out[sw.Name] = newSwitchView(sw, bound, views, relays)
	}
	return out
}

// Change says that a switch's inputs changed (or that it was deleted) in
// the estate with sequence number Seq.
type Change struct {
	Seq    uint64
	Switch string
}

// maxChanges bounds the change log an estate keeps; a device that fell
// further behind makes a full pass.
const maxChanges = 1 << 16

// Estate is everything devices' desired states are computed from, at one
// moment: the northbound snapshot expanded with adopted VIFs, every
// switch's bindings, every chassis' VIFs and every gateway's view. It is
// immutable and built incrementally (NextEstate): a change costs what it
// touches, and the log of changes tells each device which switches to
// recompute.
type Estate struct {
	// Seq numbers estates; it grows by one per NextEstate.
	Seq uint64
	// Snapshot is the northbound state, expanded (ExpandNetworks).
	Snapshot *model.Snapshot
	Switches map[string]*SwitchView
	Gateways map[string]GatewayView
	Relays   Relays
	// GatewaySwitches lists, per gateway, the switches with a binding on
	// it, sorted.
	GatewaySwitches map[string][]string

	vifs    map[string][]hypervisor.VIF
	vifsVer uint64
	index   ifaceIndex
	// log holds the changes of the last estates, oldest first; older
	// estates share its backing array (entries are never modified).
	log     []Change
	logBase uint64 // changes with Seq <= logBase are no longer in log
}

// VIFs returns the chassis' VIFs the estate was built from.
func (e *Estate) VIFs() map[string][]hypervisor.VIF { return e.vifs }

// Chassis returns a registered chassis by name.
func (e *Estate) Chassis(name string) (model.Chassis, bool) { return e.Snapshot.ChassisByName(name) }

// Binding returns where a logical port is bound.
func (e *Estate) Binding(sw, port string) (Binding, bool) {
	sv := e.Switches[sw]
	if sv == nil {
		return Binding{}, false
	}
	bd, ok := sv.Bound[port]
	return bd, ok
}

// ChangedSince returns the switches whose inputs changed after estate seq
// up to this one, each once. ok is false when the log no longer reaches
// back that far: the caller must recompute everything.
func (e *Estate) ChangedSince(seq uint64) (names []string, ok bool) {
	if seq >= e.Seq {
		return nil, true
	}
	if seq < e.logBase {
		return nil, false
	}
	i := sort.Search(len(e.log), func(i int) bool { return e.log[i].Seq > seq })
	seen := make(map[string]bool, len(e.log)-i)
	for _, c := range e.log[i:] {
		if c.Seq > e.Seq {
			break
		}
		if !seen[c.Switch] {
			seen[c.Switch] = true
			names = append(names, c.Switch)
		}
	}
	return names, true
}

// EstateInputs are what NextEstate builds from.
type EstateInputs struct {
	Snapshot *model.Snapshot
	// VIFs are every chassis' VIFs; VIFsVersion changes whenever any of
	// them does (the same version promises the same VIFs).
	VIFs        map[string][]hypervisor.VIF
	VIFsVersion uint64
	Gateways    map[string]GatewayView
	// Relays are the pairs of endpoints whose traffic goes through a
	// relay (nil: every pair is direct).
	Relays Relays
}

// NextEstate returns the estate after prev (nil: the first) for the given
// inputs and the names of the switches whose inputs changed, deleted ones
// included. Switches whose row, bindings and gateways are unchanged keep
// their SwitchView; only when the chassis list or a VIF changes does it
// rebind every port. The result is what a from-scratch build of the same
// inputs gives, apart from versions (a test checks it).
func NextEstate(prev *Estate, in EstateInputs) (*Estate, []string) {
	e := &Estate{
		Snapshot: ExpandNetworks(in.Snapshot, in.VIFs),
		Gateways: in.Gateways,
		Relays:   in.Relays,
		vifs:     in.VIFs,
		vifsVer:  in.VIFsVersion,
	}
	global := prev == nil || !sameChassisList(prev.Snapshot.Chassis, in.Snapshot.Chassis)
	rebind := global || in.VIFsVersion != prev.vifsVer
	if rebind {
		e.index = newIfaceIndex(in.Snapshot.Chassis, in.VIFs)
	} else {
		e.index = prev.index
	}
	if prev != nil {
		e.Seq, e.log, e.logBase = prev.Seq+1, prev.log, prev.logBase
	} else {
		e.Seq = 1
	}
	e.Switches = make(map[string]*SwitchView, len(e.Snapshot.Switches))
	e.GatewaySwitches = make(map[string][]string)
	var changed []string
	for _, sw := range e.Snapshot.Switches {
		var p *SwitchView
		if prev != nil {
			p = prev.Switches[sw.Name]
		}
		same := p != nil && sameSwitch(p.Switch, sw)
		bound, sameBound := map[string]Binding(nil), same && !rebind
		if sameBound {
			bound = p.Bound
		} else {
			bound = e.index.bindSwitch(sw)
			sameBound = same && sameBindings(p.Bound, bound)
		}
		sv := p
		if global || !sameBound || p.gatewayKey != gatewayKey(sw, in.Gateways) {
			sv = newSwitchView(sw, bound, in.Gateways, in.Relays)
			sv.Version = e.Seq
			changed = append(changed, sw.Name)
		} else if r, key := p.relaysFor(in.Gateways, in.Relays); key != p.relayKey {
			// Only the paths changed: a copy with the new ones (views are
			// immutable).
			c := *p
			c.Relayed, c.relayKey = r, key
			c.Version = e.Seq
			sv = &c
			changed = append(changed, sw.Name)
		}
		e.Switches[sw.Name] = sv
		for _, b := range sw.Bindings {
			if gs := e.GatewaySwitches[b.Gateway]; len(gs) == 0 || gs[len(gs)-1] != sw.Name {
				e.GatewaySwitches[b.Gateway] = append(gs, sw.Name)
			}
		}
	}
	if prev != nil {
		for name := range prev.Switches {
			if _, ok := e.Switches[name]; !ok {
				changed = append(changed, name)
			}
		}
	}
	sort.Strings(changed)
	e.record(changed)
	return e, changed
}

// record appends the estate's changes to the log. When the log is full it
// drops its oldest half: devices that last saw an estate older than what
// remains make a full pass. Appending never disturbs older estates: they
// read only the entries up to their own Seq, and never past the slice
// length they were built with.
func (e *Estate) record(changed []string) {
	if len(e.log)+len(changed) > maxChanges {
		keep := e.log[len(e.log)/2:]
		if len(keep)+len(changed) > maxChanges {
			keep = nil
		}
		if len(keep) > 0 {
			// The first kept estate may have lost some of its entries.
			e.logBase = keep[0].Seq
		} else {
			e.logBase = e.Seq - 1
		}
		e.log = slices.Clone(keep)
	}
	if len(changed) > maxChanges {
		e.log, e.logBase = nil, e.Seq
		return
	}
	for _, name := range changed {
		e.log = append(e.log, Change{Seq: e.Seq, Switch: name})
	}
}

// sameChassisList reports whether two chassis lists give every switch the
// same desired state: a chassis joining, leaving or changing its tunnel
// address or encapsulations changes the tunnels of every switch it
// carries, and such changes are rare enough to recompute everything.
func sameChassisList(a, b []model.Chassis) bool {
	return slices.EqualFunc(a, b, func(x, y model.Chassis) bool {
		return x.Name == y.Name && x.Generation == y.Generation && x.TunnelIP.Equal(y.TunnelIP) &&
			slices.Equal(x.Encaps, y.Encaps) && x.UnderlayMTU == y.UnderlayMTU && x.Relay == y.Relay
	})
}

// sameSwitch compares two versions of a switch. Ports slices shared
// between snapshots (the northbound reuses unchanged switches) compare in
// constant time.
func sameSwitch(a, b model.Switch) bool {
	if a.Name != b.Name || a.VNI != b.VNI || a.Encap != b.Encap || a.Generation != b.Generation ||
		!slices.Equal(a.XenServerNetworks, b.XenServerNetworks) || !slices.Equal(a.Bindings, b.Bindings) ||
		len(a.Ports) != len(b.Ports) {
		return false
	}
	if len(a.Ports) == 0 || &a.Ports[0] == &b.Ports[0] {
		return true
	}
	return slices.EqualFunc(a.Ports, b.Ports, model.SamePortConfig)
}

func sameBindings(a, b map[string]Binding) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y, ok := b[k]
		if !ok || x.Chassis != y.Chassis || x.Interface != y.Interface || x.OFPort != y.OFPort || !bytes.Equal(x.MAC, y.MAC) {
			return false
		}
	}
	return true
}

// gatewayKey sums up what a switch's gateways contribute to every device's
// desired state for it; "" for a switch without bindings.
func gatewayKey(sw model.Switch, views map[string]GatewayView) string {
	if len(sw.Bindings) == 0 {
		return ""
	}
	var b []byte
	for _, gv := range SwitchGateways(sw, views) {
		b = append(b, gv.Name...)
		b = append(b, 0)
		b = append(b, gv.TunnelIP...)
		if gv.SourceNode {
			b = append(b, 1)
		}
		macs := slices.Clone(gv.LocalMACs[sw.Name])
		slices.SortFunc(macs, func(x, y net.HardwareAddr) int { return bytes.Compare(x, y) })
		for _, m := range macs {
			b = append(b, m...)
		}
		b = append(b, 0)
	}
	// A binding on a gateway not yet observed still makes the key differ
	// from none at all.
	return "gw;" + string(b)
}

// TrialEstate is NextEstate for a northbound state that is not committed
// (a dry run). It leaves prev's change log alone: NextEstate appends to the
// log's backing array, which the estate the devices really get next
// shares, so a trial must append to a copy.
func TrialEstate(prev *Estate, in EstateInputs) (*Estate, []string) {
	if prev != nil {
		p := *prev
		p.log = slices.Clip(prev.log)
		prev = &p
	}
	return NextEstate(prev, in)
}
