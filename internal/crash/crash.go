package crash

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

var counts sync.Map // component name -> *atomic.Uint64

func counter(component string) *atomic.Uint64 {
	c, _ := counts.LoadOrStore(component, new(atomic.Uint64))
	return c.(*atomic.Uint64)
}

// Recovered records a panic recovered in component (the value recover
// returned): it logs it with the stack and counts it. Call it from a
// deferred function that has called recover and got r != nil.
func Recovered(log *slog.Logger, component string, r any) {
	counter(component).Add(1)
	if log == nil {
		log = slog.Default()
	}
	log.Error("recovered from a panic; the connection or pass it hit is abandoned (this is a bug: please report it with this log line)",
		"component", component, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
}

// Count returns the panics recovered so far in component.
func Count(component string) uint64 { return counter(component).Load() }

// Components are the components that recover panics, so that their
// series exist (at 0) before any panic.
var Components = []string{"rest", "ovsdb-listen", "openflow", "reconcile"}

type collector struct{ desc *prometheus.Desc }

// Collector exports ferry_panics_recovered_total{component}.
func Collector() prometheus.Collector {
	return collector{prometheus.NewDesc("ferry_panics_recovered_total",
		"Panics recovered in a connection handler or a reconcile pass (the connection was closed or the pass failed, ferryd went on); any is a bug to report.",
		[]string{"component"}, nil)}
}

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for _, comp := range Components {
		counter(comp)
	}
	counts.Range(func(k, v any) bool {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(v.(*atomic.Uint64).Load()), k.(string))
		return true
	})
}
