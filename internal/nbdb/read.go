package nbdb

import (
	"errors"
	"slices"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/cache"
	libmodel "github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// Reading the cache consistently.
//
// libovsdb applies one update message (one or more transactions) while
// holding its TableCache lock for writing, row by row and table by table in
// no fixed order; TableCache.Table takes the same lock for reading, so a
// call to it returns only once no update is half-applied. A reading is
// therefore exact when it goes: NB_Global, then a Table call (the barrier),
// then the rows, then NB_Global again, and both NB_Global readings agree:
// an update that overlapped the rows started after the barrier, so it
// finished before the second reading, and every transaction of ours moves
// the generation. Writers that do not move it (a hand edit) are caught, as
// far as they can be, by the row checks of the snapshot (no row newer than
// NB_Global, every reference resolves). All of it costs O(rows read), not
// O(database).

// errNoCache: the client never connected, so there is nothing to read.
var errNoCache = errors.New("northbound cache not available (not connected)")

// barrier returns once libovsdb has no update half-applied to tc.
func barrier(tc *cache.TableCache) { tc.Table(nb.NBGlobalTable) }

func readGlobal(tc *cache.TableCache) *nb.NBGlobal {
	t := tc.Table(nb.NBGlobalTable)
	if t == nil {
		return nil
	}
	var g *nb.NBGlobal
	for _, m := range t.RowsShallow() {
		// The schema allows one row; should a foreign writer have made
		// more (libovsdb's test server ignores maxRows), the highest
		// generation is the one that moves.
		if r := m.(*nb.NBGlobal); g == nil || r.Generation > g.Generation {
			g = r
		}
	}
	return g
}

func generationOf(g *nb.NBGlobal) int {
	if g == nil {
		return 0
	}
	return g.Generation
}

func sameGlobal(a, b *nb.NBGlobal) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UUID == b.UUID && a.Generation == b.Generation
}

// reader looks up the rows one write touches, through the cache's indexes
// (the schema's: switch name and VNI, port [switch, name] and iface_id,
// chassis and gateway name, binding [gateway, port, vlan]), at the
// generation of global. A successful write is guarded by the transaction's
// wait on that generation; a refusal is returned only when stable says
// the lookups did not straddle a change.
type reader struct {
	tc     *cache.TableCache
	global *nb.NBGlobal
}

// newReader reads NB_Global and passes the barrier (see above).
func newReader(tc *cache.TableCache) *reader {
	r := &reader{tc: tc, global: readGlobal(tc)}
	barrier(tc)
	return r
}

// stable reports whether no transaction moved the generation since r was
// made, so that what r's lookups found is one state of the database.
func (r *reader) stable() bool { return sameGlobal(r.global, readGlobal(r.tc)) }

// lookup finds the row of table that matches probe on one of the schema
// indexes, and checks it with match: libovsdb uses the first index whose
// value it finds, which may be another column's zero value in a foreign
// row. A miss that should have been a hit is still refused by the server's
// index at commit (see indexConflict). The row is a copy.
func lookup[T libmodel.Model](tc *cache.TableCache, table string, probe T, match func(T) bool) (T, bool) {
	var zero T
	t := tc.Table(table)
	if t == nil {
		return zero, false
	}
	_, m, err := t.RowByModel(probe)
	if err != nil || m == nil {
		return zero, false
	}
	row, ok := m.(T)
	if !ok || !match(row) {
		return zero, false
	}
	return row, true
}

// row returns a copy of the row of table with UUID uuid.
func row[T libmodel.Model](tc *cache.TableCache, table, uuid string) (T, bool) {
	var zero T
	t := tc.Table(table)
	if t == nil {
		return zero, false
	}
	row, ok := t.Row(uuid).(T)
	return row, ok
}

// rows returns the cached rows of a table without copying them: the cache
// replaces rather than modifies a row on update, so they stay read-only.
// Only small tables (chassis, gateways) and rare checks read whole tables.
func rows[T libmodel.Model](tc *cache.TableCache, table string) []T {
	t := tc.Table(table)
	if t == nil {
		return nil
	}
	out := make([]T, 0, t.Len())
	for _, m := range t.RowsShallow() {
		out = append(out, m.(T))
	}
	return out
}

func (r *reader) switchNamed(name string) (*nb.LogicalSwitch, bool) {
	return lookup(r.tc, nb.LogicalSwitchTable, &nb.LogicalSwitch{Name: name},
		func(sw *nb.LogicalSwitch) bool { return sw.Name == name })
}

func (r *reader) switchWithVNI(vni int) (*nb.LogicalSwitch, bool) {
	return lookup(r.tc, nb.LogicalSwitchTable, &nb.LogicalSwitch{Vni: vni},
		func(sw *nb.LogicalSwitch) bool { return sw.Vni == vni })
}

// portNamed finds a port of sw by name. The [switch, name] index is on a
// denormalized column; the port must also be one sw references.
func (r *reader) portNamed(sw *nb.LogicalSwitch, name string) (*nb.LogicalPort, bool) {
	return lookup(r.tc, nb.LogicalPortTable, &nb.LogicalPort{Switch: sw.Name, Name: name},
		func(p *nb.LogicalPort) bool {
			return p.Name == name && p.Switch == sw.Name && slices.Contains(sw.Ports, p.UUID)
		})
}

func (r *reader) portWithIfaceID(id string) (*nb.LogicalPort, bool) {
	return lookup(r.tc, nb.LogicalPortTable, &nb.LogicalPort{IfaceID: id},
		func(p *nb.LogicalPort) bool { return p.IfaceID == id })
}

func (r *reader) port(uuid string) (*nb.LogicalPort, bool) {
	return row[*nb.LogicalPort](r.tc, nb.LogicalPortTable, uuid)
}

func (r *reader) binding(uuid string) (*nb.GatewayBinding, bool) {
	return row[*nb.GatewayBinding](r.tc, nb.GatewayBindingTable, uuid)
}

func (r *reader) bindingAt(gateway, port string, vlan int) (*nb.GatewayBinding, bool) {
	return lookup(r.tc, nb.GatewayBindingTable, &nb.GatewayBinding{Gateway: gateway, Port: port, VLAN: vlan},
		func(b *nb.GatewayBinding) bool { return b.Gateway == gateway && b.Port == port && b.VLAN == vlan })
}

func (r *reader) chassisNamed(name string) (*nb.Chassis, bool) {
	return lookup(r.tc, nb.ChassisTable, &nb.Chassis{Name: name},
		func(ch *nb.Chassis) bool { return ch.Name == name })
}

func (r *reader) gatewayNamed(name string) (*nb.Gateway, bool) {
	return lookup(r.tc, nb.GatewayTable, &nb.Gateway{Name: name},
		func(gw *nb.Gateway) bool { return gw.Name == name })
}

// networkOwner returns the switch other than except that adopts one of
// networks, and that network. It reads every switch, which only a change
// of xenserver_networks pays: a set column has no index.
func (r *reader) networkOwner(networks []string, except string) (sw *nb.LogicalSwitch, network string) {
	if len(networks) == 0 {
		return nil, ""
	}
	for _, other := range rows[*nb.LogicalSwitch](r.tc, nb.LogicalSwitchTable) {
		if other.Name == except {
			continue
		}
		for _, n := range networks {
			if slices.Contains(other.XenserverNetworks, n) {
				return other, n
			}
		}
	}
	return nil, ""
}

// indexConflict turns an index violation that got past the cache checks (a
// race with a writer that does not bump the generation) into ErrConflict,
// naming the indexed column from the server's details.
func indexConflict(cv *ovsdb.ConstraintViolation) error {
	d := cv.Error()
	field := "name"
	switch {
	case strings.Contains(d, `"vni"`):
		field = "vni"
	case strings.Contains(d, "iface_id"):
		field = "iface_id"
	}
	return &Error{Kind: ErrConflict, Field: field, Msg: "already in use (a concurrent change got there first)"}
}
