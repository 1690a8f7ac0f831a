package events

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Kinds of drift.
const (
	// KindOVSDB: ferry's rows in a hypervisor's Open_vSwitch database
	// (tunnel ports, the bridge's settings, its controllers) differ from
	// what ferry last wrote, with nothing changed in the northbound.
	KindOVSDB = "ovsdb"
	// KindVTEP: ferry's rows in a VTEP's hardware_vtep database differ
	// from what ferry last wrote.
	KindVTEP = "vtep"
	// KindFlows: ferry's flows or groups on a bridge differ from what it
	// installed (found by a dump: on reconnect and on every resync).
	KindFlows = "flows"
	// KindForeignFlows: flows without ferry's cookie on a bridge ferry
	// manages; reported, never deleted.
	KindForeignFlows = "foreign_flows"
)

// Event is one noticed change.
type Event struct {
	Time   time.Time `json:"time"`
	Device string    `json:"device"` // "chassis/NAME", "gateway/NAME"
	Kind   string    `json:"kind"`
	// What says what differed, in operator words.
	What string `json:"what"`
	// Repaired: ferry put its state back (false with --repair=false).
	Repaired bool `json:"repaired"`
}

// DefaultSize bounds the ring.
const DefaultSize = 1000

// Log is the ring; safe for concurrent use. The zero value is not usable:
// use New.
type Log struct {
	mu     sync.Mutex
	ring   []Event
	next   int
	full   bool
	counts *prometheus.CounterVec
	now    func() time.Time
}

// New returns a ring of size events (DefaultSize if size <= 0).
func New(size int) *Log {
	if size <= 0 {
		size = DefaultSize
	}
	return &Log{ring: make([]Event, size), now: time.Now,
		counts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_drift_events_total",
			Help: "Changes to ferry's state on a device made by someone else, noticed (and repaired unless --repair=false), by kind: ovsdb (a hypervisor's rows), vtep (a VTEP's rows), flows (a bridge's flows and groups), foreign_flows (flows without ferry's cookie appeared on its bridge; never deleted).",
		}, []string{"kind"})}
}

// Register exports the counter.
func (l *Log) Register(reg prometheus.Registerer) {
	for _, k := range []string{KindOVSDB, KindVTEP, KindFlows, KindForeignFlows} {
		l.counts.WithLabelValues(k)
	}
	reg.MustRegister(l.counts)
}

// Add records e, stamping its time if unset.
func (l *Log) Add(e Event) {
	if l == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	l.mu.Lock()
	l.ring[l.next] = e
	l.next = (l.next + 1) % len(l.ring)
	l.full = l.full || l.next == 0
	l.mu.Unlock()
	l.counts.WithLabelValues(e.Kind).Inc()
}

// Filter selects events; zero fields match everything.
type Filter struct {
	Device, Kind string
	Since        time.Time
	// Limit keeps the newest Limit matches (0: all).
	Limit int
}

// List returns the matching events, oldest first.
func (l *Log) List(f Filter) []Event {
	l.mu.Lock()
	var all []Event
	if l.full {
		all = append(all, l.ring[l.next:]...)
	}
	all = append(all, l.ring[:l.next]...)
	l.mu.Unlock()
	out := slices.DeleteFunc(all, func(e Event) bool {
		return f.Device != "" && e.Device != f.Device || f.Kind != "" && e.Kind != f.Kind || e.Time.Before(f.Since)
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out
}
