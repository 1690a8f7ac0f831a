package vtep

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/ovstest"
	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/ovsdb/rows"
	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

// vtepDB is a real ovsdb-server serving hardware_vtep, with Physical_Switch
// ps1 (ports p0 and p1) and a libovsdb connection monitoring it.
type vtepDB struct {
	t    *testing.T
	inst *ovstest.Instance
	conn *ovsdb.Conn
	seq  int
}

const syncKey = "ferry-test-sync"

func startVTEP(t *testing.T) *vtepDB {
	t.Helper()
	if _, err := exec.LookPath("vtep-ctl"); err != nil {
		ovstest.SkipIfMissing(t)
		t.Skip("vtep-ctl not installed")
	}
	inst := ovstest.Start(t, ovstest.Options{Schemas: []string{ovstest.VtepSchema}})
	v := &vtepDB{t: t, inst: inst}
	v.ctl("add-ps", "ps1", "--", "add-port", "ps1", "p0", "--", "add-port", "ps1", "p1")

	target, err := ovsdb.ParseActive(inst.DBRemote())
	if err != nil {
		t.Fatal(err)
	}
	m, err := hwvtep.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	// Global carries the test's sync marker.
	conn, err := ovsdb.NewConn(ovsdb.ConnConfig{
		Targets: []ovsdb.Target{target}, Model: m, Tables: append(Tables(), hwvtep.GlobalTable),
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	select {
	case <-conn.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("no connection to the VTEP database")
	}
	v.conn = conn
	return v
}

// ctl runs vtep-ctl against the database and returns its output, trimmed.
func (v *vtepDB) ctl(args ...string) string {
	v.t.Helper()
	return strings.TrimSpace(v.inst.Run(v.t, "vtep-ctl", append([]string{"--db=" + v.inst.DBRemote(), "--timeout=10"}, args...)...))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// sync makes the cache catch up with every transaction committed so far,
// vtep-ctl's included: ovsdb-server sends updates in commit order, so once
// the cache shows a marker written now, it shows everything before it.
func (v *vtepDB) sync() {
	v.t.Helper()
	v.seq++
	want := strconv.Itoa(v.seq)
	c := ctx(v.t)
	var g []hwvtep.Global
	if err := v.conn.Client().List(c, &g); err != nil || len(g) != 1 {
		v.t.Fatalf("Global rows: %v (%d)", err, len(g))
	}
	op := libovsdb.Operation{Op: libovsdb.OperationMutate, Table: hwvtep.GlobalTable, Where: rows.WhereUUID(g[0].UUID),
		Mutations: []libovsdb.Mutation{
			{Column: "other_config", Mutator: libovsdb.MutateOperationDelete, Value: libovsdb.OvsSet{GoSet: []any{syncKey}}},
			{Column: "other_config", Mutator: libovsdb.MutateOperationInsert, Value: libovsdb.OvsMap{GoMap: map[any]any{syncKey: want}}},
		}}
	if _, err := ovsdb.Transact(c, v.conn.Client(), op); err != nil {
		v.t.Fatalf("sync: %v", err)
	}
	for {
		g = nil
		if err := v.conn.Client().List(c, &g); err == nil && len(g) == 1 && g[0].OtherConfig[syncKey] == want {
			return
		}
		if c.Err() != nil {
			v.t.Fatal("sync: the cache did not catch up")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// observe returns the database as the cache shows it after a sync.
func (v *vtepDB) observe() *Observed {
	v.t.Helper()
	v.sync()
	o, err := Observe(ctx(v.t), v.conn.Client().Cache())
	if err != nil {
		v.t.Fatal(err)
	}
	return o
}

// apply brings the database to d in one transaction and returns the
// operations it took. It checks that they leave other controllers' rows
// alone and that a second pass has nothing left to do.
func (v *vtepDB) apply(d Desired) []libovsdb.Operation {
	v.t.Helper()
	o := v.observe()
	ops, err := Ops(o, d)
	if err != nil {
		v.t.Fatalf("Ops: %v", err)
	}
	checkOwnership(v.t, o, ops)
	if _, err := ovsdb.Transact(ctx(v.t), v.conn.Client(), ops...); err != nil {
		v.t.Fatalf("transact %v: %v", ops, err)
	}
	again, err := Ops(v.observe(), d)
	if err != nil {
		v.t.Fatalf("Ops after commit: %v", err)
	}
	if len(again) != 0 {
		v.t.Fatalf("second pass not empty: %v", again)
	}
	return ops
}

// checkOwnership fails the test if ops would write a row ferry does not
// own or drop a binding of another controller.
func checkOwnership(t *testing.T, o *Observed, ops []libovsdb.Operation) {
	t.Helper()
	foreign := make(map[string]string) // UUID → what
	for u, ls := range o.lswitches {
		if !owned(ls) {
			foreign[u] = "Logical_Switch " + ls.Name
			for _, r := range o.ucastRemote[u] {
				foreign[r.UUID] = "Ucast_Macs_Remote of " + ls.Name
			}
			for _, r := range o.mcastRemote[u] {
				foreign[r.UUID] = "Mcast_Macs_Remote of " + ls.Name
			}
		}
	}
	for _, rows := range o.ucastLocal {
		for _, r := range rows {
			foreign[r.UUID] = "Ucast_Macs_Local"
		}
	}
	for _, ps := range o.switches {
		foreign[ps.UUID] = "Physical_Switch " + ps.Name
	}
	for _, op := range ops {
		switch op.Table {
		case hwvtep.LogicalSwitchTable, hwvtep.UcastMacsRemoteTable, hwvtep.McastMacsRemoteTable,
			hwvtep.PhysicalPortTable, hwvtep.PhysicalLocatorTable, hwvtep.PhysicalLocatorSetTable:
		default:
			t.Errorf("operation on table %s: %v", op.Table, op)
		}
		if (op.Table == hwvtep.PhysicalLocatorTable || op.Table == hwvtep.PhysicalLocatorSetTable) && op.Op != libovsdb.OperationInsert {
			t.Errorf("locators are only inserted: %v", op)
		}
		for _, c := range op.Where {
			if u, ok := c.Value.(libovsdb.UUID); ok && foreign[u.GoUUID] != "" {
				t.Errorf("%s touches %s: %v", op.Op, foreign[u.GoUUID], op)
			}
		}
		if op.Table == hwvtep.PhysicalPortTable {
			if op.Op != libovsdb.OperationMutate {
				t.Errorf("Physical_Port changed other than by mutation: %v", op)
				continue
			}
			p := o.ports[op.Where[0].Value.(libovsdb.UUID).GoUUID]
			for _, m := range op.Mutations {
				if m.Column != "vlan_bindings" {
					t.Errorf("mutation of %s: %v", m.Column, op)
				}
				if m.Mutator != libovsdb.MutateOperationDelete {
					continue
				}
				for _, k := range m.Value.(libovsdb.OvsSet).GoSet {
					if ls := o.lswitches[p.VLANBindings[k.(int)]]; !owned(ls) {
						t.Errorf("drops binding %v of %s", k, ls.Name)
					}
				}
			}
		}
	}
}

// lines splits vtep-ctl output into trimmed lines.
func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func wantLines(t *testing.T, what, got string, want ...string) {
	t.Helper()
	if g := lines(got); !slices.Equal(g, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, g, want)
	}
}

// freshDB replaces the database file with an empty one and restarts
// ovsdb-server on it, as a VTEP that lost its database does.
func (v *vtepDB) freshDB() {
	v.t.Helper()
	db := filepath.Join(v.inst.Dir, "vtep.db")
	tmp := db + ".new"
	v.inst.Run(v.t, "ovsdb-tool", "create", tmp, ovstest.VtepSchema)
	if err := os.Rename(tmp, db); err != nil {
		v.t.Fatal(err)
	}
	if err := v.inst.RestartOvsdb(); err != nil {
		v.t.Fatal(err)
	}
}
