package nbdb_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
)

// A trial returns the state a write would make, exactly as the real write
// then makes it, and commits nothing.
func TestTrialCommitsNothing(t *testing.T) {
	realServer(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		mustSwitch(t, db, model.Switch{Name: "blue", VNI: 1001})
		mustPort(t, db, model.Port{Switch: "blue", Name: "p1", IfaceID: "if-1"})
		before := db.Snapshot()

		writes := map[string]func(ctx context.Context) error{
			"create switch": func(ctx context.Context) error {
				_, err := db.CreateSwitch(ctx, model.Switch{Name: "red"}) // VNI allocated
				return err
			},
			"create port": func(ctx context.Context) error {
				_, err := db.CreatePort(ctx, model.Port{Switch: "blue", Name: "p2", IfaceID: "if-2"})
				return err
			},
			"create chassis": func(ctx context.Context) error {
				_, err := db.CreateChassis(ctx, model.Chassis{Name: "hv1", OVSDB: "tcp:198.18.0.11:6640", TunnelIP: net.ParseIP("198.18.0.11")})
				return err
			},
			"create gateway": func(ctx context.Context) error {
				_, err := db.CreateGateway(ctx, model.Gateway{Name: "gw1", OVSDB: "tcp:198.18.255.31:6640"})
				return err
			},
			"delete port":   func(ctx context.Context) error { return db.DeletePort(ctx, "blue", "p1") },
			"delete switch": func(ctx context.Context) error { return db.DeleteSwitch(ctx, "blue") },
			"apply switch": func(ctx context.Context) error {
				_, _, err := db.ApplySwitch(ctx, model.Switch{Name: "blue", VNI: 1001, Encap: model.EncapGRE,
					Ports: []model.Port{{Switch: "blue", Name: "p3", IfaceID: "if-3"}}})
				return err
			},
		}
		for name, write := range writes {
			got, err := db.Trial(ctx(t), write)
			if err != nil {
				t.Fatalf("%s: trial: %v", name, err)
			}
			if now := db.Snapshot(); now.Generation != before.Generation || !reflect.DeepEqual(now.Switches, before.Switches) {
				t.Fatalf("%s: the trial committed: generation %d → %d", name, before.Generation, now.Generation)
			}
			if got.Generation != before.Generation+1 {
				t.Errorf("%s: trial snapshot at generation %d, want %d", name, got.Generation, before.Generation+1)
			}
			// The real write makes exactly the trial's state.
			if err := write(ctx(t)); err != nil {
				t.Fatalf("%s: real write: %v", name, err)
			}
			real := db.SnapshotFromScratch()
			if !reflect.DeepEqual(canon(got.Switches), canon(real.Switches)) || !reflect.DeepEqual(got.Chassis, real.Chassis) {
				t.Errorf("%s: trial snapshot\n%#v\nreal write\n%#v", name, got.Switches, real.Switches)
			}
			// Undo for the next write: recreate the starting state.
			resetTo(t, db, before)
			before = db.Snapshot()
		}
	})
}

// A trial of a bad write fails as the real write does.
func TestTrialRefusesLikeTheWrite(t *testing.T) {
	realServer(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		mustSwitch(t, db, model.Switch{Name: "blue", VNI: 1001})
		_, err := db.Trial(ctx(t), func(ctx context.Context) error {
			_, err := db.CreateSwitch(ctx, model.Switch{Name: "red", VNI: 1001})
			return err
		})
		if !errors.Is(err, nbdb.ErrConflict) {
			t.Fatalf("trial of a duplicate VNI: %v, want ErrConflict", err)
		}
		// Nothing to change: the current snapshot.
		snap, err := db.Trial(ctx(t), func(ctx context.Context) error {
			_, _, err := db.ApplySwitch(ctx, model.Switch{Name: "blue", VNI: 1001, Encap: model.EncapVXLAN})
			return err
		})
		if err != nil || snap.Generation != db.Snapshot().Generation {
			t.Fatalf("trial of a no-op: generation %v, %v; want the current one", snap, err)
		}
	})
}

// resetTo makes db hold want's switches again (ports included).
func resetTo(t *testing.T, db *nbdb.DB, want *model.Snapshot) {
	t.Helper()
	for _, sw := range db.Snapshot().Switches {
		if err := db.DeleteSwitch(ctx(t), sw.Name); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range db.Snapshot().Chassis {
		if err := db.DeleteChassis(ctx(t), ch.Name); err != nil {
			t.Fatal(err)
		}
	}
	for _, gw := range db.Snapshot().Gateways {
		if err := db.DeleteGateway(ctx(t), gw.Name); err != nil {
			t.Fatal(err)
		}
	}
	for _, sw := range want.Switches {
		mustSwitch(t, db, model.Switch{Name: sw.Name, VNI: sw.VNI, Encap: sw.Encap})
		for _, p := range sw.Ports {
			mustPort(t, db, p)
		}
	}
}

// realServer runs f against a real ovsdb-server only: libovsdb's in-memory
// server does not implement the abort operation trials rely on.
func realServer(t *testing.T, f func(t *testing.T, endpoint string)) {
	f(t, nbdbtest.OVSDBServer(t))
}

// canon makes empty network lists nil: the cache and a select decode an
// empty set differently, which means the same.
func canon(sws []model.Switch) []model.Switch {
	out := make([]model.Switch, len(sws))
	for i, sw := range sws {
		if len(sw.XenServerNetworks) == 0 {
			sw.XenServerNetworks = nil
		}
		out[i] = sw
	}
	return out
}

// A server without the abort operation (libovsdb's in-memory one) cannot
// run trials: the trial says so as unavailable, and commits nothing.
func TestTrialNeedsAbort(t *testing.T) {
	db := nbdbtest.New(t, nbdbtest.InMemory(t))
	_, err := db.Trial(ctx(t), func(ctx context.Context) error {
		_, err := db.CreateSwitch(ctx, model.Switch{Name: "red"})
		return err
	})
	if !errors.Is(err, nbdb.ErrUnavailable) {
		t.Fatalf("trial on a server without abort: %v, want ErrUnavailable", err)
	}
	if _, ok := db.Snapshot().Switch("red"); ok {
		t.Fatal("the failed trial committed")
	}
}
