package reconcile

import (
	"cmp"
	"slices"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/vtep"
)

// GatewayMACs reports the unicast MACs in a VTEP's tables for ferry's
// switches: the Ucast_Macs_Local rows its last pass observed and the
// Ucast_Macs_Remote rows its last successful pass made the VTEP hold. It
// implements rest.MACStatus.
func (c *Controller) GatewayMACs(name string) model.GatewayMACs {
	g := c.gateway(name)
	if g == nil {
		return model.GatewayMACs{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return model.GatewayMACs{Local: slices.Clone(g.macs.Local), Remote: slices.Clone(g.macs.Remote)}
}

// remoteMACs lists the Ucast_Macs_Remote rows of the desired switches,
// sorted by switch and MAC.
func remoteMACs(switches []vtep.Switch) []model.GatewayMAC {
	out := []model.GatewayMAC{}
	for _, s := range switches {
		for _, m := range s.RemoteMACs {
			out = append(out, model.GatewayMAC{Switch: s.Name, MAC: m.MAC, TunnelIP: m.IP})
		}
	}
	slices.SortFunc(out, func(a, b model.GatewayMAC) int {
		return cmp.Or(cmp.Compare(a.Switch, b.Switch), cmp.Compare(a.MAC, b.MAC))
	})
	return out
}
