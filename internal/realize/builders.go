package realize

import (
	"net"
	"net/netip"
	"slices"

	"github.com/ferry-sdn/ferry/openflow"
)

// The flow builders: one small function per kind of flow of the pipeline
// (openflow/pipeline.go declares tables, marks and priorities;
// docs/pipeline.md names the builder of every row). Each returns the flows
// of one switch; none knows about any other switch.

var (
	gotoL2           = openflow.TableL2
	gotoPortSecurity = openflow.TablePortSecurity
	gotoND           = openflow.TableND
	gotoSpoofed      = openflow.TableSpoofed
)

// tableMissDrops are the bridge-wide flows: every table drops what nothing
// else matched, declared rather than implied so that dump-flows shows the
// whole pipeline. The port-security tables need none: only secured ports'
// frames enter them, and each switch with such a port ends them
// (switchSecurity).
func tableMissDrops() []openflow.Flow {
	return []openflow.Flow{
		{Table: openflow.TableClassify, Priority: openflow.PriorityDrop},
		{Table: openflow.TableL2, Priority: openflow.PriorityDrop},
	}
}

// probeFlows are the bridge-wide flows of the data-plane probes: a probe
// ferry injects (in_port CONTROLLER, the switch's tun_id set by the
// packet-out) enters the L2 lookup as a local frame, so it takes the same
// unicast flow a VM's frame would; one no such flow sends on is dropped;
// one arriving from a tunnel is punted to the controller.
func probeFlows() []openflow.Flow {
	probe := &openflow.Proto{EthType: openflow.EthProbe}
	return []openflow.Flow{{
		Table: openflow.TableClassify, Priority: openflow.PriorityExact,
		Match:         openflow.Match{InPort: openflow.PortController, EthSrc: openflow.ProbeMAC, Proto: probe},
		WriteMetadata: &openflow.Metadata{Value: openflow.MetaFromLocal, Mask: ^uint64(0)},
		GotoTable:     &gotoL2,
	}, {
		Table: openflow.TableL2, Priority: openflow.PriorityProbe,
		Match:   openflow.Match{HasMetadata: true, Metadata: openflow.MetaFromTunnel, EthSrc: openflow.ProbeMAC, Proto: probe},
		Actions: []openflow.Action{openflow.Controller{MaxLen: 65535}},
	}, {
		// From a VTEP this chassis replicates for.
		Table: openflow.TableL2, Priority: openflow.PriorityProbe,
		Match:   openflow.Match{HasMetadata: true, Metadata: openflow.MetaFromReplicated, EthSrc: openflow.ProbeMAC, Proto: probe},
		Actions: []openflow.Action{openflow.Controller{MaxLen: 65535}},
	}, {
		Table: openflow.TableL2, Priority: openflow.PriorityProbeHold,
		Match: openflow.Match{HasMetadata: true, Metadata: openflow.MetaFromLocal, EthSrc: openflow.ProbeMAC, Proto: probe},
	}}
}

// bridgeFlows are the flows of the bridge as a whole, not of a switch.
func bridgeFlows() []openflow.Flow { return append(tableMissDrops(), probeFlows()...) }

// vifClassify puts a frame from a local VIF on its switch, marked as
// local, and hands it on: to port security when the port has it (secured),
// else straight to the L2 lookup.
func vifClassify(vni uint64, ofport uint32, secured bool) openflow.Flow {
	next := &gotoL2
	if secured {
		next = &gotoPortSecurity
	}
	return openflow.Flow{
		Table: openflow.TableClassify, Priority: openflow.PriorityExact,
		Match:         openflow.Match{InPort: ofport},
		Actions:       []openflow.Action{openflow.SetTunnelID{ID: vni}},
		WriteMetadata: &openflow.Metadata{Value: openflow.MetaFromLocal, Mask: ^uint64(0)},
		GotoTable:     next,
	}
}

// Addresses port security lets through without the port listing them:
// they claim nothing (RFC 5227 ARP probes, DHCP discover and request,
// duplicate address detection and MLD reports before an address is
// configured).
var (
	unspecified4 = netip.IPv4Unspecified()
	unspecified6 = netip.IPv6Unspecified()
	broadcast4   = netip.PrefixFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), 32)
	allNodes6    = netip.MustParsePrefix("ff02::/16")
	noLinkLayer  = net.HardwareAddr{0, 0, 0, 0, 0, 0}
)

// ICMPv6 types port security looks at.
const (
	icmp6MLDReport   = 131
	icmp6NS          = 135
	icmp6NA          = 136
	icmp6MLDv2Report = 143
	dhcpClient       = 68
	dhcpServer       = 67
)

// portSecurity passes the frames a secured port's VIF (ofport) may send:
// from its MAC and, when it lists ips, ARP whose sender is the port (an
// address of ips, or 0.0.0.0 for a probe), IPv4 from ips (or DHCP from
// 0.0.0.0 to broadcast), IPv6 from ips or the link-local address derived
// from the MAC (or DAD and MLD from ::), and in TableND neighbour
// solicitations and advertisements that name only the port's link-layer
// address and addresses. Without a MAC it passes nothing.
func portSecurity(ofport uint32, mac net.HardwareAddr, ips []netip.Addr) []openflow.Flow {
	if mac == nil {
		return nil
	}
	const t1, t2, exact = openflow.TablePortSecurity, openflow.TableND, openflow.PriorityExact
	pass := func(table uint8, priority uint16, p *openflow.Proto, next *uint8) openflow.Flow {
		m := openflow.Match{InPort: ofport, Proto: p}
		if table == t1 {
			m.EthSrc = mac
		}
		return openflow.Flow{Table: table, Priority: priority, Match: m, GotoTable: next}
	}
	if len(ips) == 0 {
		return []openflow.Flow{pass(t1, exact, nil, &gotoL2)}
	}
	var v4, v6 []netip.Addr
	for _, a := range ips {
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	if lla := LinkLocal(mac); !slices.Contains(v6, lla) {
		v6 = append(v6, lla)
	}
	flows := make([]openflow.Flow, 0, 2*len(v4)+3*len(v6)+10)
	for _, a := range append([]netip.Addr{unspecified4}, v4...) {
		flows = append(flows, pass(t1, exact, &openflow.Proto{EthType: openflow.EthARP, ARPSPA: a, ARPSHA: mac}, &gotoL2))
	}
	for _, a := range v4 {
		flows = append(flows, pass(t1, exact, &openflow.Proto{EthType: openflow.EthIPv4, IPSrc: a}, &gotoL2))
	}
	flows = append(flows, pass(t1, exact, &openflow.Proto{EthType: openflow.EthIPv4, IPProto: openflow.IPProtoUDP,
		IPSrc: unspecified4, IPDst: broadcast4, UDPSrc: dhcpClient, UDPDst: dhcpServer}, &gotoL2))
	for _, a := range v6 {
		flows = append(flows, pass(t1, exact, &openflow.Proto{EthType: openflow.EthIPv6, IPSrc: a}, &gotoND))
	}
	for _, typ := range []uint8{icmp6MLDReport, icmp6NS, icmp6MLDv2Report} {
		p := icmp6(typ)
		p.IPSrc, p.IPDst = unspecified6, allNodes6
		flows = append(flows, pass(t1, exact, p, &gotoND))
	}
	flows = append(flows, pass(t1, openflow.PriorityOther, nil, &gotoL2))
	for _, ll := range []net.HardwareAddr{noLinkLayer, mac} {
		p := icmp6(icmp6NS)
		p.HasICMPCode, p.NDSLL = true, ll
		flows = append(flows, pass(t2, exact, p, &gotoL2))
	}
	for _, a := range v6 {
		for _, ll := range []net.HardwareAddr{noLinkLayer, mac} {
			p := icmp6(icmp6NA)
			p.HasICMPCode, p.NDTarget, p.NDTLL = true, a, ll
			flows = append(flows, pass(t2, exact, p, &gotoL2))
		}
	}
	return flows
}

// icmp6 matches ICMPv6 messages of one type.
func icmp6(typ uint8) *openflow.Proto {
	return &openflow.Proto{EthType: openflow.EthIPv6, IPProto: openflow.IPProtoICMPv6, HasICMPType: true, ICMPType: typ}
}

// switchSecurity ends the port-security tables for a switch with secured
// ports here: what no port's flow passed goes to TableSpoofed, whose one
// flow per switch drops it and counts it. withIPs adds the guards for
// ports that list addresses: their ARP, IPv4, IPv6, ND and frames with
// stacked VLAN tags that no port flow passed are spoofed, and IPv6 that is not ND goes on to the L2
// lookup.
func switchSecurity(vni uint64, withIPs bool) []openflow.Flow {
	on := func(table uint8, priority uint16, p *openflow.Proto, next *uint8) openflow.Flow {
		return openflow.Flow{Table: table, Priority: priority, Match: openflow.Match{HasTunID: true, TunID: vni, Proto: p}, GotoTable: next}
	}
	flows := []openflow.Flow{on(openflow.TablePortSecurity, openflow.PrioritySwitch, nil, &gotoSpoofed), spoofedDrop(vni)}
	if !withIPs {
		return flows
	}
	// Stacked VLAN tags hide the inner ARP or IP header from the match
	// (OVN drops tagged frames from VIFs too): spoofed as well.
	for _, et := range []uint16{openflow.EthARP, openflow.EthIPv4, openflow.EthIPv6, openflow.EthVLAN, openflow.EthQinQ} {
		flows = append(flows, on(openflow.TablePortSecurity, openflow.PriorityGuard, &openflow.Proto{EthType: et}, &gotoSpoofed))
	}
	for _, typ := range []uint8{icmp6NS, icmp6NA} {
		flows = append(flows, on(openflow.TableND, openflow.PriorityGuard, icmp6(typ), &gotoSpoofed))
	}
	return append(flows, on(openflow.TableND, openflow.PrioritySwitch, nil, &gotoL2))
}

// spoofedDrop drops (and counts) what port security refused on a switch.
func spoofedDrop(vni uint64) openflow.Flow {
	return openflow.Flow{Table: openflow.TableSpoofed, Priority: openflow.PriorityExact,
		Match: openflow.Match{HasTunID: true, TunID: vni}}
}

// SpoofedRef is the reference of a switch's flow in TableSpoofed, whose
// packet count is what port security dropped on the switch there.
func SpoofedRef(vni uint32) openflow.FlowRef { return spoofedDrop(uint64(vni)).Ref() }

// LinkLocal is the IPv6 link-local address a host derives from its MAC
// (modified EUI-64, RFC 4291 appendix A), which port security allows
// without the port listing it.
func LinkLocal(mac net.HardwareAddr) netip.Addr {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	b[8], b[9], b[10], b[11] = mac[0]^2, mac[1], mac[2], 0xff
	b[12], b[13], b[14], b[15] = 0xfe, mac[3], mac[4], mac[5]
	return netip.AddrFrom16(b)
}

// tunnelClassify accepts the switch's frames from a tunnel port, marked
// with where they came from (a tunnel, or a VTEP this chassis replicates
// for).
func tunnelClassify(vni uint64, ofport uint32, mark uint64) openflow.Flow {
	return openflow.Flow{
		Table: openflow.TableClassify, Priority: openflow.PriorityExact,
		Match:         openflow.Match{InPort: ofport, HasTunID: true, TunID: vni},
		WriteMetadata: &openflow.Metadata{Value: mark, Mask: ^uint64(0)},
		GotoTable:     &gotoL2,
	}
}

// localMAC delivers the switch's frames for a local VIF's MAC, from
// anywhere.
func localMAC(vni uint64, mac []byte, ofport uint32) openflow.Flow {
	return openflow.Flow{
		Table: openflow.TableL2, Priority: openflow.PriorityExact,
		Match:   openflow.Match{HasTunID: true, TunID: vni, EthDst: mac},
		Actions: []openflow.Action{openflow.Output{Port: ofport}},
	}
}

// remoteMAC sends local frames for a MAC behind a tunnel into that tunnel,
// and drops frames for it that arrive from a tunnel: they were
// misdirected, and flooding them to local VIFs (or sending them back into
// a tunnel) would be wrong.
func remoteMAC(vni uint64, mac []byte, tunnel uint32) []openflow.Flow {
	return []openflow.Flow{{
		Table: openflow.TableL2, Priority: openflow.PriorityExact,
		Match:   openflow.Match{HasTunID: true, TunID: vni, HasMetadata: true, Metadata: openflow.MetaFromLocal, EthDst: mac},
		Actions: []openflow.Action{openflow.Output{Port: tunnel}},
	}, {
		Table: openflow.TableL2, Priority: openflow.PriorityExact,
		Match: openflow.Match{HasTunID: true, TunID: vni, HasMetadata: true, Metadata: openflow.MetaFromTunnel, EthDst: mac},
	}}
}

// floodFlow hands the switch's frames with a direction mark that no exact
// flow matched (broadcast, multicast, unknown unicast) to a flood group.
func floodFlow(vni uint64, mark uint64, group uint32) openflow.Flow {
	return openflow.Flow{
		Table: openflow.TableL2, Priority: openflow.PriorityFlood,
		Match:   openflow.Match{HasTunID: true, TunID: vni, HasMetadata: true, Metadata: mark},
		Actions: []openflow.Action{openflow.Group{ID: group}},
	}
}

// floodGroups are the switch's two flood groups (head-end replication):
// from local VIFs to the other local VIFs and every remote endpoint, from
// tunnels to local VIFs only (split horizon).
func floodGroups(vni uint32, local []uint32, tunnels []uint32) []openflow.GroupEntry {
	fromLocal, fromTunnel := openflow.FloodGroups(vni)
	localBuckets := make([][]openflow.Action, 0, len(local)+len(tunnels))
	for _, p := range local {
		localBuckets = append(localBuckets, []openflow.Action{openflow.Output{Port: p}})
	}
	all := slices.Clone(localBuckets)
	for _, p := range tunnels {
		all = append(all, []openflow.Action{openflow.Output{Port: p}})
	}
	return []openflow.GroupEntry{{ID: fromLocal, Buckets: all}, {ID: fromTunnel, Buckets: localBuckets}}
}

// relayedMAC forwards, on a relay, a switch's frames for a MAC of an
// endpoint that the ingress tunnel's endpoint cannot reach directly.
// mark is what the ingress tunnel's classify flow wrote.
func relayedMAC(vni, mark uint64, in uint32, mac []byte, out uint32) openflow.Flow {
	return openflow.Flow{
		Table: openflow.TableL2, Priority: openflow.PriorityExact,
		Match:   openflow.Match{InPort: in, HasTunID: true, TunID: vni, HasMetadata: true, Metadata: mark, EthDst: mac},
		Actions: []openflow.Action{openflow.Output{Port: out}},
	}
}

// relayedFlood floods, on a relay, a switch's BUM from an endpoint it
// forwards for: to the local VIFs (the from-tunnel group, when the relay
// carries the switch) and once to every endpoint that one cannot reach.
func relayedFlood(vni uint64, in uint32, outs []openflow.Action) openflow.Flow {
	return openflow.Flow{
		Table: openflow.TableL2, Priority: openflow.PriorityFlood,
		Match:   openflow.Match{InPort: in, HasTunID: true, TunID: vni, HasMetadata: true, Metadata: openflow.MetaFromRelayed},
		Actions: outs,
	}
}
