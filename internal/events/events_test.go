package events

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRing(t *testing.T) {
	l := New(3)
	base := time.Unix(1000, 0)
	for i := range 5 {
		l.Add(Event{Time: base.Add(time.Duration(i) * time.Second), Device: fmt.Sprintf("chassis/hv%d", i%2), Kind: KindOVSDB, What: fmt.Sprint(i)})
	}
	got := l.List(Filter{})
	if len(got) != 3 || got[0].What != "2" || got[2].What != "4" {
		t.Fatalf("ring of 3 after 5: %+v", got)
	}
	if got := l.List(Filter{Device: "chassis/hv0"}); len(got) != 2 || got[0].What != "2" || got[1].What != "4" {
		t.Errorf("by device: %+v", got)
	}
	if got := l.List(Filter{Since: base.Add(4 * time.Second)}); len(got) != 1 || got[0].What != "4" {
		t.Errorf("since: %+v", got)
	}
	if got := l.List(Filter{Limit: 1}); len(got) != 1 || got[0].What != "4" {
		t.Errorf("limit: %+v", got)
	}
	if got := l.List(Filter{Kind: KindVTEP}); len(got) != 0 {
		t.Errorf("kind: %+v", got)
	}
	if n := testutil.ToFloat64(l.counts.WithLabelValues(KindOVSDB)); n != 5 {
		t.Errorf("counted %v", n)
	}
	var nilLog *Log
	nilLog.Add(Event{}) // no ring, no panic
}
