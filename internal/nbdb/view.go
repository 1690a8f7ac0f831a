package nbdb

import (
	"errors"
	"runtime"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// view is one consistent reading of the cache, with the row UUIDs that
// writes need. Its rows are shared with the cache and must not be modified.
type view struct {
	global   *nb.NBGlobal                  // nil in a fresh database
	switches map[string]*nb.LogicalSwitch  // by name
	ports    map[string]*nb.LogicalPort    // by UUID
	chassis  map[string]*nb.Chassis        // by name
	gateways map[string]*nb.Gateway        // by name
	bindings map[string]*nb.GatewayBinding // by UUID
}

func (v *view) generation() int {
	if v.global == nil {
		return 0
	}
	return v.global.Generation
}

// consistent reports whether v can be one database state: every row is no
// newer than NB_Global and every port reference resolves. Every change
// stamps its switch or chassis with the generation it writes to NB_Global, so
// a view that caught a half-applied update fails this check.
func (v *view) consistent() bool {
	g := v.generation()
	for _, sw := range v.switches {
		if sw.Generation > g {
			return false
		}
		for _, p := range sw.Ports {
			if _, ok := v.ports[p]; !ok {
				return false
			}
		}
		for _, b := range sw.Bindings {
			if _, ok := v.bindings[b]; !ok {
				return false
			}
		}
	}
	for _, gw := range v.gateways {
		if gw.Generation > g {
			return false
		}
	}
	for _, ch := range v.chassis {
		if ch.Generation > g {
			return false
		}
	}
	return true
}

// errNoCache: the client never connected, so there is nothing to read.
var errNoCache = errors.New("northbound cache not available (not connected)")

// read returns a consistent view. libovsdb applies an update to its tables
// one after the other, so read takes NB_Global before and after the other
// tables (a sequence lock) and tries again when they differ or the rows do
// not fit together. The loop is short: updates apply in microseconds. A
// foreign writer could leave rows that never fit (a switch stamped with a
// generation NB_Global never reached); read then accepts that generation's
// state after a few tries, and at once from then on.
func (db *DB) read() (*view, error) {
	tc := db.c.Cache()
	if tc == nil {
		return nil, errNoCache
	}
	// Reuse the last view while the generation and the cache's change
	// count are unchanged: writes are serialized and each waits for its
	// generation, so at 10,000 ports rebuilding the view for every write
	// (and every poll of the wait) made writes quadratic.
	db.watching.Do(func() { db.Notify(func() { db.changes.Add(1) }) })
	changes := db.changes.Load()
	var gen int
	if g := readGlobal(tc); g != nil {
		gen = g.Generation
	}
	if c := db.lastView.Load(); c != nil && c.gen == gen && c.changes == changes {
		return c.v, nil
	}
	v, err := db.readView(tc)
	if err == nil && v.generation() == gen {
		db.lastView.Store(&viewCache{gen: gen, changes: changes, v: v})
	}
	return v, err
}

// viewCache is a view and what it was read at.
type viewCache struct {
	gen     int
	changes uint64
	v       *view
}

func (db *DB) readView(tc *cache.TableCache) (*view, error) {
	for try := 0; ; try++ {
		before := readGlobal(tc)
		v := &view{
			global:   before,
			switches: make(map[string]*nb.LogicalSwitch),
			ports:    make(map[string]*nb.LogicalPort),
			chassis:  make(map[string]*nb.Chassis),
			gateways: make(map[string]*nb.Gateway),
			bindings: make(map[string]*nb.GatewayBinding),
		}
		for _, m := range rows(tc, nb.LogicalSwitchTable) {
			sw := m.(*nb.LogicalSwitch)
			v.switches[sw.Name] = sw
		}
		for u, m := range rows(tc, nb.LogicalPortTable) {
			v.ports[u] = m.(*nb.LogicalPort)
		}
		for _, m := range rows(tc, nb.ChassisTable) {
			ch := m.(*nb.Chassis)
			v.chassis[ch.Name] = ch
		}
		for _, m := range rows(tc, nb.GatewayTable) {
			gw := m.(*nb.Gateway)
			v.gateways[gw.Name] = gw
		}
		for u, m := range rows(tc, nb.GatewayBindingTable) {
			v.bindings[u] = m.(*nb.GatewayBinding)
		}
		after := readGlobal(tc)
		settled := sameGlobal(before, after)
		switch {
		case settled && (v.consistent() || int64(v.generation()) == db.oddGeneration.Load()):
		case settled && try >= 100:
			db.log.Warn("northbound rows newer than NB_Global.generation; was the database changed by hand?", "generation", v.generation())
			db.oddGeneration.Store(int64(v.generation()))
		case try >= 10000:
			return nil, errors.New("northbound cache keeps changing; no consistent reading")
		default:
			runtime.Gosched()
			continue
		}
		db.last.Store(v)
		return v, nil
	}
}

// rows returns the cached rows of a table without copying them: the cache
// replaces rather than modifies a row on update, so they stay read-only.
func rows(tc *cache.TableCache, table string) map[string]model.Model {
	t := tc.Table(table)
	if t == nil {
		return nil
	}
	return t.RowsShallow()
}

func readGlobal(tc *cache.TableCache) *nb.NBGlobal {
	var g *nb.NBGlobal
	for _, m := range rows(tc, nb.NBGlobalTable) {
		// The schema allows one row; should a foreign writer have made
		// more (libovsdb's test server ignores maxRows), the highest
		// generation is the one that moves.
		if r := m.(*nb.NBGlobal); g == nil || r.Generation > g.Generation {
			g = r
		}
	}
	return g
}

func sameGlobal(a, b *nb.NBGlobal) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.UUID == b.UUID && a.Generation == b.Generation
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
