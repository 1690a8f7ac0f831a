package nbdb_test

import (
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
