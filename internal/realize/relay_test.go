package realize

import (
	"slices"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/fakeof"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow"
	"github.com/ferry-sdn/ferry/vtep"
)

// relayLab is the lab with hv2 as a relay and a third switch, green,
// carried by hv1 and hv3 only.
func relayLab() (*model.Snapshot, map[string][]hypervisor.VIF) {
	snap, obs := labSnapshot()
	snap.Chassis[1].Relay = true
	snap.Switches = append(snap.Switches, model.Switch{Name: "green", VNI: 1003, Encap: "gre", Generation: 6, Ports: []model.Port{
		{Switch: "green", Name: "a", IfaceID: "green-a"},
		{Switch: "green", Name: "b", IfaceID: "green-b"},
	}})
	obs["hv1"] = append(obs["hv1"], hypervisor.VIF{Name: "vnet3", IfaceID: "green-a", MAC: mac("52:54:00:00:03:0a"), Active: true, OFPort: 3})
	obs["hv3"] = append(obs["hv3"], hypervisor.VIF{Name: "vnet3", IfaceID: "green-b", MAC: mac("52:54:00:00:03:0b"), Active: true, OFPort: 3})
	return snap, obs
}

// With hv1 and hv3 unable to reach each other, every frame between them
// goes through the relay hv2 (never into the dead tunnel), broadcast
// reaches every VIF exactly once, and the switches the pair does not
// share are untouched.
func TestRelayForwarding(t *testing.T) {
	snap, obs := relayLab()
	f := buildRelayed(t, snap, obs, Relays{PairOf("hv3", "hv1"): "hv2"})
	bcast := "ff:ff:ff:ff:ff:ff"
	f.expect(t, []delivery{
		{"unicast through a relay that carries the switch", "hv1", 1, "52:54:00:00:01:0b", []string{"blue-b"}},
		{"and back", "hv3", 1, "52:54:00:00:01:0a", []string{"blue-a"}},
		{"direct pairs stay direct", "hv3", 1, "52:54:00:00:01:0d", []string{"blue-d"}},
		{"broadcast once each", "hv1", 1, bcast, []string{"blue-b", "blue-c", "blue-d"}},
		{"broadcast from the far side", "hv3", 1, bcast, []string{"blue-a", "blue-c", "blue-d"}},
		{"broadcast from the relay's own VIF", "hv2", 6, bcast, []string{"blue-a", "blue-b", "blue-c"}},
		{"unknown unicast floods once", "hv1", 2, "52:54:00:99:99:99", []string{"blue-a", "blue-b", "blue-d"}},
		{"unicast through a relay that does not carry the switch", "hv1", 3, "52:54:00:00:03:0b", []string{"green-b"}},
		{"and back again", "hv3", 3, "52:54:00:00:03:0a", []string{"green-a"}},
		{"broadcast through a pure relay", "hv3", 3, bcast, []string{"green-a"}},
		{"a switch without the pair is untouched", "hv2", 5, bcast, []string{"red-b"}},
	})
	if got := slices.Sorted(slices.Values(f["hv2"].st.Switches)); !slices.Equal(got, []string{"blue", "green", "red"}) {
		t.Errorf("relay serves %v, want blue, green (relayed) and red", got)
	}
	// The direct tunnel stays, so that BFD sees the path come back.
	if !hasTunnelTo(f["hv1"].st.Tunnels, "hv3") {
		t.Errorf("hv1 lost its direct tunnel to hv3: %v", f["hv1"].st.Tunnels)
	}
}

// Back to direct: the relay holds nothing of the switches it only relayed,
// and no relayed flow anywhere.
func TestRelayGoesAway(t *testing.T) {
	snap, obs := relayLab()
	f := buildRelayed(t, snap, obs, nil)
	if got := f["hv2"].st.Switches; !slices.Equal(got, []string{"blue", "red"}) {
		t.Errorf("relay serves %v after the pair came back, want blue and red", got)
	}
	for name, n := range f {
		for _, fl := range n.st.Flows {
			if fl.Match.HasMetadata && fl.Match.Metadata == openflow.MetaFromRelayed || strings.Contains(fl.String(), "write_metadata:0x4") {
				t.Errorf("%s keeps a relayed flow: %s", name, fl)
			}
		}
	}
	if got := f.send(t, "hv1", 3, "52:54:00:00:03:0b"); !slices.Equal(got, []string{"green-b"}) {
		t.Errorf("green direct: %v", got)
	}
}

// Every chassis keeps a tunnel to every relay, and the relay one to every
// chassis, for each encapsulation both support, whether a switch needs it
// or not: BFD can only tell that a relay is reachable over a tunnel.
func TestRelayTunnels(t *testing.T) {
	snap, obs := relayLab()
	snap.Chassis[2].Encaps = []string{"vxlan"}
	f := buildRelayed(t, snap, obs, nil)
	want := map[string][]string{
		"hv1": {"gre:hv2", "vxlan:hv2"},
		"hv2": {"gre:hv1", "vxlan:hv1", "vxlan:hv3"},
		"hv3": {"vxlan:hv2"},
	}
	for name, w := range want {
		var got []string
		for _, tn := range relayTunnels(f[name].ch, snap.Chassis) {
			got = append(got, tn.Type+":"+tn.Remote)
		}
		slices.Sort(got)
		if !slices.Equal(got, w) {
			t.Errorf("%s relay tunnels %v, want %v", name, got, w)
		}
		for _, tn := range relayTunnels(f[name].ch, snap.Chassis) {
			if !slices.ContainsFunc(f[name].st.Tunnels, func(x hypervisor.Tunnel) bool { return x.Name == tn.Name }) {
				t.Errorf("%s: DesiredChassis lacks relay tunnel %s", name, tn.Name)
			}
		}
	}
}

func hasTunnelTo(ts []hypervisor.Tunnel, remote string) bool {
	return slices.ContainsFunc(ts, func(t hypervisor.Tunnel) bool { return t.Remote == remote })
}

// A VTEP that cannot reach hv1 is told to reach hv1's MACs at the relay
// hv2 (Ucast_Macs_Remote and the flood set), runs BFD towards it, and the
// relay forwards between the VTEP's tunnel and hv1's.
func TestRelayToGateway(t *testing.T) {
	snap, obs, views := gatewayLab(true)
	snap.Chassis[1].Relay = true
	relays := Relays{PairOf("hv1", "gw1"): "hv2"}
	d := DesiredGateway(snap, Bind(snap, obs), snap.Gateways[0], views, relays)
	s := d.Switches[0]
	wantMACs := []vtep.RemoteMAC{
		{MAC: "52:54:00:00:01:0a", IP: "198.18.1.12"}, {MAC: "52:54:00:00:01:0b", IP: "198.18.2.13"},
		{MAC: "52:54:00:00:01:0c", IP: "198.18.1.12"}, {MAC: "52:54:00:00:01:0d", IP: "198.18.1.12"},
	}
	if !slices.Equal(s.RemoteMACs, wantMACs) {
		t.Errorf("remote MACs %+v, want hv1's at hv2", s.RemoteMACs)
	}
	if !slices.Equal(s.Flood, []string{"198.18.1.11", "198.18.1.12", "198.18.2.13"}) {
		t.Errorf("flood %v, want hv2 once, hv3, and hv1 to keep the VTEP's tunnel to it", s.Flood)
	}
	if !slices.Contains(d.BFD, "198.18.1.12") {
		t.Errorf("BFD %v lacks the relay", d.BFD)
	}

	b := Bind(snap, obs)
	st := func(i int) ChassisState {
		return DesiredChassis(ChassisInputs{Snapshot: snap, Bindings: b, Chassis: snap.Chassis[i], Gateways: views, Relays: relays})
	}
	hv1, hv2 := st(0), st(1)
	port := func(s ChassisState, remote string) uint32 {
		for _, tn := range s.Tunnels {
			if tn.Remote == remote && tn.Type == model.EncapVXLAN { // blue's encapsulation
				return uint32(tn.OFPort)
			}
		}
		t.Fatalf("no tunnel to %s in %+v", remote, s.Tunnels)
		return 0
	}
	// hv1 sends the bare-metal MAC and its broadcast to hv2, not the VTEP.
	tbl := fakeof.New(hv1.Flows, hv1.Groups)
	emits, _ := tbl.Process(fakeof.Packet{InPort: 1, EthSrc: mac("52:54:00:00:01:0a"), EthDst: mac("02:00:00:00:bb:01")})
	if len(emits) != 1 || emits[0].Port != port(hv1, "hv2") {
		t.Errorf("hv1 → bare metal: %+v, want the relay's tunnel %d", emits, port(hv1, "hv2"))
	}
	emits, _ = tbl.Process(fakeof.Packet{InPort: 1, EthSrc: mac("52:54:00:00:01:0a"), EthDst: mac("ff:ff:ff:ff:ff:ff")})
	if slices.ContainsFunc(emits, func(e fakeof.Emit) bool { return e.Port == port(hv1, "gw1") }) {
		t.Errorf("hv1 floods into the VTEP's dead tunnel: %+v", emits)
	}
	// What the VTEP floods straight to hv1 is dropped there: the relay
	// delivers the copy that counts.
	if emits, _ = tbl.Process(fakeof.Packet{InPort: port(hv1, "gw1"), TunID: 1001, EthDst: mac("ff:ff:ff:ff:ff:ff")}); len(emits) != 0 {
		t.Errorf("hv1 accepts the VTEP's direct flood while relayed: %+v", emits)
	}
	// hv2 forwards hv1's frame to the VTEP, and the VTEP's to hv1.
	tbl = fakeof.New(hv2.Flows, hv2.Groups)
	emits, _ = tbl.Process(fakeof.Packet{InPort: port(hv2, "hv1"), TunID: 1001, EthDst: mac("02:00:00:00:bb:01")})
	if len(emits) != 1 || emits[0].Port != port(hv2, "gw1") {
		t.Errorf("relay: hv1 → bare metal went to %+v, want the VTEP %d", emits, port(hv2, "gw1"))
	}
	emits, _ = tbl.Process(fakeof.Packet{InPort: port(hv2, "gw1"), TunID: 1001, EthDst: mac("52:54:00:00:01:0a")})
	if len(emits) != 1 || emits[0].Port != port(hv2, "hv1") {
		t.Errorf("relay: bare metal → blue-a went to %+v, want hv1 %d", emits, port(hv2, "hv1"))
	}
	// BUM from the VTEP: hv2's own VIF and hv1, never back or to hv3
	// (the VTEP reaches hv3 itself).
	emits, _ = tbl.Process(fakeof.Packet{InPort: port(hv2, "gw1"), TunID: 1001, EthDst: mac("ff:ff:ff:ff:ff:ff")})
	var got []uint32
	for _, e := range emits {
		got = append(got, e.Port)
	}
	slices.Sort(got)
	if want := []uint32{6, port(hv2, "hv1")}; !slices.Equal(got, want) {
		t.Errorf("relay floods the VTEP's BUM to %v, want %v", got, want)
	}
}
