package reconcile

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the reconciler's Prometheus metrics. Labels name chassis, never
// switches, ports or MACs: cardinality stays at the number of devices.
type Metrics struct {
	connected     *prometheus.GaugeVec
	passes        *prometheus.CounterVec
	passDuration  prometheus.Histogram
	flows         *prometheus.GaugeVec
	groups        *prometheus.GaugeVec
	flowMods      prometheus.Counter
	transactions  prometheus.Counter
	nbGeneration  prometheus.Gauge
	realizedGen   *prometheus.GaugeVec
	generationLag *prometheus.GaugeVec
}

// NewMetrics registers the reconciler's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_device_connected",
			Help: "Whether ferry's connection to a device is up (1) or down (0), by device and channel (ovsdb, openflow).",
		}, []string{"device", "channel"}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_reconcile_passes_total",
			Help: "Reconcile passes by result: changed (something was committed), noop (nothing to do), error, skipped (device not connected).",
		}, []string{"result"}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ferry_reconcile_pass_duration_seconds",
			Help:    "Duration of reconcile passes that reached the device.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		flows: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_openflow_flows",
			Help: "ferry's flows installed per bridge.",
		}, []string{"device", "bridge"}),
		groups: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_openflow_groups",
			Help: "ferry's groups installed per bridge.",
		}, []string{"device", "bridge"}),
		flowMods: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferry_openflow_flow_mods_total",
			Help: "flow_mods sent in committed bundles.",
		}),
		transactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferry_ovsdb_device_transactions_total",
			Help: "OVSDB transactions sent to devices.",
		}),
		nbGeneration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_northbound_generation",
			Help: "Current northbound generation.",
		}),
		realizedGen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_realized_generation",
			Help: "Northbound generation each device has realized.",
		}, []string{"device"}),
		generationLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_realized_generation_lag",
			Help: "Northbound generations a device is behind.",
		}, []string{"device"}),
	}
	reg.MustRegister(m.connected, m.passes, m.passDuration, m.flows, m.groups, m.flowMods,
		m.transactions, m.nbGeneration, m.realizedGen, m.generationLag)
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *Metrics) forget(device string) {
	m.connected.DeletePartialMatch(prometheus.Labels{"device": device})
	m.flows.DeletePartialMatch(prometheus.Labels{"device": device})
	m.groups.DeletePartialMatch(prometheus.Labels{"device": device})
	m.realizedGen.DeleteLabelValues(device)
	m.generationLag.DeleteLabelValues(device)
}
