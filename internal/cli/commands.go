package cli

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/api"
)

// Verbs share their aliases across nouns, as kubectl's do.
var (
	listAliases   = []string{"ls"}
	showAliases   = []string{"get"}
	deleteAliases = []string{"rm"}
)

// Switches.

func (a *app) switchCmd() *cobra.Command {
	return noun("switch", "logical switches",
		a.switchCreateCmd(), a.switchSetNetworksCmd(), a.switchListCmd(), a.switchShowCmd(), a.switchDeleteCmd())
}

func (a *app) switchCreateCmd() *cobra.Command {
	var (
		vni   int64
		encap string
		nets  string
		may   bool
	)
	c := a.leaf("create NAME [--vni N] [--encap vxlan|gre] [--xenserver-networks UUID,...]",
		"create a logical switch (VNI allocated when absent)", func(pos []string) error {
			req := api.SwitchRequest{Name: pos[0], Encap: encap, XenServerNetworks: splitList(nets)}
			if a.changed("vni") {
				req.VNI = &vni // the server checks the range
			}
			data, err := a.call(http.MethodPost, "/v1/switches", req)
			data, existed, err := mayExist(a, may, err, "switch "+pos[0], path("v1", "switches", pos[0]), data,
				func(sw api.Switch) []string { return switchDiff(sw, req) })
			if err != nil {
				return err
			}
			return emit(a, data, func(sw api.Switch) error {
				if existed {
					return a.say("switch %s exists: VNI %d, %s (unchanged)", sw.Name, sw.VNI, sw.Encap)
				}
				return a.say("switch %s created: VNI %d, %s", sw.Name, sw.VNI, sw.Encap)
			})
		})
	f := c.Flags()
	f.Int64Var(&vni, "vni", 0, "VXLAN network identifier and GRE key, 1-16777215 (absent: the lowest free)")
	f.StringVar(&encap, "encap", "", "encapsulation: vxlan (the default) or gre")
	f.StringVar(&nets, "xenserver-networks", "", "adopt every VIF of these XenServer networks (comma-separated `UUIDs`)")
	mayExistFlag(c, &may)
	_ = c.RegisterFlagCompletionFunc("encap", fixed(model.EncapVXLAN, model.EncapGRE))
	a.dryRunFlag(c)
	return c
}

// switchDiff names what an existing switch has other than what create
// asked for; what it left to the server is not compared.
func switchDiff(sw api.Switch, req api.SwitchRequest) []string {
	var d differ
	if req.VNI != nil {
		d.add("vni", itoa(sw.VNI), itoa(*req.VNI))
	}
	if req.Encap != "" {
		d.add("encap", sw.Encap, req.Encap)
	}
	if req.XenServerNetworks != nil {
		d.addSet("xenserver_networks", sw.XenServerNetworks, req.XenServerNetworks)
	}
	return d
}

// switchSetNetworks replaces the XenServer networks a switch adopts.
func (a *app) switchSetNetworksCmd() *cobra.Command {
	var nets string
	c := a.leaf("set-networks NAME --xenserver-networks UUID,...",
		"replace the XenServer networks a switch adopts (empty: none)", func(pos []string) error {
			if err := a.require("xenserver-networks"); err != nil {
				return err
			}
			list := splitList(nets)
			if list == nil {
				list = []string{}
			}
			data, err := a.call(http.MethodPatch, path("v1", "switches", pos[0]), api.SwitchPatch{XenServerNetworks: &list})
			if err != nil {
				return err
			}
			return emit(a, data, func(sw api.Switch) error {
				return a.say("switch %s adopts XenServer networks: %s", sw.Name, orNone(strings.Join(sw.XenServerNetworks, ",")))
			})
		})
	c.Flags().StringVar(&nets, "xenserver-networks", "", "the XenServer networks (comma-separated `UUIDs`; empty: none)")
	a.argKinds(c, switchArg)
	a.dryRunFlag(c)
	return c
}

// splitList splits a comma-separated flag value; "" is an empty list.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (a *app) switchListCmd() *cobra.Command {
	c := a.leaf("list", "list logical switches", func([]string) error {
		data, err := a.call(http.MethodGet, "/v1/switches", nil)
		if err != nil {
			return err
		}
		return emit(a, data, func(sws []api.Switch) error {
			header := []string{"NAME", "VNI", "ENCAP", "PORTS", "BOUND", "REALIZED"}
			if a.wide() {
				header = append(header, "MTU", "TUNNELS", "DOWN", "GATEWAYS", "XENSERVER NETWORKS")
			}
			var rows [][]string
			for _, sw := range sws {
				row := []string{sw.Name, itoa(sw.VNI), sw.Encap, itoa(len(sw.Ports)),
					itoa(sw.Status.PortsBound), realized(sw.Status)}
				if a.wide() {
					row = append(row, mtu(sw.Status.MTU), itoa(len(sw.Status.Tunnels)), itoa(tunnelsDown(sw.Status)),
						dash(gatewayNames(sw.Status)), list(sw.XenServerNetworks))
				}
				rows = append(rows, row)
			}
			return table(a.stdout, "No switches.", header, rows)
		})
	})
	c.Aliases = listAliases
	return c
}

// realized says whether a switch is realized and, if not, how far along.
func realized(st model.SwitchStatus) string {
	if st.Realized {
		return "yes"
	}
	return fmt.Sprintf("no (%d/%d chassis)", realizedChassis(st), len(st.Chassis))
}

func realizedChassis(st model.SwitchStatus) int {
	n := 0
	for _, c := range st.Chassis {
		if c.Realized {
			n++
		}
	}
	return n
}

// tunnelsDown counts the tunnels whose BFD says down, or that have no
// encapsulation in common: neither carries frames.
// tunnelsDownText is tunnelsDown of all, with how many go through a relay
// and how many fail their probes.
func tunnelsDownText(st model.SwitchStatus) string {
	s := fmt.Sprintf("%d/%d", tunnelsDown(st), len(st.Tunnels))
	var notes []string
	if n := tunnelsRelayed(st); n > 0 {
		notes = append(notes, fmt.Sprintf("%d relayed", n))
	}
	failing := 0
	for _, t := range st.Tunnels {
		if t.Probe != nil && t.Probe.State == model.ProbeFailing {
			failing++
		}
	}
	if failing > 0 {
		notes = append(notes, fmt.Sprintf("%d probe failing", failing))
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, ", ") + ")"
	}
	return s
}

func tunnelsRelayed(st model.SwitchStatus) int {
	n := 0
	for _, t := range st.Tunnels {
		if t.Relay != "" {
			n++
		}
	}
	return n
}

func tunnelsDown(st model.SwitchStatus) int {
	n := 0
	for _, t := range st.Tunnels {
		if t.State == "down" || t.Encap == "" {
			n++
		}
	}
	return n
}

func gatewayNames(st model.SwitchStatus) string {
	names := make([]string, len(st.Gateways))
	for i, g := range st.Gateways {
		names[i] = g.Name
	}
	return strings.Join(names, ",")
}

func mtu(n int) string {
	if n == 0 {
		return "-"
	}
	return itoa(n)
}

func (a *app) switchShowCmd() *cobra.Command {
	c := a.leaf("show NAME", "show a switch and where it is realized", func(pos []string) error {
		data, err := a.call(http.MethodGet, path("v1", "switches", pos[0]), nil)
		if err != nil {
			return err
		}
		return emit(a, data, func(sw api.Switch) error {
			kv := []string{
				"Name", sw.Name,
				"VNI", itoa(sw.VNI),
				"Encap", sw.Encap,
				"Generation", itoa(sw.Generation),
				"Realized", realized(sw.Status),
				"Ports", fmt.Sprintf("%s (%d bound)", list(sw.Ports), sw.Status.PortsBound),
			}
			if a.wide() {
				kv = append(kv, "MTU", mtu(sw.Status.MTU), "XenServer networks", list(sw.XenServerNetworks))
			}
			err := fields(a.stdout, kv...)
			if err != nil || len(sw.Status.Chassis) == 0 {
				return err
			}
			fmt.Fprintln(a.stdout, "Chassis:")
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "  NAME\tREALIZED\tREALIZED GENERATION")
			for _, c := range sw.Status.Chassis {
				fmt.Fprintf(tw, "  %s\t%s\t%d\n", c.Name, yesNo(c.Realized), c.RealizedGeneration)
			}
			if err := tw.Flush(); err != nil || len(sw.Status.Tunnels) == 0 {
				return err
			}
			fmt.Fprintln(a.stdout, "Tunnels:")
			tw = newTable(a.stdout)
			fmt.Fprintln(tw, "  PAIR\tENCAP\tSTATE\tPATH\tPROBE\tLOSS\tRTT\tPATH MTU")
			for _, t := range sw.Status.Tunnels {
				probe, loss, rtt, pmtu := "-", "-", "-", "-"
				if p := t.Probe; p != nil {
					probe, loss = p.State, fmt.Sprintf("%.0f%%", 100*p.Loss)
					if p.RTTMillis > 0 {
						rtt = fmt.Sprintf("%.1fms", p.RTTMillis)
					}
					if p.PathMTU > 0 {
						pmtu = itoa(p.PathMTU)
						if p.MTUBelowUnderlay {
							pmtu += " (below underlay)"
						}
					}
				}
				fmt.Fprintf(tw, "  %s <-> %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.A, t.B, dash(t.Encap), orUnknown(t.State), dash(t.Path),
					probe, loss, rtt, pmtu)
			}
			return tw.Flush()
		})
	})
	c.Aliases = showAliases
	a.argKinds(c, switchArg)
	return c
}

func (a *app) switchDeleteCmd() *cobra.Command {
	var ifExists bool
	c := a.leaf("delete NAME", "delete a switch and its ports", func(pos []string) error {
		_, err := a.call(http.MethodDelete, path("v1", "switches", pos[0]), nil)
		return a.deleted(ifExists, err, "switch "+pos[0], "switch %s deleted", pos[0])
	})
	c.Aliases = deleteAliases
	ifExistsFlag(c, &ifExists)
	a.argKinds(c, switchArg)
	a.dryRunFlag(c)
	return c
}

// Ports.

func (a *app) portCmd() *cobra.Command {
	return noun("port", "logical ports: a VM's interface on a switch",
		a.portCreateCmd(), a.portSetCmd(), a.portListCmd(), a.portShowCmd(), a.portDeleteCmd())
}

// portFlags are the flags that configure a port (create and set).
type portFlags struct {
	ifaceID  string
	mac      string
	security bool
	ips      listFlag
}

func (f *portFlags) add(c *cobra.Command) {
	fs := c.Flags()
	fs.StringVar(&f.ifaceID, "iface-id", "", "the VIF's external_ids:iface-id (or XenServer xs-vif-uuid)")
	fs.StringVar(&f.mac, "mac", "", "the port's MAC (absent or '': the VIF's attached-mac)")
	fs.BoolVar(&f.security, "port-security", true, "let the VIF send only from its MAC (and --ip addresses)")
	fs.Var(&f.ips, "ip", "an address the VIF may send from (repeat or comma-separate; '': any)")
}

func (a *app) portCreateCmd() *cobra.Command {
	var (
		f   portFlags
		may bool
	)
	c := a.leaf("create SWITCH NAME --iface-id ID [--mac MAC] [--port-security=false] [--ip ADDR]...",
		"create a logical port bound to the VIF with that iface-id (port security on with a MAC unless false; --ip: the only source addresses)",
		func(pos []string) error {
			if err := a.require("iface-id"); err != nil {
				return err
			}
			req := api.PortRequest{Name: pos[1], IfaceID: f.ifaceID, MAC: f.mac, IPs: f.ips}
			if a.changed("port-security") {
				req.PortSecurity = &f.security
			}
			data, err := a.call(http.MethodPost, path("v1", "switches", pos[0], "ports"), req)
			data, existed, err := mayExist(a, may, err, "port "+pos[1]+" on switch "+pos[0],
				path("v1", "switches", pos[0], "ports", pos[1]), data,
				func(p api.Port) []string { return portDiff(p, req) })
			if err != nil {
				return err
			}
			return emit(a, data, func(p api.Port) error {
				if existed {
					return a.say("port %s exists on switch %s: iface-id %s (unchanged)", p.Name, p.Switch, p.IfaceID)
				}
				return a.say("port %s created on switch %s: iface-id %s", p.Name, p.Switch, p.IfaceID)
			})
		})
	f.add(c)
	mayExistFlag(c, &may)
	a.argKinds(c, switchArg)
	a.dryRunFlag(c)
	return c
}

// portDiff is switchDiff for ports.
func portDiff(p api.Port, req api.PortRequest) []string {
	var d differ
	d.add("iface_id", p.IfaceID, req.IfaceID)
	if req.MAC != "" {
		d.add("mac", strings.ToLower(p.MAC), strings.ToLower(req.MAC))
	}
	if req.PortSecurity != nil {
		d.add("port_security", configuredSecurity(p), configuredSecurity(api.Port{PortSecurity: req.PortSecurity}))
	}
	if req.IPs != nil {
		d.addSet("ips", canonicalIPs(p.IPs), canonicalIPs(req.IPs))
	}
	return d
}

// canonicalIPs writes addresses the way the server stores them.
func canonicalIPs(ips []string) []string {
	out := make([]string, len(ips))
	for i, s := range ips {
		if ip, err := netip.ParseAddr(s); err == nil {
			s = ip.String()
		}
		out[i] = s
	}
	return out
}

// portSet changes what its flags name of a port (PATCH).
func (a *app) portSetCmd() *cobra.Command {
	var f portFlags
	c := a.leaf("set SWITCH NAME [--port-security=true|false] [--ip ADDR]... [--mac MAC] [--iface-id ID]",
		"change a port's port security, addresses (--ip '': any), MAC (--mac '': attached-mac) or iface-id",
		func(pos []string) error {
			var req api.PortPatch
			if a.changed("iface-id") {
				req.IfaceID = &f.ifaceID
			}
			if a.changed("mac") {
				req.MAC = &f.mac
			}
			if a.changed("port-security") {
				req.PortSecurity = &f.security
			}
			if a.changed("ip") {
				list := []string(f.ips)
				if list == nil {
					list = []string{}
				}
				req.IPs = &list
			}
			if req == (api.PortPatch{}) {
				return a.usage("nothing to change: give --port-security, --ip, --mac or --iface-id")
			}
			data, err := a.call(http.MethodPatch, path("v1", "switches", pos[0], "ports", pos[1]), req)
			if err != nil {
				return err
			}
			return emit(a, data, func(p api.Port) error {
				return a.say("port %s on switch %s: port security %s, IPs %s", p.Name, p.Switch, configuredSecurity(p), orAny(p.IPs))
			})
		})
	f.add(c)
	a.argKinds(c, switchArg, portArg)
	a.dryRunFlag(c)
	return c
}

// listFlag is a flag that may be repeated, each value a comma-separated
// list: --ip A --ip B,C. An empty value adds nothing: --ip with an empty
// value alone names an empty list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, splitList(v)...)
	return nil
}

func (l *listFlag) Type() string { return "ADDR" }

// configuredSecurity is what a port says about port security.
func configuredSecurity(p api.Port) string {
	switch {
	case p.PortSecurity == nil:
		return "default (on with a MAC)"
	case *p.PortSecurity:
		return "on"
	}
	return "off"
}

// portSecurity is whether ferry enforces port security on a bound port,
// else what the port says.
func portSecurity(p api.Port) string {
	switch {
	case p.Status.Bound && p.Status.PortSecurity:
		return "on"
	case p.Status.Bound:
		return "off"
	case p.PortSecurity == nil:
		return "-"
	}
	return configuredSecurity(p)
}

func orAny(ips []string) string {
	if len(ips) == 0 {
		return "any"
	}
	return strings.Join(ips, ",")
}

// portMAC is the port's configured MAC, else the one learned from the VIF.
func portMAC(p api.Port) string {
	if p.MAC != "" {
		return p.MAC
	}
	return dash(p.Status.MAC)
}

func ofport(st model.PortStatus) string {
	if st.OFPort == 0 {
		return "-"
	}
	return itoa(st.OFPort)
}

func (a *app) portListCmd() *cobra.Command {
	c := a.leaf("list SWITCH", "list a switch's ports and their bindings", func(pos []string) error {
		data, err := a.call(http.MethodGet, path("v1", "switches", pos[0], "ports"), nil)
		if err != nil {
			return err
		}
		return emit(a, data, func(ports []portView) error {
			header := []string{"NAME", "IFACE-ID", "MAC", "BOUND", "CHASSIS", "INTERFACE", "OFPORT", "SECURITY"}
			if a.wide() {
				header = append(header, "IPS", "REASON")
			}
			var rows [][]string
			for _, pv := range ports {
				p := pv.port()
				row := []string{p.Name, p.IfaceID, portMAC(p), yesNo(p.Status.Bound),
					dash(p.Status.Chassis), dash(p.Status.Interface), ofport(p.Status), portSecurity(p)}
				if a.wide() {
					row = append(row, orAny(p.IPs), dash(pv.Status.Reason))
				}
				rows = append(rows, row)
			}
			return table(a.stdout, "No ports on switch "+pos[0]+".", header, rows)
		})
	})
	c.Aliases = listAliases
	a.argKinds(c, switchArg)
	return c
}

// portView is a port as the API shows it, with the reason an unbound
// port gives (status.reason, in servers that have it).
type portView struct {
	api.Port
	Status struct {
		model.PortStatus
		Reason string `json:"reason,omitempty"`
	} `json:"status"`
}

func (pv portView) port() api.Port {
	p := pv.Port
	p.Status = pv.Status.PortStatus
	return p
}

func (a *app) portShowCmd() *cobra.Command {
	c := a.leaf("show SWITCH NAME", "show a port and where it is bound", func(pos []string) error {
		data, err := a.call(http.MethodGet, path("v1", "switches", pos[0], "ports", pos[1]), nil)
		if err != nil {
			return err
		}
		return emit(a, data, func(pv portView) error {
			p := pv.port()
			mac := p.MAC
			if mac == "" {
				mac = "from the VIF's attached-mac: " + dash(p.Status.MAC)
			}
			bound := yesNo(p.Status.Bound)
			if !p.Status.Bound && pv.Status.Reason != "" {
				bound += " (" + pv.Status.Reason + ")"
			}
			return fields(a.stdout,
				"Name", p.Name,
				"Switch", p.Switch,
				"Iface ID", p.IfaceID,
				"MAC", mac,
				"Bound", bound,
				"Chassis", dash(p.Status.Chassis),
				"Interface", dash(p.Status.Interface),
				"OpenFlow port", ofport(p.Status),
				"Port security", portSecurityLine(p),
				"IPs", orAny(p.IPs),
			)
		})
	})
	c.Aliases = showAliases
	a.argKinds(c, switchArg, portArg)
	return c
}

// portSecurityLine says what port show says about port security: what
// ferry enforces and why.
func portSecurityLine(p api.Port) string {
	if !p.Status.Bound {
		return configuredSecurity(p) + "; not bound"
	}
	return portSecurity(p) + " (" + configuredSecurity(p) + ")"
}

func (a *app) portDeleteCmd() *cobra.Command {
	var ifExists bool
	c := a.leaf("delete SWITCH NAME", "delete a port", func(pos []string) error {
		_, err := a.call(http.MethodDelete, path("v1", "switches", pos[0], "ports", pos[1]), nil)
		return a.deleted(ifExists, err, "port "+pos[1]+" on switch "+pos[0], "port %s deleted from switch %s", pos[1], pos[0])
	})
	c.Aliases = deleteAliases
	ifExistsFlag(c, &ifExists)
	a.argKinds(c, switchArg, portArg)
	a.dryRunFlag(c)
	return c
}

// Chassis.

func (a *app) chassisCmd() *cobra.Command {
	return noun("chassis", "hypervisors: hosts whose Open vSwitch ferry drives",
		a.chassisCreateCmd(), a.chassisSetCmd(), a.chassisListCmd(), a.chassisShowCmd(), a.chassisDeleteCmd())
}

func (a *app) chassisCreateCmd() *cobra.Command {
	var (
		req           api.ChassisRequest
		encaps, peers string
		may           bool
	)
	c := a.leaf("create NAME --ovsdb TARGET --tunnel-ip IP [--bridge B] [--kind kvm|xenserver|generic] [--encaps vxlan,gre] [--underlay-mtu N] [--datapath-type system|netdev] [--openflow-peers IP,...] [--relay]",
		"register a hypervisor (--ovsdb passive: it dials ferry)", func(pos []string) error {
			if err := a.require("ovsdb", "tunnel-ip"); err != nil {
				return err
			}
			req.Name = pos[0]
			if peers != "" {
				req.OpenFlowPeers = splitList(peers)
			}
			if encaps != "" {
				for _, e := range strings.Split(encaps, ",") {
					req.Encaps = append(req.Encaps, strings.TrimSpace(e))
				}
			}
			data, err := a.call(http.MethodPost, "/v1/chassis", req)
			data, existed, err := mayExist(a, may, err, "chassis "+pos[0], path("v1", "chassis", pos[0]), data,
				func(ch api.Chassis) []string {
					want := req
					if want.Bridge == "" {
						want.Bridge = ch.Bridge // left to the server
					}
					d := differ(chassisDiff(ch, want, want.DatapathType != ""))
					if want.OpenFlowPeers != nil {
						d.addSet("openflow_peers", canonicalIPs(ch.OpenFlowPeers), canonicalIPs(want.OpenFlowPeers))
					}
					return d
				})
			if err != nil {
				return err
			}
			return emit(a, data, func(ch api.Chassis) error {
				verb := "created"
				if existed {
					verb = "exists (unchanged)"
				}
				return a.say("chassis %s %s: %s, tunnel IP %s, OVSDB %s, bridge %s, encaps %s",
					ch.Name, verb, ch.Kind, ch.TunnelIP, ch.OVSDB, ch.Bridge, strings.Join(ch.Encaps, ","))
			})
		})
	f := c.Flags()
	f.StringVar(&req.OVSDB, "ovsdb", "", "the hypervisor's OVSDB `TARGET`: tcp:IP:PORT, ssl:IP:PORT, unix:PATH or passive")
	f.StringVar(&req.TunnelIP, "tunnel-ip", "", "the `IP` address tunnels end at")
	f.StringVar(&req.Bridge, "bridge", "", "the bridge ferry manages (default br-int)")
	f.StringVar(&req.Kind, "kind", "", "kvm (the default), xenserver or generic")
	f.StringVar(&encaps, "encaps", "", "the encapsulations it can terminate (default vxlan,gre)")
	f.IntVar(&req.UnderlayMTU, "underlay-mtu", 0, "the MTU between tunnel endpoints (default 1500)")
	f.StringVar(&req.DatapathType, "datapath-type", "", "system (the default) or netdev, should ferry create the bridge")
	f.StringVar(&peers, "openflow-peers", "", "further `IPs` its bridge may connect to ferry's OpenFlow listener from")
	f.StringVar(&req.OpenFlow, "openflow", "", "OpenFlow version policy: auto (the default; 1.3 where the bridge's protocols were pinned without 1.5), 1.5 or 1.3 (never touch the protocols)")
	f.BoolVar(&req.Relay, "relay", false, "make it a transit relay: it forwards for pairs of endpoints that cannot reach each other directly")
	mayExistFlag(c, &may)
	_ = c.RegisterFlagCompletionFunc("kind", fixed(model.KindKVM, model.KindXenServer, model.KindGeneric))
	_ = c.RegisterFlagCompletionFunc("encaps", fixed("vxlan,gre", model.EncapVXLAN, model.EncapGRE))
	_ = c.RegisterFlagCompletionFunc("datapath-type", fixed("system", "netdev"))
	_ = c.RegisterFlagCompletionFunc("openflow", fixed(model.OpenFlowAuto, model.OpenFlow15, model.OpenFlow13))
	a.dryRunFlag(c)
	return c
}

func (a *app) chassisSetCmd() *cobra.Command {
	var (
		ovsdb, tunnelIP, datapath, encaps, peers, openflow string
		mtu                                                int
		relay                                              bool
	)
	c := a.leaf("set NAME [--ovsdb TARGET] [--tunnel-ip IP] [--encaps vxlan,gre] [--underlay-mtu N] [--datapath-type system|netdev] [--openflow-peers IP,...] [--openflow auto|1.5|1.3] [--relay=true|false]",
		"change a hypervisor live: its OVSDB target, tunnel IP, encapsulations, underlay MTU (0: default), datapath type, OpenFlow peers ('': none), OpenFlow version policy or relay role; tunnels on every other chassis follow",
		func(pos []string) error {
			var req api.ChassisPatch
			if a.changed("ovsdb") {
				req.OVSDB = &ovsdb
			}
			if a.changed("tunnel-ip") {
				req.TunnelIP = &tunnelIP
			}
			if a.changed("encaps") {
				list := append([]string{}, splitList(encaps)...)
				req.Encaps = &list
			}
			if a.changed("underlay-mtu") {
				req.UnderlayMTU = &mtu
			}
			if a.changed("datapath-type") {
				req.DatapathType = &datapath
			}
			if a.changed("openflow-peers") {
				list := append([]string{}, splitList(peers)...)
				req.OpenFlowPeers = &list
			}
			if a.changed("openflow") {
				req.OpenFlow = &openflow
			}
			if a.changed("relay") {
				req.Relay = &relay
			}
			if req == (api.ChassisPatch{}) {
				return a.usage("nothing to change: give --ovsdb, --tunnel-ip, --encaps, --underlay-mtu, --datapath-type, --openflow-peers, --openflow or --relay")
			}
			data, err := a.call(http.MethodPatch, path("v1", "chassis", pos[0]), req)
			if err != nil {
				return err
			}
			return emit(a, data, func(ch api.Chassis) error {
				return a.say("chassis %s changed: %s, tunnel IP %s, OVSDB %s, bridge %s, encaps %s, underlay MTU %d",
					ch.Name, ch.Kind, ch.TunnelIP, ch.OVSDB, ch.Bridge, strings.Join(ch.Encaps, ","), ch.UnderlayMTU)
			})
		})
	f := c.Flags()
	f.StringVar(&ovsdb, "ovsdb", "", "the hypervisor's OVSDB `TARGET`: tcp:IP:PORT, ssl:IP:PORT, unix:PATH or passive")
	f.StringVar(&tunnelIP, "tunnel-ip", "", "the `IP` address tunnels end at")
	f.StringVar(&encaps, "encaps", "", "the encapsulations it can terminate (replaces them; not empty)")
	f.IntVar(&mtu, "underlay-mtu", 0, "the MTU between tunnel endpoints (0: the default, 1500)")
	f.StringVar(&datapath, "datapath-type", "", "system or netdev, should ferry create the bridge ('': the default)")
	f.StringVar(&peers, "openflow-peers", "", "further `IPs` its bridge may connect to ferry's OpenFlow listener from ('': none)")
	f.StringVar(&openflow, "openflow", "", "OpenFlow version policy: auto, 1.5 or 1.3 ('': auto)")
	f.BoolVar(&relay, "relay", false, "whether it is a transit relay")
	_ = c.RegisterFlagCompletionFunc("encaps", fixed("vxlan,gre", model.EncapVXLAN, model.EncapGRE))
	_ = c.RegisterFlagCompletionFunc("datapath-type", fixed("system", "netdev"))
	_ = c.RegisterFlagCompletionFunc("openflow", fixed(model.OpenFlowAuto, model.OpenFlow15, model.OpenFlow13))
	a.argKinds(c, chassisArg)
	a.dryRunFlag(c)
	return c
}

// openflowLine is a chassis' OpenFlow policy and the version its bridge
// speaks, e.g. "auto (speaking 1.3)".
func openflowLine(policy, version string) string {
	if version == "" {
		return dash(policy)
	}
	return fmt.Sprintf("%s (speaking %s)", dash(policy), version)
}

// connected summarizes a chassis' two connections.
func connected(st model.ChassisStatus) string {
	switch {
	case st.OVSDBConnected && st.OpenFlowConnected:
		return "yes"
	case st.OVSDBConnected:
		return "OVSDB only"
	case st.OpenFlowConnected:
		return "OpenFlow only"
	}
	return "no"
}

func (a *app) chassisListCmd() *cobra.Command {
	c := a.leaf("list", "list hypervisors", func([]string) error {
		data, err := a.call(http.MethodGet, "/v1/chassis", nil)
		if err != nil {
			return err
		}
		return emit(a, data, func(chs []api.Chassis) error {
			header := []string{"NAME", "KIND", "TUNNEL IP", "OVSDB", "BRIDGE", "ENCAPS", "CONNECTED"}
			if a.wide() {
				header = append(header, "UNDERLAY MTU", "DATAPATH ID", "REALIZED GEN", "FLOWS", "GROUPS", "LAST ERROR")
			}
			var rows [][]string
			for _, ch := range chs {
				row := []string{ch.Name, ch.Kind, ch.TunnelIP, ch.OVSDB, ch.Bridge,
					strings.Join(ch.Encaps, ","), connected(ch.Status)}
				if a.wide() {
					st := ch.Status
					row = append(row, itoa(ch.UnderlayMTU), dash(st.DatapathID), itoa(st.RealizedGeneration),
						itoa(st.Flows), itoa(st.Groups), dash(st.LastError))
				}
				rows = append(rows, row)
			}
			return table(a.stdout, "No chassis.", header, rows)
		})
	})
	c.Aliases = listAliases
	return c
}

func (a *app) chassisShowCmd() *cobra.Command {
	c := a.leaf("show NAME", "show a hypervisor's connections and realization", func(pos []string) error {
		data, err := a.call(http.MethodGet, path("v1", "chassis", pos[0]), nil)
		if err != nil {
			return err
		}
		return emit(a, data, func(ch api.Chassis) error {
			return fields(a.stdout,
				"Name", ch.Name,
				"Kind", ch.Kind,
				"Tunnel IP", ch.TunnelIP,
				"OVSDB", ch.OVSDB,
				"Bridge", ch.Bridge,
				"Encaps", list(ch.Encaps),
				"Generation", itoa(ch.Generation),
				"OVSDB connected", yesNo(ch.Status.OVSDBConnected),
				"OpenFlow connected", yesNo(ch.Status.OpenFlowConnected),
				"OpenFlow", openflowLine(ch.OpenFlow, ch.Status.OpenFlowVersion),
				"Datapath ID", dash(ch.Status.DatapathID),
				"OpenFlow peers", list(ch.OpenFlowPeers),
				"OpenFlow refused", refusedLine(ch.Status.OpenFlowRefused),
				"Realized generation", itoa(ch.Status.RealizedGeneration),
				"Flows", itoa(ch.Status.Flows),
				"Groups", itoa(ch.Status.Groups),
				"Last error", dash(ch.Status.LastError),
			)
		})
	})
	c.Aliases = showAliases
	a.argKinds(c, chassisArg)
	return c
}

// refusedLine says which OpenFlow connections claiming the chassis' bridge
// were refused: how many, and the last one.
func refusedLine(r *model.OpenFlowRefusal) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%d, last %s from %s (%s): %s", r.Count, r.At.UTC().Format(time.RFC3339), r.Peer, r.Reason, r.Detail)
}

func (a *app) chassisDeleteCmd() *cobra.Command {
	var ifExists bool
	c := a.leaf("delete NAME", "unregister a hypervisor (its configuration stays)", func(pos []string) error {
		_, err := a.call(http.MethodDelete, path("v1", "chassis", pos[0]), nil)
		return a.deleted(ifExists, err, "chassis "+pos[0], "chassis %s deleted", pos[0])
	})
	c.Aliases = deleteAliases
	ifExistsFlag(c, &ifExists)
	a.argKinds(c, chassisArg)
	a.dryRunFlag(c)
	return c
}

// differ collects the members that differ, as "field (has X, wanted Y)".
type differ []string

func (d *differ) add(field, have, want string) {
	if have != want {
		*d = append(*d, fmt.Sprintf("%s (has %s, wanted %s)", field, dash(have), dash(want)))
	}
}

// addSet compares lists whose order does not matter.
func (d *differ) addSet(field string, have, want []string) {
	h, w := slices.Sorted(slices.Values(have)), slices.Sorted(slices.Values(want))
	d.add(field, strings.Join(h, ","), strings.Join(w, ","))
}
