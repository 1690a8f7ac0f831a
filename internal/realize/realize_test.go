package realize

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/fakeof"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow"
	"github.com/ferry-sdn/ferry/vtep"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// lab mirrors the e2e lab: three chassis on two subnets, two switches with
// overlapping guests.
type vif struct {
	chassis, name, ifaceID, mac string
	ofport                      int
}

func labSnapshot() (*model.Snapshot, map[string][]hypervisor.VIF) {
	snap := &model.Snapshot{Generation: 7}
	for i, name := range []string{"hv1", "hv2", "hv3"} {
		ip := fmt.Sprintf("198.18.%d.1%d", 1+i/2, i+1)
		snap.Chassis = append(snap.Chassis, model.Chassis{Name: name, TunnelIP: net.ParseIP(ip).To4(),
			Bridge: "br-int", Kind: model.KindKVM, Encaps: []string{"vxlan", "gre"}})
	}
	snap.Switches = []model.Switch{
		{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: 5, Ports: []model.Port{
			{Switch: "blue", Name: "a", IfaceID: "blue-a"},
			{Switch: "blue", Name: "b", IfaceID: "blue-b"},
			{Switch: "blue", Name: "c", IfaceID: "blue-c"},
			{Switch: "blue", Name: "d", IfaceID: "blue-d"},
		}},
		{Name: "red", VNI: 1002, Encap: "vxlan", Generation: 6, Ports: []model.Port{
			{Switch: "red", Name: "a", IfaceID: "red-a"},
			{Switch: "red", Name: "b", IfaceID: "red-b", MAC: mac("52:54:00:00:02:0b")},
			{Switch: "red", Name: "unbound", IfaceID: "nowhere"},
		}},
	}
	vifs := []vif{
		{"hv1", "vnet0", "blue-a", "52:54:00:00:01:0a", 1},
		{"hv1", "vnet1", "blue-c", "52:54:00:00:01:0c", 2},
		{"hv3", "vnet0", "blue-b", "52:54:00:00:01:0b", 1},
		{"hv2", "vnet0", "red-a", "52:54:00:00:02:0a", 5},
		{"hv2", "vnet1", "blue-d", "52:54:00:00:01:0d", 6},
		{"hv3", "vnet1", "red-b", "", 2},
		{"hv2", "vnet9", "", "52:54:00:00:09:09", 9}, // not ferry's
	}
	obs := make(map[string][]hypervisor.VIF)
	for _, v := range vifs {
		var m net.HardwareAddr
		if v.mac != "" {
			m = mac(v.mac)
		}
		obs[v.chassis] = append(obs[v.chassis], hypervisor.VIF{Name: v.name, IfaceID: v.ifaceID, MAC: m, Active: true, OFPort: v.ofport})
	}
	return snap, obs
}

type node struct {
	ch      model.Chassis
	st      ChassisState
	table   *fakeof.Table
	vifs    map[uint32]string            // ofport → iface id
	macs    map[uint32]net.HardwareAddr  // ofport → the VIF's MAC
	tunnels map[uint32]hypervisor.Tunnel // ofport → tunnel
	// blocked names the remotes the underlay cannot reach from here.
	blocked map[string]bool
}

type fabric map[string]*node

func buildFabric(t *testing.T, snap *model.Snapshot, obs map[string][]hypervisor.VIF) fabric {
	t.Helper()
	return buildRelayed(t, snap, obs, nil)
}

// buildRelayed builds a fabric whose relayed pairs cannot reach each
// other directly.
func buildRelayed(t *testing.T, snap *model.Snapshot, obs map[string][]hypervisor.VIF, relays Relays) fabric {
	t.Helper()
	b := Bind(snap, obs)
	f := make(fabric)
	for _, ch := range snap.Chassis {
		st := DesiredChassis(ChassisInputs{Snapshot: snap, Bindings: b, Chassis: ch, Controller: "tcp:198.18.255.1:6653", Relays: relays})
		n := &node{ch: ch, st: st, table: fakeof.New(st.Flows, st.Groups), vifs: map[uint32]string{},
			macs: map[uint32]net.HardwareAddr{}, tunnels: map[uint32]hypervisor.Tunnel{}, blocked: map[string]bool{}}
		for p := range relays {
			if p.Has(ch.Name) {
				n.blocked[p.Other(ch.Name)] = true
			}
		}
		for _, ifc := range obs[ch.Name] {
			n.vifs[uint32(ifc.OFPort)] = ifc.IfaceID
			n.macs[uint32(ifc.OFPort)] = ifc.MAC
		}
		for _, tn := range st.Tunnels {
			n.tunnels[uint32(tn.OFPort)] = tn
		}
		f[ch.Name] = n
	}
	return f
}

// send injects a frame from a VIF and returns the iface IDs that receive a
// copy, with repetition (a duplicate is a bug).
func (f fabric) send(t *testing.T, chassis string, ofport uint32, dst string) []string {
	t.Helper()
	var got []string
	var deliver func(n *node, p fakeof.Packet, hops int)
	deliver = func(n *node, p fakeof.Packet, hops int) {
		if hops > 4 {
			t.Fatalf("frame loops between chassis")
		}
		emits, err := n.table.Process(p)
		if err != nil {
			t.Fatalf("%s: %v", n.ch.Name, err)
		}
		for _, e := range emits {
			if id, ok := n.vifs[e.Port]; ok {
				got = append(got, id)
				continue
			}
			tn, ok := n.tunnels[e.Port]
			if !ok {
				t.Fatalf("%s: output to unknown port %d", n.ch.Name, e.Port)
			}
			if n.blocked[tn.Remote] {
				t.Errorf("%s sent a copy into its tunnel to %s, which the underlay drops", n.ch.Name, tn.Remote)
				continue
			}
			remote := f[tn.Remote]
			back := openflow.TunnelName(tn.Type, n.ch.TunnelIP)
			var in uint32
			for port, rt := range remote.tunnels {
				if rt.Name == back {
					in = port
				}
			}
			if in == 0 {
				// The remote has no tunnel back: it does not carry the
				// switch and its bridge drops the frame (no classify flow).
				continue
			}
			deliver(remote, fakeof.Packet{InPort: in, TunID: e.TunID, EthSrc: p.EthSrc, EthDst: p.EthDst}, hops+1)
		}
	}
	deliver(f[chassis], fakeof.Packet{InPort: ofport, EthSrc: f[chassis].macs[ofport], EthDst: mac(dst)}, 0)
	sort.Strings(got)
	return got
}

// delivery is a frame sent from a VIF and the iface IDs that must get it.
type delivery struct {
	name, chassis string
	ofport        uint32
	dst           string
	want          []string
}

// expect sends each frame and checks who received it, once each.
func (f fabric) expect(t *testing.T, ds []delivery) {
	t.Helper()
	for _, c := range ds {
		t.Run(c.name, func(t *testing.T) {
			got := f.send(t, c.chassis, c.ofport, c.dst)
			if !slices.Equal(got, c.want) {
				t.Fatalf("frame to %s from %s/%d reached %v, want %v", c.dst, c.chassis, c.ofport, got, c.want)
			}
		})
	}
}

func TestForwarding(t *testing.T) {
	snap, obs := labSnapshot()
	f := buildFabric(t, snap, obs)
	bcast := "ff:ff:ff:ff:ff:ff"
	f.expect(t, []delivery{
		{"unicast across subnets", "hv1", 1, "52:54:00:00:01:0b", []string{"blue-b"}},
		{"unicast local", "hv1", 1, "52:54:00:00:01:0c", []string{"blue-c"}},
		{"unicast back", "hv3", 1, "52:54:00:00:01:0a", []string{"blue-a"}},
		{"broadcast reaches the switch once each", "hv1", 1, bcast, []string{"blue-b", "blue-c", "blue-d"}},
		{"broadcast from remote", "hv3", 1, bcast, []string{"blue-a", "blue-c", "blue-d"}},
		{"multicast floods", "hv3", 1, "01:00:5e:00:00:01", []string{"blue-a", "blue-c", "blue-d"}},
		{"unknown unicast floods", "hv1", 2, "52:54:00:99:99:99", []string{"blue-a", "blue-b", "blue-d"}},
		{"unicast to third chassis", "hv3", 1, "52:54:00:00:01:0d", []string{"blue-d"}},
		{"red broadcast stays in red", "hv2", 5, bcast, []string{"red-b"}},
		{"red port MAC from the API", "hv2", 5, "52:54:00:00:02:0b", []string{"red-b"}},
		{"blue MAC unreachable from red", "hv2", 5, "52:54:00:00:01:0b", []string{"red-b"}}, // flooded in red only
		{"foreign port drops", "hv2", 9, bcast, nil},
	})
}

// A unicast frame arriving from a tunnel for a MAC that lives on a third
// chassis is dropped: not flooded to local VIFs, not sent on.
func TestMisdirectedFromTunnel(t *testing.T) {
	snap, obs := labSnapshot()
	f := buildFabric(t, snap, obs)
	hv3 := f["hv3"]
	var fromHV1 uint32
	for port, tn := range hv3.tunnels {
		if tn.Remote == "hv1" {
			fromHV1 = port
		}
	}
	emits, err := hv3.table.Process(fakeof.Packet{InPort: fromHV1, TunID: 1001, EthDst: mac("52:54:00:00:01:0d")})
	if err != nil || len(emits) != 0 {
		t.Fatalf("misdirected frame emitted %v (%v)", emits, err)
	}
	emits, _ = hv3.table.Process(fakeof.Packet{InPort: fromHV1, TunID: 1001, EthDst: mac("52:54:00:00:01:0b")})
	if len(emits) != 1 || emits[0].Port != 1 {
		t.Fatalf("frame for blue-b from hv1 emitted %v, want port 1", emits)
	}
	emits, _ = hv3.table.Process(fakeof.Packet{InPort: fromHV1, TunID: 1001, EthDst: mac("52:54:00:99:99:99")})
	if len(emits) != 1 || emits[0].Port != 1 {
		t.Fatalf("unknown unicast from hv1 emitted %v, want the local VIF only", emits)
	}
}

func TestCarriersAndTunnels(t *testing.T) {
	snap, obs := labSnapshot()
	b := Bind(snap, obs)
	blue, _ := snap.Switch("blue")
	if got := b.Carriers(blue); !slices.Equal(got, []string{"hv1", "hv2", "hv3"}) {
		t.Fatalf("blue carriers %v", got)
	}
	f := buildFabric(t, snap, obs)
	var names []string
	for _, tn := range f["hv1"].st.Tunnels {
		names = append(names, fmt.Sprintf("%s:%s->%s@%d", tn.Name, tn.Type, tn.RemoteIP, tn.OFPort))
	}
	// hv1 carries blue only, which hv2 and hv3 carry too.
	if want := []string{"fvxc612010c:vxlan->198.18.1.12@32768", "fvxc612020d:vxlan->198.18.2.13@32769"}; !slices.Equal(names, want) {
		t.Fatalf("hv1 tunnels %v, want %v", names, want)
	}
	if got := f["hv3"].st.Switches; !slices.Equal(got, []string{"blue", "red"}) {
		t.Fatalf("hv3 switches %v", got)
	}
}

func TestGoldenFlows(t *testing.T) {
	snap, obs := labSnapshot()
	f := buildFabric(t, snap, obs)
	var lines []string
	for _, fl := range f["hv1"].st.Flows {
		lines = append(lines, fl.String())
	}
	for _, g := range f["hv1"].st.Groups {
		lines = append(lines, g.String())
	}
	want := strings.TrimSpace(`
table=0, priority=100,in_port=1 actions=set_field:0x3e9->tun_id,write_metadata:0x1,goto_table:1
table=0, priority=100,in_port=2 actions=set_field:0x3e9->tun_id,write_metadata:0x1,goto_table:1
table=0, priority=100,in_port=CONTROLLER,dl_src=02:66:65:72:72:79,dl_type=0x88b5 actions=write_metadata:0x1,goto_table:10
table=0, priority=100,tun_id=0x3e9,in_port=32768 actions=write_metadata:0x2,goto_table:10
table=0, priority=100,tun_id=0x3e9,in_port=32769 actions=write_metadata:0x2,goto_table:10
table=0, priority=0 actions=drop
table=1, priority=100,in_port=1,dl_src=52:54:00:00:01:0a actions=goto_table:10
table=1, priority=100,in_port=2,dl_src=52:54:00:00:01:0c actions=goto_table:10
table=1, priority=10,tun_id=0x3e9 actions=goto_table:3
table=3, priority=100,tun_id=0x3e9 actions=drop
table=10, priority=110,metadata=0x2,dl_src=02:66:65:72:72:79,dl_type=0x88b5 actions=CONTROLLER:65535
table=10, priority=110,metadata=0x3,dl_src=02:66:65:72:72:79,dl_type=0x88b5 actions=CONTROLLER:65535
table=10, priority=100,tun_id=0x3e9,dl_dst=52:54:00:00:01:0a actions=output:1
table=10, priority=100,tun_id=0x3e9,dl_dst=52:54:00:00:01:0c actions=output:2
table=10, priority=100,tun_id=0x3e9,metadata=0x1,dl_dst=52:54:00:00:01:0b actions=output:32769
table=10, priority=100,tun_id=0x3e9,metadata=0x1,dl_dst=52:54:00:00:01:0d actions=output:32768
table=10, priority=100,tun_id=0x3e9,metadata=0x2,dl_dst=52:54:00:00:01:0b actions=drop
table=10, priority=100,tun_id=0x3e9,metadata=0x2,dl_dst=52:54:00:00:01:0d actions=drop
table=10, priority=60,metadata=0x1,dl_src=02:66:65:72:72:79,dl_type=0x88b5 actions=drop
table=10, priority=50,tun_id=0x3e9,metadata=0x1 actions=group:2147485650
table=10, priority=50,tun_id=0x3e9,metadata=0x2 actions=group:2147485651
table=10, priority=0 actions=drop
group_id=2147485650,type=all,bucket=actions=output:1,bucket=actions=output:2,bucket=actions=output:32768,bucket=actions=output:32769
group_id=2147485651,type=all,bucket=actions=output:1,bucket=actions=output:2`)
	if got := strings.Join(lines, "\n"); got != want {
		t.Fatalf("hv1 pipeline:\n%s\nwant:\n%s", got, want)
	}
}

func TestDeletedSwitchLeavesNothing(t *testing.T) {
	snap, obs := labSnapshot()
	snap.Switches = nil
	st := buildFabric(t, snap, obs)["hv1"].st
	if len(st.Tunnels) != 0 || len(st.Groups) != 0 || len(st.Flows) != len(bridgeFlows()) {
		t.Fatalf("empty snapshot still wants %d tunnels, %d groups, flows %v", len(st.Tunnels), len(st.Groups), st.Flows)
	}
}

func TestBindPrefersActiveInterface(t *testing.T) {
	snap, _ := labSnapshot()
	obs := map[string][]hypervisor.VIF{
		"hv1": {{Name: "old", IfaceID: "blue-a", MAC: mac("52:54:00:00:01:0a"), Active: false, OFPort: 3}},
		"hv2": {{Name: "new", IfaceID: "blue-a", MAC: mac("52:54:00:00:01:0a"), Active: true, OFPort: 4}},
		"hv3": {{Name: "down", IfaceID: "blue-b", OFPort: -1}},
	}
	b := Bind(snap, obs)
	if got := b[PortKey{"blue", "a"}]; got.Chassis != "hv2" || got.OFPort != 4 {
		t.Fatalf("blue/a bound to %+v, want hv2:4", got)
	}
	if _, ok := b[PortKey{"blue", "b"}]; ok {
		t.Fatalf("interface without ofport bound")
	}
}

func TestPairEncap(t *testing.T) {
	vx := model.Chassis{Encaps: []string{"vxlan"}}
	both := model.Chassis{Encaps: []string{"vxlan", "gre"}}
	gre := model.Chassis{Encaps: []string{"gre"}}
	sw := model.Switch{Encap: "gre"}
	if got := PairEncap(sw, both, both); got != "gre" {
		t.Fatalf("got %q", got)
	}
	if got := PairEncap(sw, both, vx); got != "vxlan" {
		t.Fatalf("got %q", got)
	}
	if got := PairEncap(sw, vx, gre); got != "" {
		t.Fatalf("got %q", got)
	}
}

var _ = openflow.TableL2

// The VNI limit is one number: the leaf packages that need it cannot share
// a constant, so this keeps the northbound's, the pipeline's and the VTEP's
// equal.
func TestOneVNILimit(t *testing.T) {
	limits := map[string]int{"model.MaxVNI": model.MaxVNI, "openflow.MaxTunnelKey": openflow.MaxTunnelKey, "vtep.MaxTunnelKey": vtep.MaxTunnelKey}
	for name, v := range limits {
		if v != model.MaxVNI {
			t.Errorf("%s = %d, model.MaxVNI = %d", name, v, model.MaxVNI)
		}
	}
}
