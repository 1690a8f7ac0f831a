package nbdb

import (
	"net"
	"slices"
	"strings"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// Snapshot returns the northbound state in the cache as an immutable,
// sorted model.Snapshot. When the client has no cache (it disconnected
// without libovsdb's reconnect option) Snapshot returns the last state it
// read, so that a lost connection never looks like "everything deleted";
// before the first successful read that is an empty snapshot at generation
// 0.
func (db *DB) Snapshot() *model.Snapshot {
	tc := db.c.Cache()
	var gen int64
	var changes uint64
	if tc != nil {
		db.watching.Do(func() { db.Notify(func() { db.changes.Add(1) }) })
		// The generation check keeps read-after-write exact (every write
		// of ours bumps it, and the cache already shows it when the write
		// returns); the change count catches foreign writes, whose events
		// libovsdb delivers a moment later.
		changes = db.changes.Load()
		if g := readGlobal(tc); g != nil {
			gen = int64(g.Generation)
		}
		if c := db.snap.Load(); c != nil && c.gen == gen && c.changes == changes {
			return c.snap
		}
	}
	v, err := db.read()
	if err != nil {
		if v = db.last.Load(); v == nil {
			return &model.Snapshot{}
		}
		return v.snapshot()
	}
	s := v.snapshot()
	if tc != nil && s.Generation == gen {
		db.snap.Store(&snapCache{gen: gen, changes: changes, snap: s})
	}
	return s
}

// snapCache is a Snapshot and what it was taken at.
type snapCache struct {
	gen     int64
	changes uint64
	snap    *model.Snapshot
}

func (v *view) snapshot() *model.Snapshot {
	s := &model.Snapshot{
		Generation: int64(v.generation()),
		Switches:   make([]model.Switch, 0, len(v.switches)),
		Chassis:    make([]model.Chassis, 0, len(v.chassis)),
	}
	for _, row := range v.switches {
		sw := switchFromRow(row)
		sw.Ports = make([]model.Port, 0, len(row.Ports))
		for _, u := range row.Ports {
			if p, ok := v.ports[u]; ok {
				sw.Ports = append(sw.Ports, portFromRow(row.Name, p))
			}
		}
		slices.SortFunc(sw.Ports, func(a, b model.Port) int { return strings.Compare(a.Name, b.Name) })
		for _, u := range row.Bindings {
			if b, ok := v.bindings[u]; ok {
				sw.Bindings = append(sw.Bindings, model.GatewayBinding{Switch: row.Name, Gateway: b.Gateway, Port: b.Port, VLAN: uint16(b.VLAN)})
			}
		}
		slices.SortFunc(sw.Bindings, compareBindings)
		s.Switches = append(s.Switches, sw)
	}
	slices.SortFunc(s.Switches, func(a, b model.Switch) int { return strings.Compare(a.Name, b.Name) })
	for _, row := range v.chassis {
		s.Chassis = append(s.Chassis, chassisFromRow(row))
	}
	slices.SortFunc(s.Chassis, func(a, b model.Chassis) int { return strings.Compare(a.Name, b.Name) })
	for _, row := range v.gateways {
		s.Gateways = append(s.Gateways, gatewayFromRow(row))
	}
	slices.SortFunc(s.Gateways, func(a, b model.Gateway) int { return strings.Compare(a.Name, b.Name) })
	return s
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
	gw := model.Gateway{Name: r.Name, OVSDB: r.Ovsdb, Generation: int64(r.Generation)}
	if r.PhysicalSwitch != nil {
		gw.PhysicalSwitch = *r.PhysicalSwitch
	}
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
	}
	if r.UnderlayMTU != nil {
		ch.UnderlayMTU = *r.UnderlayMTU
	}
	if r.DatapathType != nil {
		ch.DatapathType = *r.DatapathType
	}
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
