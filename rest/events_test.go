package rest

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-sdn/ferry/internal/events"
	"github.com/ferry-sdn/ferry/rest/resttest"
)

// TestEvents: the route lists what the log holds, filtered, and refuses
// bad filters naming the parameter.
func TestEvents(t *testing.T) {
	f := newFixture(t)
	var got []events.Event
	f.do(t, "GET", "/v1/events", "").want(t, 200).decode(t, &got)
	if got == nil || len(got) != 0 {
		t.Fatalf("without a log: %#v", got)
	}

	log := events.New(10)
	at := time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)
	log.Add(events.Event{Time: at, Device: "chassis/hv1", Kind: events.KindFlows, What: "1 flows missing", Repaired: true})
	log.Add(events.Event{Time: at.Add(time.Second), Device: "gateway/gw1", Kind: events.KindVTEP, What: "insert Ucast_Macs_Remote", Repaired: true})
	b, st := resttest.NewBackend(), resttest.NewStatus()
	f = &fixture{h: NewHandler(b, st, prometheus.NewRegistry(), nil, WithEvents(log)), b: b, st: st}
	f.do(t, "GET", "/v1/events", "").want(t, 200).decode(t, &got)
	if len(got) != 2 || got[0].Device != "chassis/hv1" || !got[0].Time.Equal(at) {
		t.Errorf("all events: %+v", got)
	}
	f.do(t, "GET", "/v1/events?kind=vtep", "").want(t, 200).decode(t, &got)
	if len(got) != 1 || got[0].Device != "gateway/gw1" {
		t.Errorf("vtep events: %+v", got)
	}
	f.do(t, "GET", "/v1/events?device=chassis/hv1&limit=1", "").want(t, 200).decode(t, &got)
	if len(got) != 1 || got[0].Kind != events.KindFlows {
		t.Errorf("hv1's: %+v", got)
	}
	f.do(t, "GET", "/v1/events?since=2026-12-03T18:00:00.5Z", "").want(t, 200).decode(t, &got)
	if len(got) != 1 {
		t.Errorf("since: %+v", got)
	}
	f.do(t, "GET", "/v1/events?kind=nope", "").want(t, 400, "kind")
	f.do(t, "GET", "/v1/events?limit=-1", "").want(t, 400, "limit")
	f.do(t, "GET", "/v1/events?since=yesterday", "").want(t, 400, "since")
}
