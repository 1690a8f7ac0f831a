package vtep

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/ovsdb/rows"
	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

// fixture builds Rows with readable, valid UUIDs.
type fixture struct {
	Rows
	n int
}

func (f *fixture) id() string {
	f.n++
	return fmt.Sprintf("00000000-0000-0000-0000-%012d", f.n)
}

func (f *fixture) ps(name string, ports ...string) *hwvtep.PhysicalSwitch {
	ps := hwvtep.PhysicalSwitch{UUID: f.id(), Name: name, TunnelIPs: []string{"198.18.0.10"}}
	for _, p := range ports {
		u := f.id()
		f.PhysicalPorts = append(f.PhysicalPorts, hwvtep.PhysicalPort{UUID: u, Name: p, VLANBindings: map[int]string{}})
		ps.Ports = append(ps.Ports, u)
	}
	f.PhysicalSwitches = append(f.PhysicalSwitches, ps)
	return &f.PhysicalSwitches[len(f.PhysicalSwitches)-1]
}

func (f *fixture) port(name string) *hwvtep.PhysicalPort {
	for i := range f.PhysicalPorts {
		if f.PhysicalPorts[i].Name == name {
			return &f.PhysicalPorts[i]
		}
	}
	panic("no port " + name)
}

func (f *fixture) ls(name, desc string, vni int) string {
	u := f.id()
	f.LogicalSwitches = append(f.LogicalSwitches, hwvtep.LogicalSwitch{UUID: u, Name: name, Description: desc, TunnelKey: &vni})
	return u
}

func (f *fixture) loc(ip string) string {
	for _, l := range f.PhysicalLocators {
		if l.DstIP == ip && l.TunnelKey == nil {
			return l.UUID
		}
	}
	u := f.id()
	f.PhysicalLocators = append(f.PhysicalLocators, hwvtep.PhysicalLocator{UUID: u, DstIP: ip, EncapsulationType: Encapsulation})
	return u
}

func (f *fixture) ucast(ls, mac, ip string) string {
	u := f.id()
	f.UcastMacsRemote = append(f.UcastMacsRemote, hwvtep.UcastMacsRemote{UUID: u, MAC: mac, LogicalSwitch: ls, Locator: f.loc(ip)})
	return u
}

func (f *fixture) mcast(ls, mac string, ips ...string) (row, set string) {
	set = f.id()
	var locs []string
	for _, ip := range ips {
		locs = append(locs, f.loc(ip))
	}
	f.PhysicalLocatorSets = append(f.PhysicalLocatorSets, hwvtep.PhysicalLocatorSet{UUID: set, Locators: locs})
	row = f.id()
	f.McastMacsRemote = append(f.McastMacsRemote, hwvtep.McastMacsRemote{UUID: row, MAC: mac, LogicalSwitch: ls, LocatorSet: set})
	return row, set
}

func (f *fixture) observed() *Observed { return NewObserved(f.Rows) }

func mustOps(t *testing.T, o *Observed, d Desired) []libovsdb.Operation {
	t.Helper()
	ops, err := Ops(o, d)
	if err != nil {
		t.Fatalf("Ops: %v", err)
	}
	checkOwnership(t, o, ops)
	// Map iteration must not leak into the result.
	for range 10 {
		again, _ := Ops(o, d)
		if !reflect.DeepEqual(again, ops) {
			t.Fatalf("Ops not deterministic:\n%v\n%v", ops, again)
		}
	}
	return ops
}

func wantOps(t *testing.T, got []libovsdb.Operation, want ...libovsdb.Operation) {
	t.Helper()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("operations:\n%s\nwant:\n%s", fmtOps(got), fmtOps(want))
	}
}

func fmtOps(ops []libovsdb.Operation) string {
	var sb strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&sb, "  %s %s %s where=%v row=%v mut=%v\n", op.Op, op.Table, op.UUIDName, op.Where, op.Row, op.Mutations)
	}
	return sb.String()
}

func ins(table, name string, row libovsdb.Row) libovsdb.Operation {
	return libovsdb.Operation{Op: libovsdb.OperationInsert, Table: table, UUIDName: name, Row: row}
}

func upd(table, u string, row libovsdb.Row) libovsdb.Operation {
	return libovsdb.Operation{Op: libovsdb.OperationUpdate, Table: table, Where: rows.WhereUUID(u), Row: row}
}

func del(table, u string) libovsdb.Operation {
	return libovsdb.Operation{Op: libovsdb.OperationDelete, Table: table, Where: rows.WhereUUID(u)}
}

func mut(port string, drop []any, add map[any]any) libovsdb.Operation {
	var m []libovsdb.Mutation
	if drop != nil {
		m = append(m, libovsdb.Mutation{Column: "vlan_bindings", Mutator: libovsdb.MutateOperationDelete, Value: libovsdb.OvsSet{GoSet: drop}})
	}
	if add != nil {
		m = append(m, libovsdb.Mutation{Column: "vlan_bindings", Mutator: libovsdb.MutateOperationInsert, Value: libovsdb.OvsMap{GoMap: add}})
	}
	return libovsdb.Operation{Op: libovsdb.OperationMutate, Table: hwvtep.PhysicalPortTable, Where: rows.WhereUUID(port), Mutations: m}
}

func TestOpsEmptyVTEP(t *testing.T) {
	var f fixture
	f.ps("ps1", "p0", "p1")
	d := Desired{Switches: []Switch{{
		Name: "blue", VNI: 5000, ReplicationMode: SourceNode,
		Bindings:   []PortVLAN{{"p1", 100}, {"p0", 0}},
		RemoteMACs: []RemoteMAC{{"02:00:00:00:00:02", "198.18.1.2"}, {"02:00:00:00:00:01", "198.18.1.1"}},
		Flood:      []string{"198.18.1.2", "198.18.1.1", "198.18.1.2"},
	}}}
	ops := mustOps(t, f.observed(), d)
	ls, l1, l2 := "ferry_ls_ferry_2dblue", "ferry_loc_198_2e18_2e1_2e1", "ferry_loc_198_2e18_2e1_2e2"
	wantOps(t, ops,
		ins("Physical_Locator", l1, libovsdb.Row{"encapsulation_type": "vxlan_over_ipv4", "dst_ip": "198.18.1.1"}),
		ins("Physical_Locator", l2, libovsdb.Row{"encapsulation_type": "vxlan_over_ipv4", "dst_ip": "198.18.1.2"}),
		ins("Logical_Switch", ls, libovsdb.Row{"name": "ferry-blue", "description": "ferry",
			"tunnel_key": rows.Optional(5000), "replication_mode": rows.Optional("source_node")}),
		ins("Ucast_Macs_Remote", "", libovsdb.Row{"MAC": "02:00:00:00:00:01", "logical_switch": rows.UUID(ls), "locator": rows.UUID(l1)}),
		ins("Ucast_Macs_Remote", "", libovsdb.Row{"MAC": "02:00:00:00:00:02", "logical_switch": rows.UUID(ls), "locator": rows.UUID(l2)}),
		ins("Physical_Locator_Set", "ferry_set_ferry_2dblue", libovsdb.Row{"locators": rows.UUIDSet(l1, l2)}),
		ins("Mcast_Macs_Remote", "", libovsdb.Row{"MAC": "unknown-dst", "logical_switch": rows.UUID(ls), "locator_set": rows.UUID("ferry_set_ferry_2dblue")}),
		mut(f.port("p0").UUID, nil, map[any]any{0: rows.UUID(ls)}),
		mut(f.port("p1").UUID, nil, map[any]any{100: rows.UUID(ls)}),
	)
}

// converged builds a VTEP on which blue (VNI 5000) is exactly as desired().
func converged() (*fixture, string, Desired) {
	var f fixture
	f.ps("ps1", "p0", "p1")
	blue := f.ls("ferry-blue", "ferry", 5000)
	f.port("p0").VLANBindings[0] = blue
	f.ucast(blue, "02:00:00:00:00:01", "198.18.1.1")
	f.mcast(blue, "unknown-dst", "198.18.1.1", "198.18.1.2")
	d := Desired{Switches: []Switch{{
		Name: "blue", VNI: 5000,
		Bindings:   []PortVLAN{{"p0", 0}},
		RemoteMACs: []RemoteMAC{{"02:00:00:00:00:01", "198.18.1.1"}},
		Flood:      []string{"198.18.1.2", "198.18.1.1"},
	}}}
	return &f, blue, d
}

func TestOpsConverged(t *testing.T) {
	f, _, d := converged()
	wantOps(t, mustOps(t, f.observed(), d))
	// Names of the physical switch, MAC spelling: the same state.
	d.PhysicalSwitch = "ps1"
	d.Switches[0].RemoteMACs[0].MAC = "02-00-00-00-00-01"
	wantOps(t, mustOps(t, f.observed(), d))
}

func TestOpsUpdates(t *testing.T) {
	f, blue, d := converged()
	mrow := f.McastMacsRemote[0].UUID
	urow := f.UcastMacsRemote[0].UUID
	d.Switches[0].VNI = 6000
	d.Switches[0].ReplicationMode = ServiceNode
	d.Switches[0].RemoteMACs[0].IP = "198.18.1.2" // a known locator
	d.Switches[0].Flood = []string{"198.18.1.1"}
	l1, l2 := f.loc("198.18.1.1"), f.loc("198.18.1.2")
	wantOps(t, mustOps(t, f.observed(), d),
		upd("Logical_Switch", blue, libovsdb.Row{"tunnel_key": rows.Optional(6000), "replication_mode": rows.Optional("service_node")}),
		upd("Ucast_Macs_Remote", urow, libovsdb.Row{"locator": rows.UUID(l2)}),
		ins("Physical_Locator_Set", "ferry_set_ferry_2dblue", libovsdb.Row{"locators": rows.UUIDSet(l1)}),
		upd("Mcast_Macs_Remote", mrow, libovsdb.Row{"locator_set": rows.UUID("ferry_set_ferry_2dblue")}),
	)

	// Clearing the replication mode empties the column.
	mode := SourceNode
	f.LogicalSwitches[0].ReplicationMode = &mode
	_, _, d = converged()
	wantOps(t, mustOps(t, f.observed(), d),
		upd("Logical_Switch", blue, libovsdb.Row{"replication_mode": libovsdb.OvsSet{GoSet: []any{}}}))
}

func TestOpsFloodEmptyDeletesRow(t *testing.T) {
	f, _, d := converged()
	d.Switches[0].Flood = nil
	wantOps(t, mustOps(t, f.observed(), d), del("Mcast_Macs_Remote", f.McastMacsRemote[0].UUID))
}

func TestOpsStaleRows(t *testing.T) {
	f, blue, d := converged()
	// Someone else's spelling of a desired MAC, a duplicate of it, a MAC
	// no longer desired, a multicast MAC and a second unknown-dst row.
	dup := f.ucast(blue, "02:00:00:00:00:01", "198.18.1.1")
	upper := f.ucast(blue, "02:AA:00:00:00:09", "198.18.1.9")
	mc, _ := f.mcast(blue, "01:00:5e:00:00:01", "198.18.1.1")
	unk2, _ := f.mcast(blue, "unknown-dst", "198.18.1.7")
	d.Switches[0].RemoteMACs = append(d.Switches[0].RemoteMACs, RemoteMAC{"02:aa:00:00:00:09", "198.18.1.9"})
	wantOps(t, mustOps(t, f.observed(), d),
		del("Ucast_Macs_Remote", dup),
		upd("Ucast_Macs_Remote", upper, libovsdb.Row{"MAC": "02:aa:00:00:00:09"}),
		del("Mcast_Macs_Remote", mc),
		del("Mcast_Macs_Remote", unk2),
	)
}

func TestOpsLocatorWithTunnelKeyNotReused(t *testing.T) {
	var f fixture
	f.ps("ps1", "p0")
	key := 77
	f.PhysicalLocators = append(f.PhysicalLocators, hwvtep.PhysicalLocator{UUID: f.id(), DstIP: "198.18.1.1", EncapsulationType: Encapsulation, TunnelKey: &key})
	ops := mustOps(t, f.observed(), Desired{Switches: []Switch{{Name: "a", RemoteMACs: []RemoteMAC{{"02:00:00:00:00:01", "198.18.1.1"}}}}})
	if len(ops) != 3 || ops[0].Table != "Physical_Locator" || ops[0].Op != "insert" {
		t.Errorf("want a new locator: %s", fmtOps(ops))
	}
}

func TestOpsOwnership(t *testing.T) {
	var f fixture
	f.ps("ps1", "p0")
	other := f.ls("other", "", 1)
	notOurs := f.ls("ferry-x", "someone", 2) // our prefix, not our description
	plain := f.ls("blue", "ferry", 3)        // our description, not our prefix
	f.port("p0").VLANBindings[200] = other
	f.port("p0").VLANBindings[201] = notOurs
	f.port("p0").VLANBindings[202] = plain
	f.ucast(other, "00:11:22:33:44:55", "198.18.9.9")
	f.mcast(notOurs, "unknown-dst", "198.18.9.9")
	mine := f.ls("ferry-old", "ferry", 4)
	f.port("p0").VLANBindings[5] = mine
	u := f.ucast(mine, "02:00:00:00:00:05", "198.18.9.9")
	m, _ := f.mcast(mine, "unknown-dst", "198.18.9.9")

	// Nothing desired: only ferry's switch goes.
	wantOps(t, mustOps(t, f.observed(), Desired{}),
		mut(f.port("p0").UUID, []any{5}, nil),
		del("Ucast_Macs_Remote", u),
		del("Mcast_Macs_Remote", m),
		del("Logical_Switch", mine))

	// Desired names and bindings that collide with other controllers'.
	for _, d := range []Desired{
		{Switches: []Switch{{Name: "x", VNI: 9}}},
		{Switches: []Switch{{Name: "a", Bindings: []PortVLAN{{"p0", 200}}}}},
		{Switches: []Switch{{Name: "a", Bindings: []PortVLAN{{"p0", 202}}}}},
		{Switches: []Switch{{Name: "a", Bindings: []PortVLAN{{"p7", 1}}}}},
	} {
		if ops, err := Ops(f.observed(), d); !errors.Is(err, ErrConflict) || ops != nil {
			t.Errorf("Ops(%+v) = %v, %v; want ErrConflict", d, ops, err)
		}
	}
}

func TestOpsDeletionWaits(t *testing.T) {
	// A logical switch the VTEP still refers to (local MACs, a router) is
	// unbound and loses its remote MACs; the row waits.
	for _, pin := range []string{"ucast", "mcast", "router"} {
		t.Run(pin, func(t *testing.T) {
			f, blue, _ := converged()
			switch pin {
			case "ucast":
				f.UcastMacsLocal = append(f.UcastMacsLocal, hwvtep.UcastMacsLocal{UUID: f.id(), MAC: "02:00:00:00:00:99", LogicalSwitch: blue, Locator: f.loc("198.18.0.10")})
			case "mcast":
				f.McastMacsLocal = append(f.McastMacsLocal, hwvtep.McastMacsLocal{UUID: f.id(), MAC: "unknown-dst", LogicalSwitch: blue, LocatorSet: f.id()})
			case "router":
				f.LogicalRouters = append(f.LogicalRouters, hwvtep.LogicalRouter{UUID: f.id(), Name: "r", SwitchBinding: map[string]string{"10.0.0.1/24": blue}})
			}
			wantOps(t, mustOps(t, f.observed(), Desired{}),
				mut(f.port("p0").UUID, []any{0}, nil),
				del("Ucast_Macs_Remote", f.UcastMacsRemote[0].UUID),
				del("Mcast_Macs_Remote", f.McastMacsRemote[0].UUID))
		})
	}
}

func TestOpsOtherPhysicalSwitch(t *testing.T) {
	f, blue, _ := converged()
	f.ps("ps2", "q0")
	red := f.ls("ferry-red", "ferry", 7)
	f.port("q0").VLANBindings[3] = red
	f.port("q0").VLANBindings[4] = blue
	// ps1 drops blue and never knew red: blue is unbound from ps1 only,
	// both logical switches stay for ps2.
	wantOps(t, mustOps(t, f.observed(), Desired{PhysicalSwitch: "ps1"}),
		mut(f.port("p0").UUID, []any{0}, nil))
	// With two physical switches the one to drive must be named.
	if _, err := Ops(f.observed(), Desired{}); err == nil || errors.Is(err, ErrNoPhysicalSwitch) {
		t.Errorf("Ops without a name = %v", err)
	}
	if _, err := Ops(f.observed(), Desired{PhysicalSwitch: "ps9"}); !errors.Is(err, ErrNoPhysicalSwitch) {
		t.Errorf("Ops on a missing switch = %v", err)
	}
	if _, err := Ops(NewObserved(Rows{}), Desired{}); !errors.Is(err, ErrNoPhysicalSwitch) {
		t.Errorf("Ops on an empty database = %v", err)
	}
}

func TestOpsRebind(t *testing.T) {
	f, _, d := converged()
	green := f.ls("ferry-green", "ferry", 5001)
	f.port("p1").VLANBindings[100] = green
	// VLAN 0 of p0 moves from blue to green; green leaves p1.
	d.Switches[0].Bindings = nil
	d.Switches = append(d.Switches, Switch{Name: "green", VNI: 5001, Bindings: []PortVLAN{{"p0", 0}}})
	wantOps(t, mustOps(t, f.observed(), d),
		mut(f.port("p0").UUID, []any{0}, map[any]any{0: rows.UUID(green)}),
		mut(f.port("p1").UUID, []any{100}, nil))
}

func TestOpsInvalidDesired(t *testing.T) {
	f, _, _ := converged()
	o := f.observed()
	for _, tc := range []struct {
		name string
		s    []Switch
	}{
		{"no name", []Switch{{}}},
		{"twice", []Switch{{Name: "a", VNI: 1}, {Name: "a", VNI: 2}}},
		{"shared VNI", []Switch{{Name: "a", VNI: 1}, {Name: "b", VNI: 1}}},
		{"VNI", []Switch{{Name: "a", VNI: 1 << 24}}},
		{"VLAN", []Switch{{Name: "a", Bindings: []PortVLAN{{"p0", 4096}}}}},
		{"no port", []Switch{{Name: "a", Bindings: []PortVLAN{{"", 1}}}}},
		{"binding twice", []Switch{{Name: "a", VNI: 1, Bindings: []PortVLAN{{"p0", 1}}}, {Name: "b", VNI: 2, Bindings: []PortVLAN{{"p0", 1}}}}},
		{"mode", []Switch{{Name: "a", ReplicationMode: "flood"}}},
		{"MAC", []Switch{{Name: "a", RemoteMACs: []RemoteMAC{{"02:00:00:00:00", "198.18.1.1"}}}}},
		{"EUI-64", []Switch{{Name: "a", RemoteMACs: []RemoteMAC{{"02:00:00:00:00:00:00:01", "198.18.1.1"}}}}},
		{"MAC IP", []Switch{{Name: "a", RemoteMACs: []RemoteMAC{{"02:00:00:00:00:01", "2001:db8::1"}}}}},
		{"MAC twice", []Switch{{Name: "a", RemoteMACs: []RemoteMAC{{"02:00:00:00:00:01", "198.18.1.1"}, {"02:00:00:00:00:01", "198.18.1.2"}}}}},
		{"flood IP", []Switch{{Name: "a", Flood: []string{"198.18.1.01"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops, err := Ops(o, Desired{Switches: tc.s})
			if err == nil || ops != nil || errors.Is(err, ErrConflict) || !strings.HasPrefix(err.Error(), "vtep: ") {
				t.Errorf("Ops = %v, %v; want a validation error", ops, err)
			}
		})
	}
	// The same MAC twice behind the same IP is harmless.
	d := Desired{Switches: []Switch{{Name: "a", RemoteMACs: []RemoteMAC{{"02:00:00:00:00:01", "198.18.1.1"}, {"02:00:00:00:00:01", "198.18.1.1"}}}}}
	if _, err := Ops(o, d); err != nil {
		t.Error(err)
	}
}

func TestObservedPhysicalSwitch(t *testing.T) {
	f, _, _ := converged()
	other := f.ls("other", "", 1)
	f.port("p1").VLANBindings[200] = other
	f.port("p1").PortFaultStatus = []string{"invalid_vlan_map"}
	f.PhysicalSwitches[0].SwitchFaultStatus = []string{FaultUnsupportedSourceNode}
	f.PhysicalSwitches[0].TunnelIPs = []string{"198.18.0.11", "198.18.0.10"}
	o := f.observed()
	got, err := o.PhysicalSwitch("")
	if err != nil {
		t.Fatal(err)
	}
	want := PhysicalSwitch{
		UUID: f.PhysicalSwitches[0].UUID, Name: "ps1", TunnelIPs: []string{"198.18.0.10", "198.18.0.11"}, Faults: []string{FaultUnsupportedSourceNode},
		Ports: []Port{
			{Name: "p0", VLANs: map[uint16]string{0: "ferry-blue"}},
			{Name: "p1", Faults: []string{"invalid_vlan_map"}, VLANs: map[uint16]string{200: "other"}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("PhysicalSwitch = %+v\nwant %+v", got, want)
	}
	if o.SupportsSourceNode("ps1") || o.SupportsSourceNode("nope") {
		t.Error("SupportsSourceNode despite the fault")
	}
	f.PhysicalSwitches[0].SwitchFaultStatus = nil
	if !f.observed().SupportsSourceNode("") {
		t.Error("no SupportsSourceNode without a fault")
	}
}

func TestObservedLocalMACs(t *testing.T) {
	f, blue, _ := converged()
	other := f.ls("other", "", 1)
	f.UcastMacsLocal = append(f.UcastMacsLocal,
		hwvtep.UcastMacsLocal{UUID: f.id(), MAC: "02:AA:BB:CC:DD:EE", LogicalSwitch: blue, Locator: f.loc("198.18.0.10"), Ipaddr: "10.0.0.5"},
		hwvtep.UcastMacsLocal{UUID: f.id(), MAC: "02:00:00:00:00:0a", LogicalSwitch: blue, Locator: f.loc("198.18.0.10")},
		hwvtep.UcastMacsLocal{UUID: f.id(), MAC: "02:00:00:00:00:0b", LogicalSwitch: other, Locator: f.loc("198.18.0.10")})
	o := f.observed()
	want := []LocalMAC{
		{MAC: "02:00:00:00:00:0a", IP: "198.18.0.10"},
		{MAC: "02:aa:bb:cc:dd:ee", IP: "198.18.0.10", IPAddr: "10.0.0.5"},
	}
	if got := o.LocalMACs("blue"); !slices.Equal(got, want) {
		t.Errorf("LocalMACs(blue) = %v, want %v", got, want)
	}
	// "other" is not ferry's, and not ferry-other either.
	if got := o.LocalMACs("other"); got != nil {
		t.Errorf("LocalMACs(other) = %v", got)
	}
}

func TestNames(t *testing.T) {
	if LogicalSwitchName("blue") != "ferry-blue" {
		t.Error(LogicalSwitchName("blue"))
	}
	if n, ok := SwitchName("ferry-blue"); !ok || n != "blue" {
		t.Error(n, ok)
	}
	for _, s := range []string{"ferry-", "blue", "ferryblue"} {
		if _, ok := SwitchName(s); ok {
			t.Errorf("SwitchName(%q) ok", s)
		}
	}
	ident := regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	seen := map[string]string{}
	for _, s := range []string{"a.b", "a_b", "a_2eb", "a-b", "ünï", "198.18.1.1", ""} {
		n := rows.NamedUUID("ls", s)
		if !ident.MatchString(n) {
			t.Errorf("rows.NamedUUID(%q) = %q, not an identifier", s, n)
		}
		if prev, ok := seen[n]; ok {
			t.Errorf("rows.NamedUUID(%q) = rows.NamedUUID(%q) = %q", s, prev, n)
		}
		seen[n] = s
	}
}
