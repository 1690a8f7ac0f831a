package nbdb_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// servers runs f against libovsdb's in-memory server and a real
// ovsdb-server: the first is what most unit tests use, the second what
// production runs, and they differ in details (maxRows, error texts).
func servers(t *testing.T, f func(t *testing.T, endpoint string)) {
	t.Run("inmemory", func(t *testing.T) {
		t.Parallel()
		f(t, nbdbtest.InMemory(t))
	})
	t.Run("ovsdb-server", func(t *testing.T) {
		t.Parallel()
		f(t, nbdbtest.OVSDBServer(t))
	})
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustSwitch(t *testing.T, db *nbdb.DB, sw model.Switch) model.Switch {
	t.Helper()
	out, err := db.CreateSwitch(ctx(t), sw)
	if err != nil {
		t.Fatalf("CreateSwitch(%+v): %v", sw, err)
	}
	return out
}

func mustPort(t *testing.T, db *nbdb.DB, p model.Port) model.Port {
	t.Helper()
	out, err := db.CreatePort(ctx(t), p)
	if err != nil {
		t.Fatalf("CreatePort(%+v): %v", p, err)
	}
	return out
}

func wantErr(t *testing.T, err, kind error, field string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want %v", err, kind)
	}
	var e *nbdb.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *nbdb.Error", err)
	}
	if e.Field != field {
		t.Fatalf("error %v names field %q, want %q", err, e.Field, field)
	}
}

func names[T any](items []T, name func(T) string) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, name(it))
	}
	return out
}

func switchNames(s *model.Snapshot) []string {
	return names(s.Switches, func(sw model.Switch) string { return sw.Name })
}

func portNames(sw model.Switch) []string {
	return names(sw.Ports, func(p model.Port) string { return p.Name })
}

func TestEmpty(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		if !db.Healthy() {
			t.Fatal("Healthy() = false on a connected client")
		}
		s := db.Snapshot()
		if s.Generation != 0 || len(s.Switches) != 0 || len(s.Chassis) != 0 {
			t.Fatalf("fresh snapshot = %+v, want empty at generation 0", s)
		}
	})
}

func TestSwitchesAndPorts(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)

		// Created out of order: the snapshot sorts.
		b := mustSwitch(t, db, model.Switch{Name: "blue"})
		if b.VNI != 1 || b.Encap != model.EncapVXLAN || b.Generation != 1 {
			t.Fatalf("blue = %+v, want VNI 1, vxlan, generation 1", b)
		}
		a := mustSwitch(t, db, model.Switch{Name: "amber", VNI: 5000, Encap: model.EncapGRE})
		if a.VNI != 5000 || a.Encap != model.EncapGRE || a.Generation != 2 {
			t.Fatalf("amber = %+v", a)
		}
		mac, _ := net.ParseMAC("02:AA:bb:00:00:01")
		p := mustPort(t, db, model.Port{Switch: "blue", Name: "vm2", IfaceID: "iface-2", MAC: mac})
		if p.MAC.String() != "02:aa:bb:00:00:01" {
			t.Fatalf("port MAC = %v", p.MAC)
		}
		mustPort(t, db, model.Port{Switch: "blue", Name: "vm1", IfaceID: "iface-1"})
		// The same port name on another switch is fine.
		mustPort(t, db, model.Port{Switch: "amber", Name: "vm1", IfaceID: "iface-3"})

		s := db.Snapshot()
		if s.Generation != 5 {
			t.Fatalf("generation = %d, want 5", s.Generation)
		}
		if got := switchNames(s); !slices.Equal(got, []string{"amber", "blue"}) {
			t.Fatalf("switches = %v", got)
		}
		blue, _ := s.Switch("blue")
		if got := portNames(blue); !slices.Equal(got, []string{"vm1", "vm2"}) {
			t.Fatalf("blue ports = %v", got)
		}
		if blue.Generation != 4 {
			t.Fatalf("blue generation = %d, want 4 (its last port)", blue.Generation)
		}
		vm2 := blue.Ports[1]
		if vm2.Switch != "blue" || vm2.IfaceID != "iface-2" || vm2.MAC.String() != "02:aa:bb:00:00:01" {
			t.Fatalf("vm2 = %+v", vm2)
		}
		if blue.Ports[0].MAC != nil {
			t.Fatalf("vm1 MAC = %v, want none", blue.Ports[0].MAC)
		}

		if err := db.DeletePort(ctx(t), "blue", "vm2"); err != nil {
			t.Fatal(err)
		}
		s = db.Snapshot()
		blue, _ = s.Switch("blue")
		if got := portNames(blue); !slices.Equal(got, []string{"vm1"}) || blue.Generation != 6 || s.Generation != 6 {
			t.Fatalf("after DeletePort: ports %v, switch generation %d, generation %d", got, blue.Generation, s.Generation)
		}
		// The iface_id is free again.
		mustPort(t, db, model.Port{Switch: "amber", Name: "vm2", IfaceID: "iface-2"})

		if err := db.DeleteSwitch(ctx(t), "blue"); err != nil {
			t.Fatal(err)
		}
		s = db.Snapshot()
		if got := switchNames(s); !slices.Equal(got, []string{"amber"}) || s.Generation != 8 {
			t.Fatalf("after DeleteSwitch: switches %v at generation %d", got, s.Generation)
		}
		// blue's port rows are garbage-collected by the server, and
		// their iface_id can be reused.
		if n := countPorts(t, ep); n != 2 {
			t.Fatalf("%d Logical_Port rows left, want 2 (amber's)", n)
		}
		mustPort(t, db, model.Port{Switch: "amber", Name: "vm3", IfaceID: "iface-1"})
	})
}

// countPorts counts Logical_Port rows as another client sees them.
func countPorts(t *testing.T, ep string) int {
	t.Helper()
	c := nbdbtest.Connect(t, ep)
	var ports []nb.LogicalPort
	if err := c.List(ctx(t), &ports); err != nil {
		t.Fatal(err)
	}
	return len(ports)
}

func TestChassis(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		ch, err := db.CreateChassis(ctx(t), model.Chassis{
			Name:     "hv1",
			OVSDB:    "tcp:198.18.255.11:6640",
			TunnelIP: net.ParseIP("198.18.1.11"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if ch.Bridge != "br-int" || ch.Kind != "kvm" || !slices.Equal(ch.Encaps, []string{"vxlan", "gre"}) || ch.Generation != 1 {
			t.Fatalf("defaults not applied: %+v", ch)
		}
		if _, err := db.CreateChassis(ctx(t), model.Chassis{
			Name:     "xs1",
			OVSDB:    "ssl:198.18.255.12:6640",
			TunnelIP: net.ParseIP("198.18.1.12").To4(),
			Bridge:   "xapi1",
			Kind:     model.KindXenServer,
			Encaps:   []string{"gre", "vxlan"},
		}); err != nil {
			t.Fatal(err)
		}
		s := db.Snapshot()
		if got := names(s.Chassis, func(c model.Chassis) string { return c.Name }); !slices.Equal(got, []string{"hv1", "xs1"}) {
			t.Fatalf("chassis = %v", got)
		}
		xs1, _ := s.ChassisByName("xs1")
		if xs1.Bridge != "xapi1" || xs1.Kind != "xenserver" || !xs1.TunnelIP.Equal(net.ParseIP("198.18.1.12")) ||
			!slices.Equal(xs1.Encaps, []string{"vxlan", "gre"}) || xs1.Generation != 2 || xs1.OVSDB != "ssl:198.18.255.12:6640" {
			t.Fatalf("xs1 = %+v", xs1)
		}

		wantErr(t, createChassis(t, db, "hv1", "tcp:198.18.255.13:6640", "198.18.1.13"), nbdb.ErrConflict, "name")
		wantErr(t, createChassis(t, db, "hv3", "tcp:198.18.255.13:6640", "198.18.1.11"), nbdb.ErrConflict, "tunnel_ip")
		wantErr(t, createChassis(t, db, "hv3", "tcp:198.18.255.11:6640", "198.18.1.13"), nbdb.ErrConflict, "ovsdb")
		// Other spellings of one socket are one device.
		for _, other := range []string{"tcp:[::ffff:198.18.255.11]:6640", "ssl:198.18.255.11:6640", "tcp:198.18.255.99:6640,tcp:198.18.255.11:6640"} {
			wantErr(t, createChassis(t, db, "hv3", other, "198.18.1.13"), nbdb.ErrConflict, "ovsdb")
		}
		if err := createChassis(t, db, "hv4", "unix:/run/hv4/db.sock", "198.18.1.14"); err != nil {
			t.Fatal(err)
		}
		wantErr(t, createChassis(t, db, "hv3", "unix:/run/hv4/./db.sock", "198.18.1.13"), nbdb.ErrConflict, "ovsdb")
		if err := db.DeleteChassis(ctx(t), "hv4"); err != nil {
			t.Fatal(err)
		}
		wantErr(t, db.DeleteChassis(ctx(t), "nope"), nbdb.ErrNotFound, "")
		if g := db.Snapshot().Generation; g != 4 {
			t.Fatalf("refused changes moved the generation to %d", g)
		}

		if err := db.DeleteChassis(ctx(t), "hv1"); err != nil {
			t.Fatal(err)
		}
		s = db.Snapshot()
		if _, ok := s.ChassisByName("hv1"); ok || s.Generation != 5 {
			t.Fatalf("after delete: %+v", s)
		}
	})
}

func createChassis(t *testing.T, db *nbdb.DB, name, target, ip string) error {
	_, err := db.CreateChassis(ctx(t), model.Chassis{Name: name, OVSDB: target, TunnelIP: net.ParseIP(ip)})
	return err
}

func TestVNI(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		mustSwitch(t, db, model.Switch{Name: "one", VNI: 1})
		mustSwitch(t, db, model.Switch{Name: "three", VNI: 3})
		if sw := mustSwitch(t, db, model.Switch{Name: "a"}); sw.VNI != 2 {
			t.Fatalf("allocated VNI %d, want the lowest free (2)", sw.VNI)
		}
		if sw := mustSwitch(t, db, model.Switch{Name: "b"}); sw.VNI != 4 {
			t.Fatalf("allocated VNI %d, want 4", sw.VNI)
		}
		if err := db.DeleteSwitch(ctx(t), "a"); err != nil {
			t.Fatal(err)
		}
		if sw := mustSwitch(t, db, model.Switch{Name: "c"}); sw.VNI != 2 {
			t.Fatalf("allocated VNI %d after freeing 2, want 2", sw.VNI)
		}
		if sw := mustSwitch(t, db, model.Switch{Name: "max", VNI: model.MaxVNI}); sw.VNI != 16777215 {
			t.Fatalf("max VNI = %d", sw.VNI)
		}
		_, err := db.CreateSwitch(ctx(t), model.Switch{Name: "big", VNI: model.MaxVNI + 1})
		wantErr(t, err, nbdb.ErrInvalid, "vni")
		_, err = db.CreateSwitch(ctx(t), model.Switch{Name: "dup", VNI: 3})
		wantErr(t, err, nbdb.ErrConflict, "vni")
		_, err = db.CreateSwitch(ctx(t), model.Switch{Name: "bad", Encap: "geneve"})
		wantErr(t, err, nbdb.ErrInvalid, "encap")
	})
}

func TestRefused(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		mustSwitch(t, db, model.Switch{Name: "blue"})
		mustSwitch(t, db, model.Switch{Name: "red"})
		mustPort(t, db, model.Port{Switch: "blue", Name: "vm1", IfaceID: "if1"})
		before := db.Snapshot()

		_, err := db.CreateSwitch(ctx(t), model.Switch{Name: "blue", VNI: 99})
		wantErr(t, err, nbdb.ErrConflict, "name")
		_, err = db.CreatePort(ctx(t), model.Port{Switch: "blue", Name: "vm1", IfaceID: "if2"})
		wantErr(t, err, nbdb.ErrConflict, "name")
		_, err = db.CreatePort(ctx(t), model.Port{Switch: "red", Name: "vm9", IfaceID: "if1"})
		wantErr(t, err, nbdb.ErrConflict, "iface_id")
		_, err = db.CreatePort(ctx(t), model.Port{Switch: "green", Name: "vm1", IfaceID: "if3"})
		wantErr(t, err, nbdb.ErrNotFound, "")
		wantErr(t, db.DeleteSwitch(ctx(t), "green"), nbdb.ErrNotFound, "")
		wantErr(t, db.DeletePort(ctx(t), "green", "vm1"), nbdb.ErrNotFound, "")
		wantErr(t, db.DeletePort(ctx(t), "red", "vm1"), nbdb.ErrNotFound, "")
		_, err = db.CreatePort(ctx(t), model.Port{Switch: "red", Name: "vm1"})
		wantErr(t, err, nbdb.ErrInvalid, "iface_id")

		after := db.Snapshot()
		if after.Generation != before.Generation || len(after.Switches) != 2 || countPorts(t, ep) != 1 {
			t.Fatalf("refused changes left traces: before %+v, after %+v", before, after)
		}
	})
}

// TestConcurrentCreates races two DBs (two clients, as two ferryd
// processes would be) on one server: the generation wait must make every
// loser retry on fresh data, so no name or VNI is handed out twice and no
// change is lost.
func TestConcurrentCreates(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		dbs := []*nbdb.DB{nbdbtest.New(t, ep), nbdbtest.New(t, ep)}
		const perDB = 8
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			dupWins  int
			created  []model.Switch
			failures []error
		)
		start := make(chan struct{})
		for i, db := range dbs {
			for j := range perDB {
				wg.Add(2)
				go func() {
					defer wg.Done()
					<-start
					sw, err := db.CreateSwitch(ctx(t), model.Switch{Name: fmt.Sprintf("sw-%d-%d", i, j)})
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						failures = append(failures, err)
						return
					}
					created = append(created, sw)
				}()
				go func() {
					defer wg.Done()
					<-start
					_, err := db.CreateSwitch(ctx(t), model.Switch{Name: "contested", VNI: 9999})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						dupWins++
					case !errors.Is(err, nbdb.ErrConflict):
						failures = append(failures, err)
					}
				}()
			}
		}
		close(start)
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("unexpected errors: %v", failures)
		}
		if dupWins != 1 {
			t.Fatalf("%d creates of the same switch succeeded, want 1", dupWins)
		}
		seen := map[uint32]string{9999: "contested"}
		for _, sw := range created {
			if other, ok := seen[sw.VNI]; ok {
				t.Fatalf("VNI %d handed to %s and %s", sw.VNI, sw.Name, other)
			}
			seen[sw.VNI] = sw.Name
		}
		c := nbdbtest.Connect(t, ep)
		var globals []nb.NBGlobal
		if err := c.List(ctx(t), &globals); err != nil || len(globals) != 1 {
			t.Fatalf("%d NB_Global rows (%v), want 1", len(globals), err)
		}
		for _, db := range dbs {
			s := db.Snapshot()
			if want := int64(2*perDB + 1); s.Generation != want || len(s.Switches) != 2*perDB+1 {
				t.Fatalf("generation %d with %d switches, want %d of each", s.Generation, len(s.Switches), want)
			}
		}
	})
}

// TestIndexRace makes the cache check miss a duplicate (the DB's client
// does not monitor Logical_Switch, and the duplicate was written without
// bumping the generation) so that only the schema index catches it: that
// must still be ErrConflict, naming the field.
func TestIndexRace(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		raw := nbdbtest.Connect(t, ep)
		ops, err := raw.Create(&nb.LogicalSwitch{Name: "blue", Vni: 7, Encap: "vxlan"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := raw.Transact(ctx(t), ops...)
		if err == nil {
			_, err = ovsdb.CheckOperationResults(res, ops)
		}
		if err != nil {
			t.Fatal(err)
		}

		blind := connectGlobalOnly(t, ep)
		db := nbdb.New(blind, nil)
		_, err = db.CreateSwitch(ctx(t), model.Switch{Name: "blue", VNI: 8})
		wantErr(t, err, nbdb.ErrConflict, "name")
		_, err = db.CreateSwitch(ctx(t), model.Switch{Name: "red", VNI: 7})
		wantErr(t, err, nbdb.ErrConflict, "vni")
	})
}

func connectGlobalOnly(t *testing.T, ep string) client.Client {
	t.Helper()
	m, err := nb.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	discard := logr.Discard()
	c, err := client.NewOVSDBClient(m, client.WithEndpoint(ep), client.WithLogger(&discard))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if _, err := c.Monitor(ctx(t), c.NewMonitor(client.WithTable(&nb.NBGlobal{}))); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNotify(t *testing.T) {
	ep := nbdbtest.InMemory(t)
	db := nbdbtest.New(t, ep)
	kicked := make(chan struct{}, 1)
	db.Notify(func() {
		select {
		case kicked <- struct{}{}:
		default:
		}
	})
	// A change by another writer must notify too.
	other := nbdbtest.New(t, ep)
	mustSwitch(t, other, model.Switch{Name: "blue"})
	select {
	case <-kicked:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification after a change")
	}
}

func TestDisconnected(t *testing.T) {
	ep := nbdbtest.InMemory(t)
	c := nbdbtest.Connect(t, ep)
	db := nbdb.New(c, nil)
	if !db.Healthy() {
		t.Fatal("Healthy() = false while connected")
	}
	mustSwitch(t, db, model.Switch{Name: "blue"})
	db.Snapshot()
	c.Disconnect()
	deadline := time.Now().Add(5 * time.Second)
	for db.Healthy() {
		if time.Now().After(deadline) {
			t.Fatal("Healthy() still true after Disconnect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A lost connection must not look like an empty database.
	if s := db.Snapshot(); len(s.Switches) != 1 || s.Generation != 1 {
		t.Fatalf("snapshot after disconnect = %+v, want the last known state", s)
	}
	if _, err := db.CreateSwitch(ctx(t), model.Switch{Name: "red"}); err == nil || errors.Is(err, nbdb.ErrConflict) {
		t.Fatalf("CreateSwitch while disconnected: %v, want a plain error", err)
	}
}

func transactRaw(t *testing.T, c client.Client, ops []ovsdb.Operation, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Transact(ctx(t), ops...)
	if err == nil {
		_, err = ovsdb.CheckOperationResults(res, ops)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestForeignRows starts from a database another tool wrote: an NB_Global
// row ferry did not create, and a switch stamped with a generation
// NB_Global never reached. DB must use the row it finds and neither hang
// nor refuse to read.
func TestForeignRows(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		raw := nbdbtest.Connect(t, ep)
		ops, err := raw.Create(&nb.NBGlobal{Generation: 41})
		transactRaw(t, raw, ops, err)
		ops, err = raw.Create(&nb.LogicalSwitch{Name: "odd", Vni: 1, Encap: "vxlan", Generation: 100})
		transactRaw(t, raw, ops, err)

		db := nbdbtest.New(t, ep)
		start := time.Now()
		s := db.Snapshot()
		if s.Generation != 41 || len(s.Switches) != 1 {
			t.Fatalf("snapshot %+v", s)
		}
		if sw := mustSwitch(t, db, model.Switch{Name: "blue"}); sw.Generation != 42 || sw.VNI != 2 {
			t.Fatalf("blue = %+v, want generation 42 and VNI 2", sw)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
		var globals []nb.NBGlobal
		if err := raw.List(ctx(t), &globals); err != nil || len(globals) != 1 {
			t.Fatalf("NB_Global rows: %v (%v)", globals, err)
		}
	})
}
