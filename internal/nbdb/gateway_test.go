package nbdb_test

import (
	"errors"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
)

func TestGatewaysAndBindings(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		mustSwitch(t, db, model.Switch{Name: "blue"})
		mustSwitch(t, db, model.Switch{Name: "red"})
		if _, err := db.CreateGateway(ctx(t), model.Gateway{Name: "gw1", OVSDB: "tcp:198.18.255.31:6640", PhysicalSwitch: "vtep0"}); err != nil {
			t.Fatal(err)
		}
		_, err := db.CreateGateway(ctx(t), model.Gateway{Name: "gw1", OVSDB: "tcp:198.18.255.32:6640"})
		wantErr(t, err, nbdb.ErrConflict, "name")
		_, err = db.CreateGateway(ctx(t), model.Gateway{Name: "gw2", OVSDB: "tcp:198.18.255.31:6640"})
		wantErr(t, err, nbdb.ErrConflict, "ovsdb")

		b := model.GatewayBinding{Switch: "blue", Gateway: "gw1", Port: "p0", VLAN: 0}
		if _, err := db.CreateBinding(ctx(t), b); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateBinding(ctx(t), model.GatewayBinding{Switch: "blue", Gateway: "gw1", Port: "p1", VLAN: 100}); err != nil {
			t.Fatal(err)
		}
		// The same (gateway, port, vlan) belongs to one switch only.
		_, err = db.CreateBinding(ctx(t), model.GatewayBinding{Switch: "red", Gateway: "gw1", Port: "p0", VLAN: 0})
		wantErr(t, err, nbdb.ErrConflict, "vlan")
		_, err = db.CreateBinding(ctx(t), model.GatewayBinding{Switch: "red", Gateway: "nope", Port: "p0"})
		wantErr(t, err, nbdb.ErrNotFound, "")
		_, err = db.CreateBinding(ctx(t), model.GatewayBinding{Switch: "nope", Gateway: "gw1", Port: "p0"})
		wantErr(t, err, nbdb.ErrNotFound, "")

		snap := db.Snapshot()
		blue, _ := snap.Switch("blue")
		if len(blue.Bindings) != 2 || blue.Bindings[0] != b || len(snap.Gateways) != 1 || snap.Gateways[0].PhysicalSwitch != "vtep0" {
			t.Fatalf("snapshot: bindings %+v gateways %+v", blue.Bindings, snap.Gateways)
		}
		// A gateway with bindings cannot go.
		wantErr(t, db.DeleteGateway(ctx(t), "gw1"), nbdb.ErrConflict, "name")
		if err := db.DeleteBinding(ctx(t), b); err != nil {
			t.Fatal(err)
		}
		wantErr(t, db.DeleteBinding(ctx(t), b), nbdb.ErrNotFound, "")
		// Deleting the switch takes its remaining binding with it.
		if err := db.DeleteSwitch(ctx(t), "blue"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteGateway(ctx(t), "gw1"); err != nil {
			t.Fatalf("gateway without bindings: %v", err)
		}
		if _, err := db.CreateBinding(ctx(t), model.GatewayBinding{Switch: "red", Gateway: "gw1", Port: "p0"}); err == nil {
			t.Fatal("binding to a deleted gateway accepted")
		}
	})
}

// TestPatchGateway: limits change in one transaction, a profile replaces
// them all, a patch that changes nothing makes no generation.
func TestPatchGateway(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		if _, err := db.CreateGateway(ctx(t), model.Gateway{Name: "gw1", OVSDB: "tcp:198.18.255.31:6640", Limits: model.Limits{Tunnels: 8}}); err != nil {
			t.Fatal(err)
		}
		n := 100
		gw, err := db.PatchGateway(ctx(t), "gw1", nbdb.GatewayChange{MACsPerSwitch: &n})
		if err != nil || gw.Limits != (model.Limits{MACsPerSwitch: 100, Tunnels: 8}) {
			t.Fatalf("patch: %+v, %v", gw.Limits, err)
		}
		if got, _ := db.Snapshot().GatewayByName("gw1"); got.Limits != gw.Limits || got.OVSDB != "tcp:198.18.255.31:6640" {
			t.Fatalf("stored %+v", got)
		}
		gen := db.Snapshot().Generation
		dell := model.Limits{MACsTotal: 15000}
		if gw, err = db.PatchGateway(ctx(t), "gw1", nbdb.GatewayChange{Profile: &dell}); err != nil || gw.Limits != dell {
			t.Fatalf("profile patch: %+v, %v", gw.Limits, err)
		}
		if _, err := db.PatchGateway(ctx(t), "gw1", nbdb.GatewayChange{Profile: &dell}); err != nil || db.Snapshot().Generation != gen+1 {
			t.Fatalf("a patch that changes nothing: %v, generation %d, want %d", err, db.Snapshot().Generation, gen+1)
		}
		if _, err := db.PatchGateway(ctx(t), "nope", nbdb.GatewayChange{Profile: &dell}); !errors.Is(err, nbdb.ErrNotFound) {
			t.Fatalf("unknown gateway: %v", err)
		}
	})
}
