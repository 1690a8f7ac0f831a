package reconcile

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The switch counter adds what each (chassis, switch) flow counted since
// the last scrape; a flow added again (lower count or age) starts from
// zero; a flow older than ferryd is a baseline; a deleted switch's series
// goes.
func TestSpoofDropsAccumulate(t *testing.T) {
	d := newSpoofDrops()
	reg := prometheus.NewRegistry()
	reg.MustRegister(d)
	up := time.Minute
	sw := map[string]bool{"blue": true, "red": true}
	read := map[string]bool{"hv1": true, "hv2": true}
	value := func(name string) float64 { return testutil.ToFloat64(d.WithLabelValues(name)) }
	r := func(ch, sw string, packets uint64, age time.Duration) spoofReading {
		return spoofReading{chassis: ch, sw: sw, packets: packets, age: age}
	}

	// blue's flow on hv1 was installed by this ferryd: all of it counts;
	// red's on hv2 is older than ferryd: a baseline.
	d.add([]spoofReading{r("hv1", "blue", 5, 10*time.Second), r("hv2", "red", 700, time.Hour)}, sw, read, up)
	if value("blue") != 5 || value("red") != 0 {
		t.Fatalf("first scrape: blue %v red %v, want 5 and 0", value("blue"), value("red"))
	}
	// Both chassis' counts for blue add up; red counts from its baseline.
	d.add([]spoofReading{r("hv1", "blue", 8, 20*time.Second), r("hv2", "blue", 2, 5*time.Second),
		r("hv2", "red", 710, time.Hour+10*time.Second)}, sw, read, up+10*time.Second)
	if value("blue") != 5+3+2 || value("red") != 10 {
		t.Fatalf("second scrape: blue %v red %v, want 10 and 10", value("blue"), value("red"))
	}
	// hv1's ovs-vswitchd restarted: its flow is younger and counts anew.
	d.add([]spoofReading{r("hv1", "blue", 4, time.Second), r("hv2", "blue", 2, 15*time.Second)}, sw, read, up+20*time.Second)
	if value("blue") != 14 {
		t.Fatalf("after a reset: blue %v, want 14", value("blue"))
	}
	// A chassis that did not answer keeps its place: nothing is counted
	// twice when it answers again.
	d.add([]spoofReading{r("hv2", "blue", 2, 25*time.Second)}, sw, map[string]bool{"hv2": true}, up+30*time.Second)
	d.add([]spoofReading{r("hv1", "blue", 6, 20*time.Second), r("hv2", "blue", 2, 35*time.Second)}, sw, read, up+40*time.Second)
	if value("blue") != 16 {
		t.Fatalf("after hv1 came back: blue %v, want 16", value("blue"))
	}
	// red is deleted: its series goes.
	d.add(nil, map[string]bool{"blue": true}, read, up+50*time.Second)
	if n := testutil.CollectAndCount(d.CounterVec); n != 1 {
		t.Fatalf("%d series after red was deleted, want 1 (blue)", n)
	}
}
