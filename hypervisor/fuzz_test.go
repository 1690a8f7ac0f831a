package hypervisor

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	libmodel "github.com/ovn-kubernetes/libovsdb/model"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"

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

func newCache(tb testing.TB) *cache.TableCache {
	tb.Helper()
	clientModel, err := vswitch.FullDatabaseModel()
	if err != nil {
		tb.Fatal(err)
	}
	dbModel, errs := libmodel.NewDatabaseModel(vswitch.Schema(), clientModel)
	if len(errs) > 0 {
		tb.Fatal(errs)
	}
	discard := logr.Discard()
	tc, err := cache.NewTableCache(dbModel, nil, &discard)
	if err != nil {
		tb.Fatal(err)
	}
	return tc
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
	initial, err := os.ReadFile(monitorCapture)
	if err != nil {
		f.Fatal(err)
	}
	var base libovsdb.TableUpdates2
	if err := json.Unmarshal(initial, &base); err != nil {
		f.Fatalf("%s: %v", monitorCapture, err)
	}
	f.Add(initial)
	f.Add([]byte(`{"Interface":{"00000000-0000-0000-0000-000000000001":{"insert":{"name":"x","ofport":-1,"external_ids":["map",[["iface-id",""],["attached-mac","zz"]]]}}}}`))
	f.Add([]byte(`{"Bridge":{"00000000-0000-0000-0000-000000000002":{"insert":{"name":"br-int","ports":["set",[["uuid","00000000-0000-0000-0000-000000000003"]]],"datapath_id":"zz"}}}}`))
	for table, rowsOf := range base {
		for uuid := range rowsOf {
			f.Add([]byte(`{"` + table + `":{"` + uuid + `":{"delete":null}}}`))
			f.Add([]byte(`{"` + table + `":{"` + uuid + `":{"modify":{"external_ids":["map",[["` + rows.OwnerKey + `","` + rows.OwnerValue + `"]]],"bfd_status":["map",[["state","up"]]]}}}}`))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var upd libovsdb.TableUpdates2
		if !decodes(data, &upd) {
			return // ferry's OVSDB guard refuses what libovsdb cannot decode
		}
		tc := newCache(t)
		if err := tc.Populate2(base); err != nil {
			t.Fatal(err)
		}
		_ = tc.Update2(nil, upd)
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
		cfg := Config{Bridge: "br-int", Controller: "tcp:127.0.0.1:6653", Tunnels: []Tunnel{
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

// decodes reports whether data decodes into v without an error or a
// panic, as ovsdb's guard checks every message from a device.
func decodes(data []byte, v any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return json.Unmarshal(data, v) == nil
}
