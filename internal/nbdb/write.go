package nbdb

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	libmodel "github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// CreateSwitch creates a logical switch. VNI 0 allocates the lowest free
// VNI; an empty Encap means VXLAN. It returns the switch as stored.
func (db *DB) CreateSwitch(ctx context.Context, sw model.Switch) (model.Switch, error) {
	if sw.Encap == "" {
		sw.Encap = model.EncapVXLAN
	}
	if err := checkSwitch(sw); err != nil {
		return model.Switch{}, err
	}
	var row *nb.LogicalSwitch
	gen, err := db.apply(ctx, fmt.Sprintf("create switch %q", sw.Name), func(v *view, next int) ([]ovsdb.Operation, error) {
		if _, ok := v.switches[sw.Name]; ok {
			return nil, errorf(ErrConflict, "name", "switch %q already exists", sw.Name)
		}
		vni := int(sw.VNI)
		if vni == 0 {
			vni = v.freeVNI()
			if vni == 0 {
				return nil, errorf(ErrConflict, "vni", "no free VNI left")
			}
		} else if other := v.switchByVNI(vni); other != nil {
			return nil, errorf(ErrConflict, "vni", "%d is already used by switch %q", vni, other.Name)
		}
		for _, other := range v.switches {
			for _, n := range sw.XenServerNetworks {
				if slices.Contains(other.XenserverNetworks, n) {
					return nil, errorf(ErrConflict, "xenserver_networks", "network %s is already adopted by switch %q", n, other.Name)
				}
			}
		}
		row = &nb.LogicalSwitch{Name: sw.Name, Vni: vni, Encap: sw.Encap, Generation: next,
			XenserverNetworks: slices.Clone(sw.XenServerNetworks)}
		return db.createSwitchOps(row)
	})
	if err != nil {
		return model.Switch{}, err
	}
	out := switchFromRow(row)
	out.Generation = int64(gen)
	out.Ports = []model.Port{}
	return out, nil
}

// DeleteSwitch deletes a logical switch and its ports.
func (db *DB) DeleteSwitch(ctx context.Context, name string) error {
	_, err := db.apply(ctx, fmt.Sprintf("delete switch %q", name), func(v *view, _ int) ([]ovsdb.Operation, error) {
		sw, ok := v.switches[name]
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", name)
		}
		return db.deleteSwitchOps(sw.UUID)
	})
	return err
}

// SetXenServerNetworks replaces the XenServer networks a switch adopts: every
// VIF whose xs-network-uuid is listed joins the switch. It returns the
// switch as stored.
func (db *DB) SetXenServerNetworks(ctx context.Context, name string, networks []string) (model.Switch, error) {
	for _, n := range networks {
		if n == "" {
			return model.Switch{}, errorf(ErrInvalid, "xenserver_networks", "empty network UUID")
		}
	}
	var out model.Switch
	_, err := db.apply(ctx, fmt.Sprintf("set xenserver_networks of switch %q", name), func(v *view, next int) ([]ovsdb.Operation, error) {
		row, ok := v.switches[name]
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", name)
		}
		for _, other := range v.switches {
			if other.Name == name {
				continue
			}
			for _, n := range networks {
				if slices.Contains(other.XenserverNetworks, n) {
					return nil, errorf(ErrConflict, "xenserver_networks", "network %s is already adopted by switch %q", n, other.Name)
				}
			}
		}
		upd := &nb.LogicalSwitch{UUID: row.UUID, Generation: next, XenserverNetworks: slices.Clone(networks)}
		if upd.XenserverNetworks == nil {
			upd.XenserverNetworks = []string{}
		}
		cp := *row
		cp.XenserverNetworks, cp.Generation = upd.XenserverNetworks, next
		out = switchFromRow(&cp)
		for _, u := range row.Ports {
			if p, ok := v.ports[u]; ok {
				out.Ports = append(out.Ports, portFromRow(row.Name, p))
			}
		}
		return db.c.Where(upd).Update(upd, &upd.Generation, &upd.XenserverNetworks)
	})
	if err != nil {
		return model.Switch{}, err
	}
	slices.SortFunc(out.Ports, func(a, b model.Port) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// CreatePort adds a logical port to p.Switch. It returns the port as
// stored.
func (db *DB) CreatePort(ctx context.Context, p model.Port) (model.Port, error) {
	if err := checkPort(p); err != nil {
		return model.Port{}, err
	}
	var mac *string
	if p.MAC != nil {
		s := strings.ToLower(p.MAC.String())
		mac = &s
	}
	_, err := db.apply(ctx, fmt.Sprintf("create port %q on switch %q", p.Name, p.Switch), func(v *view, next int) ([]ovsdb.Operation, error) {
		sw, ok := v.switches[p.Switch]
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", p.Switch)
		}
		if v.portByName(sw, p.Name) != nil {
			return nil, errorf(ErrConflict, "name", "port %q already exists on switch %q", p.Name, p.Switch)
		}
		if owner, other := v.portByIfaceID(p.IfaceID); other != nil {
			return nil, errorf(ErrConflict, "iface_id", "%q is already used by port %q on switch %q", p.IfaceID, other.Name, owner)
		}
		row := &nb.LogicalPort{
			UUID:    newPortName,
			Switch:  p.Switch,
			Name:    p.Name,
			IfaceID: p.IfaceID,
			MAC:     mac,
		}
		return db.createPortOps(sw.UUID, row, next)
	})
	if err != nil {
		return model.Port{}, err
	}
	out := model.Port{Switch: p.Switch, Name: p.Name, IfaceID: p.IfaceID}
	if mac != nil {
		out.MAC, _ = net.ParseMAC(*mac)
	}
	return out, nil
}

// DeletePort deletes a logical port.
func (db *DB) DeletePort(ctx context.Context, switchName, portName string) error {
	_, err := db.apply(ctx, fmt.Sprintf("delete port %q on switch %q", portName, switchName), func(v *view, next int) ([]ovsdb.Operation, error) {
		sw, ok := v.switches[switchName]
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", switchName)
		}
		p := v.portByName(sw, portName)
		if p == nil {
			return nil, errorf(ErrNotFound, "", "port %q not found on switch %q", portName, switchName)
		}
		return db.deletePortOps(sw.UUID, p.UUID, next)
	})
	return err
}

// CreateChassis registers a hypervisor. Empty Bridge, Kind and Encaps take
// the defaults (br-int, kvm, both encapsulations). It returns the chassis
// as stored.
func (db *DB) CreateChassis(ctx context.Context, ch model.Chassis) (model.Chassis, error) {
	if ch.Bridge == "" {
		ch.Bridge = model.DefaultBridge
	}
	if ch.Kind == "" {
		ch.Kind = model.KindKVM
	}
	if len(ch.Encaps) == 0 {
		ch.Encaps = slices.Clone(encapOrder)
	}
	if err := checkChassis(ch); err != nil {
		return model.Chassis{}, err
	}
	ch.Encaps = canonicalEncaps(ch.Encaps)
	tunnelIP := ch.TunnelIP.String()
	var row *nb.Chassis
	gen, err := db.apply(ctx, fmt.Sprintf("create chassis %q", ch.Name), func(v *view, next int) ([]ovsdb.Operation, error) {
		if _, ok := v.chassis[ch.Name]; ok {
			return nil, errorf(ErrConflict, "name", "chassis %q already exists", ch.Name)
		}
		// Not schema indexes, but two chassis behind one tunnel IP or one
		// OVSDB would make ferry fight itself over tunnels and bridges.
		for _, other := range v.chassis {
			if other.TunnelIP == tunnelIP {
				return nil, errorf(ErrConflict, "tunnel_ip", "%s is already used by chassis %q", tunnelIP, other.Name)
			}
			if other.Ovsdb == ch.OVSDB && ch.OVSDB != model.PassiveOVSDB {
				return nil, errorf(ErrConflict, "ovsdb", "%s is already used by chassis %q", ch.OVSDB, other.Name)
			}
		}
		row = &nb.Chassis{
			Name:       ch.Name,
			Ovsdb:      ch.OVSDB,
			TunnelIP:   tunnelIP,
			Bridge:     ch.Bridge,
			Kind:       ch.Kind,
			Encaps:     ch.Encaps,
			Generation: next,
		}
		if ch.UnderlayMTU > 0 {
			row.UnderlayMTU = &ch.UnderlayMTU
		}
		if ch.DatapathType != "" {
			row.DatapathType = &ch.DatapathType
		}
		return db.createChassisOps(row)
	})
	if err != nil {
		return model.Chassis{}, err
	}
	out := chassisFromRow(row)
	out.Generation = int64(gen)
	return out, nil
}

// DeleteChassis unregisters a hypervisor. ferry stops managing it; what it
// configured there stays until the chassis is registered again or cleaned
// up by hand (ferry never wipes device state on its own).
func (db *DB) DeleteChassis(ctx context.Context, name string) error {
	_, err := db.apply(ctx, fmt.Sprintf("delete chassis %q", name), func(v *view, _ int) ([]ovsdb.Operation, error) {
		ch, ok := v.chassis[name]
		if !ok {
			return nil, errorf(ErrNotFound, "", "chassis %q not found", name)
		}
		return db.deleteChassisOps(ch.UUID)
	})
	return err
}

// freeVNI returns the lowest VNI no switch uses, or 0 if none is left.
func (v *view) freeVNI() int {
	used := make(map[int]bool, len(v.switches))
	for _, sw := range v.switches {
		used[sw.Vni] = true
	}
	for vni := 1; vni <= model.MaxVNI; vni++ {
		if !used[vni] {
			return vni
		}
	}
	return 0
}

func (v *view) switchByVNI(vni int) *nb.LogicalSwitch {
	for _, sw := range v.switches {
		if sw.Vni == vni {
			return sw
		}
	}
	return nil
}

func (v *view) portByName(sw *nb.LogicalSwitch, name string) *nb.LogicalPort {
	for _, u := range sw.Ports {
		if p := v.ports[u]; p != nil && p.Name == name {
			return p
		}
	}
	return nil
}

// portByIfaceID returns the port bound to ifaceID and its switch's name.
func (v *view) portByIfaceID(ifaceID string) (string, *nb.LogicalPort) {
	for _, sw := range v.switches {
		for _, u := range sw.Ports {
			if p := v.ports[u]; p != nil && p.IfaceID == ifaceID {
				return sw.Name, p
			}
		}
	}
	return "", nil
}

// The checks below keep values the schema cannot hold out of transactions;
// the REST layer reports the same problems with more detail first.

func checkSwitch(sw model.Switch) error {
	switch {
	case sw.Name == "":
		return errorf(ErrInvalid, "name", "required")
	case sw.VNI > model.MaxVNI:
		return errorf(ErrInvalid, "vni", "must be between 1 and %d", model.MaxVNI)
	case sw.Encap != model.EncapVXLAN && sw.Encap != model.EncapGRE:
		return errorf(ErrInvalid, "encap", "must be %q or %q", model.EncapVXLAN, model.EncapGRE)
	}
	return nil
}

func checkPort(p model.Port) error {
	switch {
	case p.Name == "":
		return errorf(ErrInvalid, "name", "required")
	case p.IfaceID == "":
		return errorf(ErrInvalid, "iface_id", "required")
	case p.MAC != nil && len(p.MAC) != 6:
		return errorf(ErrInvalid, "mac", "must be a 48-bit Ethernet address")
	}
	return nil
}

func checkChassis(ch model.Chassis) error {
	switch {
	case ch.Name == "":
		return errorf(ErrInvalid, "name", "required")
	case ch.OVSDB == "":
		return errorf(ErrInvalid, "ovsdb", "required")
	case ch.TunnelIP == nil || ch.TunnelIP.To4() == nil:
		return errorf(ErrInvalid, "tunnel_ip", "must be an IPv4 address")
	case ch.Kind != model.KindKVM && ch.Kind != model.KindXenServer && ch.Kind != model.KindGeneric:
		return errorf(ErrInvalid, "kind", "must be %q, %q or %q", model.KindKVM, model.KindXenServer, model.KindGeneric)
	case ch.UnderlayMTU != 0 && (ch.UnderlayMTU < 576 || ch.UnderlayMTU > 65535):
		return errorf(ErrInvalid, "underlay_mtu", "must be between 576 and 65535")
	}
	for _, e := range ch.Encaps {
		if !slices.Contains(encapOrder, e) {
			return errorf(ErrInvalid, "encaps", "must list %q and/or %q", model.EncapVXLAN, model.EncapGRE)
		}
	}
	return nil
}

// newBindingName is the named UUID of a binding inserted in the same
// transaction that references it from its switch.
const newBindingName = "ferry_new_binding"

// CreateGateway registers a VTEP. It returns the gateway as stored.
func (db *DB) CreateGateway(ctx context.Context, gw model.Gateway) (model.Gateway, error) {
	switch {
	case gw.Name == "":
		return model.Gateway{}, errorf(ErrInvalid, "name", "required")
	case gw.OVSDB == "":
		return model.Gateway{}, errorf(ErrInvalid, "ovsdb", "required")
	}
	var row *nb.Gateway
	gen, err := db.apply(ctx, fmt.Sprintf("create gateway %q", gw.Name), func(v *view, next int) ([]ovsdb.Operation, error) {
		if _, ok := v.gateways[gw.Name]; ok {
			return nil, errorf(ErrConflict, "name", "gateway %q already exists", gw.Name)
		}
		for _, other := range v.gateways {
			if other.Ovsdb == gw.OVSDB && gw.OVSDB != model.PassiveOVSDB {
				return nil, errorf(ErrConflict, "ovsdb", "%s is already used by gateway %q", gw.OVSDB, other.Name)
			}
		}
		row = &nb.Gateway{Name: gw.Name, Ovsdb: gw.OVSDB, Generation: next}
		if gw.PhysicalSwitch != "" {
			ps := gw.PhysicalSwitch
			row.PhysicalSwitch = &ps
		}
		return db.c.Create(row)
	})
	if err != nil {
		return model.Gateway{}, err
	}
	out := gatewayFromRow(row)
	out.Generation = int64(gen)
	return out, nil
}

// DeleteGateway unregisters a VTEP. A gateway that still carries bindings is
// refused: deleting it would silently cut bare-metal servers off several
// switches at once; delete the bindings first.
func (db *DB) DeleteGateway(ctx context.Context, name string) error {
	_, err := db.apply(ctx, fmt.Sprintf("delete gateway %q", name), func(v *view, _ int) ([]ovsdb.Operation, error) {
		gw, ok := v.gateways[name]
		if !ok {
			return nil, errorf(ErrNotFound, "", "gateway %q not found", name)
		}
		var users []string
		for _, b := range v.bindings {
			if b.Gateway == name && !slices.Contains(users, b.Switch) {
				users = append(users, b.Switch)
			}
		}
		if len(users) > 0 {
			slices.Sort(users)
			return nil, errorf(ErrConflict, "name", "gateway %q still has bindings on switch(es) %s; delete them first", name, strings.Join(users, ", "))
		}
		return db.c.Where(&nb.Gateway{UUID: gw.UUID}).Delete()
	})
	return err
}

// CreateBinding binds a VLAN of a gateway port to a switch. A (gateway,
// port, vlan) belongs to at most one switch.
func (db *DB) CreateBinding(ctx context.Context, b model.GatewayBinding) (model.GatewayBinding, error) {
	if b.VLAN > 4095 {
		return model.GatewayBinding{}, errorf(ErrInvalid, "vlan", "must be between 0 and 4095")
	}
	_, err := db.apply(ctx, fmt.Sprintf("bind %s/%s/%d to switch %q", b.Gateway, b.Port, b.VLAN, b.Switch), func(v *view, next int) ([]ovsdb.Operation, error) {
		sw, ok := v.switches[b.Switch]
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", b.Switch)
		}
		if _, ok := v.gateways[b.Gateway]; !ok {
			return nil, errorf(ErrNotFound, "", "gateway %q not found", b.Gateway)
		}
		for _, other := range v.bindings {
			if other.Gateway == b.Gateway && other.Port == b.Port && other.VLAN == int(b.VLAN) {
				return nil, errorf(ErrConflict, "vlan", "%s port %s VLAN %d is already bound to switch %q", b.Gateway, b.Port, b.VLAN, other.Switch)
			}
		}
		row := &nb.GatewayBinding{UUID: newBindingName, Switch: b.Switch, Gateway: b.Gateway, Port: b.Port, VLAN: int(b.VLAN)}
		ops, err := db.c.Create(row)
		if err != nil {
			return nil, err
		}
		swm := &nb.LogicalSwitch{UUID: sw.UUID}
		mutate, err := db.c.Where(swm).Mutate(swm, libmodel.Mutation{Field: &swm.Bindings, Mutator: ovsdb.MutateOperationInsert, Value: []string{newBindingName}})
		if err != nil {
			return nil, err
		}
		stamp, err := db.stampSwitchOps(sw.UUID, next)
		if err != nil {
			return nil, err
		}
		return append(append(ops, mutate...), stamp...), nil
	})
	if err != nil {
		return model.GatewayBinding{}, err
	}
	return b, nil
}

// DeleteBinding removes a binding from its switch.
func (db *DB) DeleteBinding(ctx context.Context, b model.GatewayBinding) error {
	_, err := db.apply(ctx, fmt.Sprintf("unbind %s/%s/%d from switch %q", b.Gateway, b.Port, b.VLAN, b.Switch), func(v *view, next int) ([]ovsdb.Operation, error) {
		sw, ok := v.switches[b.Switch]
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", b.Switch)
		}
		var uuid string
		for _, u := range sw.Bindings {
			if r, ok := v.bindings[u]; ok && r.Gateway == b.Gateway && r.Port == b.Port && r.VLAN == int(b.VLAN) {
				uuid = u
			}
		}
		if uuid == "" {
			return nil, errorf(ErrNotFound, "", "binding %s/%s/%d not found on switch %q", b.Gateway, b.Port, b.VLAN, b.Switch)
		}
		swm := &nb.LogicalSwitch{UUID: sw.UUID}
		ops, err := db.c.Where(swm).Mutate(swm, libmodel.Mutation{Field: &swm.Bindings, Mutator: ovsdb.MutateOperationDelete, Value: []string{uuid}})
		if err != nil {
			return nil, err
		}
		stamp, err := db.stampSwitchOps(sw.UUID, next)
		if err != nil {
			return nil, err
		}
		return append(ops, stamp...), nil
	})
	return err
}
