package nbdb

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	libmodel "github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
	"github.com/ferry-sdn/ferry/ovsdb/target"
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
	var hint int64
	gen, err := db.apply(ctx, fmt.Sprintf("create switch %q", sw.Name), func(r *reader, next int) ([]ovsdb.Operation, error) {
		if _, ok := r.switchNamed(sw.Name); ok {
			return nil, errorf(ErrConflict, "name", "switch %q already exists", sw.Name)
		}
		var vni int
		var err error
		vni, hint, err = db.checkVNI(r, "vni", int(sw.VNI))
		if err != nil {
			return nil, err
		}
		if other, n := r.networkOwner(sw.XenServerNetworks, ""); other != nil {
			return nil, errorf(ErrConflict, "xenserver_networks", "network %s is already adopted by switch %q", n, other.Name)
		}
		row = &nb.LogicalSwitch{Name: sw.Name, Vni: vni, Encap: sw.Encap, Generation: next,
			XenserverNetworks: slices.Clone(sw.XenServerNetworks)}
		return db.createSwitchOps(row)
	})
	if err != nil {
		return model.Switch{}, err
	}
	if !IsTrial(ctx) {
		db.usedVNI(hint, row.Vni)
	}
	out := switchFromRow(row)
	out.Generation = int64(gen)
	out.Ports = []model.Port{}
	return out, nil
}

// checkVNI returns vni if no switch uses it, or for 0 the lowest free VNI
// and the hint it searched from (see usedVNI).
func (db *DB) checkVNI(r *reader, field string, vni int) (int, int64, error) {
	hint := db.vniHint.Load()
	if vni != 0 {
		if other, ok := r.switchWithVNI(vni); ok {
			return 0, 0, errorf(ErrConflict, field, "%d is already used by switch %q", vni, other.Name)
		}
		if int64(vni) != hint {
			hint = 0 // says nothing about the VNIs below vni
		}
		return vni, hint, nil
	}
	for vni := int(hint); vni <= model.MaxVNI; vni++ {
		if _, used := r.switchWithVNI(vni); !used {
			return vni, hint, nil
		}
	}
	return 0, 0, errorf(ErrConflict, field, "no free VNI left")
}

// usedVNI raises the VNI hint past vni, now used, when every VNI from hint
// (what checkVNI searched from; 0: nothing known) to vni is used too, and
// nothing lowered the hint meanwhile.
func (db *DB) usedVNI(hint int64, vni int) {
	if hint > 0 {
		db.vniHint.CompareAndSwap(hint, int64(vni)+1)
	}
}

// DeleteSwitch deletes a logical switch and its ports.
func (db *DB) DeleteSwitch(ctx context.Context, name string) error {
	vni := 0
	_, err := db.apply(ctx, fmt.Sprintf("delete switch %q", name), func(r *reader, _ int) ([]ovsdb.Operation, error) {
		sw, ok := r.switchNamed(name)
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", name)
		}
		vni = sw.Vni
		return db.deleteSwitchOps(sw.UUID)
	})
	if err == nil && !IsTrial(ctx) {
		db.freedVNI(vni)
	}
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
	_, err := db.apply(ctx, fmt.Sprintf("set xenserver_networks of switch %q", name), func(r *reader, next int) ([]ovsdb.Operation, error) {
		row, ok := r.switchNamed(name)
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", name)
		}
		if other, n := r.networkOwner(networks, name); other != nil {
			return nil, errorf(ErrConflict, "xenserver_networks", "network %s is already adopted by switch %q", n, other.Name)
		}
		upd := &nb.LogicalSwitch{UUID: row.UUID, Generation: next, XenserverNetworks: slices.Clone(networks)}
		if upd.XenserverNetworks == nil {
			upd.XenserverNetworks = []string{}
		}
		return db.c.Where(upd).Update(upd, &upd.Generation, &upd.XenserverNetworks)
	})
	if err != nil {
		return model.Switch{}, err
	}
	return db.storedIn(ctx, name)
}

// stored returns a switch as the snapshot after a write of ours shows it
// (read-after-write makes it include the write).
func (db *DB) stored(name string) (model.Switch, error) {
	sw, ok := db.Snapshot().Switch(name)
	if !ok {
		return model.Switch{}, errorf(ErrNotFound, "", "switch %q not found (deleted meanwhile)", name)
	}
	return sw, nil
}

// CreatePort adds a logical port to p.Switch. It returns the port as
// stored.
func (db *DB) CreatePort(ctx context.Context, p model.Port) (model.Port, error) {
	out, err := db.createPorts(ctx, p.Switch, []model.Port{p}, "")
	if err != nil {
		return model.Port{}, err
	}
	return out[0], nil
}

// CreatePorts adds ports to one switch in one transaction: all of them or,
// when one is refused, none. Errors name the item: "ports[3].iface_id".
// It returns the ports as stored.
func (db *DB) CreatePorts(ctx context.Context, switchName string, ports []model.Port) ([]model.Port, error) {
	return db.createPorts(ctx, switchName, ports, "ports")
}

// createPorts creates ports on switchName; list names them in errors ("":
// one port, whose fields need no index).
func (db *DB) createPorts(ctx context.Context, switchName string, ports []model.Port, list string) ([]model.Port, error) {
	if err := checkPorts(ports, list); err != nil {
		return nil, err
	}
	what := fmt.Sprintf("create %d ports on switch %q", len(ports), switchName)
	if len(ports) == 1 {
		what = fmt.Sprintf("create port %q on switch %q", ports[0].Name, switchName)
	}
	rows := make([]*nb.LogicalPort, len(ports))
	_, err := db.apply(ctx, what, func(r *reader, next int) ([]ovsdb.Operation, error) {
		sw, ok := r.switchNamed(switchName)
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", switchName)
		}
		for i, p := range ports {
			if _, ok := r.portNamed(sw, p.Name); ok {
				return nil, errorf(ErrConflict, itemField(list, i, "name"), "port %q already exists on switch %q", p.Name, switchName)
			}
			if err := ifaceIDFree(r, p.IfaceID, itemField(list, i, "iface_id"), nil); err != nil {
				return nil, err
			}
			rows[i] = portRow(switchName, p, i)
		}
		return db.addPortsOps(sw.UUID, rows, next)
	})
	if err != nil {
		return nil, err
	}
	out := make([]model.Port, len(rows))
	for i, row := range rows {
		out[i] = portFromRow(switchName, row)
	}
	return out, nil
}

// ifaceIDFree refuses an iface_id some port other than the ones in
// leaving (replaced or deleted in the same transaction) is bound to.
func ifaceIDFree(r *reader, ifaceID, field string, leaving map[string]bool) error {
	if other, ok := r.portWithIfaceID(ifaceID); ok && !leaving[other.UUID] {
		return errorf(ErrConflict, field, "%q is already used by port %q on switch %q", ifaceID, other.Name, other.Switch)
	}
	return nil
}

// portRow is the row of a new port, the i-th of its transaction.
func portRow(switchName string, p model.Port, i int) *nb.LogicalPort {
	row := &nb.LogicalPort{UUID: newPortName(i), Switch: switchName, Name: p.Name, IfaceID: p.IfaceID}
	if p.MAC != nil {
		mac := strings.ToLower(p.MAC.String())
		row.MAC = &mac
	}
	if p.PortSecurity != nil {
		on := *p.PortSecurity
		row.PortSecurity = &on
	}
	for _, a := range p.IPs {
		row.IPs = append(row.IPs, a.String())
	}
	return row
}

// samePortRow reports whether two rows configure a port alike (a set
// column read back from OVSDB is unordered, hence portFromRow).
func samePortRow(a, b *nb.LogicalPort) bool {
	return a.Name == b.Name && model.SamePortConfig(portFromRow("", a), portFromRow("", b))
}

// PortChange is a partial update of a port (PATCH): what it does not set
// stays as it is.
type PortChange struct {
	IfaceID *string
	// SetMAC replaces the MAC with MAC (nil: none, take the Interface's
	// attached-mac).
	SetMAC bool
	MAC    net.HardwareAddr
	// PortSecurity, when set, turns port security on or off.
	PortSecurity *bool
	// SetIPs replaces the port's addresses with IPs (none: any).
	SetIPs bool
	IPs    []netip.Addr
}

// PutPort makes port p.Name on switch p.Switch exactly p (PUT), creating
// it if it does not exist: Created, Configured (the port's row is
// replaced, as ferry never updates a port row in place; see Snapshot) or
// Unchanged (no transaction). It returns the port as stored.
func (db *DB) PutPort(ctx context.Context, p model.Port) (model.Port, Applied, error) {
	if err := checkPorts([]model.Port{p}, ""); err != nil {
		return model.Port{}, "", err
	}
	return db.updatePort(ctx, fmt.Sprintf("put port %q on switch %q", p.Name, p.Switch), p.Switch, p.Name, true,
		func(model.Port) model.Port { return p })
}

// PatchPort changes what c sets of an existing port. It returns the port
// as stored.
func (db *DB) PatchPort(ctx context.Context, switchName, portName string, c PortChange) (model.Port, error) {
	p, _, err := db.updatePort(ctx, fmt.Sprintf("patch port %q on switch %q", portName, switchName), switchName, portName, false,
		func(p model.Port) model.Port {
			if c.IfaceID != nil {
				p.IfaceID = *c.IfaceID
			}
			if c.SetMAC {
				p.MAC = c.MAC
			}
			if c.PortSecurity != nil {
				on := *c.PortSecurity
				p.PortSecurity = &on
			}
			if c.SetIPs {
				p.IPs = c.IPs
			}
			return p
		})
	return p, err
}

// updatePort replaces port portName of switchName by change(current) in one
// transaction, or creates change(zero port) when create allows it.
func (db *DB) updatePort(ctx context.Context, what, switchName, portName string, create bool, change func(model.Port) model.Port) (model.Port, Applied, error) {
	var result Applied
	var row *nb.LogicalPort
	_, err := db.apply(ctx, what, func(r *reader, next int) ([]ovsdb.Operation, error) {
		sw, ok := r.switchNamed(switchName)
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", switchName)
		}
		cur, exists := r.portNamed(sw, portName)
		if !exists && !create {
			return nil, errorf(ErrNotFound, "", "port %q not found on switch %q", portName, switchName)
		}
		base := model.Port{Switch: switchName, Name: portName}
		if exists {
			base = portFromRow(switchName, cur)
		}
		want := change(base)
		want.Switch, want.Name = switchName, portName
		if err := checkPorts([]model.Port{want}, ""); err != nil {
			return nil, err
		}
		row = portRow(switchName, want, 0)
		if exists && samePortRow(cur, row) {
			result, row = Unchanged, cur
			return nil, nil
		}
		var leaving map[string]bool
		old := ""
		if result = Created; exists {
			result, leaving, old = Configured, map[string]bool{cur.UUID: true}, cur.UUID
		}
		if err := ifaceIDFree(r, want.IfaceID, "iface_id", leaving); err != nil {
			return nil, err
		}
		return db.replacePortOps(sw.UUID, old, row, next)
	})
	if err != nil {
		return model.Port{}, "", err
	}
	return portFromRow(switchName, row), result, nil
}

// itemField names field name of item i of list ("ports[3].iface_id"), or
// just name when list is "" (a request for one object).
func itemField(list string, i int, name string) string {
	if list == "" {
		return name
	}
	return fmt.Sprintf("%s[%d].%s", list, i, name)
}

// DeletePort deletes a logical port.
func (db *DB) DeletePort(ctx context.Context, switchName, portName string) error {
	_, err := db.apply(ctx, fmt.Sprintf("delete port %q on switch %q", portName, switchName), func(r *reader, next int) ([]ovsdb.Operation, error) {
		sw, ok := r.switchNamed(switchName)
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", switchName)
		}
		p, ok := r.portNamed(sw, portName)
		if !ok {
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
	ch.OpenFlow = canonicalOpenFlow(ch.OpenFlow)
	var row *nb.Chassis
	gen, err := db.apply(ctx, fmt.Sprintf("create chassis %q", ch.Name), func(r *reader, next int) ([]ovsdb.Operation, error) {
		if _, ok := r.chassisNamed(ch.Name); ok {
			return nil, errorf(ErrConflict, "name", "chassis %q already exists", ch.Name)
		}
		if err := chassisClash(r, ch, ""); err != nil {
			return nil, err
		}
		row = chassisRow(ch, next)
		row.Name, row.Bridge, row.Kind = ch.Name, ch.Bridge, ch.Kind
		return db.createChassisOps(row)
	})
	if err != nil {
		return model.Chassis{}, err
	}
	out := chassisFromRow(row)
	out.Generation = int64(gen)
	return out, nil
}

// chassisClash refuses ch when another chassis than the row self has its
// tunnel IP or reaches its database. These are not schema indexes, but two
// chassis behind one tunnel IP or one OVSDB would make ferry fight itself
// over tunnels and bridges. The table is small (one row per hypervisor):
// it is read whole.
func chassisClash(r *reader, ch model.Chassis, self string) error {
	tunnelIP := ch.TunnelIP.String()
	for _, other := range rows[*nb.Chassis](r.tc, nb.ChassisTable) {
		if other.UUID == self {
			continue
		}
		if other.TunnelIP == tunnelIP {
			return errorf(ErrConflict, "tunnel_ip", "%s is already used by chassis %q", tunnelIP, other.Name)
		}
		if ch.OVSDB != model.PassiveOVSDB && target.SharedEndpoint(ch.OVSDB, other.Ovsdb) != "" {
			return errorf(ErrConflict, "ovsdb", "%s reaches the same database as chassis %q (%s)", ch.OVSDB, other.Name, other.Ovsdb)
		}
	}
	return nil
}

// chassisRow is the row of ch's mutable columns at generation next.
func chassisRow(ch model.Chassis, next int) *nb.Chassis {
	row := &nb.Chassis{Ovsdb: ch.OVSDB, TunnelIP: ch.TunnelIP.String(), Encaps: ch.Encaps, Generation: next,
		OpenflowPeers: []string{}}
	if ch.UnderlayMTU > 0 {
		row.UnderlayMTU = &ch.UnderlayMTU
	}
	if ch.DatapathType != "" {
		row.DatapathType = &ch.DatapathType
	}
	for _, a := range ch.OpenFlowPeers {
		row.OpenflowPeers = append(row.OpenflowPeers, a.String())
	}
	if ch.OpenFlow != "" || ch.Relay {
		row.ExternalIDs = map[string]string{}
		setOptions(row.ExternalIDs, ch)
	}
	return row
}

// setOptions writes the chassis options kept in external_ids, removing
// those at their default.
func setOptions(ids map[string]string, ch model.Chassis) {
	delete(ids, OpenFlowKey)
	if ch.OpenFlow != "" {
		ids[OpenFlowKey] = ch.OpenFlow
	}
	delete(ids, RelayKey)
	if ch.Relay {
		ids[RelayKey] = "true"
	}
}

// RelayKey is the chassis row's external_ids key marking a transit relay
// ("true"; absent: not a relay), an option for the same reason as
// OpenFlowKey.
const RelayKey = "relay"

// OpenFlowKey is the chassis row's external_ids key holding its openflow
// option (absent: auto). An option, not a schema column, so that a
// northbound of an older schema version keeps working.
const OpenFlowKey = "openflow"

// canonicalOpenFlow stores the default as nothing, so that "auto" and ""
// are the same chassis.
func canonicalOpenFlow(v string) string {
	if v == model.OpenFlowAuto {
		return ""
	}
	return v
}

// ChassisChange is what PATCH /v1/chassis/{name} changes; nil fields
// stay as they are. A chassis' name, bridge and kind are not in it: they
// are what the chassis is (its bridge holds ferry's flows and tunnels, its
// kind decides how VIFs are found); changing them is a new registration.
type ChassisChange struct {
	OVSDB    *string
	TunnelIP net.IP
	Encaps   []string
	// UnderlayMTU 0 goes back to the default.
	UnderlayMTU *int
	// DatapathType "" goes back to OVS' default.
	DatapathType *string
	// OpenFlowPeers, when set, replace the chassis' (none: empty).
	OpenFlowPeers *[]netip.Addr
	// OpenFlow "" goes back to the default (auto).
	OpenFlow *string
	Relay    *bool
}

// Apply returns ch with what c sets changed.
func (c ChassisChange) Apply(ch model.Chassis) model.Chassis {
	if c.OVSDB != nil {
		ch.OVSDB = *c.OVSDB
	}
	if c.TunnelIP != nil {
		ch.TunnelIP = slices.Clone(c.TunnelIP)
	}
	if c.Encaps != nil {
		ch.Encaps = slices.Clone(c.Encaps)
	}
	if c.UnderlayMTU != nil {
		ch.UnderlayMTU = *c.UnderlayMTU
	}
	if c.DatapathType != nil {
		ch.DatapathType = *c.DatapathType
	}
	if c.OpenFlowPeers != nil {
		ch.OpenFlowPeers = slices.Clone(*c.OpenFlowPeers)
		slices.SortFunc(ch.OpenFlowPeers, netip.Addr.Compare)
	}
	if c.OpenFlow != nil {
		ch.OpenFlow = *c.OpenFlow
	}
	if c.Relay != nil {
		ch.Relay = *c.Relay
	}
	return ch
}

// createdKey is the chassis row's external_ids key keeping the generation
// that registered it once a change has re-stamped its generation: the
// registration that came first keeps a device two registrations reach
// (see reconcile's identity claims), however often either is changed.
const createdKey = "created"

// PatchChassis changes what c sets of a registered chassis in one
// transaction that bumps the generation, with the checks of
// CreateChassis (no other chassis with the tunnel IP or reaching the same
// database). A change that changes nothing is not written. It returns the
// chassis as stored.
func (db *DB) PatchChassis(ctx context.Context, name string, c ChassisChange) (model.Chassis, error) {
	var out model.Chassis
	_, err := db.apply(ctx, fmt.Sprintf("patch chassis %q", name), func(r *reader, next int) ([]ovsdb.Operation, error) {
		cur, ok := r.chassisNamed(name)
		if !ok {
			return nil, errorf(ErrNotFound, "", "chassis %q not found", name)
		}
		if c.Encaps != nil && len(c.Encaps) == 0 {
			return nil, errorf(ErrInvalid, "encaps", "must not be empty")
		}
		was := chassisFromRow(cur)
		ch := c.Apply(was)
		ch.Encaps = canonicalEncaps(ch.Encaps)
		ch.OpenFlow = canonicalOpenFlow(ch.OpenFlow)
		if err := checkChassis(ch); err != nil {
			return nil, err
		}
		if sameChassis(was, ch) {
			out = was
			return nil, nil
		}
		if err := chassisClash(r, ch, cur.UUID); err != nil {
			return nil, err
		}
		row := chassisRow(ch, next)
		row.UUID = cur.UUID
		row.ExternalIDs = maps.Clone(cur.ExternalIDs)
		if row.ExternalIDs == nil {
			row.ExternalIDs = map[string]string{}
		}
		row.ExternalIDs[createdKey] = strconv.FormatInt(was.Created, 10)
		setOptions(row.ExternalIDs, ch)
		out = ch
		out.Generation = int64(next)
		return db.c.Where(row).Update(row, &row.Ovsdb, &row.TunnelIP, &row.Encaps, &row.Generation, &row.ExternalIDs,
			&row.UnderlayMTU, &row.DatapathType, &row.OpenflowPeers)
	})
	if err != nil {
		return model.Chassis{}, err
	}
	return out, nil
}

// sameChassis compares what PatchChassis can change.
func sameChassis(a, b model.Chassis) bool {
	return a.OVSDB == b.OVSDB && a.TunnelIP.Equal(b.TunnelIP) && slices.Equal(a.Encaps, b.Encaps) &&
		a.UnderlayMTU == b.UnderlayMTU && a.DatapathType == b.DatapathType && slices.Equal(a.OpenFlowPeers, b.OpenFlowPeers) &&
		a.OpenFlow == b.OpenFlow && a.Relay == b.Relay
}

// DeleteChassis unregisters a hypervisor. ferry stops managing it; what it
// configured there stays until the chassis is registered again or cleaned
// up by hand (ferry never wipes device state on its own).
func (db *DB) DeleteChassis(ctx context.Context, name string) error {
	_, err := db.apply(ctx, fmt.Sprintf("delete chassis %q", name), func(r *reader, _ int) ([]ovsdb.Operation, error) {
		ch, ok := r.chassisNamed(name)
		if !ok {
			return nil, errorf(ErrNotFound, "", "chassis %q not found", name)
		}
		return db.deleteChassisOps(ch.UUID)
	})
	return err
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

// checkPorts checks ports going onto one switch (list: see itemField),
// including that no two share a name or an iface_id.
func checkPorts(ports []model.Port, list string) error {
	names := make(map[string]int, len(ports))
	ifaces := make(map[string]int, len(ports))
	for i, p := range ports {
		field := func(name string) string { return itemField(list, i, name) }
		switch {
		case p.Name == "":
			return errorf(ErrInvalid, field("name"), "required")
		case p.IfaceID == "":
			return errorf(ErrInvalid, field("iface_id"), "required")
		case p.MAC != nil && len(p.MAC) != 6:
			return errorf(ErrInvalid, field("mac"), "must be a 48-bit Ethernet address")
		case len(p.IPs) > model.MaxPortIPs:
			return errorf(ErrInvalid, field("ips"), "at most %d addresses", model.MaxPortIPs)
		}
		for k, a := range p.IPs {
			if !a.IsValid() || a.Zone() != "" || slices.Contains(p.IPs[:k], a) {
				return errorf(ErrInvalid, field("ips"), "%q: not a unique IPv4 or IPv6 address", a)
			}
		}
		if j, dup := names[p.Name]; dup {
			return errorf(ErrInvalid, field("name"), "%q is also the name of %s", p.Name, itemField(list, j, "name"))
		}
		if j, dup := ifaces[p.IfaceID]; dup {
			return errorf(ErrInvalid, field("iface_id"), "%q is also the iface_id of %s", p.IfaceID, itemField(list, j, "iface_id"))
		}
		names[p.Name], ifaces[p.IfaceID] = i, i
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
	case ch.OpenFlow != "" && ch.OpenFlow != model.OpenFlowAuto && ch.OpenFlow != model.OpenFlow15 && ch.OpenFlow != model.OpenFlow13:
		return errorf(ErrInvalid, "openflow", "must be %q, %q or %q", model.OpenFlowAuto, model.OpenFlow15, model.OpenFlow13)
	}
	for _, e := range ch.Encaps {
		if !slices.Contains(encapOrder, e) {
			return errorf(ErrInvalid, "encaps", "must list %q and/or %q", model.EncapVXLAN, model.EncapGRE)
		}
	}
	for _, a := range ch.OpenFlowPeers {
		if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || a.Zone() != "" {
			return errorf(ErrInvalid, "openflow_peers", "%s: must be a unicast IP address", a)
		}
	}
	return nil
}

// CreateGateway registers a VTEP. It returns the gateway as stored.
func (db *DB) CreateGateway(ctx context.Context, gw model.Gateway) (model.Gateway, error) {
	switch {
	case gw.Name == "":
		return model.Gateway{}, errorf(ErrInvalid, "name", "required")
	case gw.OVSDB == "":
		return model.Gateway{}, errorf(ErrInvalid, "ovsdb", "required")
	}
	var row *nb.Gateway
	gen, err := db.apply(ctx, fmt.Sprintf("create gateway %q", gw.Name), func(r *reader, next int) ([]ovsdb.Operation, error) {
		if _, ok := r.gatewayNamed(gw.Name); ok {
			return nil, errorf(ErrConflict, "name", "gateway %q already exists", gw.Name)
		}
		for _, other := range rows[*nb.Gateway](r.tc, nb.GatewayTable) {
			if gw.OVSDB != model.PassiveOVSDB && target.SharedEndpoint(gw.OVSDB, other.Ovsdb) != "" {
				return nil, errorf(ErrConflict, "ovsdb", "%s reaches the same database as gateway %q (%s)", gw.OVSDB, other.Name, other.Ovsdb)
			}
		}
		row = &nb.Gateway{Name: gw.Name, Ovsdb: gw.OVSDB, Generation: next,
			MACsPerSwitch: gw.Limits.MACsPerSwitch, MACsTotal: gw.Limits.MACsTotal, Tunnels: gw.Limits.Tunnels}
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

// GatewayChange is what PatchGateway changes: its capacity limits.
// Profile, when set, replaces all three first (a vendor's published
// capacity); the fields set override it or the current value.
type GatewayChange struct {
	Profile                           *model.Limits
	MACsPerSwitch, MACsTotal, Tunnels *int
}

// Apply returns lim with what c sets changed.
func (c GatewayChange) Apply(lim model.Limits) model.Limits {
	if c.Profile != nil {
		lim = *c.Profile
	}
	for _, f := range []struct {
		v   *int
		dst *int
	}{{c.MACsPerSwitch, &lim.MACsPerSwitch}, {c.MACsTotal, &lim.MACsTotal}, {c.Tunnels, &lim.Tunnels}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	return lim
}

// PatchGateway changes a registered gateway's limits; nothing when they
// are already what c makes them.
func (db *DB) PatchGateway(ctx context.Context, name string, c GatewayChange) (model.Gateway, error) {
	var out model.Gateway
	_, err := db.apply(ctx, fmt.Sprintf("patch gateway %q", name), func(r *reader, next int) ([]ovsdb.Operation, error) {
		cur, ok := r.gatewayNamed(name)
		if !ok {
			return nil, errorf(ErrNotFound, "", "gateway %q not found", name)
		}
		out = gatewayFromRow(cur)
		lim := c.Apply(out.Limits)
		if lim == out.Limits {
			return nil, nil
		}
		out.Limits, out.Generation = lim, int64(next)
		row := &nb.Gateway{UUID: cur.UUID, Generation: next, MACsPerSwitch: lim.MACsPerSwitch, MACsTotal: lim.MACsTotal, Tunnels: lim.Tunnels}
		return db.c.Where(row).Update(row, &row.Generation, &row.MACsPerSwitch, &row.MACsTotal, &row.Tunnels)
	})
	if err != nil {
		return model.Gateway{}, err
	}
	return out, nil
}

// The Gateway row's external_ids that keep its replication probe's result
// (model.Gateway.SourceNode), so that a restart or another replica taking
// over does not probe again.
const (
	SourceNodeKey         = "ferry/source-node"
	SourceNodeEvidenceKey = "ferry/source-node-evidence"
)

// SetGatewaySourceNode records a gateway's source-node probe result
// (model.SourceNodeSupported or Unsupported, "" to probe again).
func (db *DB) SetGatewaySourceNode(ctx context.Context, name, result, evidence string) error {
	switch result {
	case "", model.SourceNodeSupported, model.SourceNodeUnsupported:
	default:
		return errorf(ErrInvalid, "source_node", "%q is not supported or unsupported", result)
	}
	_, err := db.apply(ctx, fmt.Sprintf("record gateway %q source-node probe", name), func(r *reader, next int) ([]ovsdb.Operation, error) {
		cur, ok := r.gatewayNamed(name)
		if !ok {
			return nil, errorf(ErrNotFound, "", "gateway %q not found", name)
		}
		if cur.ExternalIDs[SourceNodeKey] == result && cur.ExternalIDs[SourceNodeEvidenceKey] == evidence {
			return nil, nil
		}
		ids := maps.Clone(cur.ExternalIDs)
		if ids == nil {
			ids = map[string]string{}
		}
		delete(ids, SourceNodeKey)
		delete(ids, SourceNodeEvidenceKey)
		if result != "" {
			ids[SourceNodeKey], ids[SourceNodeEvidenceKey] = result, evidence
		}
		row := &nb.Gateway{UUID: cur.UUID, Generation: next, ExternalIDs: ids}
		return db.c.Where(row).Update(row, &row.Generation, &row.ExternalIDs)
	})
	return err
}

// DeleteGateway unregisters a VTEP. A gateway that still carries bindings is
// refused: deleting it would silently cut bare-metal servers off several
// switches at once; delete the bindings first.
func (db *DB) DeleteGateway(ctx context.Context, name string) error {
	_, err := db.apply(ctx, fmt.Sprintf("delete gateway %q", name), func(r *reader, _ int) ([]ovsdb.Operation, error) {
		gw, ok := r.gatewayNamed(name)
		if !ok {
			return nil, errorf(ErrNotFound, "", "gateway %q not found", name)
		}
		// Deleting a gateway is rare: reading every binding is fine.
		var users []string
		for _, b := range rows[*nb.GatewayBinding](r.tc, nb.GatewayBindingTable) {
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
	_, err := db.apply(ctx, fmt.Sprintf("bind %s/%s/%d to switch %q", b.Gateway, b.Port, b.VLAN, b.Switch), func(r *reader, next int) ([]ovsdb.Operation, error) {
		sw, ok := r.switchNamed(b.Switch)
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", b.Switch)
		}
		if _, ok := r.gatewayNamed(b.Gateway); !ok {
			return nil, errorf(ErrNotFound, "", "gateway %q not found", b.Gateway)
		}
		if other, ok := r.bindingAt(b.Gateway, b.Port, int(b.VLAN)); ok {
			return nil, errorf(ErrConflict, "vlan", "%s port %s VLAN %d is already bound to switch %q", b.Gateway, b.Port, b.VLAN, other.Switch)
		}
		row := &nb.GatewayBinding{UUID: newBindingName(0), Switch: b.Switch, Gateway: b.Gateway, Port: b.Port, VLAN: int(b.VLAN)}
		ops, err := db.c.Create(row)
		if err != nil {
			return nil, err
		}
		swm := &nb.LogicalSwitch{UUID: sw.UUID}
		mutate, err := db.c.Where(swm).Mutate(swm, libmodel.Mutation{Field: &swm.Bindings, Mutator: ovsdb.MutateOperationInsert, Value: []string{row.UUID}})
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
	_, err := db.apply(ctx, fmt.Sprintf("unbind %s/%s/%d from switch %q", b.Gateway, b.Port, b.VLAN, b.Switch), func(r *reader, next int) ([]ovsdb.Operation, error) {
		sw, ok := r.switchNamed(b.Switch)
		if !ok {
			return nil, errorf(ErrNotFound, "", "switch %q not found", b.Switch)
		}
		row, ok := r.bindingAt(b.Gateway, b.Port, int(b.VLAN))
		if !ok || !slices.Contains(sw.Bindings, row.UUID) {
			return nil, errorf(ErrNotFound, "", "binding %s/%s/%d not found on switch %q", b.Gateway, b.Port, b.VLAN, b.Switch)
		}
		swm := &nb.LogicalSwitch{UUID: sw.UUID}
		ops, err := db.c.Where(swm).Mutate(swm, libmodel.Mutation{Field: &swm.Bindings, Mutator: ovsdb.MutateOperationDelete, Value: []string{row.UUID}})
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
