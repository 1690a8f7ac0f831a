package vtep

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/ovstest"
	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

// monitorCapture is what a real ovsdb-server (OVS 3.1, hardware_vtep)
// answered a monitor of Tables(); TestRecordMonitorCapture
// (FERRY_RECORD_SEEDS=1) rewrites it.
const monitorCapture = "testdata/vtep-3.1-monitor.json"

// TestRecordMonitorCapture records monitorCapture: a VTEP as ferry leaves
// it (a logical switch bound to a port, remote MACs, a flood set) with
// MACs the VTEP learned, a fault and a second physical switch.
func TestRecordMonitorCapture(t *testing.T) {
	if os.Getenv("FERRY_RECORD_SEEDS") == "" {
		t.Skip("set FERRY_RECORD_SEEDS=1 to record " + monitorCapture)
	}
	if _, err := exec.LookPath("vtep-ctl"); err != nil {
		t.Fatal("vtep-ctl not installed")
	}
	inst := ovstest.Start(t, ovstest.Options{Schemas: []string{ovstest.VtepSchema}})
	ctl := func(args ...string) {
		inst.Run(t, "vtep-ctl", append([]string{"--db=" + inst.DBRemote(), "--timeout=10"}, args...)...)
	}
	ctl("add-ps", "ps1", "--", "add-port", "ps1", "p0", "--", "add-port", "ps1", "p1",
		"--", "set", "physical_switch", "ps1", "tunnel_ips=198.18.1.20", "switch_fault_status=unsupported_source_node_replication",
		"--", "add-ps", "ps2", "--", "add-port", "ps2", "q0")
	ctl("add-ls", LogicalSwitchName("blue"), "--", "set", "logical_switch", LogicalSwitchName("blue"), "tunnel_key=5000",
		"description="+Description)
	ctl("bind-ls", "ps1", "p0", "0", LogicalSwitchName("blue"))
	ctl("bind-ls", "ps1", "p1", "100", LogicalSwitchName("blue"))
	ctl("add-ucast-remote", LogicalSwitchName("blue"), "02:00:00:00:00:01", "198.18.1.11")
	ctl("add-mcast-remote", LogicalSwitchName("blue"), "unknown-dst", "198.18.1.11")
	ctl("add-mcast-remote", LogicalSwitchName("blue"), "unknown-dst", "198.18.1.12")
	ctl("add-ucast-local", LogicalSwitchName("blue"), "52:54:00:00:02:01", "198.18.1.20")
	tables := map[string][]string{}
	for _, tb := range Tables() {
		tables[tb] = nil
	}
	got := inst.CaptureMonitor(t, "hardware_vtep", tables)
	if err := os.WriteFile(monitorCapture, append(got, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzObserve feeds a monitor update, as a VTEP could send it, into
// libovsdb's cache on top of the real capture, reads it as a gateway loop
// does and computes a pass's operations. A VTEP writes its own tables
// (Ucast_Macs_Local, Physical_Port, faults, Tunnel) and may leave dangling
// references: none of it may panic ferry.
//
// Run with: go test ./vtep/ -run '^$' -fuzz '^FuzzObserve$' -fuzztime 1m
func FuzzObserve(f *testing.F) {
	clientModel, err := hwvtep.FullDatabaseModel()
	if err != nil {
		f.Fatal(err)
	}
	mf := ovstest.NewMonitorFuzz(f, monitorCapture, clientModel, hwvtep.Schema())
	f.Add([]byte(`{"Ucast_Macs_Local":{"00000000-0000-0000-0000-000000000001":{"insert":{"MAC":"zz","logical_switch":["uuid","00000000-0000-0000-0000-000000000009"],"locator":["uuid","00000000-0000-0000-0000-000000000008"]}}}}`))
	f.Add([]byte(`{"Physical_Port":{"00000000-0000-0000-0000-000000000002":{"insert":{"name":"p9","vlan_bindings":["map",[[4096,["uuid","00000000-0000-0000-0000-000000000009"]]]]}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tc := mf.Apply(t, data)
		if tc == nil {
			return
		}
		o, err := Observe(context.Background(), tc)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"", "ps1", "ps2", "nope"} {
			if ps, err := o.PhysicalSwitch(name); err == nil && ps.Name == "" && name != "" {
				t.Fatalf("PhysicalSwitch(%q) = %+v", name, ps)
			}
			o.SupportsSourceNode(name)
			o.TunnelStates(name)
		}
		for _, m := range o.LocalMACs("blue") {
			if strings.TrimSpace(m.MAC) == "" {
				t.Fatalf("local MAC %+v", m)
			}
		}
		d := Desired{PhysicalSwitch: "ps1", Switches: []Switch{{
			Name: "blue", VNI: 5000, Bindings: []PortVLAN{{"p0", 0}, {"p1", 100}},
			RemoteMACs: []RemoteMAC{{"02:00:00:00:00:01", "198.18.1.11"}, {"02:00:00:00:00:02", "198.18.1.13"}},
			Flood:      []string{"198.18.1.11", "198.18.1.13"},
		}}, BFD: []string{"198.18.1.11"}}
		_, _ = Ops(o, d)
		_, _ = Ops(o, Desired{})
	})
}
