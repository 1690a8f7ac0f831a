package realize

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/fakeof"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow"
)

func boolp(b bool) *bool { return &b }

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// secLab is one chassis carrying blue (VNI 1001) with five ports: a with
// addresses (ofport 1), b with its MAC only (2), c without port security
// (3), d secured but without any MAC (4), e the one that receives (5).
func secLab() (*model.Snapshot, map[string][]hypervisor.VIF) {
	snap := &model.Snapshot{Generation: 3, Chassis: []model.Chassis{{Name: "hv1", TunnelIP: net.IPv4(198, 18, 1, 11).To4(),
		Bridge: "br-int", Kind: model.KindKVM, Encaps: []string{"vxlan"}}}}
	snap.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: 2, Ports: []model.Port{
		{Switch: "blue", Name: "a", IfaceID: "a", IPs: addrs("198.18.100.1", "2001:db8::1")},
		{Switch: "blue", Name: "b", IfaceID: "b"},
		{Switch: "blue", Name: "c", IfaceID: "c", PortSecurity: boolp(false)},
		{Switch: "blue", Name: "d", IfaceID: "d", PortSecurity: boolp(true)},
		{Switch: "blue", Name: "e", IfaceID: "e"},
	}}}
	obs := map[string][]hypervisor.VIF{"hv1": {
		{Name: "vnet0", IfaceID: "a", MAC: mac("02:00:00:00:00:0a"), Active: true, OFPort: 1},
		{Name: "vnet1", IfaceID: "b", MAC: mac("02:00:00:00:00:0b"), Active: true, OFPort: 2},
		{Name: "vnet2", IfaceID: "c", MAC: mac("02:00:00:00:00:0c"), Active: true, OFPort: 3},
		{Name: "vnet3", IfaceID: "d", Active: true, OFPort: 4},
		{Name: "vnet4", IfaceID: "e", MAC: mac("02:00:00:00:00:0e"), Active: true, OFPort: 5},
	}}
	return snap, obs
}

func secState(t *testing.T) ChassisState {
	t.Helper()
	snap, obs := secLab()
	return DesiredChassis(ChassisInputs{Snapshot: snap, Bindings: Bind(snap, obs), Chassis: snap.Chassis[0]})
}

// What port security lets out of a VIF, and what it drops and counts on the
// switch's table-3 flow: a frame passes if it reaches port e (ofport 5).
func TestPortSecurityFrames(t *testing.T) {
	st := secState(t)
	bcast := mac("ff:ff:ff:ff:ff:ff")
	ownA, ownB, other := mac("02:00:00:00:00:0a"), mac("02:00:00:00:00:0b"), mac("02:00:00:00:00:99")
	llaA := LinkLocal(ownA)
	ip4 := func(src, dst string) fakeof.Packet {
		return fakeof.Packet{EthSrc: ownA, EthDst: bcast, EthType: openflow.EthIPv4, IPSrc: netip.MustParseAddr(src), IPDst: netip.MustParseAddr(dst)}
	}
	arp := func(sha net.HardwareAddr, spa string) fakeof.Packet {
		return fakeof.Packet{EthSrc: ownA, EthDst: bcast, EthType: openflow.EthARP, ARPSHA: sha, ARPSPA: netip.MustParseAddr(spa)}
	}
	icmp6 := func(src netip.Addr, typ uint8) fakeof.Packet {
		return fakeof.Packet{EthSrc: ownA, EthDst: bcast, EthType: openflow.EthIPv6, IPProto: openflow.IPProtoICMPv6,
			IPSrc: src, IPDst: netip.MustParseAddr("ff02::1"), ICMPType: typ}
	}
	na := func(target string, tll net.HardwareAddr) fakeof.Packet {
		p := icmp6(llaA, 136)
		p.NDTarget, p.NDTLL = netip.MustParseAddr(target), tll
		return p
	}
	ns := func(src netip.Addr, sll net.HardwareAddr) fakeof.Packet {
		p := icmp6(src, 135)
		p.NDTarget, p.NDSLL = netip.MustParseAddr("2001:db8::1"), sll
		return p
	}
	dhcp := ip4("0.0.0.0", "255.255.255.255")
	dhcp.IPProto, dhcp.UDPSrc, dhcp.UDPDst = openflow.IPProtoUDP, 68, 67
	notDHCP := dhcp
	notDHCP.UDPDst = 53
	fromOther := func(p fakeof.Packet) fakeof.Packet { p.EthSrc = other; return p }
	from := func(port uint32, p fakeof.Packet) fakeof.Packet { p.InPort = port; return p }

	cases := []struct {
		name string
		p    fakeof.Packet
		pass bool
	}{
		{"a: IPv4 from its address", from(1, ip4("198.18.100.1", "198.18.100.5")), true},
		{"a: IPv4 from another VM's address", from(1, ip4("198.18.100.2", "198.18.100.5")), false},
		{"a: anything from another MAC", from(1, fromOther(ip4("198.18.100.1", "198.18.100.5"))), false},
		{"a: ARP for its address", from(1, arp(ownA, "198.18.100.1")), true},
		{"a: ARP claiming another VM's address", from(1, arp(ownA, "198.18.100.2")), false},
		{"a: ARP with another sender MAC", from(1, arp(other, "198.18.100.1")), false},
		{"a: ARP probe", from(1, arp(ownA, "0.0.0.0")), true},
		{"a: DHCP discover", from(1, dhcp), true},
		{"a: other UDP from 0.0.0.0", from(1, notDHCP), false},
		// With two VLAN tags (more than OVS's default vlan-limit parses)
		// dl_type is the inner TPID and the spoofed ARP behind it unseen.
		{"a: double-tagged frame", from(1, fakeof.Packet{EthSrc: ownA, EthDst: bcast, EthType: openflow.EthVLAN}), false},
		{"a: 802.1ad-tagged frame", from(1, fakeof.Packet{EthSrc: ownA, EthDst: bcast, EthType: openflow.EthQinQ}), false},
		{"a: IPv6 from its link-local address", from(1, icmp6(llaA, 128)), true},
		{"a: IPv6 from its address", from(1, icmp6(netip.MustParseAddr("2001:db8::1"), 128)), true},
		{"a: IPv6 from another address", from(1, icmp6(netip.MustParseAddr("2001:db8::2"), 128)), false},
		{"a: NA for its address", from(1, na("2001:db8::1", ownA)), true},
		{"a: NA for its link-local address, no option", from(1, na(llaA.String(), nil)), true},
		{"a: NA for another address", from(1, na("2001:db8::2", ownA)), false},
		{"a: NA naming another MAC", from(1, na("2001:db8::1", other)), false},
		{"a: DAD from ::", from(1, ns(netip.IPv6Unspecified(), nil)), true},
		{"a: MLDv2 report from ::", from(1, icmp6(netip.IPv6Unspecified(), 143)), true},
		{"a: other ICMPv6 from ::", from(1, icmp6(netip.IPv6Unspecified(), 128)), false},
		{"a: NS naming another MAC", from(1, ns(llaA, other)), false},
		{"a: NS naming its MAC", from(1, ns(llaA, ownA)), true},
		{"a: LLDP from its MAC", from(1, fakeof.Packet{EthSrc: ownA, EthDst: bcast, EthType: 0x88cc}), true},
		{"a: LLDP from another MAC", from(1, fakeof.Packet{EthSrc: other, EthDst: bcast, EthType: 0x88cc}), false},
		{"b: IPv4 from any address", from(2, fakeof.Packet{EthSrc: ownB, EthDst: bcast, EthType: openflow.EthIPv4,
			IPSrc: netip.MustParseAddr("198.18.100.1")}), true},
		{"b: ARP claiming any address", from(2, fakeof.Packet{EthSrc: ownB, EthDst: bcast, EthType: openflow.EthARP,
			ARPSHA: ownB, ARPSPA: netip.MustParseAddr("198.18.100.1")}), true},
		{"b: another MAC", from(2, fromOther(ip4("198.18.100.1", "198.18.100.5"))), false},
		{"c: no port security, another MAC", from(3, fromOther(arp(other, "198.18.100.1"))), true},
		{"d: secured without a MAC", from(4, ip4("198.18.100.4", "198.18.100.5")), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tbl := fakeof.New(st.Flows, st.Groups)
			emits, err := tbl.Process(c.p)
			if err != nil {
				t.Fatal(err)
			}
			passed := slices.ContainsFunc(emits, func(e fakeof.Emit) bool { return e.Port == 5 })
			dropped := tbl.Packets(SpoofedRef(1001))
			if passed != c.pass || dropped != map[bool]int{true: 0, false: 1}[c.pass] {
				t.Fatalf("reached e: %v, counted as spoofed: %d; want passed %v (emits %v)", passed, dropped, c.pass, emits)
			}
		})
	}
}

// The pipeline of secLab, flow by flow.
func TestGoldenPortSecurity(t *testing.T) {
	st := secState(t)
	var lines []string
	for _, f := range st.Flows {
		if f.Table < openflow.TableL2 {
			lines = append(lines, f.String())
		}
	}
	want := strings.TrimSpace(`
table=0, priority=100,in_port=1 actions=set_field:0x3e9->tun_id,write_metadata:0x1,goto_table:1
table=0, priority=100,in_port=2 actions=set_field:0x3e9->tun_id,write_metadata:0x1,goto_table:1
table=0, priority=100,in_port=3 actions=set_field:0x3e9->tun_id,write_metadata:0x1,goto_table:10
table=0, priority=100,in_port=4 actions=set_field:0x3e9->tun_id,write_metadata:0x1,goto_table:1
table=0, priority=100,in_port=5 actions=set_field:0x3e9->tun_id,write_metadata:0x1,goto_table:1
table=0, priority=100,in_port=CONTROLLER,dl_src=02:66:65:72:72:79,dl_type=0x88b5 actions=write_metadata:0x1,goto_table:10
table=0, priority=0 actions=drop
table=1, priority=100,arp,in_port=1,dl_src=02:00:00:00:00:0a,arp_spa=0.0.0.0,arp_sha=02:00:00:00:00:0a actions=goto_table:10
table=1, priority=100,arp,in_port=1,dl_src=02:00:00:00:00:0a,arp_spa=198.18.100.1,arp_sha=02:00:00:00:00:0a actions=goto_table:10
table=1, priority=100,icmp6,in_port=1,dl_src=02:00:00:00:00:0a,ipv6_src=::,ipv6_dst=ff02::/16,icmp_type=131 actions=goto_table:2
table=1, priority=100,icmp6,in_port=1,dl_src=02:00:00:00:00:0a,ipv6_src=::,ipv6_dst=ff02::/16,icmp_type=135 actions=goto_table:2
table=1, priority=100,icmp6,in_port=1,dl_src=02:00:00:00:00:0a,ipv6_src=::,ipv6_dst=ff02::/16,icmp_type=143 actions=goto_table:2
table=1, priority=100,in_port=2,dl_src=02:00:00:00:00:0b actions=goto_table:10
table=1, priority=100,in_port=5,dl_src=02:00:00:00:00:0e actions=goto_table:10
table=1, priority=100,ip,in_port=1,dl_src=02:00:00:00:00:0a,nw_src=198.18.100.1 actions=goto_table:10
table=1, priority=100,ipv6,in_port=1,dl_src=02:00:00:00:00:0a,ipv6_src=2001:db8::1 actions=goto_table:2
table=1, priority=100,ipv6,in_port=1,dl_src=02:00:00:00:00:0a,ipv6_src=fe80::ff:fe00:a actions=goto_table:2
table=1, priority=100,udp,in_port=1,dl_src=02:00:00:00:00:0a,nw_src=0.0.0.0,nw_dst=255.255.255.255,tp_src=68,tp_dst=67 actions=goto_table:10
table=1, priority=50,arp,tun_id=0x3e9 actions=goto_table:3
table=1, priority=50,ip,tun_id=0x3e9 actions=goto_table:3
table=1, priority=50,ipv6,tun_id=0x3e9 actions=goto_table:3
table=1, priority=50,tun_id=0x3e9,dl_type=0x8100 actions=goto_table:3
table=1, priority=50,tun_id=0x3e9,dl_type=0x88a8 actions=goto_table:3
table=1, priority=40,in_port=1,dl_src=02:00:00:00:00:0a actions=goto_table:10
table=1, priority=10,tun_id=0x3e9 actions=goto_table:3
table=2, priority=100,icmp6,in_port=1,icmp_type=135,icmp_code=0,nd_sll=00:00:00:00:00:00 actions=goto_table:10
table=2, priority=100,icmp6,in_port=1,icmp_type=135,icmp_code=0,nd_sll=02:00:00:00:00:0a actions=goto_table:10
table=2, priority=100,icmp6,in_port=1,icmp_type=136,icmp_code=0,nd_target=2001:db8::1,nd_tll=00:00:00:00:00:00 actions=goto_table:10
table=2, priority=100,icmp6,in_port=1,icmp_type=136,icmp_code=0,nd_target=2001:db8::1,nd_tll=02:00:00:00:00:0a actions=goto_table:10
table=2, priority=100,icmp6,in_port=1,icmp_type=136,icmp_code=0,nd_target=fe80::ff:fe00:a,nd_tll=00:00:00:00:00:00 actions=goto_table:10
table=2, priority=100,icmp6,in_port=1,icmp_type=136,icmp_code=0,nd_target=fe80::ff:fe00:a,nd_tll=02:00:00:00:00:0a actions=goto_table:10
table=2, priority=50,icmp6,tun_id=0x3e9,icmp_type=135 actions=goto_table:3
table=2, priority=50,icmp6,tun_id=0x3e9,icmp_type=136 actions=goto_table:3
table=2, priority=10,tun_id=0x3e9 actions=goto_table:10
table=3, priority=100,tun_id=0x3e9 actions=drop`)
	if got := strings.Join(lines, "\n"); got != want {
		t.Fatalf("classify stage:\n%s\nwant:\n%s", got, want)
	}
}

// The link-local address is the modified EUI-64 one Linux derives.
func TestLinkLocal(t *testing.T) {
	if got := LinkLocal(mac("52:54:00:12:34:56")); got != netip.MustParseAddr("fe80::5054:ff:fe12:3456") {
		t.Fatalf("LinkLocal = %s", got)
	}
}
