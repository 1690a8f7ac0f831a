package replica

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// counters are the manager's monotonic counts, read by the metrics.
type counters struct {
	acquired, released, lost atomic.Uint64
}

// RegisterMetrics exports the replica's state: whether it is registered,
// how many replicas it sees, how many devices it owns, and every change of
// ownership by kind.
func (m *Manager) RegisterMetrics(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_replica_registered",
			Help: "1 while this replica holds its replica lock and is listed in the northbound database (with several ferryds sharing the estate).",
		}, func() float64 {
			if m.Registered() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_replica_peers",
			Help: "Live ferryd replicas this one sees in the northbound database, itself included (absent with one ferryd).",
		}, func() float64 {
			m.mu.Lock()
			defer m.mu.Unlock()
			return float64(len(m.live))
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_replica_devices_owned",
			Help: "Devices (chassis and gateways) this replica owns and drives.",
		}, func() float64 {
			m.mu.Lock()
			defer m.mu.Unlock()
			return float64(len(m.owned))
		}),
	)
	changes := prometheus.NewDesc("ferry_replica_ownership_changes_total",
		"Changes of device ownership at this replica: acquired (lock taken and recorded), released (handed over), lost (lock or session lost).",
		[]string{"change"}, nil)
	reg.MustRegister(counterSet{desc: changes, values: func() map[string]uint64 {
		return map[string]uint64{"acquired": m.count.acquired.Load(), "released": m.count.released.Load(), "lost": m.count.lost.Load()}
	}})
}

// counterSet is a labelled counter read from the manager's counts.
type counterSet struct {
	desc   *prometheus.Desc
	values func() map[string]uint64
}

func (c counterSet) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c counterSet) Collect(ch chan<- prometheus.Metric) {
	for label, v := range c.values() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(v), label)
	}
}
