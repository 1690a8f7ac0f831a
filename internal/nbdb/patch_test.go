package nbdb_test

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
)

func TestPatchChassis(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		if _, err := db.CreateChassis(ctx(t), model.Chassis{Name: "hv1", OVSDB: "tcp:198.18.255.11:6640",
			TunnelIP: net.ParseIP("198.18.1.11"), UnderlayMTU: 9000, DatapathType: "netdev",
			OpenFlowPeers: []netip.Addr{netip.MustParseAddr("198.18.2.11")}}); err != nil {
			t.Fatal(err)
		}
		if err := createChassis(t, db, "hv2", "tcp:198.18.255.12:6640", "198.18.1.12"); err != nil {
			t.Fatal(err)
		}

		mtu := 1400
		target := "ssl:198.18.255.21:6640"
		ch, err := db.PatchChassis(ctx(t), "hv1", nbdb.ChassisChange{OVSDB: &target,
			TunnelIP: net.ParseIP("198.18.1.21").To4(), Encaps: []string{"gre"}, UnderlayMTU: &mtu})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := db.Snapshot().ChassisByName("hv1")
		for _, c := range []model.Chassis{ch, got} {
			if c.OVSDB != target || !c.TunnelIP.Equal(net.ParseIP("198.18.1.21")) || !slices.Equal(c.Encaps, []string{"gre"}) ||
				c.UnderlayMTU != 1400 || c.Generation != 3 || c.Bridge != "br-int" || c.DatapathType != "netdev" ||
				len(c.OpenFlowPeers) != 1 {
				t.Fatalf("after patch: %+v", c)
			}
		}
		if got.Created != 1 {
			t.Fatalf("patched chassis' Created = %d, want the registration's generation 1", got.Created)
		}

		// Back to the defaults; the registration's generation stays.
		zero, none, peers := 0, "", []netip.Addr{}
		if _, err := db.PatchChassis(ctx(t), "hv1", nbdb.ChassisChange{UnderlayMTU: &zero, DatapathType: &none, OpenFlowPeers: &peers}); err != nil {
			t.Fatal(err)
		}
		got, _ = db.Snapshot().ChassisByName("hv1")
		if got.UnderlayMTU != 0 || got.DatapathType != "" || len(got.OpenFlowPeers) != 0 || got.Generation != 4 || got.Created != 1 {
			t.Fatalf("after reset: %+v", got)
		}

		// Nothing changes: nothing written.
		if _, err := db.PatchChassis(ctx(t), "hv1", nbdb.ChassisChange{OVSDB: &target}); err != nil {
			t.Fatal(err)
		}
		if g := db.Snapshot().Generation; g != 4 {
			t.Fatalf("a patch changing nothing moved the generation to %d", g)
		}

		// Refused, and nothing of the refused change is applied.
		other := "tcp:198.18.255.12:6640"
		wantErr(t, patchErr(db, t, "hv1", nbdb.ChassisChange{TunnelIP: net.ParseIP("198.18.1.12").To4(), UnderlayMTU: &mtu}), nbdb.ErrConflict, "tunnel_ip")
		wantErr(t, patchErr(db, t, "hv1", nbdb.ChassisChange{OVSDB: &other, UnderlayMTU: &mtu}), nbdb.ErrConflict, "ovsdb")
		spelled := "tcp:[::ffff:198.18.255.12]:6640"
		wantErr(t, patchErr(db, t, "hv1", nbdb.ChassisChange{OVSDB: &spelled}), nbdb.ErrConflict, "ovsdb")
		wantErr(t, patchErr(db, t, "hv1", nbdb.ChassisChange{Encaps: []string{}}), nbdb.ErrInvalid, "encaps")
		wantErr(t, patchErr(db, t, "nope", nbdb.ChassisChange{UnderlayMTU: &mtu}), nbdb.ErrNotFound, "")
		s := db.Snapshot()
		got, _ = s.ChassisByName("hv1")
		if s.Generation != 4 || got.UnderlayMTU != 0 {
			t.Fatalf("refused patches changed something: generation %d, %+v", s.Generation, got)
		}

		// A chassis keeps its own tunnel IP and database.
		own := "tcp:198.18.255.21:6640"
		if _, err := db.PatchChassis(ctx(t), "hv1", nbdb.ChassisChange{OVSDB: &own, TunnelIP: net.ParseIP("198.18.1.21").To4()}); err != nil {
			t.Fatal(err)
		}
	})
}

func patchErr(db *nbdb.DB, t *testing.T, name string, c nbdb.ChassisChange) error {
	_, err := db.PatchChassis(ctx(t), name, c)
	return err
}
