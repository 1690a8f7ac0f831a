package cli

import (
	"errors"
	"net/http"
	"slices"

	"github.com/spf13/cobra"

	"github.com/ferry-sdn/ferry/internal/model"
)

// gatewayMACsCmd lists a VTEP's unicast MACs per switch, the way vtep-ctl
// list-local-macs and list-remote-macs print them for a logical switch.
func (a *app) gatewayMACsCmd() *cobra.Command {
	var only string
	c := a.leaf("macs NAME [--switch SWITCH]",
		"list a gateway's MACs per switch: local (learned on its ports) and remote (behind other tunnel endpoints)",
		func(pos []string) error {
			data, err := a.callGateway(http.MethodGet, path("v1", "gateways", pos[0], "macs"), nil)
			if noRoute(err) {
				return errors.New("this ferryd does not list gateway MACs (no GET /v1/gateways/{name}/macs): it is older than this ferryctl")
			}
			if err != nil {
				return err
			}
			return emit(a, data, func(m model.GatewayMACs) error {
				t := &tree{w: a.stdout}
				local, remote := bySwitch(m.Local, only), bySwitch(m.Remote, only)
				var names []string
				for sw := range sortedMap(local) {
					names = append(names, sw)
				}
				for sw := range sortedMap(remote) {
					if _, ok := local[sw]; !ok {
						names = append(names, sw)
					}
				}
				if len(names) == 0 {
					t.line(0, "No MACs on gateway %s.", pos[0])
					return t.err
				}
				for i, sw := range slices.Sorted(slices.Values(names)) {
					if i > 0 {
						t.line(0, "")
					}
					t.line(0, "switch %s", sw)
					macLines(t, "ucast-mac-local", local[sw])
					macLines(t, "ucast-mac-remote", remote[sw])
				}
				return t.err
			})
		})
	c.Flags().StringVar(&only, "switch", "", "only the MACs of this switch")
	a.argKinds(c, gatewayArg)
	_ = c.RegisterFlagCompletionFunc("switch", a.completeFlag(switchArg, ""))
	return c
}

func bySwitch(macs []model.GatewayMAC, only string) map[string][]model.GatewayMAC {
	out := map[string][]model.GatewayMAC{}
	for _, m := range macs {
		if only == "" || m.Switch == only {
			out[m.Switch] = append(out[m.Switch], m)
		}
	}
	return out
}

func macLines(t *tree, table string, macs []model.GatewayMAC) {
	t.line(1, "%s", table)
	if len(macs) == 0 {
		t.line(2, "(none)")
	}
	for _, m := range macs {
		line := m.MAC + " -> vxlan_over_ipv4/" + m.TunnelIP
		if m.IP != "" {
			line += " (" + m.IP + ")"
		}
		t.line(2, "%s", line)
	}
}
