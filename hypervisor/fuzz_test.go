package hypervisor

import (
	"context"
	"os"
	"testing"

	"github.com/ferry-sdn/ferry/internal/ovstest"
	"github.com/ferry-sdn/ferry/ovsdb/rows"
	"github.com/ferry-sdn/ferry/ovsdb/vswitch"
)

// monitorCapture is what a real ovsdb-server (OVS 3.1, with ovs-vswitchd
// running) answered ferry's monitor request; TestRecordMonitorCapture
// (FERRY_RECORD_SEEDS=1) rewrites it.
const monitorCapture = "testdata/ovs-3.1-monitor.json"

// TestRecordMonitorCapture records monitorCapture from a real OVS: a
// bridge as ferry leaves it (controller, protocols, owned VXLAN and GRE
// tunnels with BFD) with a libvirt VIF and a XenServer VIF on it.
func TestRecordMonitorCapture(t *testing.T) {
	if os.Getenv("FERRY_RECORD_SEEDS") == "" {
		t.Skip("set FERRY_RECORD_SEEDS=1 to record " + monitorCapture)
	}
	inst := ovstest.Start(t, ovstest.Options{Vswitchd: true})
	owned := rows.OwnerKey + "=" + rows.OwnerValue
	inst.Vsctl(t, "add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=dummy", "fail_mode=secure",
		"protocols=OpenFlow10,OpenFlow15", "external_ids:"+owned,
		"--", "set-controller", "br-int", "tcp:127.0.0.1:6653",
		"--", "add-port", "br-int", "vm1", "--", "set", "interface", "vm1", "type=dummy",
		"external_ids:iface-id=blue-a", "external_ids:attached-mac=52:54:00:00:01:0a", "external_ids:iface-status=active",
		"--", "add-port", "br-int", "vif3.0", "--", "set", "interface", "vif3.0", "type=dummy",
		"external_ids:xs-vif-uuid=0f3c8a2e-6d1b-4c1e-9f00-5a5a5a5a5a5a", "external_ids:xs-network-uuid=net-1",
		"--", "add-port", "br-int", "fvx0", "--", "set", "port", "fvx0", "external_ids:"+owned,
		"--", "set", "interface", "fvx0", "type=vxlan", "options:remote_ip=198.18.1.12", "options:local_ip=198.18.1.11",
		"options:key=flow", "ofport_request=32768", "bfd:enable=true", "external_ids:"+owned, "external_ids:"+rows.RemoteKey+"=hv2",
		"--", "add-port", "br-int", "fgr0", "--", "set", "port", "fgr0", "external_ids:"+owned,
		"--", "set", "interface", "fgr0", "type=gre", "options:remote_ip=198.18.1.13", "options:key=flow",
		"bfd:enable=true", "external_ids:"+owned, "external_ids:"+rows.RemoteKey+"=gw1")
	inst.Vsctl(t, "wait-until", "interface", "fvx0", "bfd_status:state=down")
	got := inst.CaptureMonitor(t, "Open_vSwitch", Columns())
	if err := os.WriteFile(monitorCapture, append(got, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// FuzzObserve feeds a monitor update, as a hypervisor's ovsdb-server
// could send it, into libovsdb's cache on top of the real capture, then
// reads it as a chassis loop does (Observe) and computes the operations a
// pass would send (CreateOps, DeleteOps, TunnelOFPorts). Rows ferry did not
// write (VIFs, other ports, options, bfd_status) are the device's to
// choose: none of it may panic ferry, and what Observe reports must hold
// together.
//
// Run with: go test ./hypervisor/ -run '^$' -fuzz '^FuzzObserve$' -fuzztime 1m
func FuzzObserve(f *testing.F) {
	clientModel, err := vswitch.FullDatabaseModel()
	if err != nil {
		f.Fatal(err)
	}
	mf := ovstest.NewMonitorFuzz(f, monitorCapture, clientModel, vswitch.Schema())
	f.Add([]byte(`{"Interface":{"00000000-0000-0000-0000-000000000001":{"insert":{"name":"x","ofport":-1,"external_ids":["map",[["iface-id",""],["attached-mac","zz"]]]}}}}`))
	f.Add([]byte(`{"Bridge":{"00000000-0000-0000-0000-000000000002":{"insert":{"name":"br-int","ports":["set",[["uuid","00000000-0000-0000-0000-000000000003"]]],"datapath_id":"zz"}}}}`))
	for table, uuids := range mf.Rows {
		for _, uuid := range uuids {
			f.Add([]byte(`{"` + table + `":{"` + uuid + `":{"modify":{"external_ids":["map",[["` + rows.OwnerKey + `","` + rows.OwnerValue + `"]]],"bfd_status":["map",[["state","up"]]]}}}}`))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tc := mf.Apply(t, data)
		if tc == nil {
			return
		}
		obs, err := Observe(context.Background(), tc, "br-int")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range obs.VIFs {
			if v.IfaceID == "" || (v.MAC != nil && len(v.MAC) != 6) {
				t.Fatalf("VIF %+v", v)
			}
		}
		if obs.Bridge == nil {
			return
		}
		_, _ = ParseDatapathID(obs.Bridge.DatapathID)
		TunnelOFPorts(obs.Bridge)
		cfg := Config{Bridge: "br-int", Controllers: []string{"tcp:127.0.0.1:6653"}, Tunnels: []Tunnel{
			{Name: "fvx0", Type: "vxlan", Remote: "hv2", RemoteIP: "198.18.1.12", LocalIP: "198.18.1.11", OFPort: 32768},
			{Name: "fvx1", Type: "vxlan", Remote: "hv3", RemoteIP: "198.18.1.13"},
		}}
		for _, op := range append(CreateOps(obs.Root, obs.Bridge, cfg), DeleteOps(obs.Bridge, cfg)...) {
			if op.Table == "" || op.Op == "" {
				t.Fatalf("operation %+v", op)
			}
		}
		GenerationOps(obs.Bridge, 7)
		ReleaseControllerOps(obs.Bridge)
	})
}
