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

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func boolp(b bool) *bool { return &b }

// storedPort is a port as the snapshot shows it.
func storedPort(t *testing.T, db *nbdb.DB, sw, name string) model.Port {
	t.Helper()
	s, _ := db.Snapshot().Switch(sw)
	for _, p := range s.Ports {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("port %s/%s not in the snapshot", sw, name)
	return model.Port{}
}

// Port security and IPs are stored, read back (sorted, whatever order the
// set comes back in) and changed by PUT and PATCH, which replace the row
// only when something differs.
func TestPortSecurityStored(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		mustSwitch(t, db, model.Switch{Name: "blue"})
		p := mustPort(t, db, model.Port{Switch: "blue", Name: "vm1", IfaceID: "i1", PortSecurity: boolp(false),
			IPs: addrs("198.18.100.1", "2001:db8::1")})
		got := storedPort(t, db, "blue", "vm1")
		if !model.SamePortConfig(got, p) || got.PortSecurity == nil || *got.PortSecurity ||
			!slices.Equal(got.IPs, addrs("198.18.100.1", "2001:db8::1")) {
			t.Fatalf("stored %+v, created %+v", got, p)
		}

		// PUT replaces the whole port: port security back to the default.
		gen := db.Snapshot().Generation
		mac, _ := net.ParseMAC("02:00:00:00:00:01")
		put := model.Port{Switch: "blue", Name: "vm1", IfaceID: "i1", MAC: mac, IPs: addrs("198.18.100.7")}
		out, applied, err := db.PutPort(ctx(t), put)
		if err != nil || applied != nbdb.Configured {
			t.Fatalf("PutPort: %v %v", applied, err)
		}
		got = storedPort(t, db, "blue", "vm1")
		if !model.SamePortConfig(got, put) || !model.SamePortConfig(out, put) || got.PortSecurity != nil {
			t.Fatalf("after PUT stored %+v, returned %+v, want %+v", got, out, put)
		}
		if s := db.Snapshot(); s.Generation != gen+1 {
			t.Fatalf("PUT moved the generation from %d to %d", gen, s.Generation)
		}
		// The same PUT again changes nothing: no transaction.
		if _, applied, err := db.PutPort(ctx(t), put); err != nil || applied != nbdb.Unchanged {
			t.Fatalf("second PutPort: %v %v", applied, err)
		}
		if s := db.Snapshot(); s.Generation != gen+1 {
			t.Fatalf("an unchanged PUT moved the generation to %d", s.Generation)
		}

		// PATCH changes what it names and keeps the rest.
		out, err = db.PatchPort(ctx(t), "blue", "vm1", nbdb.PortChange{PortSecurity: boolp(false)})
		if err != nil || out.PortSecurity == nil || *out.PortSecurity || !slices.Equal(out.IPs, put.IPs) || out.MAC.String() != mac.String() {
			t.Fatalf("PatchPort port_security: %+v %v", out, err)
		}
		out, err = db.PatchPort(ctx(t), "blue", "vm1", nbdb.PortChange{SetIPs: true, SetMAC: true})
		if err != nil || len(out.IPs) != 0 || out.MAC != nil || out.PortSecurity == nil {
			t.Fatalf("PatchPort clearing ips and mac: %+v %v", out, err)
		}
		if got := storedPort(t, db, "blue", "vm1"); !model.SamePortConfig(got, out) {
			t.Fatalf("stored %+v after PATCH, returned %+v", got, out)
		}

		// PUT creates a missing port; PATCH does not.
		if _, applied, err := db.PutPort(ctx(t), model.Port{Switch: "blue", Name: "vm2", IfaceID: "i2"}); err != nil || applied != nbdb.Created {
			t.Fatalf("PutPort of a new port: %v %v", applied, err)
		}
		_, err = db.PatchPort(ctx(t), "blue", "vm9", nbdb.PortChange{PortSecurity: boolp(true)})
		wantErr(t, err, nbdb.ErrNotFound, "")
		// A PUT may not take another port's iface_id, nor list an
		// address twice.
		_, _, err = db.PutPort(ctx(t), model.Port{Switch: "blue", Name: "vm2", IfaceID: "i1"})
		wantErr(t, err, nbdb.ErrConflict, "iface_id")
		_, _, err = db.PutPort(ctx(t), model.Port{Switch: "blue", Name: "vm2", IfaceID: "i2", IPs: addrs("198.18.0.1", "198.18.0.1")})
		wantErr(t, err, nbdb.ErrInvalid, "ips")
		_, err = db.PatchPort(ctx(t), "nope", "vm1", nbdb.PortChange{})
		wantErr(t, err, nbdb.ErrNotFound, "")
	})
}

// ApplySwitch replaces a port whose port security or IPs changed, and
// finds nothing to do when they did not.
func TestApplySwitchPortSecurity(t *testing.T) {
	db := nbdbtest.New(t, nbdbtest.InMemory(t))
	sw := model.Switch{Name: "blue", Ports: []model.Port{{Switch: "blue", Name: "vm1", IfaceID: "i1", IPs: addrs("198.18.100.1")}}}
	if _, applied, err := db.ApplySwitch(ctx(t), sw); err != nil || applied != nbdb.Created {
		t.Fatalf("ApplySwitch: %v %v", applied, err)
	}
	if _, applied, err := db.ApplySwitch(ctx(t), sw); err != nil || applied != nbdb.Unchanged {
		t.Fatalf("same ApplySwitch: %v %v", applied, err)
	}
	sw.Ports[0].PortSecurity = boolp(false)
	if _, applied, err := db.ApplySwitch(ctx(t), sw); err != nil || applied != nbdb.Configured {
		t.Fatalf("ApplySwitch with port_security false: %v %v", applied, err)
	}
	if got := storedPort(t, db, "blue", "vm1"); got.PortSecurity == nil || *got.PortSecurity {
		t.Fatalf("stored %+v", got)
	}
}
