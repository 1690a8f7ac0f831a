package vtep

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/ovsdb/rows"
	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

// Ops returns the operations of ONE transaction that brings the VTEP
// database observed in o to d, or an empty slice when nothing differs. It
// validates everything before building anything: on error there are no
// operations to half-apply.
//
// ferry owns, by role, the Logical_Switch rows with description
// Description and a NamePrefix name, their Ucast_Macs_Remote and
// Mcast_Macs_Remote rows, and the vlan_bindings entries pointing at them.
// Nothing else is modified or deleted. vlan_bindings change through
// mutations, so that other controllers' bindings on the same port survive.
//
// An owned logical switch that is no longer desired is unbound and its
// remote MACs deleted; the row itself goes once nothing ferry does not
// write references it any more (the VTEP flushes its Ucast_Macs_Local rows
// after the unbinding), i.e. on a later pass. One still bound on another
// Physical_Switch of the same database is left alone altogether.
func Ops(o *Observed, d Desired) ([]ovsdb.Operation, error) {
	ps, err := o.physicalSwitch(d.PhysicalSwitch)
	if err != nil {
		return nil, err
	}
	switches, bindings, err := normalize(d)
	if err != nil {
		return nil, err
	}

	driven := make(map[string]bool, len(ps.Ports))
	ports := make(map[string]*hwvtep.PhysicalPort, len(ps.Ports))
	for _, pu := range ps.Ports {
		p := o.ports[pu]
		if p == nil {
			continue
		}
		if ports[p.Name] != nil {
			return nil, fmt.Errorf("vtep: %w: physical switch %q has two ports named %q", ErrConflict, ps.Name, p.Name)
		}
		driven[pu] = true
		ports[p.Name] = p
	}
	names := slices.Sorted(maps.Keys(switches))
	for _, name := range names {
		if ls := o.lsByName[name]; ls != nil && !owned(ls) {
			return nil, fmt.Errorf("vtep: %w: logical switch %q exists and is not ferry's (description %q)", ErrConflict, name, ls.Description)
		}
	}
	keys := slices.SortedFunc(maps.Keys(bindings), func(a, b binding) int {
		return cmp.Or(cmp.Compare(a.port, b.port), cmp.Compare(a.vlan, b.vlan))
	})
	for _, k := range keys {
		p := ports[k.port]
		if p == nil {
			return nil, fmt.Errorf("vtep: %w: physical switch %q has no port %q", ErrConflict, ps.Name, k.port)
		}
		if lsu, ok := p.VLANBindings[k.vlan]; ok && !owned(o.lswitches[lsu]) {
			return nil, fmt.Errorf("vtep: %w: port %q VLAN %d of %q is bound to logical switch %q of another controller",
				ErrConflict, k.port, k.vlan, ps.Name, o.lsName(lsu))
		}
	}

	b := &builder{o: o, newLocators: make(map[string]string)}
	lsRef := make(map[string]string, len(names))
	for _, name := range names {
		lsRef[name] = b.logicalSwitch(o.lsByName[name], switches[name])
	}
	for _, name := range slices.Sorted(maps.Keys(ports)) {
		b.bindings(ports[name], bindings, lsRef)
	}
	b.removeUndesired(switches, driven)
	b.bfd(ps, d.BFD)

	// Locators first: the rows above refer to the new ones by name.
	ops := make([]ovsdb.Operation, 0, len(b.newLocators)+len(b.ops))
	for _, ip := range slices.Sorted(maps.Keys(b.newLocators)) {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationInsert, Table: hwvtep.PhysicalLocatorTable,
			UUIDName: b.newLocators[ip], Row: ovsdb.Row{"encapsulation_type": Encapsulation, "dst_ip": ip}})
	}
	return append(ops, b.ops...), nil
}

// builder accumulates the operations of one transaction.
type builder struct {
	o           *Observed
	ops         []ovsdb.Operation
	newLocators map[string]string // IP → named UUID of a locator to insert
}

// locator returns the UUID (or named UUID) of the locator of ip. Call it
// only for a row that will reference it: ovsdb-server drops unreferenced
// locators, so one inserted for nothing would be inserted on every pass.
func (b *builder) locator(ip string) string {
	if u, ok := b.o.locatorByIP[ip]; ok {
		return u
	}
	if n, ok := b.newLocators[ip]; ok {
		return n
	}
	n := rows.NamedUUID("loc", ip)
	b.newLocators[ip] = n
	return n
}

// locatorIs reports whether locator u is the reusable locator of ip.
func (b *builder) locatorIs(u, ip string) bool {
	l := b.o.locators[u]
	return l != nil && reusable(l) && l.DstIP == ip
}

// setIs reports whether locator set u holds exactly the reusable locators
// of ips (sorted, unique).
func (b *builder) setIs(u string, ips []string) bool {
	locs, ok := b.o.sets[u]
	if !ok || len(locs) != len(ips) {
		return false
	}
	have := make([]string, 0, len(locs))
	for _, lu := range locs {
		l := b.o.locators[lu]
		if l == nil || !reusable(l) {
			return false
		}
		have = append(have, l.DstIP)
	}
	slices.Sort(have)
	return slices.Equal(have, ips)
}

func (b *builder) add(op ovsdb.Operation) { b.ops = append(b.ops, op) }

func (b *builder) del(table, u string) {
	b.add(ovsdb.Operation{Op: ovsdb.OperationDelete, Table: table, Where: rows.WhereUUID(u)})
}

func (b *builder) update(table, u string, row ovsdb.Row) {
	b.add(ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: table, Where: rows.WhereUUID(u), Row: row})
}

// logicalSwitch creates or updates one desired logical switch with its
// remote MACs and flood set; ls is the existing (owned) row or nil. It
// returns the UUID, or named UUID, of the logical switch.
func (b *builder) logicalSwitch(ls *hwvtep.LogicalSwitch, w *want) string {
	var ref string
	if ls == nil {
		ref = rows.NamedUUID("ls", w.name)
		row := ovsdb.Row{"name": w.name, "description": Description, "tunnel_key": rows.Optional(w.vni)}
		if w.mode != "" {
			row["replication_mode"] = rows.Optional(w.mode)
		}
		b.add(ovsdb.Operation{Op: ovsdb.OperationInsert, Table: hwvtep.LogicalSwitchTable, UUIDName: ref, Row: row})
	} else {
		ref = ls.UUID
		row := ovsdb.Row{}
		if ls.TunnelKey == nil || *ls.TunnelKey != w.vni {
			row["tunnel_key"] = rows.Optional(w.vni)
		}
		var mode string
		if ls.ReplicationMode != nil {
			mode = *ls.ReplicationMode
		}
		if mode != w.mode {
			if w.mode == "" {
				row["replication_mode"] = ovsdb.OvsSet{GoSet: []any{}}
			} else {
				row["replication_mode"] = rows.Optional(w.mode)
			}
		}
		if len(row) > 0 {
			b.update(hwvtep.LogicalSwitchTable, ls.UUID, row)
		}
	}
	b.ucast(ls, ref, w)
	b.mcast(ls, ref, w)
	return ref
}

// ucast brings the Ucast_Macs_Remote rows of one logical switch to w.macs:
// one row per MAC, pointing at the MAC's locator.
func (b *builder) ucast(ls *hwvtep.LogicalSwitch, ref string, w *want) {
	byMAC := make(map[string][]hwvtep.UcastMacsRemote)
	if ls != nil {
		for _, r := range b.o.ucastRemote[ls.UUID] {
			k := macKey(r.MAC)
			byMAC[k] = append(byMAC[k], r)
		}
	}
	for _, mac := range w.keyMAC {
		ip := w.macs[mac]
		have := byMAC[mac]
		delete(byMAC, mac)
		if len(have) == 0 {
			b.add(ovsdb.Operation{Op: ovsdb.OperationInsert, Table: hwvtep.UcastMacsRemoteTable, Row: ovsdb.Row{
				"MAC": mac, "logical_switch": rows.UUID(ref), "locator": rows.UUID(b.locator(ip))}})
			continue
		}
		row := ovsdb.Row{}
		if have[0].MAC != mac {
			row["MAC"] = mac
		}
		if !b.locatorIs(have[0].Locator, ip) {
			row["locator"] = rows.UUID(b.locator(ip))
		}
		if len(row) > 0 {
			b.update(hwvtep.UcastMacsRemoteTable, have[0].UUID, row)
		}
		for _, extra := range have[1:] {
			b.del(hwvtep.UcastMacsRemoteTable, extra.UUID)
		}
	}
	for _, mac := range slices.Sorted(maps.Keys(byMAC)) {
		for _, r := range byMAC[mac] {
			b.del(hwvtep.UcastMacsRemoteTable, r.UUID)
		}
	}
}

// mcast brings the Mcast_Macs_Remote rows of one logical switch to a
// single unknown-dst row whose locator set is w.flood, or to none when the
// flood list is empty. Locator sets are immutable: a different flood list
// takes a new set, and the old one, unreferenced, is garbage-collected.
func (b *builder) mcast(ls *hwvtep.LogicalSwitch, ref string, w *want) {
	var unknown []hwvtep.McastMacsRemote
	if ls != nil {
		for _, r := range b.o.mcastRemote[ls.UUID] {
			if strings.EqualFold(r.MAC, UnknownDst) {
				unknown = append(unknown, r)
			} else {
				// Only unknown-dst is desired: other multicast MACs in
				// ferry's switch are stale.
				b.del(hwvtep.McastMacsRemoteTable, r.UUID)
			}
		}
	}
	if len(w.flood) == 0 {
		for _, r := range unknown {
			b.del(hwvtep.McastMacsRemoteTable, r.UUID)
		}
		return
	}
	if len(unknown) == 0 {
		b.add(ovsdb.Operation{Op: ovsdb.OperationInsert, Table: hwvtep.McastMacsRemoteTable, Row: ovsdb.Row{
			"MAC": UnknownDst, "logical_switch": rows.UUID(ref), "locator_set": rows.UUID(b.locatorSet(w))}})
		return
	}
	keep := unknown[0]
	row := ovsdb.Row{}
	if keep.MAC != UnknownDst {
		row["MAC"] = UnknownDst
	}
	if !b.setIs(keep.LocatorSet, w.flood) {
		row["locator_set"] = rows.UUID(b.locatorSet(w))
	}
	if len(row) > 0 {
		b.update(hwvtep.McastMacsRemoteTable, keep.UUID, row)
	}
	for _, r := range unknown[1:] {
		b.del(hwvtep.McastMacsRemoteTable, r.UUID)
	}
}

// locatorSet inserts a new Physical_Locator_Set for w's flood list and
// returns its named UUID.
func (b *builder) locatorSet(w *want) string {
	locs := make([]string, 0, len(w.flood))
	for _, ip := range w.flood {
		locs = append(locs, b.locator(ip))
	}
	n := rows.NamedUUID("set", w.name)
	b.add(ovsdb.Operation{Op: ovsdb.OperationInsert, Table: hwvtep.PhysicalLocatorSetTable, UUIDName: n,
		Row: ovsdb.Row{"locators": rows.UUIDSet(locs...)}})
	return n
}

// bindings mutates the vlan_bindings of one port of the driven switch:
// ferry's entries that are not desired go, desired ones come. A rebound
// VLAN is deleted before it is inserted, since an insert mutation never
// overwrites an existing key. Other controllers' entries are not touched
// (Ops has checked that no desired binding collides with one).
func (b *builder) bindings(p *hwvtep.PhysicalPort, want map[binding]string, lsRef map[string]string) {
	var drop []any
	for _, vlan := range slices.Sorted(maps.Keys(p.VLANBindings)) {
		ls := b.o.lswitches[p.VLANBindings[vlan]]
		if !owned(ls) {
			continue
		}
		if w, ok := want[binding{p.Name, vlan}]; ok && w == ls.Name {
			continue
		}
		drop = append(drop, vlan)
	}
	add := make(map[any]any)
	for k, name := range want {
		if k.port != p.Name {
			continue
		}
		if lsu, ok := p.VLANBindings[k.vlan]; ok && b.o.lswitches[lsu] != nil && b.o.lswitches[lsu].Name == name {
			continue
		}
		add[k.vlan] = rows.UUID(lsRef[name])
	}
	var muts []ovsdb.Mutation
	if len(drop) > 0 {
		muts = append(muts, ovsdb.Mutation{Column: "vlan_bindings", Mutator: ovsdb.MutateOperationDelete, Value: ovsdb.OvsSet{GoSet: drop}})
	}
	if len(add) > 0 {
		muts = append(muts, ovsdb.Mutation{Column: "vlan_bindings", Mutator: ovsdb.MutateOperationInsert, Value: ovsdb.OvsMap{GoMap: add}})
	}
	if len(muts) > 0 {
		b.add(ovsdb.Operation{Op: ovsdb.OperationMutate, Table: hwvtep.PhysicalPortTable, Where: rows.WhereUUID(p.UUID), Mutations: muts})
	}
}

// removeUndesired deletes the remote MACs of ferry's logical switches that
// are not desired, and the switches themselves once nothing else refers
// to them. Their bindings on the driven switch's ports are dropped by
// bindings; a switch bound on a port of another Physical_Switch is left
// alone (another pass, for that switch, decides about it).
func (b *builder) removeUndesired(switches map[string]*want, driven map[string]bool) {
	elsewhere := make(map[string]bool)
	for pu, p := range b.o.ports {
		if driven[pu] {
			continue
		}
		for _, lsu := range p.VLANBindings {
			elsewhere[lsu] = true
		}
	}
	var gone []*hwvtep.LogicalSwitch
	for _, ls := range b.o.lswitches {
		if owned(ls) && switches[ls.Name] == nil && !elsewhere[ls.UUID] {
			gone = append(gone, ls)
		}
	}
	slices.SortFunc(gone, func(a, b *hwvtep.LogicalSwitch) int { return cmp.Compare(a.Name, b.Name) })
	for _, ls := range gone {
		ucast := slices.Clone(b.o.ucastRemote[ls.UUID])
		slices.SortFunc(ucast, func(x, y hwvtep.UcastMacsRemote) int {
			return cmp.Or(cmp.Compare(macKey(x.MAC), macKey(y.MAC)), cmp.Compare(x.UUID, y.UUID))
		})
		for _, r := range ucast {
			b.del(hwvtep.UcastMacsRemoteTable, r.UUID)
		}
		for _, r := range b.o.mcastRemote[ls.UUID] {
			b.del(hwvtep.McastMacsRemoteTable, r.UUID)
		}
		if b.o.pinned[ls.UUID] == 0 {
			b.del(hwvtep.LogicalSwitchTable, ls.UUID)
		}
	}
}

// lsName names a logical switch for messages.
func (o *Observed) lsName(u string) string {
	if ls := o.lswitches[u]; ls != nil {
		return ls.Name
	}
	return u
}

// macKey is the form MACs are compared in: ferry writes them lower-case,
// other writers may not.
func macKey(mac string) string {
	if n, err := normalMAC(mac); err == nil {
		return n
	}
	return strings.ToLower(mac)
}

// bfd turns BFD on for the VTEP's tunnels towards the given IPs. Only the
// keys ferry sets are touched (mutate delete + insert), so a VTEP's other
// bfd_params survive.
func (b *builder) bfd(ps *hwvtep.PhysicalSwitch, remotes []string) {
	want := make(map[string]bool, len(remotes))
	for _, ip := range remotes {
		want[ip] = true
	}
	for _, tu := range slices.Sorted(slices.Values(ps.Tunnels)) {
		t := b.o.tunnels[tu]
		if t == nil {
			continue
		}
		l := b.o.locators[t.Remote]
		if l == nil || !want[l.DstIP] {
			continue
		}
		same := true
		for k, v := range BFDParams {
			if t.BFDParams[k] != v {
				same = false
			}
		}
		if same {
			continue
		}
		keys := slices.Sorted(maps.Keys(BFDParams))
		del := ovsdb.OvsSet{}
		ins := ovsdb.OvsMap{GoMap: map[any]any{}}
		for _, k := range keys {
			del.GoSet = append(del.GoSet, k)
			ins.GoMap[k] = BFDParams[k]
		}
		b.add(ovsdb.Operation{Op: ovsdb.OperationMutate, Table: hwvtep.TunnelTable,
			Where: []ovsdb.Condition{ovsdb.NewCondition("_uuid", ovsdb.ConditionEqual, ovsdb.UUID{GoUUID: tu})},
			Mutations: []ovsdb.Mutation{
				{Column: "bfd_params", Mutator: ovsdb.MutateOperationDelete, Value: del},
				{Column: "bfd_params", Mutator: ovsdb.MutateOperationInsert, Value: ins},
			}})
	}
}
