package nbdb

import (
	"context"
	"fmt"
	"slices"

	libmodel "github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// Applied says what ApplySwitch did.
type Applied string

// What ApplySwitch can do.
const (
	Created    Applied = "created"
	Configured Applied = "configured" // an existing switch changed
	Unchanged  Applied = "unchanged"  // nothing to do: no transaction
)

// ApplySwitch makes switch sw.Name what sw describes, in one transaction:
// its encapsulation, XenServer networks, ports (by name; a port whose
// iface_id, MAC, port security or IPs differ is replaced by a new row) and gateway bindings,
// creating the switch if it does not exist. VNI 0 keeps the switch's VNI
// (or allocates one); another VNI than the switch has is refused, as a VNI
// cannot change under running tunnels. An empty Encap means VXLAN.
// Applying the same description twice changes nothing the second time: no
// transaction, no generation. Errors name the item ("ports[3].iface_id",
// "bindings[0].gateway"). It returns the switch as stored.
func (db *DB) ApplySwitch(ctx context.Context, sw model.Switch) (model.Switch, Applied, error) {
	if sw.Encap == "" {
		sw.Encap = model.EncapVXLAN
	}
	if err := checkSwitch(sw); err != nil {
		return model.Switch{}, "", err
	}
	if err := checkPorts(sw.Ports, "ports"); err != nil {
		return model.Switch{}, "", err
	}
	if err := checkBindings(sw.Bindings); err != nil {
		return model.Switch{}, "", err
	}
	nets := slices.Clone(sw.XenServerNetworks)
	slices.Sort(nets)
	if nets == nil {
		nets = []string{}
	}
	var result Applied
	var hint int64
	var vni int
	_, err := db.apply(ctx, fmt.Sprintf("apply switch %q", sw.Name), func(r *reader, next int) ([]ovsdb.Operation, error) {
		cur, exists := r.switchNamed(sw.Name)
		if !exists {
			result = Created
			var err error
			if vni, hint, err = db.checkVNI(r, "vni", int(sw.VNI)); err != nil {
				return nil, err
			}
			cur = &nb.LogicalSwitch{UUID: newSwitchName, Name: sw.Name, Vni: vni}
		} else {
			result, hint = Configured, 0
			if sw.VNI != 0 && int(sw.VNI) != cur.Vni {
				return nil, errorf(ErrConflict, "vni", "switch %q has VNI %d; a VNI cannot change (delete the switch and create it again)", sw.Name, cur.Vni)
			}
		}
		if other, n := r.networkOwner(nets, sw.Name); other != nil {
			return nil, errorf(ErrConflict, "xenserver_networks", "network %s is already adopted by switch %q", n, other.Name)
		}
		ports, err := diffPorts(r, cur, sw.Ports)
		if err != nil {
			return nil, err
		}
		bindings, err := diffBindings(r, cur, sw.Bindings)
		if err != nil {
			return nil, err
		}
		curNets := slices.Sorted(slices.Values(cur.XenserverNetworks))
		if exists && cur.Encap == sw.Encap && slices.Equal(curNets, nets) && ports.none() && bindings.none() {
			result = Unchanged
			return nil, nil
		}
		return db.applySwitchOps(cur, exists, sw.Encap, nets, ports, bindings, next)
	})
	if err != nil {
		return model.Switch{}, "", err
	}
	if result == Created && !IsTrial(ctx) {
		db.usedVNI(hint, vni)
	}
	out, err := db.storedIn(ctx, sw.Name)
	return out, result, err
}

// newSwitchName is the named UUID of a switch ApplySwitch creates.
const newSwitchName = "ferry_new_switch"

// childChanges is what a transaction does to a switch's port or binding
// references: rows to insert (with named UUIDs) and references to drop.
type childChanges[R libmodel.Model] struct {
	insert []R
	drop   []string
}

func (c childChanges[R]) none() bool { return len(c.insert) == 0 && len(c.drop) == 0 }

// diffPorts compares the ports cur references with want. A port whose
// configuration changed is dropped and inserted again: ferry never
// updates a port row in place (see Snapshot).
func diffPorts(r *reader, cur *nb.LogicalSwitch, want []model.Port) (childChanges[*nb.LogicalPort], error) {
	var c childChanges[*nb.LogicalPort]
	have := make(map[string]*nb.LogicalPort, len(cur.Ports))
	for _, u := range cur.Ports {
		if p, ok := r.port(u); ok {
			have[p.Name] = p
		}
	}
	leaving := map[string]bool{}
	var fresh []int
	for i, p := range want {
		row := portRow(cur.Name, p, i)
		old, ok := have[p.Name]
		delete(have, p.Name)
		if ok && samePortRow(old, row) {
			continue
		}
		if ok {
			leaving[old.UUID] = true
			c.drop = append(c.drop, old.UUID)
		}
		c.insert = append(c.insert, row)
		fresh = append(fresh, i)
	}
	for _, old := range have {
		leaving[old.UUID] = true
		c.drop = append(c.drop, old.UUID)
	}
	for k, row := range c.insert {
		if err := ifaceIDFree(r, row.IfaceID, itemField("ports", fresh[k], "iface_id"), leaving); err != nil {
			return c, err
		}
	}
	return c, nil
}

// diffBindings compares the bindings cur references with want.
func diffBindings(r *reader, cur *nb.LogicalSwitch, want []model.GatewayBinding) (childChanges[*nb.GatewayBinding], error) {
	var c childChanges[*nb.GatewayBinding]
	type key struct {
		gateway, port string
		vlan          int
	}
	have := make(map[key]string, len(cur.Bindings))
	for _, u := range cur.Bindings {
		if b, ok := r.binding(u); ok {
			have[key{b.Gateway, b.Port, b.VLAN}] = u
		}
	}
	for i, b := range want {
		k := key{b.Gateway, b.Port, int(b.VLAN)}
		if _, ok := have[k]; ok {
			delete(have, k)
			continue
		}
		if _, ok := r.gatewayNamed(b.Gateway); !ok {
			return c, errorf(ErrNotFound, itemField("bindings", i, "gateway"), "gateway %q not found", b.Gateway)
		}
		if other, ok := r.bindingAt(b.Gateway, b.Port, int(b.VLAN)); ok {
			return c, errorf(ErrConflict, itemField("bindings", i, "vlan"), "%s port %s VLAN %d is already bound to switch %q", b.Gateway, b.Port, b.VLAN, other.Switch)
		}
		c.insert = append(c.insert, &nb.GatewayBinding{UUID: newBindingName(i), Switch: cur.Name, Gateway: b.Gateway, Port: b.Port, VLAN: int(b.VLAN)})
	}
	for _, u := range have {
		c.drop = append(c.drop, u)
	}
	return c, nil
}

// checkBindings checks bindings going onto one switch.
func checkBindings(bindings []model.GatewayBinding) error {
	seen := map[model.GatewayBinding]int{}
	for i, b := range bindings {
		b.Switch = ""
		switch {
		case b.Gateway == "":
			return errorf(ErrInvalid, itemField("bindings", i, "gateway"), "required")
		case b.Port == "":
			return errorf(ErrInvalid, itemField("bindings", i, "port"), "required")
		case b.VLAN > 4095:
			return errorf(ErrInvalid, itemField("bindings", i, "vlan"), "must be between 0 and 4095")
		}
		if j, dup := seen[b]; dup {
			return errorf(ErrInvalid, itemField("bindings", i, "vlan"), "%s port %s VLAN %d is also bindings[%d]", b.Gateway, b.Port, b.VLAN, j)
		}
		seen[b] = i
	}
	return nil
}

// applySwitchOps inserts the switch (exists false: cur is the new row) or
// updates it, with its new ports and bindings, and stamps it with next.
func (db *DB) applySwitchOps(cur *nb.LogicalSwitch, exists bool, encap string, nets []string,
	ports childChanges[*nb.LogicalPort], bindings childChanges[*nb.GatewayBinding], next int) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	var portNames, bindingNames []string
	for _, p := range ports.insert {
		create, err := db.c.Create(p)
		if err != nil {
			return nil, err
		}
		ops, portNames = append(ops, create...), append(portNames, p.UUID)
	}
	for _, b := range bindings.insert {
		create, err := db.c.Create(b)
		if err != nil {
			return nil, err
		}
		ops, bindingNames = append(ops, create...), append(bindingNames, b.UUID)
	}
	if !exists {
		row := &nb.LogicalSwitch{UUID: cur.UUID, Name: cur.Name, Vni: cur.Vni, Encap: encap, Generation: next,
			XenserverNetworks: nets, Ports: portNames, Bindings: bindingNames}
		create, err := db.c.Create(row)
		return append(ops, create...), err
	}
	row := &nb.LogicalSwitch{UUID: cur.UUID, Encap: encap, Generation: next, XenserverNetworks: nets}
	update, err := db.c.Where(row).Update(row, &row.Encap, &row.Generation, &row.XenserverNetworks)
	if err != nil {
		return nil, err
	}
	ops = append(ops, update...)
	var mutations []libmodel.Mutation
	for _, m := range []struct {
		field any
		op    ovsdb.Mutator
		value []string
	}{
		{&row.Ports, ovsdb.MutateOperationDelete, ports.drop},
		{&row.Ports, ovsdb.MutateOperationInsert, portNames},
		{&row.Bindings, ovsdb.MutateOperationDelete, bindings.drop},
		{&row.Bindings, ovsdb.MutateOperationInsert, bindingNames},
	} {
		if len(m.value) > 0 {
			mutations = append(mutations, libmodel.Mutation{Field: m.field, Mutator: m.op, Value: m.value})
		}
	}
	if len(mutations) == 0 {
		return ops, nil
	}
	mutate, err := db.c.Where(row).Mutate(row, mutations...)
	return append(ops, mutate...), err
}
