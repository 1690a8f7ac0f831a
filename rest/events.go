package rest

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ferry-sdn/ferry/internal/events"
)

// EventLog is what GET /v1/events reads; the reconciler records into it.
type EventLog interface {
	List(f events.Filter) []events.Event
}

// WithEvents serves GET /v1/events from log.
func WithEvents(log EventLog) Option {
	return func(o *options) { o.events = log }
}

// listEvents answers GET /v1/events?device=&kind=&since=&limit=: drift
// ferry noticed on devices, oldest first.
func (s *server) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := events.Filter{Device: q.Get("device"), Kind: q.Get("kind")}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return errorf(http.StatusBadRequest, "since: %q is not an RFC 3339 time", v)
		}
		f.Since = t
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "limit: %q is not a non-negative number", v)
		}
		f.Limit = n
	}
	switch f.Kind {
	case "", events.KindOVSDB, events.KindVTEP, events.KindFlows, events.KindForeignFlows:
	default:
		return errorf(http.StatusBadRequest, "kind: %q is not one of ovsdb, vtep, flows, foreign_flows", f.Kind)
	}
	out := []events.Event{}
	if s.opts.events != nil {
		out = append(out, s.opts.events.List(f)...)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
