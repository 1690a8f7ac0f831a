package reconcile

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/openflow"
)

// Metrics are the reconciler's Prometheus metrics. Labels name devices
// (chassis, gateways), never ports or MACs, and switches only in
// ferry_port_security_drops_total (one series per switch with secured
// ports, not per chassis): cardinality stays at the number of devices and
// switches. Names follow ferry_<subsystem>_<name>_<unit>,
// counters end in _total, durations are _seconds histograms; the lint test
// in internal/metricslint enforces it. Every method is safe on a nil
// *Metrics, so that instrumented code needs no guard.
type Metrics struct {
	connected     *prometheus.GaugeVec
	passes        *prometheus.CounterVec
	passDuration  prometheus.Histogram
	flows         *prometheus.GaugeVec
	groups        *prometheus.GaugeVec
	flowMods      prometheus.Counter
	bundleLatency prometheus.Histogram
	transactions  prometheus.Counter
	txLatency     *prometheus.HistogramVec
	nbGeneration  prometheus.Gauge
	nbObjects     map[string]prometheus.Gauge // switches, ports, bindings, chassis, gateways
	realizedGen   *prometheus.GaugeVec
	generationLag *prometheus.GaugeVec
	realizeTime   prometheus.Histogram
	tunnels       *prometheus.GaugeVec
	relayed       *prometheus.GaugeVec
	pathChanges   prometheus.Counter
	probesSent    prometheus.Counter
	probesLost    prometheus.Counter
	probePairs    *prometheus.GaugeVec
	probeRTT      prometheus.Histogram
	mtuLowPairs   prometheus.Gauge
	gwLocalMACs   *prometheus.GaugeVec
	gwRemoteMACs  *prometheus.GaugeVec
	gwHeldBack    *prometheus.GaugeVec
	gwFaults      *prometheus.GaugeVec
	spoofed       *spoofDrops

	// Realize latency bookkeeping: when each northbound generation was
	// first seen, and up to which generation each device's latency has
	// been observed.
	mu       sync.Mutex
	lastGen  int64
	haveGen  bool
	seen     map[int64]time.Time
	observed map[string]int64
}

// Pass results, the values of ferry_reconcile_passes_total's result label.
var passResults = []string{"changed", "noop", "skipped", "error"}

// nbKinds are the northbound objects counted in ferry_northbound_<kind>.
var nbKinds = []string{"switches", "ports", "bindings", "chassis", "gateways"}

var nbHelp = map[string]string{
	"switches": "Logical switches in the northbound database.",
	"ports":    "Logical ports created through the API (not those of XenServer networks).",
	"bindings": "VTEP port/VLAN bindings on logical switches.",
	"chassis":  "Registered chassis (hypervisors).",
	"gateways": "Registered gateways (VTEPs).",
}

// Transaction kinds, the values of ferry_ovsdb_transaction_duration_seconds'
// kind label.
const (
	txChassis = "chassis"
	txGateway = "gateway"
)

// maxSeenGenerations bounds the realize latency bookkeeping while a device
// stays behind (disconnected, failing): beyond it the oldest generations
// are forgotten and that device reports no latency for them.
const maxSeenGenerations = 4096

// latencyBuckets cover sub-millisecond OpenFlow bundles to a device that
// needs a reconnection (seconds to minutes).
var latencyBuckets = prometheus.ExponentialBuckets(0.0005, 2, 16)

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
			Buckets: latencyBuckets,
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
		bundleLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ferry_openflow_bundle_duration_seconds",
			Help:    "Time to commit an OpenFlow bundle (open, flow_mods, commit, reply), failed commits included.",
			Buckets: latencyBuckets,
		}),
		transactions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferry_ovsdb_device_transactions_total",
			Help: "OVSDB transactions sent to devices.",
		}),
		txLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ferry_ovsdb_transaction_duration_seconds",
			Help:    "Time for a device to answer an OVSDB transaction, by kind of device (chassis, gateway), failed ones included.",
			Buckets: latencyBuckets,
		}, []string{"kind"}),
		nbGeneration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_northbound_generation",
			Help: "Current northbound generation.",
		}),
		nbObjects: map[string]prometheus.Gauge{},
		realizedGen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_realized_generation",
			Help: "Northbound generation each device has realized.",
		}, []string{"device"}),
		generationLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_realized_generation_lag",
			Help: "Northbound generations a device is behind.",
		}, []string{"device"}),
		realizeTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ferry_realize_latency_seconds",
			Help:    "Time from ferry seeing a northbound change to a device realizing it; one observation per device and generation.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300},
		}),
		tunnels: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_device_tunnels",
			Help: "ferry's tunnels on a device by BFD state (up, down, unknown).",
		}, []string{"device", "state"}),
		relayed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_relay_pairs",
			Help: "Pairs of endpoints whose direct tunnel is down and whose traffic goes through the relay.",
		}, []string{"relay"}),
		pathChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferry_path_changes_total",
			Help: "Times a pair of endpoints moved to a relay or back to its direct path.",
		}),
		probesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferry_probes_sent_total",
			Help: "Data-plane probes ferry injected (one per ordered pair of hypervisors per interval, plus path MTU probes).",
		}),
		probesLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ferry_probes_lost_total",
			Help: "Reachability probes that did not come back within the interval.",
		}),
		probePairs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_probe_pairs",
			Help: "Pairs of hypervisors by probe state (ok, failing, unknown).",
		}, []string{"state"}),
		probeRTT: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ferry_probe_rtt_seconds",
			Help:    "Round trip of probes through ferry: packet-out on one hypervisor to packet-in on the other.",
			Buckets: []float64{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
		}),
		mtuLowPairs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_path_mtu_below_underlay_pairs",
			Help: "Pairs of hypervisors whose measured path MTU is below their configured underlay MTU.",
		}),
		gwLocalMACs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_gateway_local_macs",
			Help: "MACs a VTEP learned locally (Ucast_Macs_Local) on ferry's logical switches.",
		}, []string{"gateway"}),
		gwRemoteMACs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_gateway_remote_macs",
			Help: "MACs ferry programmed on a VTEP (Ucast_Macs_Remote).",
		}, []string{"gateway"}),
		gwHeldBack: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_gateway_remote_macs_held_back",
			Help: "Remote MACs ferry did not write to a VTEP because of the gateway's capacity limits.",
		}, []string{"gateway"}),
		gwFaults: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ferry_gateway_faults",
			Help: "Faults a VTEP reports: switch_fault_status plus every port's port_fault_status entries.",
		}, []string{"gateway"}),
		spoofed:  newSpoofDrops(),
		seen:     make(map[int64]time.Time),
		observed: make(map[string]int64),
	}
	for _, kind := range nbKinds {
		m.nbObjects[kind] = prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ferry_northbound_" + kind,
			Help: nbHelp[kind],
		})
	}
	// Known label values start at 0, so that rate() and increase() see
	// the first error instead of a series appearing with it.
	for _, r := range passResults {
		m.passes.WithLabelValues(r)
	}
	for _, k := range []string{txChassis, txGateway} {
		m.txLatency.WithLabelValues(k)
	}
	for _, s := range []string{model.ProbeOK, model.ProbeFailing, model.ProbeUnknown} {
		m.probePairs.WithLabelValues(s)
	}
	reg.MustRegister(m.collectors()...)
	return m
}

// collectors lists everything NewMetrics registers.
func (m *Metrics) collectors() []prometheus.Collector {
	cs := []prometheus.Collector{m.connected, m.passes, m.passDuration, m.flows, m.groups, m.flowMods,
		m.bundleLatency, m.transactions, m.txLatency, m.nbGeneration, m.realizedGen, m.generationLag,
		m.realizeTime, m.tunnels, m.relayed, m.pathChanges, m.probesSent, m.probesLost, m.probePairs, m.probeRTT, m.mtuLowPairs, m.gwLocalMACs, m.gwRemoteMACs, m.gwHeldBack, m.gwFaults, m.spoofed}
	for _, kind := range nbKinds {
		cs = append(cs, m.nbObjects[kind])
	}
	return cs
}

// RegisterPassiveRefused registers ferry_ovsdb_passive_refused_total, read
// from refused (ovsdb.Passive.Refused), so that every ferry metric is
// defined, and linted, in one place.
func RegisterPassiveRefused(reg prometheus.Registerer, refused func() uint64) {
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "ferry_ovsdb_passive_refused_total",
		Help: "Inbound OVSDB connections refused: unregistered system-id, failed identification or TLS.",
	}, func() float64 { return float64(refused()) }))
}

// RegisterOpenFlow registers the OpenFlow listener's metrics, read from
// stats (openflow.Server.Stats) at every scrape:
// ferry_openflow_refused_total{reason}, ferry_openflow_connections{state="bound|unbound"} and
// ferry_openflow_connection_waits_total. The reasons are openflow's fixed
// set, so the cardinality is too.
func RegisterOpenFlow(reg prometheus.Registerer, stats func() openflow.Stats) {
	reg.MustRegister(ofCollector{stats})
}

var (
	ofRefusedDesc = prometheus.NewDesc("ferry_openflow_refused_total",
		"OpenFlow connections refused, by reason: address (a plain-text peer the chassis is not known by), certificate (a certificate naming another host), duplicate (the datapath's live session answered), unbound (no chassis took it in time), handshake (TLS or OpenFlow handshake failed).",
		[]string{"reason"}, nil)
	ofConnsDesc = prometheus.NewDesc("ferry_openflow_connections",
		"OpenFlow connections open: bound to a chassis' datapath, or unbound (in their handshake, or waiting for their chassis).",
		[]string{"state"}, nil)
	ofWaitsDesc = prometheus.NewDesc("ferry_openflow_connection_waits_total",
		"Times the OpenFlow listener stopped accepting because --openflow-max-conns or --openflow-max-unbound connections were open.", nil, nil)
)

type ofCollector struct{ stats func() openflow.Stats }

func (c ofCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{ofRefusedDesc, ofConnsDesc, ofWaitsDesc} {
		ch <- d
	}
}

func (c ofCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	for _, r := range openflow.RefusalReasons() {
		ch <- prometheus.MustNewConstMetric(ofRefusedDesc, prometheus.CounterValue, float64(st.Refused[r]), r)
	}
	ch <- prometheus.MustNewConstMetric(ofConnsDesc, prometheus.GaugeValue, float64(st.Bound), "bound")
	ch <- prometheus.MustNewConstMetric(ofConnsDesc, prometheus.GaugeValue, float64(st.Unbound), "unbound")
	ch <- prometheus.MustNewConstMetric(ofWaitsDesc, prometheus.CounterValue, float64(st.Waits))
}

// SetTunnels reports a device's tunnels by BFD state, as
// ferry_device_tunnels{device, state="up|down|unknown"}.
func (m *Metrics) SetTunnels(device string, up, down, unknown int) {
	if m == nil {
		return
	}
	m.tunnels.WithLabelValues(device, "up").Set(float64(up))
	m.tunnels.WithLabelValues(device, "down").Set(float64(down))
	m.tunnels.WithLabelValues(device, "unknown").Set(float64(unknown))
}

// setRelays reports how many pairs go through each relay
// (ferry_relay_pairs{relay}) and counts the pairs whose path changed.
func (m *Metrics) setRelays(relays []string, now realize.Relays, changes int) {
	if m == nil {
		return
	}
	m.relayed.Reset()
	for _, r := range relays {
		m.relayed.WithLabelValues(r).Set(0)
	}
	for _, r := range now {
		m.relayed.WithLabelValues(r).Inc()
	}
	m.pathChanges.Add(float64(changes))
}

// probeRound reports one round of probes: how many were sent and lost,
// and the pairs by state.
func (m *Metrics) probeRound(sent, lost int, states map[string]int, mtuLow int) {
	if m == nil {
		return
	}
	m.probesSent.Add(float64(sent))
	m.probesLost.Add(float64(lost))
	for _, s := range []string{model.ProbeOK, model.ProbeFailing, model.ProbeUnknown} {
		m.probePairs.WithLabelValues(s).Set(float64(states[s]))
	}
	m.mtuLowPairs.Set(float64(mtuLow))
}

func (m *Metrics) probeRTTObserved(d time.Duration) {
	if m != nil {
		m.probeRTT.Observe(d.Seconds())
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// northbound records a snapshot the controller synced: its generation, the
// time a new generation was first seen (the start of its realize latency)
// and object counts.
func (m *Metrics) northbound(snap *model.Snapshot, now time.Time) {
	if m == nil {
		return
	}
	m.nbGeneration.Set(float64(snap.Generation))
	var ports, bindings int
	for _, sw := range snap.Switches {
		ports += len(sw.Ports)
		bindings += len(sw.Bindings)
	}
	m.nbObjects["switches"].Set(float64(len(snap.Switches)))
	m.nbObjects["ports"].Set(float64(ports))
	m.nbObjects["bindings"].Set(float64(bindings))
	m.nbObjects["chassis"].Set(float64(len(snap.Chassis)))
	m.nbObjects["gateways"].Set(float64(len(snap.Gateways)))

	m.mu.Lock()
	defer m.mu.Unlock()
	// The generation found at start is no change ferry saw happen: it
	// starts no latency.
	if m.haveGen && snap.Generation > m.lastGen {
		m.seen[snap.Generation] = now
		for len(m.seen) > maxSeenGenerations {
			delete(m.seen, slices.Min(slices.Collect(maps.Keys(m.seen))))
		}
	}
	if !m.haveGen || snap.Generation > m.lastGen {
		m.lastGen, m.haveGen = snap.Generation, true
	}
}

// realized records that device realized generation gen: one realize latency
// observation per generation seen since the device's previous realization.
// A device's first realization only sets its baseline: a device that was
// just added (or restarted, or ferry just started) did not lag behind
// changes made before it was there.
// deviceRealized records that a device is in step with generation gen.
func (m *Metrics) deviceRealized(device string, gen int64) {
	if m == nil {
		return
	}
	m.realizedGen.WithLabelValues(device).Set(float64(gen))
	m.generationLag.WithLabelValues(device).Set(0)
	m.realized(device, gen, time.Now())
}

func (m *Metrics) realized(device string, gen int64, now time.Time) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	prev, ok := m.observed[device]
	if ok && gen > prev {
		for g, t := range m.seen {
			if g > prev && g <= gen {
				m.realizeTime.Observe(now.Sub(t).Seconds())
			}
		}
	}
	if !ok || gen > prev {
		m.observed[device] = gen
	}
	m.pruneLocked()
}

// pruneLocked forgets generations every device has realized.
func (m *Metrics) pruneLocked() {
	if len(m.observed) == 0 {
		return
	}
	low := slices.Min(slices.Collect(maps.Values(m.observed)))
	for g := range m.seen {
		if g <= low {
			delete(m.seen, g)
		}
	}
}

// bundle records an OpenFlow bundle commit and how long it took.
func (m *Metrics) bundle(d time.Duration, flowMods int, committed bool) {
	if m == nil {
		return
	}
	m.bundleLatency.Observe(d.Seconds())
	if committed {
		m.flowMods.Add(float64(flowMods))
	}
}

// transaction records an OVSDB transaction sent to a device of kind
// (txChassis, txGateway) and how long the device took to answer.
func (m *Metrics) transaction(kind string, d time.Duration) {
	if m == nil {
		return
	}
	m.transactions.Inc()
	m.txLatency.WithLabelValues(kind).Observe(d.Seconds())
}

// gatewayObserved records what a gateway pass read from the VTEP.
func (m *Metrics) gatewayObserved(name string, st model.GatewayStatus) {
	if m == nil {
		return
	}
	faults := len(st.Faults)
	for _, p := range st.Ports {
		faults += len(p.Faults)
	}
	m.gwLocalMACs.WithLabelValues(name).Set(float64(st.LocalMACs))
	m.gwFaults.WithLabelValues(name).Set(float64(faults))
}

// gatewayRealized records what a successful gateway pass programmed.
func (m *Metrics) gatewayRealized(name string, remoteMACs, heldBack int) {
	if m == nil {
		return
	}
	m.gwRemoteMACs.WithLabelValues(name).Set(float64(remoteMACs))
	m.gwHeldBack.WithLabelValues(name).Set(float64(heldBack))
}

// forget drops a removed (or restarted) chassis' series.
func (m *Metrics) forget(device string) {
	if m == nil {
		return
	}
	m.connected.DeletePartialMatch(prometheus.Labels{"device": device})
	m.flows.DeletePartialMatch(prometheus.Labels{"device": device})
	m.groups.DeletePartialMatch(prometheus.Labels{"device": device})
	m.tunnels.DeletePartialMatch(prometheus.Labels{"device": device})
	m.realizedGen.DeleteLabelValues(device)
	m.generationLag.DeleteLabelValues(device)
	m.mu.Lock()
	delete(m.observed, device)
	m.pruneLocked()
	m.mu.Unlock()
}

// forgetGateway drops a removed (or restarted) gateway's series.
func (m *Metrics) forgetGateway(name string) {
	if m == nil {
		return
	}
	m.forget(name)
	m.gwLocalMACs.DeleteLabelValues(name)
	m.gwRemoteMACs.DeleteLabelValues(name)
	m.gwHeldBack.DeleteLabelValues(name)
	m.gwFaults.DeleteLabelValues(name)
}
