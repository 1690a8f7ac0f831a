package reconcile

import (
	"net"
	"slices"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
)

func TestTunnelsAndMTU(t *testing.T) {
	snap := &model.Snapshot{Chassis: []model.Chassis{
		{Name: "a", TunnelIP: net.IPv4(198, 18, 1, 1).To4(), Encaps: []string{"vxlan", "gre"}},
		{Name: "b", TunnelIP: net.IPv4(198, 18, 1, 2).To4(), Encaps: []string{"vxlan", "gre"}, UnderlayMTU: 9000},
		{Name: "c", TunnelIP: net.IPv4(198, 18, 1, 3).To4(), Encaps: []string{"vxlan"}},
	}}
	cases := []struct {
		sw       model.Switch
		carriers []string
		tunnels  []model.SwitchTunnel
		mtu      int
	}{
		{model.Switch{Encap: "gre"}, []string{"a", "b"}, []model.SwitchTunnel{{A: "a", B: "b", Encap: "gre"}}, 1458},
		{model.Switch{Encap: "vxlan"}, []string{"a", "b"}, []model.SwitchTunnel{{A: "a", B: "b", Encap: "vxlan"}}, 1450},
		// c has no GRE: a-c and b-c fall back to VXLAN, which sets the MTU.
		{model.Switch{Encap: "gre"}, []string{"a", "b", "c"}, []model.SwitchTunnel{{A: "a", B: "b", Encap: "gre"}, {A: "a", B: "c", Encap: "vxlan"}, {A: "b", B: "c", Encap: "vxlan"}}, 1450},
		{model.Switch{Encap: "gre"}, []string{"b"}, []model.SwitchTunnel{}, 8958},
	}
	for _, c := range cases {
		tunnels, mtu := tunnelsOf(snap, c.sw, c.carriers)
		if !slices.Equal(tunnels, c.tunnels) || mtu != c.mtu {
			t.Errorf("%s over %v: tunnels %v mtu %d, want %v %d", c.sw.Encap, c.carriers, tunnels, mtu, c.tunnels, c.mtu)
		}
	}
}
