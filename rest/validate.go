package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/rest/api"
)

// Limits the API enforces.
const (
	maxNameLen    = 64
	maxBridgeLen  = 15 // a bridge is a Linux network device: IFNAMSIZ-1
	maxIfaceIDLen = 255
	maxBodyBytes  = 1 << 20
	// maxBulkBodyBytes bounds a whole switch or a list of ports: 10,000
	// ports are about 1 MiB.
	maxBulkBodyBytes = 16 << 20
	// maxProblems is how many mistakes one response lists.
	maxProblems = 20
)

// problems collects what is wrong with a request, field by field, so that
// one response names every mistake instead of one per round trip. Items
// of a list report through at, which prefixes their fields with the item:
// "ports[3].iface_id: required".
type problems struct {
	msgs   *[]string // shared with the problems of items
	prefix string
}

func (p *problems) add(field, format string, args ...any) {
	if p.msgs == nil {
		p.msgs = new([]string)
	}
	if p.prefix != "" {
		field = p.prefix + "." + field
	}
	*p.msgs = append(*p.msgs, field+": "+fmt.Sprintf(format, args...))
}

// at returns the problems of item i of list.
func (p *problems) at(list string, i int) *problems {
	if p.msgs == nil {
		p.msgs = new([]string)
	}
	item := fmt.Sprintf("%s[%d]", list, i)
	if p.prefix != "" {
		item = p.prefix + "." + item
	}
	return &problems{msgs: p.msgs, prefix: item}
}

func (p *problems) err() error {
	if p.msgs == nil || len(*p.msgs) == 0 {
		return nil
	}
	msgs := *p.msgs
	if len(msgs) > maxProblems {
		msgs = append(slices.Clip(msgs[:maxProblems]), fmt.Sprintf("and %d more", len(msgs)-maxProblems))
	}
	return &httpError{code: 400, msg: strings.Join(msgs, "; ")}
}

// checkName checks the name of a switch, port or chassis: it appears in
// URLs, in OVS external_ids and in log lines, so it stays plain.
func checkName(p *problems, field, name string) {
	switch {
	case name == "":
		p.add(field, "required")
	case len(name) > maxNameLen:
		p.add(field, "longer than %d characters", maxNameLen)
	case !plain(name):
		p.add(field, "%q: use only letters, digits, '.', '_' and '-'", name)
	case name[0] == '-' || name[0] == '.':
		p.add(field, "%q: must not start with '-' or '.'", name)
	}
}

// printable reports whether s is valid UTF-8 without control characters
// (C0, DEL and C1, such as U+0085 NEXT LINE), format characters
// (bidirectional overrides, zero-width joiners) or line and paragraph
// separators: a name ends up in log lines, OVS external_ids and
// terminals, and must show as what it is. U+FFFD is refused too: it is
// what invalid UTF-8 in a JSON string decodes to.
func printable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return r == utf8.RuneError || unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
	})
}

func plain(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func checkSwitchRequest(r *api.SwitchRequest) (model.Switch, error) {
	var p problems
	sw := checkSwitch(&p, r.Name, r.VNI, r.Encap, r.XenServerNetworks)
	return sw, p.err()
}

// checkSwitch checks what POST and PUT say about a switch itself.
func checkSwitch(p *problems, name string, vni *int64, encap string, nets []string) model.Switch {
	checkName(p, "name", name)
	sw := model.Switch{Name: name, Encap: encap}
	if vni != nil {
		if *vni < 1 || *vni > model.MaxVNI {
			p.add("vni", "must be between 1 and %d", model.MaxVNI)
		} else {
			sw.VNI = uint32(*vni)
		}
	}
	sw.XenServerNetworks = checkNetworks(p, nets)
	switch encap {
	case "":
		sw.Encap = model.EncapVXLAN
	case model.EncapVXLAN, model.EncapGRE:
	default:
		p.add("encap", "%q: must be %q or %q", encap, model.EncapVXLAN, model.EncapGRE)
	}
	return sw
}

// checkSwitchSpec checks a whole switch (PUT /v1/switches/{name}).
func checkSwitchSpec(r *api.SwitchSpec, name string) (model.Switch, error) {
	var p problems
	if r.Name != "" && r.Name != name {
		p.add("name", "%q differs from the switch in the path (%q)", r.Name, name)
	}
	sw := checkSwitch(&p, name, r.VNI, r.Encap, r.XenServerNetworks)
	sw.Ports = checkPortList(&p, r.Ports, name)
	sw.Bindings = make([]model.GatewayBinding, 0, len(r.Bindings))
	seen := map[model.GatewayBinding]int{}
	for i := range r.Bindings {
		item := p.at("bindings", i)
		b := checkBinding(item, &r.Bindings[i], name)
		if j, dup := seen[b]; dup {
			item.add("vlan", "%s port %s VLAN %d listed twice (also bindings[%d])", b.Gateway, b.Port, b.VLAN, j)
		}
		seen[b] = i
		sw.Bindings = append(sw.Bindings, b)
	}
	return sw, p.err()
}

// checkPortListRequest checks the body of POST …/ports as a list.
func checkPortListRequest(list []api.PortRequest, switchName string) ([]model.Port, error) {
	var p problems
	ports := checkPortList(&p, list, switchName)
	return ports, p.err()
}

// checkPortList checks the ports of one switch, including that no two
// share a name or an iface_id.
func checkPortList(p *problems, list []api.PortRequest, switchName string) []model.Port {
	out := make([]model.Port, 0, len(list))
	names, ifaces := map[string]int{}, map[string]int{}
	for i := range list {
		item := p.at("ports", i)
		port := checkPort(item, &list[i], switchName)
		if j, dup := names[port.Name]; dup && port.Name != "" {
			item.add("name", "%q listed twice (also ports[%d])", port.Name, j)
		}
		if j, dup := ifaces[port.IfaceID]; dup && port.IfaceID != "" {
			item.add("iface_id", "%q listed twice (also ports[%d])", port.IfaceID, j)
		}
		names[port.Name], ifaces[port.IfaceID] = i, i
		out = append(out, port)
	}
	return out
}

// checkNetworks validates xs-network-uuids (XenServer writes UUIDs; any
// plain token is accepted so that other integrations can use the same
// mechanism) and returns them sorted without duplicates.
func checkNetworks(p *problems, nets []string) []string {
	var out []string
	for _, n := range nets {
		switch {
		case n == "":
			p.add("xenserver_networks", "empty network UUID")
		case len(n) > maxIfaceIDLen || !plain(n):
			p.add("xenserver_networks", "%q: not a network UUID", n)
		case slices.Contains(out, n):
			p.add("xenserver_networks", "%q listed twice", n)
		default:
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func checkSwitchPatch(r *api.SwitchPatch) ([]string, error) {
	var p problems
	if r.XenServerNetworks == nil {
		p.add("xenserver_networks", "required (the only field that can change)")
		return nil, p.err()
	}
	nets := checkNetworks(&p, *r.XenServerNetworks)
	if nets == nil {
		nets = []string{}
	}
	return nets, p.err()
}

func checkPortRequest(r *api.PortRequest, switchName string) (model.Port, error) {
	var p problems
	port := checkPort(&p, r, switchName)
	return port, p.err()
}

func checkPort(p *problems, r *api.PortRequest, switchName string) model.Port {
	checkName(p, "name", r.Name)
	port := model.Port{Switch: switchName, Name: r.Name, IfaceID: r.IfaceID}
	checkIfaceID(p, r.IfaceID)
	port.MAC = checkMAC(p, r.MAC)
	if r.PortSecurity != nil {
		on := *r.PortSecurity
		port.PortSecurity = &on
	}
	port.IPs = checkPortIPs(p, r.IPs)
	return port
}

// checkMAC checks a port's MAC; "" is none.
func checkMAC(p *problems, s string) net.HardwareAddr {
	if s == "" {
		return nil
	}
	mac, err := net.ParseMAC(s)
	switch {
	case err != nil || len(mac) != 6:
		p.add("mac", "%q: not an Ethernet address (want xx:xx:xx:xx:xx:xx)", s)
	case mac[0]&1 != 0:
		p.add("mac", "%s: multicast address; a port needs a unicast one", mac)
	case slices.Equal(mac, make(net.HardwareAddr, 6)):
		p.add("mac", "%s: all zeros", mac)
	default:
		return mac // net.HardwareAddr prints lower-case
	}
	return nil
}

// checkPortIPs checks the addresses a port may send from: unicast IPv4
// or IPv6 a host can have as its source, each once; it returns them
// sorted (IPv4 first).
func checkPortIPs(p *problems, ips []string) []netip.Addr {
	if len(ips) > model.MaxPortIPs {
		p.add("ips", "%d addresses: at most %d", len(ips), model.MaxPortIPs)
		return nil
	}
	var out []netip.Addr
	for _, s := range ips {
		a, err := netip.ParseAddr(s)
		why := ""
		switch {
		case err != nil:
			why = "not an IPv4 or IPv6 address"
		case a.Zone() != "":
			why = "a zone is not part of an address"
		case a.Is4In6():
			why = "an IPv4-mapped IPv6 address; give the IPv4 address"
		case a.IsUnspecified() || a.Is4() && thisNetwork.Contains(a):
			why = "unspecified address (DHCP and duplicate address detection from it pass anyway)"
		case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			why = "broadcast address"
		case a.IsMulticast():
			why = "multicast address"
		case a.IsLoopback():
			why = "loopback address"
		case slices.Contains(out, a):
			why = "listed twice"
		}
		if why != "" {
			p.add("ips", "%q: %s", s, why)
			continue
		}
		out = append(out, a)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// checkPortPut checks the body of PUT …/ports/{port}.
func checkPortPut(r *api.PortRequest, switchName, portName string) (model.Port, error) {
	var p problems
	if r.Name != "" && r.Name != portName {
		p.add("name", "%q differs from the port in the path (%q)", r.Name, portName)
	}
	req := *r
	req.Name = portName
	port := checkPort(&p, &req, switchName)
	return port, p.err()
}

// checkPortPatch checks the body of PATCH …/ports/{port}.
func checkPortPatch(r *api.PortPatch) (nbdb.PortChange, error) {
	var p problems
	var c nbdb.PortChange
	if r.IfaceID == nil && r.MAC == nil && r.PortSecurity == nil && r.IPs == nil {
		p.add("request body", "names no field to change (iface_id, mac, port_security, ips)")
	}
	if r.IfaceID != nil {
		checkIfaceID(&p, *r.IfaceID)
		c.IfaceID = r.IfaceID
	}
	if r.MAC != nil {
		c.SetMAC, c.MAC = true, checkMAC(&p, *r.MAC)
	}
	c.PortSecurity = r.PortSecurity
	if r.IPs != nil {
		c.SetIPs, c.IPs = true, checkPortIPs(&p, *r.IPs)
	}
	return c, p.err()
}

func checkIfaceID(p *problems, id string) {
	switch {
	case id == "":
		p.add("iface_id", "required")
	case len(id) > maxIfaceIDLen:
		p.add("iface_id", "longer than %d bytes", maxIfaceIDLen)
	case !printable(id):
		p.add("iface_id", "must be printable text")
	}
}

func checkChassisRequest(r *api.ChassisRequest) (model.Chassis, error) {
	var p problems
	checkName(&p, "name", r.Name)
	ch := model.Chassis{Name: r.Name, Bridge: r.Bridge, Kind: r.Kind}
	ch.OVSDB = checkChassisTarget(&p, r.OVSDB)
	ch.UnderlayMTU = checkUnderlayMTU(&p, r.UnderlayMTU)
	ch.DatapathType = checkDatapathType(&p, r.DatapathType)
	ch.OpenFlow = checkOpenFlowOption(&p, r.OpenFlow)
	ch.Relay = r.Relay

	if ip, err := checkTunnelIP(r.TunnelIP); err != nil {
		p.add("tunnel_ip", "%s", err)
	} else {
		ch.TunnelIP = ip
	}

	switch {
	case r.Bridge == "":
		ch.Bridge = model.DefaultBridge
	case len(r.Bridge) > maxBridgeLen:
		p.add("bridge", "%q: longer than %d characters (a bridge is a network device)", r.Bridge, maxBridgeLen)
	case !plain(r.Bridge) || r.Bridge[0] == '-' || r.Bridge == "." || r.Bridge == "..":
		p.add("bridge", "%q: not a valid bridge name (letters, digits, '.', '_', '-')", r.Bridge)
	}

	switch r.Kind {
	case "":
		ch.Kind = model.KindKVM
	case model.KindKVM, model.KindXenServer, model.KindGeneric:
	default:
		p.add("kind", "%q: must be %q, %q or %q", r.Kind, model.KindKVM, model.KindXenServer, model.KindGeneric)
	}

	if r.Encaps == nil {
		ch.Encaps = []string{model.EncapVXLAN, model.EncapGRE}
	} else {
		ch.Encaps = checkEncaps(&p, r.Encaps, "omit it for both vxlan and gre")
	}
	ch.OpenFlowPeers = checkOpenFlowPeers(&p, r.OpenFlowPeers)
	return ch, p.err()
}

// checkChassisTarget checks a chassis' ovsdb: an active target or
// "passive".
func checkChassisTarget(p *problems, s string) string {
	if s == model.PassiveOVSDB {
		return s
	}
	target, err := checkTarget(s)
	if err != nil {
		p.add("ovsdb", "%s", err)
	}
	return target
}

func checkUnderlayMTU(p *problems, mtu int) int {
	if mtu != 0 && (mtu < 576 || mtu > 65535) {
		p.add("underlay_mtu", "%d: must be between 576 and 65535", mtu)
	}
	return mtu
}

func checkOpenFlowOption(p *problems, v string) string {
	switch v {
	case "", model.OpenFlowAuto, model.OpenFlow15, model.OpenFlow13:
	default:
		p.add("openflow", "%q: must be \"auto\", \"1.5\" or \"1.3\"", v)
	}
	return v
}

func checkDatapathType(p *problems, dt string) string {
	switch dt {
	case "", "system", "netdev":
	default:
		p.add("datapath_type", "%q: must be \"system\" or \"netdev\"", dt)
	}
	return dt
}

// checkEncaps checks a non-nil encaps list; empty says what to do instead.
func checkEncaps(p *problems, encaps []string, empty string) []string {
	if len(encaps) == 0 {
		p.add("encaps", "must not be empty (%s)", empty)
	}
	for i, e := range encaps {
		switch {
		case e != model.EncapVXLAN && e != model.EncapGRE:
			p.add("encaps", "%q: must be %q or %q", e, model.EncapVXLAN, model.EncapGRE)
		case slices.Contains(encaps[:i], e):
			p.add("encaps", "%q listed twice", e)
		}
	}
	return encaps
}

// chassisPatchBody is the body of PATCH /v1/chassis/{name} as decoded:
// the patch and the fields that cannot change, so that a client sending
// one is told why rather than "unknown field".
type chassisPatchBody struct {
	api.ChassisPatch
	Name   json.RawMessage `json:"name"`
	Bridge json.RawMessage `json:"bridge"`
	Kind   json.RawMessage `json:"kind"`
}

// checkChassisPatch checks the body of PATCH /v1/chassis/{name}.
func checkChassisPatch(b *chassisPatchBody) (nbdb.ChassisChange, error) {
	var p problems
	// What to do instead of changing a field that cannot change.
	for _, f := range []struct {
		name  string
		given json.RawMessage
		why   string
	}{
		{"name", b.Name, "register the chassis again under the new name and delete the old one"},
		{"bridge", b.Bridge, "ferry's flows and tunnels are on the bridge: register the chassis again with the new bridge"},
		{"kind", b.Kind, "the kind decides how VIFs are found: register the chassis again with the new kind"},
	} {
		if f.given != nil {
			p.add(f.name, "cannot be changed (%s)", f.why)
		}
	}
	r := &b.ChassisPatch
	if *r == (api.ChassisPatch{}) && b.Name == nil && b.Bridge == nil && b.Kind == nil {
		p.add("request body", "names no field to change (ovsdb, tunnel_ip, encaps, underlay_mtu, datapath_type, openflow_peers, openflow, relay)")
	}
	var c nbdb.ChassisChange
	if r.OVSDB != nil {
		t := checkChassisTarget(&p, *r.OVSDB)
		c.OVSDB = &t
	}
	if r.TunnelIP != nil {
		if ip, err := checkTunnelIP(*r.TunnelIP); err != nil {
			p.add("tunnel_ip", "%s", err)
		} else {
			c.TunnelIP = ip
		}
	}
	if r.Encaps != nil {
		c.Encaps = checkEncaps(&p, *r.Encaps, "a chassis needs at least one of vxlan and gre")
	}
	if r.UnderlayMTU != nil {
		mtu := checkUnderlayMTU(&p, *r.UnderlayMTU)
		c.UnderlayMTU = &mtu
	}
	if r.DatapathType != nil {
		dt := checkDatapathType(&p, *r.DatapathType)
		c.DatapathType = &dt
	}
	if r.OpenFlowPeers != nil {
		peers := checkOpenFlowPeers(&p, *r.OpenFlowPeers)
		c.OpenFlowPeers = &peers
	}
	if r.OpenFlow != nil {
		v := checkOpenFlowOption(&p, *r.OpenFlow)
		c.OpenFlow = &v
	}
	c.Relay = r.Relay
	return c, p.err()
}

// maxOpenFlowPeers bounds a chassis' openflow_peers: a few addresses of
// one host, not a network.
const maxOpenFlowPeers = 32

// checkOpenFlowPeers accepts the extra addresses a chassis' bridge may
// connect from: unicast IPv4 or IPv6 addresses (loopback included, for a
// bridge on ferryd's host), each once; they come back sorted and
// canonical.
func checkOpenFlowPeers(p *problems, in []string) []netip.Addr {
	if len(in) > maxOpenFlowPeers {
		p.add("openflow_peers", "%d addresses: at most %d", len(in), maxOpenFlowPeers)
		return nil
	}
	var out []netip.Addr
	for _, s := range in {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			p.add("openflow_peers", "%q: not an IP address", s)
			continue
		}
		a = a.Unmap()
		switch {
		case a.IsUnspecified() || a.Is4() && thisNetwork.Contains(a):
			p.add("openflow_peers", "%q: unspecified address", s)
		case a.IsMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
			p.add("openflow_peers", "%q: not a unicast address", s)
		case a.Is4() && classE.Contains(a):
			p.add("openflow_peers", "%q: reserved (class E) address", s)
		case slices.Contains(out, a):
			p.add("openflow_peers", "%q listed twice", s)
		default:
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// checkTarget accepts the active OVSDB targets ferry dials, with an IP
// address (not a host name: a chassis' management address should not
// depend on DNS), and returns the target in canonical form.
func checkTarget(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("required (tcp:IP:PORT, ssl:IP:PORT, unix:PATH or \"passive\")")
	}
	t, err := ovsdb.ParseTarget(s)
	if err != nil {
		return "", fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "ovsdb: "))
	}
	switch t.Scheme {
	case ovsdb.TCP, ovsdb.SSL:
		a, err := netip.ParseAddr(t.Host)
		if err != nil {
			return "", fmt.Errorf("%q: %q is not an IP address", s, t.Host)
		}
		t.Host = a.String() // canonical, so that duplicates are found
	case ovsdb.Unix:
		if !path.IsAbs(t.Path) {
			return "", fmt.Errorf("%q: the socket path must be absolute", s)
		}
		if _, err := t.Endpoint(); err != nil {
			return "", fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "ovsdb: "))
		}
	default:
		return "", fmt.Errorf("%q: passive target; give the address ferry dials (tcp:IP:PORT, ssl:IP:PORT or unix:PATH)", s)
	}
	return t.String(), nil
}

// checkTunnelIP accepts unicast IPv4 addresses only: hardware VTEPs speak
// vxlan_over_ipv4 and nothing else, and every chassis must be able to
// tunnel to every VTEP.
func checkTunnelIP(s string) (net.IP, error) {
	if s == "" {
		return nil, fmt.Errorf("required")
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return nil, fmt.Errorf("%q: not an IP address", s)
	}
	if !a.Is4() {
		return nil, fmt.Errorf("%q: must be an IPv4 address (hardware_vtep speaks vxlan_over_ipv4 only)", s)
	}
	if why := unreachable(a); why != "" {
		return nil, fmt.Errorf("%q: %s; must be a unicast address other hosts can reach", s, why)
	}
	b := a.As4()
	return net.IPv4(b[0], b[1], b[2], b[3]).To4(), nil
}

// Addresses no tunnel endpoint can have.
var (
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")   // RFC 791: "this host on this network"
	classE      = netip.MustParsePrefix("240.0.0.0/4") // RFC 1112: reserved, including 255.255.255.255
)

// unreachable says why other hosts cannot send tunnel packets to a, or ""
// when they can.
func unreachable(a netip.Addr) string {
	switch {
	case a.IsUnspecified() || thisNetwork.Contains(a):
		return "unspecified address"
	case a.IsLoopback():
		return "loopback address"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast address"
	case a.IsMulticast():
		return "multicast address"
	case classE.Contains(a):
		return "reserved (class E) address"
	case a.IsLinkLocalUnicast():
		// 169.254/16, fe80::/10: not routed, so not across the
		// routed underlays ferry spans.
		return "link-local address"
	}
	return ""
}

// checkTLSTarget adds to err (a request's problems, or nil) a complaint
// about an ssl: target when ferryd has no TLS configuration: the device
// loop could never connect.
func (s *server) checkTLSTarget(err error, target string) error {
	if !s.opts.noTLS || !strings.HasPrefix(target, string(ovsdb.SSL)+":") {
		return err
	}
	msg := fmt.Sprintf("ovsdb: %q: ferryd has no TLS configuration (start it with --private-key, --certificate and --ca-cert), use tcp: or unix:", target)
	var he *httpError
	if errors.As(err, &he) && he.code == http.StatusBadRequest {
		return &httpError{code: http.StatusBadRequest, msg: he.msg + "; " + msg}
	}
	if err != nil {
		return err
	}
	return &httpError{code: http.StatusBadRequest, msg: msg}
}
