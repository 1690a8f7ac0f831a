package nbdb

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/cache"
	libmodel "github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// Snapshot returns the northbound state in the cache as an immutable,
// sorted model.Snapshot. When the client has no cache (it disconnected
// without libovsdb's reconnect option) Snapshot returns the last state the
// client had, so that a lost connection never looks like "everything
// deleted"; before the first connection that is an empty snapshot at
// generation 0.
//
// Every reconcile pass and REST read takes one, so it is cached while the
// generation and the cache's change count stay put, and otherwise built
// from the previous one: a switch whose row the cache did not replace (a
// change to its ports or bindings replaces it too, as the reference set
// and the generation stamp change) keeps its model.Switch, Ports slice and
// all; a changed switch reuses the model.Port of every port row it still
// references. A build costs O(switches + ports of changed switches).
func (db *DB) Snapshot() *model.Snapshot {
	tc, _ := db.cache()
	if tc == nil {
		return db.lastSnapshot()
	}
	// The generation check keeps read-after-write exact (every write of
	// ours bumps it, and the cache already shows it when the write
	// returns); the change count catches foreign writes, whose events
	// libovsdb delivers a moment later.
	fresh := func(st *snapState) bool {
		return st != nil && st.changes == db.changes.Load() && sameGlobal(st.global, readGlobal(tc))
	}
	if st := db.state.Load(); fresh(st) {
		return st.snap
	}
	db.buildMu.Lock()
	defer db.buildMu.Unlock()
	prev := db.state.Load()
	if fresh(prev) {
		return prev.snap
	}
	dirty := db.dirtyRows()
	st, err := db.build(tc, prev, dirty)
	if err != nil {
		db.log.Warn("northbound snapshot", "err", err)
		return db.lastSnapshot()
	}
	db.forgetDirty(dirty)
	db.state.Store(st)
	return st.snap
}

func (db *DB) lastSnapshot() *model.Snapshot {
	if st := db.state.Load(); st != nil {
		return st.snap
	}
	return &model.Snapshot{}
}

// snapState is a snapshot and what it was built from, for the next build.
type snapState struct {
	global  *nb.NBGlobal
	changes uint64 // the cache's change count before the build read
	snap    *model.Snapshot

	// rows are the Logical_Switch rows the snapshot was built from, as
	// the cache held them: a row the cache replaced is a changed switch.
	rows     map[string]libmodel.Model
	switches *children[*switchState] // by row UUID
	// at is each switch's index in snap.Switches, by row UUID.
	at       map[string]int
	ports    *children[model.Port]
	bindings *children[model.GatewayBinding]
	chassis  map[string]chassisState // by row UUID
	gateways map[string]gatewayState // by row UUID
}

type switchState struct {
	row *nb.LogicalSwitch
	sw  model.Switch
}

type chassisState struct {
	row *nb.Chassis
	ch  model.Chassis
}

type gatewayState struct {
	row *nb.Gateway
	gw  model.Gateway
}

// build makes the snapshot of the current cache from prev (nil: from
// scratch), retrying until it has a consistent reading (see read.go).
// dirty are rows updated in place since prev.
func (db *DB) build(tc *cache.TableCache, prev *snapState, dirty map[string]bool) (*snapState, error) {
	if prev == nil {
		prev = &snapState{
			switches: newChildren[*switchState](),
			ports:    newChildren[model.Port](),
			bindings: newChildren[model.GatewayBinding](),
		}
	}
	for try := 0; ; try++ {
		changes := db.changes.Load()
		st, settled, ok := db.buildOnce(tc, prev, dirty)
		switch {
		case settled && ok:
		case settled && try >= 100:
			db.log.Warn("northbound rows newer than NB_Global.generation; was the database changed by hand?", "generation", generationOf(st.global))
			db.oddGeneration.Store(int64(generationOf(st.global)))
			continue
		case try >= 10000:
			return nil, errors.New("northbound cache keeps changing; no consistent reading")
		default:
			runtime.Gosched()
			continue
		}
		st.changes = changes
		st.switches.commit()
		st.ports.commit()
		st.bindings.commit()
		return st, nil
	}
}

// buildOnce reads the cache once. settled: no transaction moved the
// generation during the reading; ok: the rows fit together (or belong to a
// generation known never to fit).
func (db *DB) buildOnce(tc *cache.TableCache, prev *snapState, dirty map[string]bool) (st *snapState, settled, ok bool) {
	before := readGlobal(tc)
	barrier(tc)
	gen := generationOf(before)
	st = &snapState{
		global:   before,
		rows:     tc.Table(nb.LogicalSwitchTable).RowsShallow(),
		switches: prev.switches.next(nil),
		ports:    prev.ports.next(dirty),
		bindings: prev.bindings.next(dirty),
	}
	consistent := true
	portRows, bindingRows := tc.Table(nb.LogicalPortTable), tc.Table(nb.GatewayBindingTable)
	// A switch that appeared, went or was renamed moves the others in
	// the sorted list; anything else keeps every switch where it was.
	membership := prev.snap == nil
	var changed []string
	kept := 0
	for uuid, m := range st.rows {
		old, found := prev.rows[uuid]
		if found {
			kept++
		}
		if old != m || st.ports.dirtyOwner(uuid) || st.bindings.dirtyOwner(uuid) {
			changed = append(changed, uuid)
		}
	}
	if kept != len(prev.rows) {
		membership = true
		for uuid, m := range prev.rows {
			if _, ok := st.rows[uuid]; !ok {
				old := m.(*nb.LogicalSwitch)
				st.ports.forget(old.Ports)
				st.bindings.forget(old.Bindings)
				st.switches.forget([]string{uuid})
				db.freedVNI(old.Vni)
			}
		}
	}
	for _, uuid := range changed {
		r := st.rows[uuid].(*nb.LogicalSwitch)
		if r.Generation > gen {
			consistent = false
		}
		var oldPorts, oldBindings []string
		renamed := false
		switch old, found := prev.rows[uuid]; {
		case !found:
			membership = true
		case old.(*nb.LogicalSwitch).Name != r.Name:
			// Every port and binding carries the switch's name.
			membership, renamed = true, true
			st.ports.forget(old.(*nb.LogicalSwitch).Ports)
			st.bindings.forget(old.(*nb.LogicalSwitch).Bindings)
		default:
			oldPorts, oldBindings = old.(*nb.LogicalSwitch).Ports, old.(*nb.LogicalSwitch).Bindings
		}
		sw := switchFromRow(r)
		var portsOK, bindingsOK bool
		sw.Ports, portsOK = st.ports.resolve(portRows, uuid, r.Ports, oldPorts, renamed, func(m libmodel.Model) model.Port {
			return portFromRow(r.Name, m.(*nb.LogicalPort))
		})
		sw.Bindings, bindingsOK = st.bindings.resolve(bindingRows, uuid, r.Bindings, oldBindings, renamed, func(m libmodel.Model) model.GatewayBinding {
			b := m.(*nb.GatewayBinding)
			return model.GatewayBinding{Switch: r.Name, Gateway: b.Gateway, Port: b.Port, VLAN: uint16(b.VLAN)}
		})
		consistent = consistent && portsOK && bindingsOK
		slices.SortFunc(sw.Ports, func(a, b model.Port) int { return strings.Compare(a.Name, b.Name) })
		slices.SortFunc(sw.Bindings, compareBindings)
		st.switches.set(uuid, &switchState{row: r, sw: sw})
	}
	var chassisOK, gatewaysOK, chassisSame, gatewaysSame bool
	st.chassis, chassisSame, chassisOK = readSmall(tc, nb.ChassisTable, gen, prev.chassis,
		func(r *nb.Chassis) (int, chassisState) {
			return r.Generation, chassisState{row: r, ch: chassisFromRow(r)}
		},
		func(c chassisState) *nb.Chassis { return c.row })
	st.gateways, gatewaysSame, gatewaysOK = readSmall(tc, nb.GatewayTable, gen, prev.gateways,
		func(r *nb.Gateway) (int, gatewayState) {
			return r.Generation, gatewayState{row: r, gw: gatewayFromRow(r)}
		},
		func(g gatewayState) *nb.Gateway { return g.row })
	settled = sameGlobal(before, readGlobal(tc))
	st.snap = st.assemble(prev, membership, changed, chassisSame, gatewaysSame)
	ok = consistent && chassisOK && gatewaysOK || int64(gen) == db.oddGeneration.Load()
	return st, settled, ok
}

// readSmall reads a small table (chassis, gateways) whole, converting only
// the rows the cache replaced since prev. same: every row is prev's.
func readSmall[R comparable, S any](tc *cache.TableCache, table string, gen int, prev map[string]S,
	conv func(R) (int, S), rowOf func(S) R) (out map[string]S, same, ok bool) {
	rows := tc.Table(table).RowsShallow()
	out = make(map[string]S, len(rows))
	same, ok = len(rows) == len(prev), true
	for uuid, m := range rows {
		r := m.(R)
		if old, found := prev[uuid]; found && rowOf(old) == r {
			out[uuid] = old
			continue
		}
		same = false
		g, s := conv(r)
		if g > gen {
			ok = false
		}
		out[uuid] = s
	}
	return out, same, ok
}

// assemble makes the sorted model.Snapshot, sharing with prev's every
// slice that did not change (snapshots are immutable).
func (st *snapState) assemble(prev *snapState, membership bool, changed []string, chassisSame, gatewaysSame bool) *model.Snapshot {
	s := &model.Snapshot{Generation: int64(generationOf(st.global))}
	if !membership && len(changed) == 0 && chassisSame && gatewaysSame && s.Generation == prev.snap.Generation {
		// Only events of changes already read (or none): the same
		// snapshot, so that consumers see no change.
		st.at = prev.at
		return prev.snap
	}
	switch {
	case membership:
		order := make([]*switchState, 0, len(st.rows))
		for uuid := range st.rows {
			order = append(order, st.switches.get(uuid))
		}
		slices.SortFunc(order, func(a, b *switchState) int { return strings.Compare(a.sw.Name, b.sw.Name) })
		s.Switches = make([]model.Switch, len(order))
		st.at = make(map[string]int, len(order))
		for i, ss := range order {
			s.Switches[i] = ss.sw
			st.at[ss.row.UUID] = i
		}
	case len(changed) == 0:
		s.Switches, st.at = prev.snap.Switches, prev.at
	default:
		s.Switches, st.at = slices.Clone(prev.snap.Switches), prev.at
		for _, uuid := range changed {
			s.Switches[st.at[uuid]] = st.switches.get(uuid).sw
		}
	}
	if chassisSame && prev.snap != nil {
		s.Chassis = prev.snap.Chassis
	} else {
		s.Chassis = sorted(st.chassis, func(c chassisState) model.Chassis { return c.ch },
			func(a, b model.Chassis) int { return strings.Compare(a.Name, b.Name) })
	}
	if gatewaysSame && prev.snap != nil {
		s.Gateways = prev.snap.Gateways
	} else {
		s.Gateways = sorted(st.gateways, func(g gatewayState) model.Gateway { return g.gw },
			func(a, b model.Gateway) int { return strings.Compare(a.Name, b.Name) })
	}
	return s
}

func sorted[S, T any](m map[string]S, conv func(S) T, cmp func(a, b T) int) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, conv(v))
	}
	slices.SortFunc(out, cmp)
	return out
}

// children resolves switches' references to the rows of a child table
// (Logical_Port, Gateway_Binding) through what earlier builds resolved.
// ferry never updates a child row in place (it replaces it: a new UUID),
// so a UUID resolved once stays right; rows someone else updated in place
// are reported by the cache's events (dirty) and resolved again.
type children[T any] struct {
	known map[string]child[T] // shared by the builds; changed only by commit
	delta map[string]child[T] // resolved by this build
	gone  []string            // no longer referenced, forgotten at commit
	dirty map[string]bool     // updated in place: resolve again
	// dirtyOwners are the switches that reference a dirty row.
	dirtyOwners map[string]bool
}

type child[T any] struct {
	v     T
	owner string // the referencing switch's row UUID
}

func newChildren[T any]() *children[T] {
	return &children[T]{known: map[string]child[T]{}}
}

// next starts the children of a new build.
func (c *children[T]) next(dirty map[string]bool) *children[T] {
	n := &children[T]{known: c.known, delta: map[string]child[T]{}, dirty: dirty, dirtyOwners: map[string]bool{}}
	for uuid := range dirty {
		if ch, ok := c.known[uuid]; ok {
			n.dirtyOwners[ch.owner] = true
		}
	}
	return n
}

func (c *children[T]) dirtyOwner(owner string) bool { return c.dirtyOwners[owner] }

// get returns what this build or an earlier one resolved for uuid.
func (c *children[T]) get(uuid string) T {
	if ch, ok := c.delta[uuid]; ok {
		return ch.v
	}
	return c.known[uuid].v
}

// set records v for uuid in this build.
func (c *children[T]) set(uuid string, v T) { c.delta[uuid] = child[T]{v: v} }

// resolve returns the values of the rows refs names (owned by owner, which
// referenced oldRefs when last resolved; again: resolve everything anew)
// and whether every reference resolved.
func (c *children[T]) resolve(rc *cache.RowCache, owner string, refs, oldRefs []string, again bool, conv func(libmodel.Model) T) ([]T, bool) {
	out := make([]T, 0, len(refs))
	ok, hits := true, 0
	for _, u := range refs {
		if ch, found := c.known[u]; found && !again && ch.owner == owner && !c.dirty[u] {
			out = append(out, ch.v)
			hits++
			continue
		}
		var m libmodel.Model
		if rc != nil {
			m = rc.Row(u)
		}
		if m == nil {
			ok = false
			continue
		}
		v := conv(m)
		c.delta[u] = child[T]{v: v, owner: owner}
		out = append(out, v)
	}
	// Every old reference still there was a hit; count before building a
	// set, which only a removal (or a rename, which resolves everything
	// again) pays for.
	if hits != len(oldRefs) {
		keep := make(map[string]bool, len(refs))
		for _, u := range refs {
			keep[u] = true
		}
		for _, u := range oldRefs {
			if !keep[u] {
				c.gone = append(c.gone, u)
			}
		}
	}
	return out, ok
}

// forget drops the rows of a switch that went.
func (c *children[T]) forget(refs []string) { c.gone = append(c.gone, refs...) }

// commit makes what this build resolved known to the next one.
func (c *children[T]) commit() {
	for _, u := range c.gone {
		delete(c.known, u)
	}
	for u, ch := range c.delta {
		c.known[u] = ch
	}
}

func compareBindings(a, b model.GatewayBinding) int {
	if c := strings.Compare(a.Gateway, b.Gateway); c != 0 {
		return c
	}
	if c := strings.Compare(a.Port, b.Port); c != 0 {
		return c
	}
	return int(a.VLAN) - int(b.VLAN)
}

func gatewayFromRow(r *nb.Gateway) model.Gateway {
	gw := model.Gateway{Name: r.Name, OVSDB: r.Ovsdb, Generation: int64(r.Generation),
		Limits: model.Limits{MACsPerSwitch: r.MACsPerSwitch, MACsTotal: r.MACsTotal, Tunnels: r.Tunnels}}
	if r.PhysicalSwitch != nil {
		gw.PhysicalSwitch = *r.PhysicalSwitch
	}
	gw.SourceNode, gw.SourceNodeEvidence = r.ExternalIDs[SourceNodeKey], r.ExternalIDs[SourceNodeEvidenceKey]
	return gw
}

func switchFromRow(r *nb.LogicalSwitch) model.Switch {
	nets := slices.Clone(r.XenserverNetworks)
	slices.Sort(nets)
	return model.Switch{
		Name:              r.Name,
		VNI:               uint32(r.Vni),
		Encap:             r.Encap,
		Generation:        int64(r.Generation),
		XenServerNetworks: nets,
	}
}

// portFromRow takes the switch name from the referencing switch rather than
// the denormalized column, which exists only for the [switch,name] index.
func portFromRow(switchName string, r *nb.LogicalPort) model.Port {
	p := model.Port{Switch: switchName, Name: r.Name, IfaceID: r.IfaceID}
	if r.MAC != nil {
		// Written by DB in canonical form; a foreign writer's garbage
		// reads as "no MAC" (take the Interface's attached-mac).
		if mac, err := net.ParseMAC(*r.MAC); err == nil && len(mac) == 6 {
			p.MAC = mac
		}
	}
	if r.PortSecurity != nil {
		on := *r.PortSecurity
		p.PortSecurity = &on
	}
	// A set: unordered on the wire. An address a foreign writer garbled
	// is left out, which only narrows what the port may send.
	for _, s := range r.IPs {
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" && !slices.Contains(p.IPs, a) {
			p.IPs = append(p.IPs, a)
		}
	}
	slices.SortFunc(p.IPs, netip.Addr.Compare)
	return p
}

func chassisFromRow(r *nb.Chassis) model.Chassis {
	ch := model.Chassis{
		Name:       r.Name,
		OVSDB:      r.Ovsdb,
		TunnelIP:   parseIP(r.TunnelIP),
		Bridge:     r.Bridge,
		Kind:       r.Kind,
		Encaps:     canonicalEncaps(r.Encaps),
		Generation: int64(r.Generation),
		Created:    int64(r.Generation),
	}
	// A changed chassis keeps the generation that registered it.
	if c, err := strconv.ParseInt(r.ExternalIDs[createdKey], 10, 64); err == nil && c > 0 && c < ch.Created {
		ch.Created = c
	}
	if r.UnderlayMTU != nil {
		ch.UnderlayMTU = *r.UnderlayMTU
	}
	if r.DatapathType != nil {
		ch.DatapathType = *r.DatapathType
	}
	// Written by DB checked; a foreign writer's garbage means auto.
	switch v := r.ExternalIDs[OpenFlowKey]; v {
	case model.OpenFlow15, model.OpenFlow13:
		ch.OpenFlow = v
	}
	ch.Relay = r.ExternalIDs[RelayKey] == "true"
	for _, s := range r.OpenflowPeers {
		// Written by DB in canonical form; a foreign writer's garbage
		// authorizes nobody.
		if a, err := netip.ParseAddr(s); err == nil {
			ch.OpenFlowPeers = append(ch.OpenFlowPeers, a.Unmap())
		}
	}
	slices.SortFunc(ch.OpenFlowPeers, netip.Addr.Compare)
	return ch
}

// encapOrder is the order encapsulations are listed in, so that a set read
// back from OVSDB (unordered) compares equal to what was written.
var encapOrder = []string{model.EncapVXLAN, model.EncapGRE}

func canonicalEncaps(in []string) []string {
	out := make([]string, 0, len(in))
	for _, e := range encapOrder {
		if slices.Contains(in, e) {
			out = append(out, e)
		}
	}
	return out
}

// parseIP returns IPv4 addresses in their 4-byte form, as a caller building
// a model.Chassis by hand would.
func parseIP(s string) net.IP {
	ip := net.ParseIP(s)
	if ip4 := ip.To4(); ip4 != nil {
		return ip4
	}
	return ip
}
