package realize

import (
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/fakeof"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/vtep"
)

// gatewayLab: blue has a VM on hv1 and hv3 and a bare-metal server behind
// gw1 (port p0, untagged); the VTEP learned the server's MAC.
func gatewayLab(sourceNode bool) (*model.Snapshot, map[string][]hypervisor.VIF, map[string]GatewayView) {
	snap, obs := labSnapshot()
	snap.Gateways = []model.Gateway{{Name: "gw1", OVSDB: "tcp:198.18.255.31:6640"}}
	for i := range snap.Switches {
		if snap.Switches[i].Name == "blue" {
			snap.Switches[i].Bindings = []model.GatewayBinding{{Switch: "blue", Gateway: "gw1", Port: "p0", VLAN: 0}}
		}
	}
	views := map[string]GatewayView{"gw1": {Name: "gw1", TunnelIP: "198.18.3.31", SourceNode: sourceNode,
		LocalMACs: map[string][]net.HardwareAddr{"blue": {mac("02:00:00:00:bb:01")}}}}
	return snap, obs, views
}

func TestDesiredGateway(t *testing.T) {
	snap, obs, views := gatewayLab(true)
	b := Bind(snap, obs)
	d := DesiredGateway(snap, b, snap.Gateways[0], views, nil)
	if len(d.Switches) != 1 {
		t.Fatalf("switches on gw1: %+v", d.Switches)
	}
	s := d.Switches[0]
	if s.Name != "blue" || s.VNI != 1001 || !slices.Equal(s.Bindings, []vtep.PortVLAN{{Port: "p0", VLAN: 0}}) {
		t.Fatalf("switch %+v", s)
	}
	wantMACs := []vtep.RemoteMAC{
		{MAC: "52:54:00:00:01:0a", IP: "198.18.1.11"}, {MAC: "52:54:00:00:01:0b", IP: "198.18.2.13"},
		{MAC: "52:54:00:00:01:0c", IP: "198.18.1.11"}, {MAC: "52:54:00:00:01:0d", IP: "198.18.1.12"},
	}
	if !slices.Equal(s.RemoteMACs, wantMACs) {
		t.Fatalf("remote MACs %+v", s.RemoteMACs)
	}
	if s.ReplicationMode != vtep.SourceNode || !slices.Equal(s.Flood, []string{"198.18.1.11", "198.18.1.12", "198.18.2.13"}) {
		t.Fatalf("replication %s flood %v", s.ReplicationMode, s.Flood)
	}
	// A VTEP that cannot replicate floods to the switch's replicator only.
	snap, obs, views = gatewayLab(false)
	s = DesiredGateway(snap, Bind(snap, obs), snap.Gateways[0], views, nil).Switches[0]
	if s.ReplicationMode != vtep.ServiceNode || !slices.Equal(s.Flood, []string{"198.18.1.11"}) {
		t.Fatalf("service node: %s flood %v", s.ReplicationMode, s.Flood)
	}
}

// Hypervisors send the bare-metal MAC to the VTEP, include the VTEP in
// flooding, and (as replicator) re-flood what a service_node VTEP sends.
func TestChassisTowardsGateway(t *testing.T) {
	for _, sourceNode := range []bool{true, false} {
		snap, obs, views := gatewayLab(sourceNode)
		b := Bind(snap, obs)
		st := DesiredChassis(ChassisInputs{Snapshot: snap, Bindings: b, Chassis: snap.Chassis[0], Gateways: views})
		var vtepPort uint32
		for _, tn := range st.Tunnels {
			if tn.Remote == "gw1" {
				if tn.Type != "vxlan" || tn.RemoteIP != "198.18.3.31" {
					t.Fatalf("tunnel to gw1: %+v", tn)
				}
				vtepPort = uint32(tn.OFPort)
			}
		}
		if vtepPort == 0 {
			t.Fatalf("no tunnel to the gateway: %+v", st.Tunnels)
		}
		tbl := fakeof.New(st.Flows, st.Groups)
		emits, _ := tbl.Process(fakeof.Packet{InPort: 1, EthSrc: mac("52:54:00:00:01:0a"), EthDst: mac("02:00:00:00:bb:01")})
		if len(emits) != 1 || emits[0].Port != vtepPort || emits[0].TunID != 1001 {
			t.Fatalf("frame to the bare-metal MAC: %+v", emits)
		}
		emits, _ = tbl.Process(fakeof.Packet{InPort: 1, EthSrc: mac("52:54:00:00:01:0a"), EthDst: mac("ff:ff:ff:ff:ff:ff")})
		if !slices.ContainsFunc(emits, func(e fakeof.Emit) bool { return e.Port == vtepPort }) {
			t.Fatalf("broadcast does not reach the VTEP: %+v", emits)
		}
		// BUM from the VTEP: hv1 is blue's replicator (first carrier).
		emits, _ = tbl.Process(fakeof.Packet{InPort: vtepPort, TunID: 1001, EthDst: mac("ff:ff:ff:ff:ff:ff")})
		tunnels := 0
		for _, e := range emits {
			if e.Port >= 32768 {
				tunnels++
			}
			if e.Port == vtepPort {
				t.Fatalf("frame sent back to the VTEP")
			}
		}
		if sourceNode && tunnels != 0 {
			t.Fatalf("source_node VTEP: hv1 re-flooded to %d tunnels", tunnels)
		}
		if !sourceNode && tunnels != 2 {
			t.Fatalf("service_node VTEP: replicator flooded to %d other chassis, want 2 (%+v)", tunnels, emits)
		}
		var lines []string
		for _, f := range st.Flows {
			lines = append(lines, f.String())
		}
		if !strings.Contains(strings.Join(lines, "\n"), "dl_dst=02:00:00:00:bb:01 actions=output:") {
			t.Fatalf("no unicast flow for the bare-metal MAC:\n%s", strings.Join(lines, "\n"))
		}
	}
}
