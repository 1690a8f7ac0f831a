package resttest

import (
	"context"

	"github.com/ferry-sdn/ferry/internal/model"
)

// SetCheck sets what CheckGateway answers; by default an empty passing
// report.
func (s *Status) SetCheck(f func(name string) (model.GatewayCheck, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.check = f
}

// CheckGateway implements rest.CheckStatus.
func (s *Status) CheckGateway(_ context.Context, name string) (model.GatewayCheck, error) {
	s.mu.Lock()
	f := s.check
	s.mu.Unlock()
	if f == nil {
		return model.GatewayCheck{Gateway: name, Items: []model.CheckItem{}, LeftBehind: []string{}}, nil
	}
	return f(name)
}
