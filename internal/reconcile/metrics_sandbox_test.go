package reconcile

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/ovstest"
)

func sampleCount(t *testing.T, o prometheus.Observer) uint64 {
	t.Helper()
	var m dto.Metric
	if err := o.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// TestSandboxMetrics reads the metrics of a controller driving two dummy
// hypervisors and a hardware_vtep ovsdb-server: latencies observed for
// real bundles and transactions, one realize latency per device and
// generation, the VTEP's MACs and faults as it reports them.
func TestSandboxMetrics(t *testing.T) {
	s := newSandbox(t)
	m := s.ctl.cfg.Metrics
	gw := ovstest.Start(t, ovstest.Options{Schemas: []string{ovstest.VtepSchema}})
	vtepctl := func(args ...string) string {
		t.Helper()
		return gw.Run(t, "vtep-ctl", append([]string{"--db=unix:" + gw.DBSock}, args...)...)
	}
	vtepctl("add-ps", "ps1", "--", "set", "Physical_Switch", "ps1", "tunnel_ips=198.18.3.31",
		"--", "add-port", "ps1", "p0", "--", "add-port", "ps1", "p1")
	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	s.waitBridge("hv2")
	s.addVIF("hv2", "vm2", "blue-b", "52:54:00:00:01:0b")
	// Both chassis realize the starting generation: their baseline.
	s.waitRealized()
	if n := sampleCount(t, m.realizeTime); n != 0 {
		t.Fatalf("%d realize latencies before any northbound change", n)
	}

	s.update(func(n *model.Snapshot) {
		n.Gateways = []model.Gateway{{Name: "gw1", OVSDB: "unix:" + gw.DBSock}}
		n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1,
			Ports:    []model.Port{{Switch: "blue", Name: "a", IfaceID: "blue-a"}, {Switch: "blue", Name: "b", IfaceID: "blue-b"}},
			Bindings: []model.GatewayBinding{{Switch: "blue", Gateway: "gw1", Port: "p0", VLAN: 0}}}}
	})
	s.waitRealized()
	gwRealized := func(gen int64) func() (bool, string) {
		return func() (bool, string) {
			st := s.ctl.Gateway("gw1")
			return st.RealizedGeneration == gen, fmt.Sprintf("%+v", st)
		}
	}
	eventually(t, "gateway realized", gwRealized(s.snap.Generation))
	// hv1 and hv2 realized the change; the gateway, new in it, only
	// started there.
	if n := sampleCount(t, m.realizeTime); n != 2 {
		t.Errorf("%d realize latencies after one change on two chassis, want 2", n)
	}
	for name, want := range map[string]float64{"switches": 1, "ports": 2, "bindings": 1, "chassis": 2, "gateways": 1} {
		if got := testutil.ToFloat64(m.nbObjects[name]); got != want {
			t.Errorf("ferry_northbound_%s = %v, want %v", name, got, want)
		}
	}
	if n := sampleCount(t, m.bundleLatency); n == 0 {
		t.Error("no bundle latency observed")
	}
	for _, kind := range []string{txChassis, txGateway} {
		if n := sampleCount(t, m.txLatency.WithLabelValues(kind)); n == 0 {
			t.Errorf("no %s transaction latency observed", kind)
		}
	}
	if got, want := testutil.ToFloat64(m.gwRemoteMACs.WithLabelValues("gw1")), float64(s.ctl.Gateway("gw1").RemoteMACs); got != want || got == 0 {
		t.Errorf("ferry_gateway_remote_macs = %v, status says %v", got, want)
	}
	if got := testutil.ToFloat64(m.connected.WithLabelValues("gw1", "ovsdb")); got != 1 {
		t.Errorf("gateway connected = %v", got)
	}

	// A second change reaches all three devices.
	s.addPort("c", "blue-c")
	s.waitRealized()
	eventually(t, "gateway realized the second change", gwRealized(s.snap.Generation))
	if n := sampleCount(t, m.realizeTime); n != 5 {
		t.Errorf("%d realize latencies after a second change on three devices, want 5", n)
	}

	// What the VTEP reports: a learned MAC, a switch and a port fault.
	vtepctl("add-ucast-local", "ferry-blue", "02:00:00:00:bb:01", "198.18.3.31")
	vtepctl("set", "Physical_Switch", "ps1", "switch_fault_status=power_supply_failure")
	vtepctl("set", "Physical_Port", "p1", "port_fault_status=invalid_vlan_map")
	eventually(t, "gateway MACs and faults", func() (bool, string) {
		local := testutil.ToFloat64(m.gwLocalMACs.WithLabelValues("gw1"))
		faults := testutil.ToFloat64(m.gwFaults.WithLabelValues("gw1"))
		return local == 1 && faults == 2, fmt.Sprintf("local MACs %v, faults %v", local, faults)
	})
}
