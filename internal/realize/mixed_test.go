package realize

import (
	"net"
	"slices"
	"testing"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
)

func twoChassis(encapsA, encapsB []string) *model.Snapshot {
	return &model.Snapshot{Chassis: []model.Chassis{
		{Name: "kvm1", TunnelIP: net.IPv4(198, 18, 1, 11).To4(), Encaps: encapsA},
		{Name: "xen1", TunnelIP: net.IPv4(198, 18, 2, 21).To4(), Encaps: encapsB, Kind: model.KindXenServer, Bridge: "xapi1"},
	}}
}

// Switches with different encapsulations share a pair of chassis: one
// tunnel port per encapsulation, each switch's flows on its own.
func TestGREAndVXLANOnOnePair(t *testing.T) {
	snap := twoChassis([]string{"vxlan", "gre"}, []string{"vxlan", "gre"})
	snap.Switches = []model.Switch{
		{Name: "g", VNI: 7, Encap: "gre", Ports: []model.Port{{Switch: "g", Name: "a", IfaceID: "ga"}, {Switch: "g", Name: "b", IfaceID: "gb"}}},
		{Name: "v", VNI: 8, Encap: "vxlan", Ports: []model.Port{{Switch: "v", Name: "a", IfaceID: "va"}, {Switch: "v", Name: "b", IfaceID: "vb"}}},
	}
	obs := map[string][]hypervisor.VIF{
		"kvm1": {{Name: "t1", IfaceID: "ga", OFPort: 1, Active: true}, {Name: "t2", IfaceID: "va", OFPort: 2, Active: true}},
		"xen1": {{Name: "vif1.0", IfaceID: "gb", OFPort: 1, Active: true}, {Name: "vif2.0", IfaceID: "vb", OFPort: 2, Active: true}},
	}
	st := DesiredChassis(ChassisInputs{Snapshot: snap, Bindings: Bind(snap, obs), Chassis: snap.Chassis[0]})
	var got []string
	for _, tn := range st.Tunnels {
		got = append(got, tn.Name+":"+tn.Type)
	}
	if want := []string{"fgrc6120215:gre", "fvxc6120215:vxlan"}; !slices.Equal(got, want) {
		t.Fatalf("tunnels %v, want %v", got, want)
	}
}

// A pair where one side lacks the switch's encapsulation falls back to one
// both have.
func TestEncapFallback(t *testing.T) {
	snap := twoChassis([]string{"vxlan", "gre"}, []string{"vxlan"})
	snap.Switches = []model.Switch{{Name: "g", VNI: 7, Encap: "gre", Ports: []model.Port{
		{Switch: "g", Name: "a", IfaceID: "ga"}, {Switch: "g", Name: "b", IfaceID: "gb"}}}}
	obs := map[string][]hypervisor.VIF{
		"kvm1": {{Name: "t1", IfaceID: "ga", OFPort: 1, Active: true}},
		"xen1": {{Name: "vif1.0", IfaceID: "gb", OFPort: 1, Active: true}},
	}
	st := DesiredChassis(ChassisInputs{Snapshot: snap, Bindings: Bind(snap, obs), Chassis: snap.Chassis[0]})
	if len(st.Tunnels) != 1 || st.Tunnels[0].Type != "vxlan" {
		t.Fatalf("tunnels %+v, want one vxlan", st.Tunnels)
	}
}

// A XenServer VIF binds by xs-vif-uuid; of the vif/tap twins the active one
// wins, and without status the PV vif does.
func TestXenServerTwins(t *testing.T) {
	snap := twoChassis([]string{"vxlan"}, []string{"vxlan"})
	snap.Switches = []model.Switch{{Name: "s", VNI: 9, Encap: "vxlan", Ports: []model.Port{{Switch: "s", Name: "vm", IfaceID: "uuid-1"}}}}
	for _, c := range []struct {
		vifActive, tapActive bool
		want                 string
	}{{true, false, "vif3.0"}, {false, true, "tap3.0"}, {true, true, "vif3.0"}} {
		obs := map[string][]hypervisor.VIF{"xen1": {
			{Name: "tap3.0", IfaceID: "uuid-1", OFPort: 5, Active: c.tapActive},
			{Name: "vif3.0", IfaceID: "uuid-1", OFPort: 4, Active: c.vifActive},
		}}
		if got := Bind(snap, obs)[PortKey{"s", "vm"}].Interface; got != c.want {
			t.Errorf("vif active %v, tap active %v: bound to %s, want %s", c.vifActive, c.tapActive, got, c.want)
		}
	}
}

// A switch that adopts a XenServer network gets every VIF on it, unless an
// explicit port claims the VIF.
func TestExpandNetworks(t *testing.T) {
	snap := twoChassis([]string{"vxlan"}, []string{"vxlan"})
	snap.Switches = []model.Switch{
		{Name: "n", VNI: 1, Encap: "vxlan", XenServerNetworks: []string{"net-a"}},
		{Name: "x", VNI: 2, Encap: "vxlan", Ports: []model.Port{{Switch: "x", Name: "own", IfaceID: "vif-2"}}},
	}
	obs := map[string][]hypervisor.VIF{"xen1": {
		{Name: "vif1.0", IfaceID: "vif-1", Network: "net-a", OFPort: 1, Active: true},
		{Name: "tap1.0", IfaceID: "vif-1", Network: "net-a", OFPort: 3},
		{Name: "vif2.0", IfaceID: "vif-2", Network: "net-a", OFPort: 2, Active: true},
		{Name: "vif9.0", IfaceID: "vif-9", Network: "net-b", OFPort: 9, Active: true},
	}}
	out := ExpandNetworks(snap, obs)
	n, _ := out.Switch("n")
	if len(n.Ports) != 1 || n.Ports[0].Name != "xs-vif-1" {
		t.Fatalf("adopted ports %+v, want xs-vif-1 only", n.Ports)
	}
	if orig, _ := snap.Switch("n"); len(orig.Ports) != 0 {
		t.Fatalf("ExpandNetworks modified its input")
	}
	if b := Bind(out, obs)[PortKey{"n", "xs-vif-1"}]; b.Interface != "vif1.0" {
		t.Fatalf("adopted VIF bound to %+v", b)
	}
}

// TestOpenFlowOptionSpelling: realize hands the chassis' openflow option to
// hypervisor as it is, so the two packages must spell it alike.
func TestOpenFlowOptionSpelling(t *testing.T) {
	if hypervisor.OpenFlowAuto != model.OpenFlowAuto || hypervisor.OpenFlow15 != model.OpenFlow15 || hypervisor.OpenFlow13 != model.OpenFlow13 {
		t.Fatal("hypervisor and model spell the openflow option differently")
	}
	ch := model.Chassis{Name: "hv1", OpenFlow: model.OpenFlow13}
	if c := bridgeConfig(ch, "tcp:198.18.255.1:6653", nil); c.OpenFlow != hypervisor.OpenFlow13 {
		t.Errorf("bridge config openflow %q, want %q", c.OpenFlow, hypervisor.OpenFlow13)
	}
}
