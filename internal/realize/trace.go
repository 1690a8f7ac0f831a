package realize

import (
	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
)

// SwitchTunnels returns the tunnels a chassis needs for a switch of the
// estate, as its desired state has them (OFPort left 0): the packet trace
// (internal/trace) reads the logical path from the same code that builds
// the flows. Nil when the chassis does not carry the switch.
func (e *Estate) SwitchTunnels(sw string, self model.Chassis) []hypervisor.Tunnel {
	sv := e.Switches[sw]
	if sv == nil || !sv.Carries(self.Name) {
		return nil
	}
	return switchTunnels(sv, self, peers{chassis: e.Chassis, gateways: e.Gateways})
}
