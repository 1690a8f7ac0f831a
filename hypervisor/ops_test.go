package hypervisor

import (
	"slices"
	"strings"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/ovsdb/rows"
	"github.com/ferry-sdn/ferry/ovsdb/vswitch"
)

var tunnel = Tunnel{Name: "fvxc612010c", Type: "vxlan", Remote: "hv2", RemoteIP: "198.18.1.12", LocalIP: "198.18.1.11", OFPort: 32768}

func config() Config {
	return Config{Bridge: "br-int", Controllers: []string{"tcp:198.18.255.1:6653"}, Tunnels: []Tunnel{tunnel}}
}

// observedAsWanted is the bridge CreateOps' operations leave behind.
func observedAsWanted() *Bridge {
	return &Bridge{UUID: "b", Name: "br-int", FailMode: "secure", Protocols: defaultProtocols,
		Controllers: []Controller{{UUID: "c", Target: "tcp:198.18.255.1:6653", Owned: true}},
		Ports: []Port{{UUID: "p", Name: tunnel.Name, Owned: true, Interfaces: []Interface{{
			UUID: "i", Name: tunnel.Name, Type: "vxlan", Options: tunnelOptions(tunnel), BFD: tunnelBFD(), OFPort: 32768}}}}}
}

func tables(ops []ovsdb.Operation) string {
	var out []string
	for _, op := range ops {
		out = append(out, op.Op+" "+op.Table)
	}
	return strings.Join(out, ", ")
}

func TestCreateOpsNewBridge(t *testing.T) {
	ops := CreateOps("root", nil, config())
	want := "insert Interface, insert Port, insert Interface, insert Port, insert Controller, insert Bridge, mutate Open_vSwitch"
	if got := tables(ops); got != want {
		t.Fatalf("ops %s, want %s", got, want)
	}
	for _, op := range ops {
		if op.Table == vswitch.BridgeTable && op.Row["external_ids"].(ovsdb.OvsMap).GoMap[rows.OwnerKey] != rows.OwnerValue {
			t.Errorf("bridge ferry creates is not marked as ferry's: %v", op.Row)
		}
	}
}

// A bridge already as wanted needs no transaction at all: a no-op pass
// sends nothing.
func TestCreateOpsNothingToDo(t *testing.T) {
	if ops := CreateOps("root", observedAsWanted(), config()); len(ops) != 0 {
		t.Fatalf("ops for a bridge as wanted: %s", tables(ops))
	}
	if ops := DeleteOps(observedAsWanted(), config()); len(ops) != 0 {
		t.Fatalf("delete ops for a bridge as wanted: %s", tables(ops))
	}
	br := observedAsWanted()
	br.ExternalIDs = map[string]string{rows.GenerationKey: "7"}
	if ops := GenerationOps(br, 7); len(ops) != 0 {
		t.Fatalf("generation ops for a bridge at 7: %s", tables(ops))
	}
}

// Ports ferry does not own are never touched, even with a tunnel's name;
// owned tunnels nobody wants go.
func TestOwnership(t *testing.T) {
	br := observedAsWanted()
	br.Ports[0].Owned = false
	br.Ports[0].Interfaces[0].Options = map[string]string{"remote_ip": "198.18.9.9"}
	br.Ports = append(br.Ports, Port{UUID: "old", Name: "fvxc6120199", Owned: true}, Port{UUID: "vm", Name: "vnet0"})
	if ops := CreateOps("root", br, config()); len(ops) != 0 {
		t.Fatalf("someone else's port with our name was changed: %s", tables(ops))
	}
	ops := DeleteOps(br, config())
	if len(ops) != 1 || len(ops[0].Mutations) != 1 {
		t.Fatalf("delete ops %+v", ops)
	}
	set := ops[0].Mutations[0].Value.(ovsdb.OvsSet).GoSet
	if len(set) != 1 || set[0] != (ovsdb.UUID{GoUUID: "old"}) {
		t.Fatalf("deleted %v, want only the stale owned port", set)
	}
	// A changed option on an owned tunnel is put right.
	br = observedAsWanted()
	br.Ports[0].Interfaces[0].Options = map[string]string{"remote_ip": "198.18.9.9", "key": "flow"}
	if got := tables(CreateOps("root", br, config())); got != "update Interface" {
		t.Fatalf("ops %s, want one Interface update", got)
	}
}

// TestControllersPerReplica: a bridge dials every replica. A replica
// joining gets a row, a replica gone loses ferry's row, an operator's
// controller stays whatever its target.
func TestControllersPerReplica(t *testing.T) {
	br := observedAsWanted()
	br.Controllers = append(br.Controllers,
		Controller{UUID: "gone", Target: "tcp:198.18.255.3:6653", Owned: true},
		Controller{UUID: "operator", Target: "tcp:198.18.255.9:6653"})
	cfg := config()
	cfg.Controllers = []string{"tcp:198.18.255.1:6653", "tcp:198.18.255.2:6653"}
	ops := CreateOps("root", br, cfg)
	if got, want := tables(ops), "insert Controller, mutate Bridge"; got != want {
		t.Fatalf("ops %s, want %s", got, want)
	}
	if got := ops[0].Row["target"]; got != "tcp:198.18.255.2:6653" {
		t.Errorf("inserted a controller for %v, want the new replica's", got)
	}
	var inserted, deleted []ovsdb.UUID
	for _, m := range ops[1].Mutations {
		switch m.Mutator {
		case ovsdb.MutateOperationInsert:
			inserted = append(inserted, m.Value.(ovsdb.OvsSet).GoSet[0].(ovsdb.UUID))
		case ovsdb.MutateOperationDelete:
			for _, u := range m.Value.(ovsdb.OvsSet).GoSet {
				deleted = append(deleted, u.(ovsdb.UUID))
			}
		}
	}
	if len(inserted) != 1 || len(deleted) != 1 || deleted[0].GoUUID != "gone" {
		t.Errorf("controller column: inserted %v, deleted %v (want the gone replica's row only)", inserted, deleted)
	}

	// All there: nothing to do.
	br.Controllers = []Controller{{UUID: "c", Target: "tcp:198.18.255.1:6653", Owned: true},
		{UUID: "d", Target: "tcp:198.18.255.2:6653", Owned: true}, {UUID: "operator", Target: "tcp:198.18.255.9:6653"}}
	if ops := CreateOps("root", br, cfg); len(ops) != 0 {
		t.Errorf("ops with every replica's controller there: %s", tables(ops))
	}
	// A new bridge dials both.
	n := 0
	for _, op := range CreateOps("root", nil, cfg) {
		if op.Table == vswitch.ControllerTable {
			n++
		}
	}
	if n != 2 {
		t.Errorf("a new bridge gets %d controllers, want 2", n)
	}
}

// The openflow option decides whether ferry may rewrite a bridge's
// protocols: "1.3" never does; auto (the default) only where the column is
// empty or allows neither 1.3 nor 1.5; "1.5" adds OpenFlow15.
func TestProtocolsPerMode(t *testing.T) {
	pinned := []string{"OpenFlow10", "OpenFlow13"}
	withOF15 := []string{"OpenFlow10", "OpenFlow13", "OpenFlow15"}
	for _, tc := range []struct {
		mode string
		have []string
		want []string
	}{
		{"", pinned, pinned},
		{OpenFlowAuto, pinned, pinned},
		{"", nil, defaultProtocols},
		{"", []string{"OpenFlow10"}, []string{"OpenFlow10", "OpenFlow15"}},
		{"", withOF15, withOF15},
		{OpenFlow15, pinned, withOF15},
		{OpenFlow15, nil, defaultProtocols},
		{OpenFlow13, pinned, pinned},
		{OpenFlow13, nil, nil},
		{OpenFlow13, []string{"OpenFlow10"}, []string{"OpenFlow10"}},
	} {
		got, rewrite := Protocols(tc.have, tc.mode)
		if !slices.Equal(got, tc.want) || rewrite != !slices.Equal(tc.have, tc.want) {
			t.Errorf("mode %q protocols %v: %v (rewrite %v), want %v", tc.mode, tc.have, got, rewrite, tc.want)
		}
	}
	br := observedAsWanted()
	br.Protocols = pinned
	st := config()
	st.OpenFlow = OpenFlow13
	if ops := CreateOps("root", br, st); len(ops) != 0 {
		t.Fatalf("1.3 mode rewrites a pinned bridge: %s", tables(ops))
	}
}
