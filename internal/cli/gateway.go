package cli

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/api"
)

// Hardware VTEP gateways and their VLAN bindings. Older servers do not
// have these routes; every command then says so instead of showing a bare
// 404.

// errNoGatewayAPI is returned when the server does not know /v1/gateways.
var errNoGatewayAPI = errors.New("this ferryd has no gateway API (GET /v1/gateways answered HTTP 404); gateways and VLAN bindings need a newer ferryd")

// callGateway is call for the gateway and binding routes: a 404 means
// "no such gateway/switch" on a server that has them and "no such route"
// on one that does not, so the collection route tells the two apart.
func (a *app) callGateway(method, p string, in any) ([]byte, error) {
	data, err := a.call(method, p, in)
	if !isStatus(err, http.StatusNotFound) {
		return data, err
	}
	if p != "/v1/gateways" {
		if _, perr := a.call(http.MethodGet, "/v1/gateways", nil); !isStatus(perr, http.StatusNotFound) {
			return nil, err
		}
	}
	return nil, errNoGatewayAPI
}

func (a *app) gatewayCmd() *cobra.Command {
	return noun("gateway", "hardware VTEP gateways (hardware_vtep), such as a top-of-rack switch or ovs-vtep",
		a.gatewayCreateCmd(), a.gatewaySetCmd(), a.gatewayListCmd(), a.gatewayShowCmd(), a.gatewayMACsCmd(), a.gatewayCheckCmd(), a.gatewayDeleteCmd())
}

func (a *app) gatewayCreateCmd() *cobra.Command {
	var (
		req api.GatewayRequest
		may bool
	)
	var lim limitFlags
	c := a.leaf("create NAME --ovsdb TARGET [--physical-switch PS] [--profile P] [--macs-per-switch N] [--macs-total N] [--tunnels N]", "register a hardware VTEP gateway (with the capacity ferry must not exceed)", func(pos []string) error {
		if err := a.require("ovsdb"); err != nil {
			return err
		}
		req.Name = pos[0]
		req.Profile, req.Limits = lim.profile, lim.request(a)
		data, err := a.callGateway(http.MethodPost, "/v1/gateways", req)
		data, existed, err := mayExist(a, may, err, "gateway "+pos[0], path("v1", "gateways", pos[0]), data,
			func(g api.Gateway) []string {
				var d differ
				if req.OVSDB != model.PassiveOVSDB {
					d.add("ovsdb", g.OVSDB, canonicalTarget(req.OVSDB))
				} else {
					d.add("ovsdb", g.OVSDB, req.OVSDB)
				}
				if req.PhysicalSwitch != "" {
					d.add("physical_switch", g.PhysicalSwitch, req.PhysicalSwitch)
				}
				return d
			})
		if err != nil {
			return err
		}
		return emit(a, data, func(g api.Gateway) error {
			verb := "created"
			if existed {
				verb = "exists (unchanged)"
			}
			return a.say("gateway %s %s: OVSDB %s, physical switch %s", g.Name, verb, g.OVSDB, dash(g.PhysicalSwitch))
		})
	})
	f := c.Flags()
	f.StringVar(&req.OVSDB, "ovsdb", "", "the VTEP's OVSDB `TARGET`: tcp:IP:PORT, ssl:IP:PORT, unix:PATH or passive")
	f.StringVar(&req.PhysicalSwitch, "physical-switch", "", "its Physical_Switch (optional when the database has one)")
	lim.add(c)
	mayExistFlag(c, &may)
	a.dryRunFlag(c)
	return c
}

// limitFlags are a gateway's capacity flags (create and set).
type limitFlags struct {
	profile                           string
	macsPerSwitch, macsTotal, tunnels int64
}

func (l *limitFlags) add(c *cobra.Command) {
	f := c.Flags()
	f.StringVar(&l.profile, "profile", "", "set the limits from a vendor's published capacity: arista, aruba-cx, cumulus, dell, ovs-vtep (the flags below override it)")
	f.Int64Var(&l.macsPerSwitch, "macs-per-switch", 0, "remote MACs ferry writes per switch at most (0: unlimited)")
	f.Int64Var(&l.macsTotal, "macs-total", 0, "remote MACs ferry writes in all at most (0: unlimited)")
	f.Int64Var(&l.tunnels, "tunnels", 0, "tunnel endpoints ferry points the VTEP at, at most (0: unlimited)")
	_ = c.RegisterFlagCompletionFunc("profile", fixed("arista", "aruba-cx", "cumulus", "dell", "ovs-vtep"))
}

// request holds the limit flags given (nil: none); the server checks them.
func (l *limitFlags) request(a *app) *api.LimitsRequest {
	var r api.LimitsRequest
	given := false
	for _, f := range []struct {
		name string
		v    *int64
		dst  **int64
	}{{"macs-per-switch", &l.macsPerSwitch, &r.MACsPerSwitch}, {"macs-total", &l.macsTotal, &r.MACsTotal}, {"tunnels", &l.tunnels, &r.Tunnels}} {
		if a.changed(f.name) {
			*f.dst, given = f.v, true
		}
	}
	if !given {
		return nil
	}
	return &r
}

// gatewaySetCmd changes a gateway's capacity limits.
func (a *app) gatewaySetCmd() *cobra.Command {
	var lim limitFlags
	c := a.leaf("set NAME [--profile P] [--macs-per-switch N] [--macs-total N] [--tunnels N]",
		"change the capacity ferry must not exceed on a gateway (a profile replaces all three limits)", func(pos []string) error {
			req := api.GatewayPatch{Profile: lim.profile, Limits: lim.request(a)}
			if req.Profile == "" && req.Limits == nil {
				return a.usage("give --profile or a limit flag")
			}
			data, err := a.callGateway(http.MethodPatch, path("v1", "gateways", pos[0]), req)
			if err != nil {
				return err
			}
			return emit(a, data, func(g api.Gateway) error {
				return a.say("gateway %s limits: %s", g.Name, limitsText(g.Limits))
			})
		})
	lim.add(c)
	a.dryRunFlag(c)
	a.argKinds(c, gatewayArg)
	return c
}

// limitsText says a gateway's limits in a line.
func limitsText(l api.Limits) string {
	n := func(v int) string {
		if v == 0 {
			return "unlimited"
		}
		return strconv.Itoa(v)
	}
	return fmt.Sprintf("%s MACs per switch, %s MACs in all, %s tunnels", n(l.MACsPerSwitch), n(l.MACsTotal), n(l.Tunnels))
}

// gatewayConnected is the CONNECTED column of a gateway: yes, or no and
// why.
func gatewayConnected(st model.GatewayStatus) string {
	switch {
	case st.Connected && st.Conflict != "":
		return "held back"
	case st.Connected:
		return "yes"
	}
	return "no"
}

func (a *app) gatewayListCmd() *cobra.Command {
	c := a.leaf("list", "list gateways", func([]string) error {
		data, err := a.callGateway(http.MethodGet, "/v1/gateways", nil)
		if err != nil {
			return err
		}
		return emit(a, data, func(gws []api.Gateway) error {
			header := []string{"NAME", "OVSDB", "PHYSICAL SWITCH", "CONNECTED", "TUNNEL IP", "PORTS", "FAULTS"}
			if a.wide() {
				header = append(header, "REALIZED GEN", "LOCAL MACS", "REMOTE MACS", "LAST ERROR")
			}
			var rows [][]string
			for _, g := range gws {
				st := g.Status
				ps := g.PhysicalSwitch
				if ps == "" {
					ps = st.PhysicalSwitch
				}
				row := []string{g.Name, g.OVSDB, dash(ps), gatewayConnected(st), dash(strings.Join(st.TunnelIPs, ",")),
					itoa(len(st.Ports)), itoa(faultCount(st))}
				if a.wide() {
					row = append(row, itoa(st.RealizedGeneration), itoa(st.LocalMACs), itoa(st.RemoteMACs), dash(firstNonEmpty(st.Conflict, st.LastError)))
				}
				rows = append(rows, row)
			}
			return table(a.stdout, "No gateways.", header, rows)
		})
	})
	c.Aliases = listAliases
	return c
}

// faultCount counts the switch's and its ports' fault statuses.
func faultCount(st model.GatewayStatus) int {
	n := len(st.Faults)
	for _, p := range st.Ports {
		n += len(p.Faults)
	}
	return n
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// gatewayShow prints a gateway, its ports with their faults and the VLAN
// bindings on them, found in every switch.
func (a *app) gatewayShowCmd() *cobra.Command {
	c := a.leaf("show NAME", "show a gateway: connection, ports and the VLAN bindings on them", func(pos []string) error {
		data, err := a.callGateway(http.MethodGet, path("v1", "gateways", pos[0]), nil)
		if err != nil || a.machine() {
			if err == nil {
				err = a.write(data)
			}
			return err
		}
		var g api.Gateway
		if err := decode(data, &g); err != nil {
			return err
		}
		bindings, err := a.gatewayBindings(g.Name)
		if err != nil {
			return err
		}
		st := g.Status
		connectedLine := gatewayConnected(st)
		if st.Conflict != "" {
			connectedLine += " (" + st.Conflict + ")"
		}
		err = fields(a.stdout,
			"Name", g.Name,
			"OVSDB", g.OVSDB,
			"Physical switch", dash(firstNonEmpty(g.PhysicalSwitch, st.PhysicalSwitch)),
			"Generation", itoa(g.Generation),
			"Connected", connectedLine,
			"Tunnel IPs", list(st.TunnelIPs),
			"Faults", list(st.Faults),
			"Realized generation", itoa(st.RealizedGeneration),
			"Local MACs", itoa(st.LocalMACs),
			"Remote MACs", itoa(st.RemoteMACs),
			"Last error", dash(st.LastError),
		)
		if err != nil {
			return err
		}
		ports := map[string]bool{}
		var rows [][]string
		for _, p := range st.Ports {
			ports[p.Name] = true
			rows = append(rows, portBindingRow(p.Name, list(p.Faults), bindings[p.Name]))
		}
		for port, bs := range sortedMap(bindings) {
			if !ports[port] { // bound while the gateway is away, or a port it lost
				rows = append(rows, portBindingRow(port, "not on the gateway", bs))
			}
		}
		if len(rows) == 0 {
			return nil
		}
		fmt.Fprintln(a.stdout, "Ports:")
		tw := newTable(a.stdout)
		fmt.Fprintln(tw, "  PORT\tFAULTS\tBINDINGS")
		for _, r := range rows {
			fmt.Fprintf(tw, "  %s\n", strings.Join(r, "\t"))
		}
		return tw.Flush()
	})
	c.Aliases = showAliases
	a.argKinds(c, gatewayArg)
	return c
}

func portBindingRow(port, faults string, bs []api.Binding) []string {
	var b []string
	for _, x := range bs {
		b = append(b, fmt.Sprintf("VLAN %d → %s", x.VLAN, x.Switch))
	}
	return []string{port, faults, dash(strings.Join(b, ", "))}
}

// gatewayBindings returns the bindings on a gateway, by port: the API
// lists them per switch.
func (a *app) gatewayBindings(gw string) (map[string][]api.Binding, error) {
	data, err := a.call(http.MethodGet, "/v1/switches", nil)
	if err != nil {
		return nil, err
	}
	var sws []api.Switch
	if err := decode(data, &sws); err != nil {
		return nil, err
	}
	out := map[string][]api.Binding{}
	for _, sw := range sws {
		bs, err := a.bindings(sw.Name)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			if b.Gateway == gw {
				out[b.Port] = append(out[b.Port], b)
			}
		}
	}
	return out, nil
}

func (a *app) bindings(sw string) ([]api.Binding, error) {
	data, err := a.call(http.MethodGet, path("v1", "switches", sw, "bindings"), nil)
	if err != nil {
		return nil, err
	}
	var bs []api.Binding
	return bs, decode(data, &bs)
}

func (a *app) gatewayDeleteCmd() *cobra.Command {
	var ifExists bool
	c := a.leaf("delete NAME", "unregister a gateway", func(pos []string) error {
		_, err := a.callGateway(http.MethodDelete, path("v1", "gateways", pos[0]), nil)
		return a.deleted(ifExists, err, "gateway "+pos[0], "gateway %s deleted", pos[0])
	})
	c.Aliases = deleteAliases
	ifExistsFlag(c, &ifExists)
	a.argKinds(c, gatewayArg)
	a.dryRunFlag(c)
	return c
}

func (a *app) bindingCmd() *cobra.Command {
	return noun("binding", "VLAN bindings: a gateway port's VLAN on a switch",
		a.bindingCreateCmd(), a.bindingListCmd(), a.bindingDeleteCmd())
}

func (a *app) bindingCreateCmd() *cobra.Command {
	var (
		gw, port string
		vlan     int64
		may      bool
	)
	c := a.leaf("create SWITCH --gateway GW --port PORT --vlan N", "bind a gateway port's VLAN to a switch", func(pos []string) error {
		if err := a.require("gateway", "port", "vlan"); err != nil {
			return err
		}
		b := api.BindingRequest{Gateway: gw, Port: port, VLAN: &vlan}
		data, err := a.callGateway(http.MethodPost, path("v1", "switches", pos[0], "bindings"), b)
		// A binding is its identity: one that exists is identical.
		data, existed, err := mayExist(a, may, err, "binding", path("v1", "switches", pos[0], "bindings", gw, port, itoa(vlan)), data,
			func(api.Binding) []string { return nil })
		if err != nil {
			return err
		}
		return emit(a, data, func(api.Binding) error {
			if existed {
				return a.say("VLAN %d on gateway %s port %s is bound to switch %s (unchanged)", vlan, gw, port, pos[0])
			}
			return a.say("VLAN %d on gateway %s port %s bound to switch %s", vlan, gw, port, pos[0])
		})
	})
	f := c.Flags()
	f.StringVar(&gw, "gateway", "", "the gateway")
	f.StringVar(&port, "port", "", "the gateway's port (Physical_Port)")
	f.Int64Var(&vlan, "vlan", 0, "the VLAN, 0 (untagged) to 4095")
	mayExistFlag(c, &may)
	a.argKinds(c, switchArg)
	_ = c.RegisterFlagCompletionFunc("gateway", a.completeFlag(gatewayArg, ""))
	_ = c.RegisterFlagCompletionFunc("port", a.completeFlag(gatewayPortArg, "gateway"))
	a.dryRunFlag(c)
	return c
}

func (a *app) bindingListCmd() *cobra.Command {
	c := a.leaf("list SWITCH", "list a switch's VLAN bindings", func(pos []string) error {
		data, err := a.callGateway(http.MethodGet, path("v1", "switches", pos[0], "bindings"), nil)
		if err != nil {
			return err
		}
		return emit(a, data, func(bs []api.Binding) error {
			var rows [][]string
			for _, b := range bs {
				rows = append(rows, []string{b.Gateway, b.Port, itoa(b.VLAN)})
			}
			return table(a.stdout, "No bindings on switch "+pos[0]+".", []string{"GATEWAY", "PORT", "VLAN"}, rows)
		})
	})
	c.Aliases = listAliases
	a.argKinds(c, switchArg)
	return c
}

func (a *app) bindingDeleteCmd() *cobra.Command {
	var ifExists bool
	c := a.leaf("delete SWITCH GATEWAY PORT VLAN", "remove a VLAN binding", func(pos []string) error {
		if _, err := strconv.Atoi(pos[3]); err != nil {
			return a.usage("VLAN %q is not a number", pos[3])
		}
		_, err := a.callGateway(http.MethodDelete, path("v1", "switches", pos[0], "bindings", pos[1], pos[2], pos[3]), nil)
		return a.deleted(ifExists, err, fmt.Sprintf("binding of VLAN %s on gateway %s port %s to switch %s", pos[3], pos[1], pos[2], pos[0]),
			"VLAN %s on gateway %s port %s unbound from switch %s", pos[3], pos[1], pos[2], pos[0])
	})
	c.Aliases = deleteAliases
	ifExistsFlag(c, &ifExists)
	a.argKinds(c, switchArg, gatewayArg, gatewayPortArg, vlanArg)
	a.dryRunFlag(c)
	return c
}
