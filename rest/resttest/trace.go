package resttest

import (
	"context"

	"github.com/ferry-sdn/ferry/internal/model"
)

// SetTrace sets what Trace answers; by default a trace of one hop that
// drops, in both views alike.
func (s *Status) SetTrace(f func(q model.TraceQuery) (model.Trace, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trace = f
}

// Trace implements rest.Tracer.
func (s *Status) Trace(_ context.Context, q model.TraceQuery) (model.Trace, error) {
	s.mu.Lock()
	f := s.trace
	s.mu.Unlock()
	if f != nil {
		return f(q)
	}
	hop := model.TraceHop{Kind: "chassis", Verdict: model.TraceDrop, Reason: "the port is not bound", Outputs: []model.TraceOutput{}}
	view := model.TraceView{Verdict: model.TraceDrop, Hops: []model.TraceHop{hop}}
	return model.Trace{Switch: q.Switch, From: q.From, Logical: view, Real: view, Disagreements: []string{}}, nil
}
