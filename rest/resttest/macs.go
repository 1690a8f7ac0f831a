package resttest

import "github.com/ferry-sdn/ferry/internal/model"

// SetGatewayMACs sets the MACs reported for a gateway.
func (s *Status) SetGatewayMACs(name string, macs model.GatewayMACs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.macs == nil {
		s.macs = map[string]model.GatewayMACs{}
	}
	s.macs[name] = macs
}

// GatewayMACs implements rest.MACStatus.
func (s *Status) GatewayMACs(name string) model.GatewayMACs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.macs[name]
}
