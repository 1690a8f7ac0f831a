package nbdb_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// TestSnapshotReuse checks that a snapshot after a change to one switch
// shares every other switch with the previous snapshot (what makes a build
// O(switches + changed ports)), leaves the previous one untouched, and is
// not rebuilt at all without a change.
func TestSnapshotReuse(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		mustSwitch(t, db, model.Switch{Name: "blue"})
		mustSwitch(t, db, model.Switch{Name: "red"})
		mustPort(t, db, model.Port{Switch: "blue", Name: "vm1", IfaceID: "if1"})
		mustPort(t, db, model.Port{Switch: "red", Name: "vm2", IfaceID: "if2"})
		s1 := db.Snapshot()
		if s2 := db.Snapshot(); s2 != s1 {
			t.Fatal("Snapshot rebuilt without a change")
		}
		mustPort(t, db, model.Port{Switch: "blue", Name: "vm0", IfaceID: "if0"})
		s2 := db.Snapshot()

		red1, _ := s1.Switch("red")
		red2, _ := s2.Switch("red")
		if unsafe.SliceData(red1.Ports) != unsafe.SliceData(red2.Ports) {
			t.Error("unchanged switch red got a new Ports slice")
		}
		blue1, _ := s1.Switch("blue")
		blue2, _ := s2.Switch("blue")
		if got := portNames(blue1); !reflect.DeepEqual(got, []string{"vm1"}) {
			t.Errorf("the previous snapshot changed: blue ports %v", got)
		}
		if got := portNames(blue2); !reflect.DeepEqual(got, []string{"vm0", "vm1"}) || blue2.Generation != s2.Generation || blue2.Generation <= blue1.Generation {
			t.Errorf("blue after the create: ports %v, generation %d (snapshot %d, before %d)", got, blue2.Generation, s2.Generation, blue1.Generation)
		}
		if red2.Generation != red1.Generation {
			t.Errorf("red's generation moved from %d to %d", red1.Generation, red2.Generation)
		}
	})
}

// TestSnapshotIncremental runs random sequences of changes, ours and a
// foreign writer's (switches renamed, ports changed in place, NB_Global not
// moved), and checks after each that the incrementally built snapshot
// equals one built from scratch by a new DB.
func TestSnapshotIncremental(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		raw := nbdbtest.Connect(t, ep)
		if _, err := db.CreateGateway(ctx(t), model.Gateway{Name: "gw1", OVSDB: "tcp:198.18.255.31:6640"}); err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, uint64(len(ep))))
		pick := func(s *model.Snapshot) (model.Switch, bool) {
			if len(s.Switches) == 0 {
				return model.Switch{}, false
			}
			return s.Switches[rng.IntN(len(s.Switches))], true
		}
		for step := range 150 {
			s := db.Snapshot()
			sw, any := pick(s)
			var err error
			what := ""
			switch op := rng.IntN(10); {
			case op < 2 || !any:
				what = "create switch"
				_, err = db.CreateSwitch(ctx(t), model.Switch{Name: fmt.Sprintf("sw%d", step)})
			case op == 2:
				what = "delete switch " + sw.Name
				err = db.DeleteSwitch(ctx(t), sw.Name)
			case op < 6:
				what = "create port on " + sw.Name
				_, err = db.CreatePort(ctx(t), model.Port{Switch: sw.Name, Name: fmt.Sprintf("p%d", step), IfaceID: fmt.Sprintf("if%d", step)})
			case op == 6 && len(sw.Ports) > 0:
				p := sw.Ports[rng.IntN(len(sw.Ports))]
				what = "delete port " + p.Name
				err = db.DeletePort(ctx(t), sw.Name, p.Name)
			case op == 7:
				what = "bind on " + sw.Name
				_, err = db.CreateBinding(ctx(t), model.GatewayBinding{Switch: sw.Name, Gateway: "gw1", Port: "p0", VLAN: uint16(step)})
			case op == 8 && len(sw.Ports) > 0:
				p := sw.Ports[rng.IntN(len(sw.Ports))]
				what = "foreign in-place MAC change of " + p.Name
				mac := foreignMAC(t, raw, s.Generation, sw.Name, p.Name, step)
				// No generation moves: the cache's events must tell.
				until(t, what, func(s *model.Snapshot) bool {
					sw, _ := s.Switch(sw.Name)
					i := slices.IndexFunc(sw.Ports, func(q model.Port) bool { return q.Name == p.Name })
					return i >= 0 && sw.Ports[i].MAC.String() == mac
				}, db)
			case op == 9:
				what = "foreign rename of " + sw.Name
				to := fmt.Sprintf("renamed%d", step)
				foreignRename(t, raw, s.Generation, sw.Name, to)
				until(t, what, func(s *model.Snapshot) bool { _, ok := s.Switch(to); return ok }, db)
			default:
				what = "create chassis"
				_, err = db.CreateChassis(ctx(t), model.Chassis{Name: fmt.Sprintf("hv%d", step), OVSDB: fmt.Sprintf("tcp:198.18.255.%d:6640", step),
					TunnelIP: net.IPv4(198, 18, 1, byte(step))})
			}
			if err != nil {
				t.Fatalf("step %d, %s: %v", step, what, err)
			}
			// Events still on their way may make the incremental
			// snapshot lag a moment behind the cache: retry a little.
			var got, want *model.Snapshot
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
				got = db.Snapshot()
				want = db.SnapshotFromScratch()
				if reflect.DeepEqual(got, want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("step %d, %s: incremental snapshot\n%+v\nfrom scratch\n%+v", step, what, got, want)
				}
			}
		}
	})
}

// until waits until db's snapshot satisfies cond: a foreign change has
// reached db's cache.
func until(t *testing.T, what string, cond func(*model.Snapshot) bool, db *nbdb.DB) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(db.Snapshot()); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not in the snapshot after 5 s", what)
		}
	}
}

// foreignMAC changes a port's MAC in place, as ovsdb-client could (ferry
// itself replaces ports rather than updating them), and returns the MAC.
func foreignMAC(t *testing.T, raw client.Client, gen int64, switchName, portName string, n int) string {
	t.Helper()
	catchUp(t, raw, gen)
	var ports []nb.LogicalPort
	if err := raw.List(ctx(t), &ports); err != nil {
		t.Fatal(err)
	}
	for _, p := range ports {
		if p.Switch == switchName && p.Name == portName {
			mac := fmt.Sprintf("02:00:00:00:%02x:%02x", n/256, n%256)
			row := &nb.LogicalPort{UUID: p.UUID, MAC: &mac}
			ops, err := raw.Where(row).Update(row, &row.MAC)
			transactRaw(t, raw, ops, err)
			return mac
		}
	}
	var switches []nb.LogicalSwitch
	raw.List(ctx(t), &switches)
	var globals []nb.NBGlobal
	raw.List(ctx(t), &globals)
	t.Fatalf("port %s/%s not in the raw client's cache (generation %d): ports %+v\nswitches %+v\nglobals %+v", switchName, portName, gen, ports, switches, globals)
	return ""
}

// foreignRename renames a switch (and the denormalized column of its
// ports) and moves the generation, as another tool could: ferry has no
// rename.
func foreignRename(t *testing.T, raw client.Client, gen int64, from, to string) {
	t.Helper()
	catchUp(t, raw, gen)
	var switches []nb.LogicalSwitch
	if err := raw.List(ctx(t), &switches); err != nil {
		t.Fatal(err)
	}
	var globals []nb.NBGlobal
	if err := raw.List(ctx(t), &globals); err != nil || len(globals) != 1 {
		t.Fatalf("NB_Global: %v %v", globals, err)
	}
	for _, sw := range switches {
		if sw.Name == from {
			g := &nb.NBGlobal{UUID: globals[0].UUID, Generation: globals[0].Generation + 1}
			ops, err := raw.Where(g).Update(g, &g.Generation)
			if err != nil {
				t.Fatal(err)
			}
			row := &nb.LogicalSwitch{UUID: sw.UUID, Name: to, Generation: g.Generation}
			more, err := raw.Where(row).Update(row, &row.Name, &row.Generation)
			if err != nil {
				t.Fatal(err)
			}
			ops = append(ops, more...)
			for _, u := range sw.Ports {
				p := &nb.LogicalPort{UUID: u, Switch: to}
				more, err := raw.Where(p).Update(p, &p.Switch)
				if err != nil {
					t.Fatal(err)
				}
				ops = append(ops, more...)
			}
			transactRaw(t, raw, ops, err)
			return
		}
	}
	t.Fatalf("switch %s not in the raw client's cache (generation %d)", from, gen)
}

// catchUp waits until c's cache has reached generation gen.
func catchUp(t *testing.T, c client.Client, gen int64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		var globals []nb.NBGlobal // List fills only the rows a non-empty slice names
		if err := c.List(ctx(t), &globals); err != nil {
			t.Fatal(err)
		}
		if len(globals) == 1 && int64(globals[0].Generation) >= gen {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cache stuck at %v, want generation %d", globals, gen)
		}
	}
}
