package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ferry-sdn/ferry/internal/model"
)

// TestSandboxGatewayLimits: a gateway limited to one MAC per switch gets one
// Ucast_Macs_Remote row on a real hardware_vtep ovsdb-server, and status and
// the metric say one was held back.
func TestSandboxGatewayLimits(t *testing.T) {
	s := newSandbox(t)
	gw, vtepctl := startVTEP(t, "p0")
	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	s.waitBridge("hv2")
	s.addVIF("hv2", "vm2", "blue-b", "52:54:00:00:01:0b")
	s.update(func(n *model.Snapshot) {
		n.Gateways = []model.Gateway{{Name: "gw1", OVSDB: "unix:" + gw.DBSock, Limits: model.Limits{MACsPerSwitch: 1}}}
		n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "gre", Generation: n.Generation + 1,
			Ports:    []model.Port{{Switch: "blue", Name: "a", IfaceID: "blue-a"}, {Switch: "blue", Name: "b", IfaceID: "blue-b"}},
			Bindings: []model.GatewayBinding{{Switch: "blue", Gateway: "gw1", Port: "p0", VLAN: 0}}}}
	})
	s.waitRealized()
	eventually(t, "gateway realized", func() (bool, string) {
		st := s.ctl.Gateway("gw1")
		return st.RealizedGeneration == s.snap.Generation, fmt.Sprintf("%+v", st)
	})
	rows := 0
	for _, l := range strings.Split(vtepctl("list-remote-macs", "ferry-blue"), "\n") {
		if strings.Contains(l, "52:54:00") {
			rows++
		}
	}
	if macs := vtepctl("list-remote-macs", "ferry-blue"); rows != 1 || !strings.Contains(macs, "52:54:00:00:01:0a -> vxlan_over_ipv4/198.18.1.11") {
		t.Errorf("want only 52:54:00:00:01:0a on the VTEP:\n%s", macs)
	}
	st := s.ctl.Gateway("gw1")
	if st.RemoteMACs != 1 || !slices.Equal(st.HeldBack, []model.GatewayHeldBack{{Switch: "blue", MACs: 1, Reason: "macs_per_switch"}}) {
		t.Errorf("status %+v", st)
	}
	if got := testutil.ToFloat64(s.ctl.cfg.Metrics.gwHeldBack.WithLabelValues("gw1")); got != 1 {
		t.Errorf("ferry_gateway_remote_macs_held_back = %v, want 1", got)
	}
}

// TestSandboxGatewayExhaustion: while a real hardware_vtep database reports
// mac_table_exhaustion, a new MAC is held back (status says why) and the
// MACs it holds stay; once the fault clears, the MAC is written.
func TestSandboxGatewayExhaustion(t *testing.T) {
	s := newSandbox(t)
	gw, vtepctl := startVTEP(t, "p0")
	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	s.waitBridge("hv2")
	s.addVIF("hv2", "vm2", "blue-b", "52:54:00:00:01:0b")
	s.update(func(n *model.Snapshot) {
		n.Gateways = []model.Gateway{{Name: "gw1", OVSDB: "unix:" + gw.DBSock}}
		n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "gre", Generation: n.Generation + 1,
			Ports:    []model.Port{{Switch: "blue", Name: "a", IfaceID: "blue-a"}},
			Bindings: []model.GatewayBinding{{Switch: "blue", Gateway: "gw1", Port: "p0", VLAN: 0}}}}
	})
	eventually(t, "vm1's MAC on the VTEP", func() (bool, string) {
		macs, _ := gw.RunErr("vtep-ctl", "--db=unix:"+gw.DBSock, "list-remote-macs", "ferry-blue")
		return strings.Contains(macs, "52:54:00:00:01:0a"), macs
	})
	vtepctl("set", "Physical_Switch", "ps1", "switch_fault_status=mac_table_exhaustion")
	eventually(t, "the fault observed", func() (bool, string) {
		st := s.ctl.Gateway("gw1")
		return slices.Contains(st.Faults, "mac_table_exhaustion"), fmt.Sprintf("%+v", st)
	})
	s.addPort("b", "blue-b")
	eventually(t, "vm2's MAC held back for the fault", func() (bool, string) {
		st := s.ctl.Gateway("gw1")
		return slices.Equal(st.HeldBack, []model.GatewayHeldBack{{Switch: "blue", MACs: 1, Reason: "mac_table_exhaustion"}}), fmt.Sprintf("%+v", st)
	})
	macs := vtepctl("list-remote-macs", "ferry-blue")
	if !strings.Contains(macs, "52:54:00:00:01:0a") || strings.Contains(macs, "52:54:00:00:01:0b") {
		t.Fatalf("while exhausted the VTEP holds\n%s\nwant vm1's MAC only", macs)
	}
	vtepctl("clear", "Physical_Switch", "ps1", "switch_fault_status")
	eventually(t, "vm2's MAC written once the fault cleared", func() (bool, string) {
		macs := vtepctl("list-remote-macs", "ferry-blue")
		st := s.ctl.Gateway("gw1")
		return strings.Contains(macs, "52:54:00:00:01:0b") && len(st.HeldBack) == 0, fmt.Sprintf("%s\n%+v", macs, st)
	})
}
