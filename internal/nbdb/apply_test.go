package nbdb_test

import (
	"net"
	"slices"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
)

func ports(names ...string) []model.Port {
	var out []model.Port
	for _, n := range names {
		out = append(out, model.Port{Name: n, IfaceID: "if-" + n})
	}
	return out
}

func TestCreatePorts(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		mustSwitch(t, db, model.Switch{Name: "blue"})
		mustPort(t, db, model.Port{Switch: "blue", Name: "taken", IfaceID: "if-taken"})
		before := db.Snapshot().Generation

		// A bad item anywhere refuses the whole list.
		for _, tc := range []struct {
			ports []model.Port
			kind  error
			field string
		}{
			{append(ports("a", "b"), model.Port{Name: "c"}), nbdb.ErrInvalid, "ports[2].iface_id"},
			{append(ports("a", "b"), model.Port{Name: "a", IfaceID: "other"}), nbdb.ErrInvalid, "ports[2].name"},
			{append(ports("a"), model.Port{Name: "x", IfaceID: "if-a"}), nbdb.ErrInvalid, "ports[1].iface_id"},
			{append(ports("a", "b", "c"), model.Port{Name: "taken", IfaceID: "new"}), nbdb.ErrConflict, "ports[3].name"},
			{append(ports("a", "b", "c"), model.Port{Name: "d", IfaceID: "if-taken"}), nbdb.ErrConflict, "ports[3].iface_id"},
		} {
			_, err := db.CreatePorts(ctx(t), "blue", tc.ports)
			wantErr(t, err, tc.kind, tc.field)
		}
		_, err := db.CreatePorts(ctx(t), "green", ports("a"))
		wantErr(t, err, nbdb.ErrNotFound, "")
		if s := db.Snapshot(); s.Generation != before || countPorts(t, ep) != 1 {
			t.Fatalf("refused lists left traces: generation %d (was %d), %d ports", s.Generation, before, countPorts(t, ep))
		}

		mac, _ := net.ParseMAC("02:00:00:00:00:0A")
		in := ports("vm3", "vm1")
		in = append(in, model.Port{Name: "vm2", IfaceID: "if-vm2", MAC: mac})
		out, err := db.CreatePorts(ctx(t), "blue", in)
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 3 || out[2].MAC.String() != "02:00:00:00:00:0a" || out[0].Switch != "blue" {
			t.Fatalf("created %+v", out)
		}
		s := db.Snapshot()
		blue, _ := s.Switch("blue")
		if s.Generation != before+1 || blue.Generation != s.Generation || !slices.Equal(portNames(blue), []string{"taken", "vm1", "vm2", "vm3"}) {
			t.Fatalf("one transaction, one generation: generation %d (was %d), blue %+v", s.Generation, before, blue)
		}
	})
}

func TestApplySwitch(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		if _, err := db.CreateGateway(ctx(t), model.Gateway{Name: "gw1", OVSDB: "tcp:198.18.255.31:6640"}); err != nil {
			t.Fatal(err)
		}
		mustSwitch(t, db, model.Switch{Name: "red"})
		mustPort(t, db, model.Port{Switch: "red", Name: "r1", IfaceID: "if-red"})

		want := model.Switch{Name: "blue", Ports: ports("vm1", "vm2"),
			Bindings: []model.GatewayBinding{{Gateway: "gw1", Port: "p0"}}}
		sw, applied, err := db.ApplySwitch(ctx(t), want)
		if err != nil || applied != nbdb.Created {
			t.Fatalf("create: %v %v", applied, err)
		}
		if sw.VNI != 2 || sw.Encap != model.EncapVXLAN || !slices.Equal(portNames(sw), []string{"vm1", "vm2"}) || len(sw.Bindings) != 1 {
			t.Fatalf("created %+v", sw)
		}

		// The same description again: nothing to do, no generation.
		gen := db.Snapshot().Generation
		want.VNI = sw.VNI
		if _, applied, err := db.ApplySwitch(ctx(t), want); err != nil || applied != nbdb.Unchanged {
			t.Fatalf("second apply: %v %v", applied, err)
		}
		if g := db.Snapshot().Generation; g != gen {
			t.Fatalf("an unchanged apply moved the generation from %d to %d", gen, g)
		}

		// Ports added, replaced (iface_ids swapped between two ports)
		// and removed, a binding moved, the encapsulation changed: one
		// transaction.
		mac, _ := net.ParseMAC("02:00:00:00:00:01")
		want = model.Switch{Name: "blue", Encap: model.EncapGRE, XenServerNetworks: []string{"net-1"}, Ports: []model.Port{
			{Name: "vm1", IfaceID: "if-vm2"}, {Name: "vm2", IfaceID: "if-vm1", MAC: mac}, {Name: "vm3", IfaceID: "if-vm3"},
		}, Bindings: []model.GatewayBinding{{Gateway: "gw1", Port: "p1", VLAN: 100}}}
		sw, applied, err = db.ApplySwitch(ctx(t), want)
		if err != nil || applied != nbdb.Configured {
			t.Fatalf("change: %v %v", applied, err)
		}
		if g := db.Snapshot().Generation; g != gen+1 || sw.Generation != g {
			t.Fatalf("generation %d (switch %d), want %d", g, sw.Generation, gen+1)
		}
		if sw.Encap != model.EncapGRE || sw.VNI != 2 || !slices.Equal(sw.XenServerNetworks, []string{"net-1"}) ||
			len(sw.Ports) != 3 || sw.Ports[0].IfaceID != "if-vm2" || sw.Ports[1].MAC.String() != mac.String() ||
			len(sw.Bindings) != 1 || sw.Bindings[0].Port != "p1" {
			t.Fatalf("changed %+v", sw)
		}
		if n := countPorts(t, ep); n != 4 {
			t.Fatalf("%d port rows, want 4 (replaced ones collected)", n)
		}
		if _, applied, err := db.ApplySwitch(ctx(t), want); err != nil || applied != nbdb.Unchanged {
			t.Fatalf("apply after change: %v %v", applied, err)
		}

		// Refusals change nothing.
		gen = db.Snapshot().Generation
		for _, tc := range []struct {
			sw    model.Switch
			kind  error
			field string
		}{
			{model.Switch{Name: "blue", VNI: 7}, nbdb.ErrConflict, "vni"},
			{model.Switch{Name: "green", VNI: 2}, nbdb.ErrConflict, "vni"},
			{model.Switch{Name: "blue", Ports: append(ports("a", "b", "c"), model.Port{Name: "d", IfaceID: "if-red"})}, nbdb.ErrConflict, "ports[3].iface_id"},
			{model.Switch{Name: "blue", Ports: append(ports("a"), model.Port{Name: "b"})}, nbdb.ErrInvalid, "ports[1].iface_id"},
			{model.Switch{Name: "blue", Bindings: []model.GatewayBinding{{Gateway: "gw1", Port: "p0"}, {Gateway: "gw9", Port: "p0"}}}, nbdb.ErrNotFound, "bindings[1].gateway"},
			{model.Switch{Name: "red", Bindings: []model.GatewayBinding{{Gateway: "gw1", Port: "p1", VLAN: 100}}}, nbdb.ErrConflict, "bindings[0].vlan"},
			{model.Switch{Name: "red", XenServerNetworks: []string{"net-1"}}, nbdb.ErrConflict, "xenserver_networks"},
		} {
			_, _, err := db.ApplySwitch(ctx(t), tc.sw)
			wantErr(t, err, tc.kind, tc.field)
		}
		if g := db.Snapshot().Generation; g != gen || countPorts(t, ep) != 4 {
			t.Fatalf("refused applies left traces: generation %d (was %d), %d ports", g, gen, countPorts(t, ep))
		}

		// An empty description empties the switch.
		if sw, _, err = db.ApplySwitch(ctx(t), model.Switch{Name: "blue"}); err != nil || len(sw.Ports) != 0 || len(sw.Bindings) != 0 || sw.Encap != model.EncapVXLAN {
			t.Fatalf("empty: %+v %v", sw, err)
		}
	})
}
