package cli

import (
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/api"
)

// Switches.

func switchCreate(a *app, args []string) error {
	fs := a.flags()
	vni := fs.Int64("vni", 0, "")
	encap := fs.String("encap", "", "")
	nets := fs.String("xenserver-networks", "", "")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	req := api.SwitchRequest{Name: pos[0], Encap: *encap, XenServerNetworks: splitList(*nets)}
	if isSet(fs, "vni") {
		req.VNI = vni // the server checks the range
	}
	data, err := a.call(http.MethodPost, "/v1/switches", req)
	if err != nil {
		return err
	}
	return emit(a, data, func(sw api.Switch) error {
		return a.say("switch %s created: VNI %d, %s", sw.Name, sw.VNI, sw.Encap)
	})
}

// switchSetNetworks replaces the XenServer networks a switch adopts.
func switchSetNetworks(a *app, args []string) error {
	fs := a.flags()
	nets := fs.String("xenserver-networks", "", "")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if err := a.require(fs, "xenserver-networks"); err != nil {
		return err
	}
	list := splitList(*nets)
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

func switchList(a *app, args []string) error {
	if _, err := a.parse(a.flags(), args); err != nil {
		return err
	}
	data, err := a.call(http.MethodGet, "/v1/switches", nil)
	if err != nil {
		return err
	}
	return emit(a, data, func(sws []api.Switch) error {
		var rows [][]string
		for _, sw := range sws {
			rows = append(rows, []string{sw.Name, itoa(sw.VNI), sw.Encap, itoa(len(sw.Ports)),
				itoa(sw.Status.PortsBound), realized(sw.Status)})
		}
		return table(a.stdout, "No switches.", []string{"NAME", "VNI", "ENCAP", "PORTS", "BOUND", "REALIZED"}, rows)
	})
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

func switchShow(a *app, args []string) error {
	pos, err := a.parse(a.flags(), args)
	if err != nil {
		return err
	}
	data, err := a.call(http.MethodGet, path("v1", "switches", pos[0]), nil)
	if err != nil {
		return err
	}
	return emit(a, data, func(sw api.Switch) error {
		err := fields(a.stdout,
			"Name", sw.Name,
			"VNI", itoa(sw.VNI),
			"Encap", sw.Encap,
			"Generation", itoa(sw.Generation),
			"Realized", realized(sw.Status),
			"Ports", fmt.Sprintf("%s (%d bound)", list(sw.Ports), sw.Status.PortsBound),
		)
		if err != nil || len(sw.Status.Chassis) == 0 {
			return err
		}
		fmt.Fprintln(a.stdout, "Chassis:")
		tw := newTable(a.stdout)
		fmt.Fprintln(tw, "  NAME\tREALIZED\tREALIZED GENERATION")
		for _, c := range sw.Status.Chassis {
			fmt.Fprintf(tw, "  %s\t%s\t%d\n", c.Name, yesNo(c.Realized), c.RealizedGeneration)
		}
		return tw.Flush()
	})
}

func switchDelete(a *app, args []string) error {
	pos, err := a.parse(a.flags(), args)
	if err != nil {
		return err
	}
	if _, err := a.call(http.MethodDelete, path("v1", "switches", pos[0]), nil); err != nil {
		return err
	}
	return a.say("switch %s deleted", pos[0])
}

// Ports.

// portFlags are the flags that configure a port (create and set).
type portFlags struct {
	fs       *flag.FlagSet
	ifaceID  *string
	mac      *string
	security *bool
	ips      listFlag
}

func (a *app) portFlags() *portFlags {
	f := &portFlags{fs: a.flags()}
	f.ifaceID = f.fs.String("iface-id", "", "")
	f.mac = f.fs.String("mac", "", "")
	f.security = f.fs.Bool("port-security", true, "")
	f.fs.Var(&f.ips, "ip", "")
	return f
}

func portCreate(a *app, args []string) error {
	f := a.portFlags()
	pos, err := a.parse(f.fs, args)
	if err != nil {
		return err
	}
	if err := a.require(f.fs, "iface-id"); err != nil {
		return err
	}
	req := api.PortRequest{Name: pos[1], IfaceID: *f.ifaceID, MAC: *f.mac, IPs: f.ips}
	if isSet(f.fs, "port-security") {
		req.PortSecurity = f.security
	}
	data, err := a.call(http.MethodPost, path("v1", "switches", pos[0], "ports"), req)
	if err != nil {
		return err
	}
	return emit(a, data, func(p api.Port) error {
		return a.say("port %s created on switch %s: iface-id %s", p.Name, p.Switch, p.IfaceID)
	})
}

// portSet changes what its flags name of a port (PATCH).
func portSet(a *app, args []string) error {
	f := a.portFlags()
	pos, err := a.parse(f.fs, args)
	if err != nil {
		return err
	}
	var req api.PortPatch
	if isSet(f.fs, "iface-id") {
		req.IfaceID = f.ifaceID
	}
	if isSet(f.fs, "mac") {
		req.MAC = f.mac
	}
	if isSet(f.fs, "port-security") {
		req.PortSecurity = f.security
	}
	if isSet(f.fs, "ip") {
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

func portList(a *app, args []string) error {
	pos, err := a.parse(a.flags(), args)
	if err != nil {
		return err
	}
	data, err := a.call(http.MethodGet, path("v1", "switches", pos[0], "ports"), nil)
	if err != nil {
		return err
	}
	return emit(a, data, func(ports []api.Port) error {
		var rows [][]string
		for _, p := range ports {
			rows = append(rows, []string{p.Name, p.IfaceID, portMAC(p), yesNo(p.Status.Bound),
				dash(p.Status.Chassis), dash(p.Status.Interface), ofport(p.Status), portSecurity(p)})
		}
		return table(a.stdout, "No ports on switch "+pos[0]+".",
			[]string{"NAME", "IFACE-ID", "MAC", "BOUND", "CHASSIS", "INTERFACE", "OFPORT", "SECURITY"}, rows)
	})
}

func portShow(a *app, args []string) error {
	pos, err := a.parse(a.flags(), args)
	if err != nil {
		return err
	}
	data, err := a.call(http.MethodGet, path("v1", "switches", pos[0], "ports", pos[1]), nil)
	if err != nil {
		return err
	}
	return emit(a, data, func(p api.Port) error {
		mac := p.MAC
		if mac == "" {
			mac = "from the VIF's attached-mac: " + dash(p.Status.MAC)
		}
		return fields(a.stdout,
			"Name", p.Name,
			"Switch", p.Switch,
			"Iface ID", p.IfaceID,
			"MAC", mac,
			"Bound", yesNo(p.Status.Bound),
			"Chassis", dash(p.Status.Chassis),
			"Interface", dash(p.Status.Interface),
			"OpenFlow port", ofport(p.Status),
			"Port security", portSecurityLine(p),
			"IPs", orAny(p.IPs),
		)
	})
}

// portSecurityLine says what port show says about port security: what
// ferry enforces and why.
func portSecurityLine(p api.Port) string {
	if !p.Status.Bound {
		return configuredSecurity(p) + "; not bound"
	}
	return portSecurity(p) + " (" + configuredSecurity(p) + ")"
}

func portDelete(a *app, args []string) error {
	pos, err := a.parse(a.flags(), args)
	if err != nil {
		return err
	}
	if _, err := a.call(http.MethodDelete, path("v1", "switches", pos[0], "ports", pos[1]), nil); err != nil {
		return err
	}
	return a.say("port %s deleted from switch %s", pos[1], pos[0])
}

// Chassis.

func chassisCreate(a *app, args []string) error {
	fs := a.flags()
	ovsdb := fs.String("ovsdb", "", "")
	tunnelIP := fs.String("tunnel-ip", "", "")
	bridge := fs.String("bridge", "", "")
	kind := fs.String("kind", "", "")
	encaps := fs.String("encaps", "", "")
	mtu := fs.Int("underlay-mtu", 0, "")
	dpType := fs.String("datapath-type", "", "")
	peers := fs.String("openflow-peers", "", "")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if err := a.require(fs, "ovsdb", "tunnel-ip"); err != nil {
		return err
	}
	req := api.ChassisRequest{Name: pos[0], OVSDB: *ovsdb, TunnelIP: *tunnelIP, Bridge: *bridge, Kind: *kind,
		UnderlayMTU: *mtu, DatapathType: *dpType}
	if *peers != "" {
		req.OpenFlowPeers = splitList(*peers)
	}
	if *encaps != "" {
		for _, e := range strings.Split(*encaps, ",") {
			req.Encaps = append(req.Encaps, strings.TrimSpace(e))
		}
	}
	data, err := a.call(http.MethodPost, "/v1/chassis", req)
	if err != nil {
		return err
	}
	return emit(a, data, func(ch api.Chassis) error {
		return a.say("chassis %s created: %s, tunnel IP %s, OVSDB %s, bridge %s, encaps %s",
			ch.Name, ch.Kind, ch.TunnelIP, ch.OVSDB, ch.Bridge, strings.Join(ch.Encaps, ","))
	})
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

func chassisList(a *app, args []string) error {
	if _, err := a.parse(a.flags(), args); err != nil {
		return err
	}
	data, err := a.call(http.MethodGet, "/v1/chassis", nil)
	if err != nil {
		return err
	}
	return emit(a, data, func(chs []api.Chassis) error {
		var rows [][]string
		for _, ch := range chs {
			rows = append(rows, []string{ch.Name, ch.Kind, ch.TunnelIP, ch.OVSDB, ch.Bridge,
				strings.Join(ch.Encaps, ","), connected(ch.Status)})
		}
		return table(a.stdout, "No chassis.",
			[]string{"NAME", "KIND", "TUNNEL IP", "OVSDB", "BRIDGE", "ENCAPS", "CONNECTED"}, rows)
	})
}

func chassisShow(a *app, args []string) error {
	pos, err := a.parse(a.flags(), args)
	if err != nil {
		return err
	}
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
			"Datapath ID", dash(ch.Status.DatapathID),
			"OpenFlow peers", list(ch.OpenFlowPeers),
			"OpenFlow refused", refusedLine(ch.Status.OpenFlowRefused),
			"Realized generation", itoa(ch.Status.RealizedGeneration),
			"Flows", itoa(ch.Status.Flows),
			"Groups", itoa(ch.Status.Groups),
			"Last error", dash(ch.Status.LastError),
		)
	})
}

// refusedLine says which OpenFlow connections claiming the chassis' bridge
// were refused: how many, and the last one.
func refusedLine(r *model.OpenFlowRefusal) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%d, last %s from %s (%s): %s", r.Count, r.At.UTC().Format(time.RFC3339), r.Peer, r.Reason, r.Detail)
}

func chassisDelete(a *app, args []string) error {
	pos, err := a.parse(a.flags(), args)
	if err != nil {
		return err
	}
	if _, err := a.call(http.MethodDelete, path("v1", "chassis", pos[0]), nil); err != nil {
		return err
	}
	return a.say("chassis %s deleted", pos[0])
}
