package reconcile

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ferry-sdn/ferry/internal/model"
)

func histogram(t *testing.T, h prometheus.Histogram) *dto.Histogram {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram()
}

// TestRealizeLatency: one observation per device and generation seen
// change, measured from when the controller first saw the generation; no
// observation for the generation found at start nor before a device's
// first realization; bookkeeping forgotten once every device caught up.
func TestRealizeLatency(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	t0 := time.Unix(1000, 0)
	gen := func(g int64, at time.Duration) { m.northbound(&model.Snapshot{Generation: g}, t0.Add(at)) }
	count := func() uint64 { return histogram(t, m.realizeTime).GetSampleCount() }

	gen(5, 0) // found at start: no change ferry saw
	m.realized("hv1", 5, t0.Add(time.Second))
	m.realized("hv2", 5, t0.Add(time.Second))
	if n := count(); n != 0 {
		t.Fatalf("%d observations for the starting generation", n)
	}
	gen(6, 10*time.Second)
	gen(7, 11*time.Second)
	gen(7, 12*time.Second) // seen again: keeps 11 s
	m.realized("hv1", 7, t0.Add(13*time.Second))
	h := histogram(t, m.realizeTime)
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 3+2 {
		t.Fatalf("hv1 realized 6 and 7: count %d sum %v, want 2 and 5 s", h.GetSampleCount(), h.GetSampleSum())
	}
	m.realized("hv1", 7, t0.Add(20*time.Second)) // a noop pass
	if n := count(); n != 2 {
		t.Fatalf("realizing the same generation again observed: %d", n)
	}
	if len(m.seen) != 2 {
		t.Fatalf("hv2 has not realized 6 and 7, yet seen = %v", m.seen)
	}
	m.realized("hv2", 7, t0.Add(21*time.Second))
	if n := count(); n != 4 {
		t.Fatalf("hv2 realized 6 and 7: %d observations in all, want 4", n)
	}
	if len(m.seen) != 0 {
		t.Fatalf("every device realized 7, yet seen = %v", m.seen)
	}

	// A device added later starts at its first realization.
	gen(8, 30*time.Second)
	m.realized("hv3", 8, t0.Add(31*time.Second))
	if n := count(); n != 4 {
		t.Fatalf("a new device's first realization observed: %d", n)
	}
	// A device that is removed no longer holds generations back.
	m.realized("hv1", 8, t0.Add(32*time.Second))
	m.forget("hv2")
	if len(m.seen) != 0 {
		t.Fatalf("hv2 forgotten, every other device realized 8, yet seen = %v", m.seen)
	}

	// A device that stays behind does not grow the bookkeeping forever.
	for g := int64(9); g < 9+maxSeenGenerations+10; g++ {
		gen(g, time.Minute)
	}
	if len(m.seen) != maxSeenGenerations {
		t.Fatalf("seen holds %d generations, want at most %d", len(m.seen), maxSeenGenerations)
	}
}

func TestNorthboundCounts(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	m.northbound(&model.Snapshot{
		Generation: 3,
		Switches: []model.Switch{
			{Name: "a", Ports: []model.Port{{Name: "p1"}, {Name: "p2"}}, Bindings: []model.GatewayBinding{{Gateway: "g"}}},
			{Name: "b", Ports: []model.Port{{Name: "p3"}}},
		},
		Chassis:  []model.Chassis{{Name: "hv1"}},
		Gateways: []model.Gateway{{Name: "g"}},
	}, time.Now())
	for kind, want := range map[string]float64{"switches": 2, "ports": 3, "bindings": 1, "chassis": 1, "gateways": 1} {
		var d dto.Metric
		if err := m.nbObjects[kind].Write(&d); err != nil {
			t.Fatal(err)
		}
		if got := d.GetGauge().GetValue(); got != want {
			t.Errorf("ferry_northbound_%s = %v, want %v", kind, got, want)
		}
	}
}

func TestGatewayMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.gatewayObserved("vtep1", model.GatewayStatus{LocalMACs: 4, Faults: []string{"power_supply_failure"},
		Ports: []model.GatewayPort{{Name: "p1", Faults: []string{"invalid_vlan_map", "x"}}, {Name: "p2"}}})
	m.gatewayRealized("vtep1", 7, 3)
	m.SetTunnels("hv1", 2, 1, 0)
	value := func(v *prometheus.GaugeVec, labels ...string) float64 {
		var d dto.Metric
		if err := v.WithLabelValues(labels...).Write(&d); err != nil {
			t.Fatal(err)
		}
		return d.GetGauge().GetValue()
	}
	if got := value(m.gwLocalMACs, "vtep1"); got != 4 {
		t.Errorf("local MACs %v, want 4", got)
	}
	if got := value(m.gwRemoteMACs, "vtep1"); got != 7 {
		t.Errorf("remote MACs %v, want 7", got)
	}
	if got := value(m.gwHeldBack, "vtep1"); got != 3 {
		t.Errorf("held back %v, want 3", got)
	}
	if got := value(m.gwFaults, "vtep1"); got != 3 {
		t.Errorf("faults %v, want 3 (1 switch + 2 port)", got)
	}
	if up, down := value(m.tunnels, "hv1", "up"), value(m.tunnels, "hv1", "down"); up != 2 || down != 1 {
		t.Errorf("tunnels up %v down %v, want 2 and 1", up, down)
	}
	m.forgetGateway("vtep1")
	m.forget("hv1")
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		switch f.GetName() {
		case "ferry_gateway_local_macs", "ferry_gateway_remote_macs", "ferry_gateway_remote_macs_held_back", "ferry_gateway_faults", "ferry_device_tunnels":
			t.Errorf("%s still has %d series after forget", f.GetName(), len(f.GetMetric()))
		}
	}
}

// TestNilMetrics: instrumented code calls methods without checking.
func TestNilMetrics(t *testing.T) {
	var m *Metrics
	m.northbound(&model.Snapshot{}, time.Now())
	m.realized("hv1", 1, time.Now())
	m.bundle(time.Second, 3, true)
	m.transaction(txChassis, time.Second)
	m.gatewayObserved("g", model.GatewayStatus{})
	m.gatewayRealized("g", 1, 0)
	m.SetTunnels("hv1", 1, 0, 0)
	m.forget("hv1")
	m.forgetGateway("g")
}
