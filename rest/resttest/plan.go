package resttest

import (
	"context"

	"github.com/ferry-sdn/ferry/internal/model"
)

// SetPlan sets what Plan answers for a trial's snapshot; by default a plan
// naming the snapshot's switches and no device.
func (s *Status) SetPlan(f func(snap *model.Snapshot) (model.Plan, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.plan = f
}

// Plan implements rest.Planner.
func (s *Status) Plan(_ context.Context, snap *model.Snapshot) (model.Plan, error) {
	s.mu.Lock()
	f := s.plan
	s.mu.Unlock()
	if f != nil {
		return f(snap)
	}
	p := model.Plan{Generation: snap.Generation, Switches: []string{}, Devices: []model.DevicePlan{}}
	for _, sw := range snap.Switches {
		p.Switches = append(p.Switches, sw.Name)
	}
	return p, nil
}
