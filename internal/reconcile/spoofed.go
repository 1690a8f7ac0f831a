package reconcile

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/openflow"
)

// spoofReadTimeout bounds a scrape's reading of the chassis: one that
// does not answer in time contributes at the next scrape instead.
const spoofReadTimeout = 2 * time.Second

// spoofReading is what one switch's drop flow in TableSpoofed counted on
// one chassis, and how long that flow has existed.
type spoofReading struct {
	chassis, sw string
	packets     uint64
	age         time.Duration
}

// spoofDrops exports ferry_port_security_drops_total{switch}. The counts
// live on the bridges, as the packet counters of one flow per (chassis,
// switch) in TableSpoofed; a scrape reads them (one flow-stats request per
// connected chassis, filtered to that table: as many entries as switches
// with secured ports there, nothing else) and adds what each flow counted
// since the last scrape. That costs nothing between scrapes and needs no
// extra pass. A flow whose count or age went down was added again (a
// restarted ovs-vswitchd, a re-created switch): everything it counted is
// new. A flow older than this ferryd is read the first time as a baseline:
// its earlier drops were the previous ferryd's to report.
type spoofDrops struct {
	*prometheus.CounterVec

	mu      sync.Mutex
	read    func(context.Context) (readings []spoofReading, switches map[string]bool, read map[string]bool)
	last    map[[2]string]spoofReading // by (chassis, switch)
	series  map[string]bool            // the switches with a series
	started time.Time
}

func newSpoofDrops() *spoofDrops {
	return &spoofDrops{
		CounterVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ferry_port_security_drops_total",
			Help: "Frames port security dropped (a source MAC, ARP sender, IP source or neighbour advertisement that is not the port's), by logical switch, summed over its chassis.",
		}, []string{"switch"}),
		last:    make(map[[2]string]spoofReading),
		series:  make(map[string]bool),
		started: time.Now(),
	}
}

// setSource says where the counts come from (the Controller).
func (d *spoofDrops) setSource(read func(context.Context) ([]spoofReading, map[string]bool, map[string]bool)) {
	d.mu.Lock()
	d.read = read
	d.mu.Unlock()
}

// Collect reads the chassis, then reports.
func (d *spoofDrops) Collect(ch chan<- prometheus.Metric) {
	d.refresh()
	d.CounterVec.Collect(ch)
}

func (d *spoofDrops) refresh() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.read == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), spoofReadTimeout)
	defer cancel()
	readings, switches, read := d.read(ctx)
	d.add(readings, switches, read, time.Since(d.started))
}

// add folds one scrape's readings in. switches are the switches that
// exist; read the chassis whose tables were read (what they no longer
// hold is forgotten).
func (d *spoofDrops) add(readings []spoofReading, switches, read map[string]bool, uptime time.Duration) {
	fresh := make(map[[2]string]bool, len(readings))
	for _, r := range readings {
		k := [2]string{r.chassis, r.sw}
		fresh[k] = true
		prev, seen := d.last[k]
		var delta uint64
		switch {
		case !seen && r.age <= uptime:
			delta = r.packets
		case !seen:
		case r.packets < prev.packets || r.age < prev.age:
			delta = r.packets
		default:
			delta = r.packets - prev.packets
		}
		d.last[k] = r
		d.WithLabelValues(r.sw).Add(float64(delta))
	}
	for k := range d.last {
		if read[k[0]] && !fresh[k] || !switches[k[1]] {
			delete(d.last, k)
		}
	}
	// A deleted switch's series goes with it.
	for _, r := range readings {
		d.series[r.sw] = true
	}
	for sw := range d.series {
		if !switches[sw] {
			d.DeleteLabelValues(sw)
			delete(d.series, sw)
		}
	}
}

// spoofReadings reads TableSpoofed of every chassis with a live OpenFlow
// session, concurrently, and names each counted flow's switch by its
// cookie (realize.SpoofedRef: VNIs are unique, and so are the cookies).
func (c *Controller) spoofReadings(ctx context.Context) ([]spoofReading, map[string]bool, map[string]bool) {
	e := c.estate()
	switches := make(map[string]bool, len(e.Switches))
	// Every switch, carried or not: a flow the estate no longer wants
	// may still be on the bridge for a moment, and must not be forgotten
	// and counted again.
	byCookie := make(map[uint64]string, len(e.Switches))
	for name, sv := range e.Switches {
		switches[name] = true
		byCookie[realize.SpoofedRef(sv.VNI).Cookie] = name
	}
	c.mu.Lock()
	loops := make([]*chassisDevice, 0, len(c.loops))
	for _, h := range c.loops {
		loops = append(loops, h)
	}
	c.mu.Unlock()
	type result struct {
		chassis  string
		readings []spoofReading
		ok       bool
	}
	results := make(chan result, len(loops))
	for _, h := range loops {
		go func() {
			name := h.chassis.Name
			h.mu.Lock()
			dpid, ok := hypervisor.ParseDatapathID(h.st.DatapathID)
			h.mu.Unlock()
			var sess Session
			if ok {
				sess = c.cfg.Switches.Bound(dpid) // reading counters binds nothing
			}
			if sess == nil {
				results <- result{chassis: name}
				return
			}
			stats, err := sess.DumpTable(ctx, openflow.TableSpoofed)
			if err != nil {
				results <- result{chassis: name}
				return
			}
			var rs []spoofReading
			for _, st := range stats {
				if sw, ok := byCookie[st.Cookie]; ok {
					rs = append(rs, spoofReading{chassis: name, sw: sw, packets: st.Packets, age: st.Duration})
				}
			}
			results <- result{chassis: name, readings: rs, ok: true}
		}()
	}
	var out []spoofReading
	read := make(map[string]bool, len(loops))
	for range loops {
		r := <-results
		out = append(out, r.readings...)
		read[r.chassis] = r.ok
	}
	return out, switches, read
}
