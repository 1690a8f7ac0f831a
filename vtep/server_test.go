package vtep

import (
	"errors"
	"slices"
	"strings"
	"testing"

	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

func blueGreen() Desired {
	return Desired{Switches: []Switch{
		{
			Name: "blue", VNI: 5000, ReplicationMode: SourceNode,
			Bindings: []PortVLAN{{"p0", 0}},
			RemoteMACs: []RemoteMAC{
				{"02:00:00:00:00:01", "198.18.1.1"},
				{"02:00:00:00:00:02", "198.18.1.2"},
			},
			Flood: []string{"198.18.1.2", "198.18.1.1"},
		},
		{
			Name: "green", VNI: 5001,
			Bindings:   []PortVLAN{{"p1", 100}},
			RemoteMACs: []RemoteMAC{{"02:00:00:00:00:03", "198.18.1.3"}},
			Flood:      []string{"198.18.1.3"},
		},
	}}
}

// addForeign creates another controller's logical switch, bound on p0
// VLAN 200 with a remote MAC.
func (v *vtepDB) addForeign() {
	v.t.Helper()
	v.ctl("add-ls", "other", "--", "bind-ls", "ps1", "p0", "200", "other",
		"--", "add-ucast-remote", "other", "00:11:22:33:44:55", "198.18.9.9")
}

func (v *vtepDB) checkForeign() {
	v.t.Helper()
	if !slices.Contains(lines(v.ctl("list-ls")), "other") {
		v.t.Error("foreign logical switch gone")
	}
	if !slices.Contains(lines(v.ctl("list-bindings", "ps1", "p0")), "0200 other") {
		v.t.Error("foreign binding gone")
	}
	wantLines(v.t, "remote MACs of other", v.ctl("list-remote-macs", "other"),
		"ucast-mac-remote", "00:11:22:33:44:55 -> vxlan_over_ipv4/198.18.9.9", "mcast-mac-remote")
}

// mcastRow returns the UUID of the unknown-dst row of a logical switch and
// of its locator set, as the server has them.
func (v *vtepDB) mcastRow(ls string) (row, set string) {
	v.t.Helper()
	lsu := v.ctl("--bare", "get", "Logical_Switch", ls, "_uuid")
	out := lines(v.ctl("--bare", "--columns=_uuid,locator_set", "find", "Mcast_Macs_Remote", "logical_switch="+lsu))
	if len(out) != 2 {
		v.t.Fatalf("Mcast_Macs_Remote rows of %s: %q", ls, out)
	}
	return out[0], out[1]
}

func countOps(ops []libovsdb.Operation, op, table string) int {
	n := 0
	for _, o := range ops {
		if o.Op == op && o.Table == table {
			n++
		}
	}
	return n
}

func TestServerLifecycle(t *testing.T) {
	v := startVTEP(t)
	v.addForeign()

	d := blueGreen()
	v.apply(d)
	v.checkForeign()
	wantLines(t, "list-ls", v.ctl("list-ls"), "ferry-blue", "ferry-green", "other")
	wantLines(t, "bindings p0", v.ctl("list-bindings", "ps1", "p0"), "0000 ferry-blue", "0200 other")
	wantLines(t, "bindings p1", v.ctl("list-bindings", "ps1", "p1"), "0100 ferry-green")
	wantLines(t, "remote MACs of ferry-blue", v.ctl("list-remote-macs", "ferry-blue"),
		"ucast-mac-remote",
		"02:00:00:00:00:01 -> vxlan_over_ipv4/198.18.1.1",
		"02:00:00:00:00:02 -> vxlan_over_ipv4/198.18.1.2",
		"mcast-mac-remote",
		"unknown-dst -> vxlan_over_ipv4/198.18.1.1",
		"unknown-dst -> vxlan_over_ipv4/198.18.1.2")
	wantLines(t, "remote MACs of ferry-green", v.ctl("list-remote-macs", "ferry-green"),
		"ucast-mac-remote",
		"02:00:00:00:00:03 -> vxlan_over_ipv4/198.18.1.3",
		"mcast-mac-remote",
		"unknown-dst -> vxlan_over_ipv4/198.18.1.3")
	wantLines(t, "ferry-blue columns", v.ctl("--bare", "--columns=description,tunnel_key,replication_mode", "list", "Logical_Switch", "ferry-blue"),
		"ferry", "5000", "source_node")
	wantLines(t, "ferry-green columns", v.ctl("--bare", "--columns=description,tunnel_key,replication_mode", "list", "Logical_Switch", "ferry-green"),
		"ferry", "5001")
	// One locator per IP, shared by unicast and flood rows.
	if got := lines(v.ctl("--bare", "--columns=_uuid", "find", "Physical_Locator", "dst_ip=198.18.1.1")); len(got) != 1 {
		t.Errorf("locators of 198.18.1.1: %q", got)
	}

	// A new flood list takes a new locator set; the row is repointed.
	row0, set0 := v.mcastRow("ferry-blue")
	d.Switches[0].Flood = []string{"198.18.1.1", "198.18.1.4"}
	ops := v.apply(d)
	if n := countOps(ops, libovsdb.OperationInsert, hwvtep.PhysicalLocatorSetTable); n != 1 {
		t.Errorf("%d locator sets inserted, want 1: %v", n, ops)
	}
	if n := countOps(ops, libovsdb.OperationUpdate, hwvtep.McastMacsRemoteTable); n != 1 || len(ops) != 3 {
		t.Errorf("want locator, set, mcast update; got %v", ops)
	}
	row1, set1 := v.mcastRow("ferry-blue")
	if row1 != row0 {
		t.Errorf("Mcast_Macs_Remote row replaced (%s → %s), want it repointed", row0, row1)
	}
	if set1 == set0 {
		t.Errorf("locator set %s edited in place", set0)
	}
	if got := lines(v.ctl("--bare", "--columns=_uuid", "list", "Physical_Locator_Set")); slices.Contains(got, set0) || !slices.Contains(got, set1) {
		t.Errorf("old locator set %s not collected", set0)
	}
	wantLines(t, "remote MACs of ferry-blue after the flood change", v.ctl("list-remote-macs", "ferry-blue"),
		"ucast-mac-remote",
		"02:00:00:00:00:01 -> vxlan_over_ipv4/198.18.1.1",
		"02:00:00:00:00:02 -> vxlan_over_ipv4/198.18.1.2",
		"mcast-mac-remote",
		"unknown-dst -> vxlan_over_ipv4/198.18.1.1",
		"unknown-dst -> vxlan_over_ipv4/198.18.1.4")

	// A MAC that moved: same row, new locator.
	macRow := func() string {
		return v.ctl("--bare", "--columns=_uuid", "find", "Ucast_Macs_Remote", "MAC=02\\:00\\:00\\:00\\:00\\:02")
	}
	before := macRow()
	d.Switches[0].RemoteMACs[1].IP = "198.18.1.5"
	ops = v.apply(d)
	if n := countOps(ops, libovsdb.OperationUpdate, hwvtep.UcastMacsRemoteTable); n != 1 || len(ops) != 2 {
		t.Errorf("want a locator insert and one update; got %v", ops)
	}
	if after := macRow(); after != before || before == "" {
		t.Errorf("Ucast_Macs_Remote row %q became %q", before, after)
	}
	wantLines(t, "remote MACs of ferry-blue after the move", v.ctl("list-remote-macs", "ferry-blue"),
		"ucast-mac-remote",
		"02:00:00:00:00:01 -> vxlan_over_ipv4/198.18.1.1",
		"02:00:00:00:00:02 -> vxlan_over_ipv4/198.18.1.5",
		"mcast-mac-remote",
		"unknown-dst -> vxlan_over_ipv4/198.18.1.1",
		"unknown-dst -> vxlan_over_ipv4/198.18.1.4")
	v.checkForeign()

	// Remove green's binding and move p0 VLAN 0 from blue to green in the
	// same pass.
	d.Switches[0].Bindings = nil
	d.Switches[1].Bindings = []PortVLAN{{"p0", 0}}
	ops = v.apply(d)
	if len(ops) != 2 || countOps(ops, libovsdb.OperationMutate, hwvtep.PhysicalPortTable) != 2 {
		t.Errorf("want two port mutations, got %v", ops)
	}
	wantLines(t, "bindings p0 after the move", v.ctl("list-bindings", "ps1", "p0"), "0000 ferry-green", "0200 other")
	wantLines(t, "bindings p1 after the removal", v.ctl("list-bindings", "ps1", "p1"))

	// Delete green: its logical switch, MACs and binding go.
	greenLS := v.ctl("--bare", "get", "Logical_Switch", "ferry-green", "_uuid")
	d.Switches = d.Switches[:1]
	v.apply(d)
	wantLines(t, "list-ls after the deletion", v.ctl("list-ls"), "ferry-blue", "other")
	wantLines(t, "bindings p0 after the deletion", v.ctl("list-bindings", "ps1", "p0"), "0200 other")
	for _, table := range []string{"Ucast_Macs_Remote", "Mcast_Macs_Remote"} {
		if got := v.ctl("--bare", "--columns=_uuid", "find", table, "logical_switch="+greenLS); got != "" {
			t.Errorf("%s rows of the deleted switch remain: %q", table, got)
		}
	}
	v.checkForeign()

	// Nothing desired: ferry's rows go, the foreign switch stays.
	v.apply(Desired{})
	wantLines(t, "list-ls at the end", v.ctl("list-ls"), "other")
	v.checkForeign()
}

func TestServerForeignConflict(t *testing.T) {
	v := startVTEP(t)
	v.addForeign()
	v.apply(blueGreen())

	for _, tc := range []struct {
		name string
		d    func(*Desired)
	}{
		{"foreign binding", func(d *Desired) { d.Switches[0].Bindings = append(d.Switches[0].Bindings, PortVLAN{"p0", 200}) }},
		{"missing port", func(d *Desired) { d.Switches[1].Bindings = append(d.Switches[1].Bindings, PortVLAN{"p9", 7}) }},
		{"foreign name", func(d *Desired) { d.Switches = append(d.Switches, Switch{Name: "x", VNI: 9}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "foreign name" {
				v.ctl("--may-exist", "add-ls", "ferry-x")
			}
			d := blueGreen()
			d.Switches[0].Flood = []string{"198.18.7.7"} // a change that must not be half-applied
			tc.d(&d)
			ops, err := Ops(v.observe(), d)
			if !errors.Is(err, ErrConflict) || ops != nil {
				t.Fatalf("Ops = %v, %v; want no operations and ErrConflict", ops, err)
			}
		})
	}
	// Nothing changed: the previous state is still exactly desired.
	if ops, err := Ops(v.observe(), blueGreen()); err != nil || len(ops) != 0 {
		t.Errorf("state changed: %v %v", ops, err)
	}
	v.checkForeign()
	if got := lines(v.ctl("--bare", "--columns=description", "list", "Logical_Switch", "ferry-x")); len(got) != 0 {
		t.Errorf("foreign ferry-x changed: %q", got)
	}
}

func TestServerLocalMACs(t *testing.T) {
	v := startVTEP(t)
	d := blueGreen()
	v.apply(d)
	v.ctl("add-ucast-local", "ferry-blue", "02:aa:bb:cc:dd:ee", "198.18.3.31")
	o := v.observe()
	want := []LocalMAC{{MAC: "02:aa:bb:cc:dd:ee", IP: "198.18.3.31"}}
	if got := o.LocalMACs("blue"); !slices.Equal(got, want) {
		t.Errorf("LocalMACs(blue) = %v, want %v", got, want)
	}
	if got := o.LocalMACs("green"); len(got) != 0 {
		t.Errorf("LocalMACs(green) = %v", got)
	}
	// The VTEP's own rows are not ferry's to change.
	if ops, err := Ops(o, d); err != nil || len(ops) != 0 {
		t.Errorf("Ops with a local MAC = %v, %v", ops, err)
	}

	// blue is no longer desired: unbound and its remote MACs gone at once,
	// the logical switch itself once the VTEP has flushed its local MACs.
	d.Switches = d.Switches[1:]
	v.apply(d)
	wantLines(t, "list-ls while a local MAC remains", v.ctl("list-ls"), "ferry-blue", "ferry-green")
	wantLines(t, "bindings p0", v.ctl("list-bindings", "ps1", "p0"))
	wantLines(t, "remote MACs of ferry-blue", v.ctl("list-remote-macs", "ferry-blue"), "ucast-mac-remote", "mcast-mac-remote")
	v.ctl("clear-local-macs", "ferry-blue")
	ops := v.apply(d)
	if len(ops) != 1 || ops[0].Op != libovsdb.OperationDelete || ops[0].Table != hwvtep.LogicalSwitchTable {
		t.Errorf("want the logical switch deleted, got %v", ops)
	}
	wantLines(t, "list-ls after the flush", v.ctl("list-ls"), "ferry-green")
}

func TestServerRecovers(t *testing.T) {
	v := startVTEP(t)
	v.addForeign()
	d := blueGreen()
	v.apply(d)
	want := map[string]string{}
	snapshot := func() map[string]string {
		return map[string]string{
			"ls":    v.ctl("list-ls"),
			"p0":    v.ctl("list-bindings", "ps1", "p0"),
			"p1":    v.ctl("list-bindings", "ps1", "p1"),
			"blue":  v.ctl("list-remote-macs", "ferry-blue"),
			"green": v.ctl("list-remote-macs", "ferry-green"),
		}
	}
	want = snapshot()
	check := func(when string) {
		t.Helper()
		for k, got := range snapshot() {
			if got != want[k] {
				t.Errorf("%s: %s = %q, want %q", when, k, got, want[k])
			}
		}
	}

	// An operator deletes ferry's rows by hand.
	v.ctl("clear-remote-macs", "ferry-blue", "--", "unbind-ls", "ps1", "p0", "0", "--", "del-ls", "ferry-blue",
		"--", "del-mcast-remote", "ferry-green", "unknown-dst", "198.18.1.3")
	v.apply(d)
	check("after a manual deletion")

	// The VTEP loses its database and registers itself again: every UUID
	// is new and the connection had to be re-established.
	v.freshDB()
	v.ctl("add-ps", "ps1", "--", "add-port", "ps1", "p0", "--", "add-port", "ps1", "p1")
	v.addForeign()
	if strings.Contains(v.ctl("list-ls"), "ferry") {
		t.Fatal("database not fresh")
	}
	v.apply(d)
	check("after a fresh database")
}
