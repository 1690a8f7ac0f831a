package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/ovstest"
)

// TestSandboxSourceNodeProbe: a real hardware_vtep database that refuses
// source-node replication (ovstest.RefuseSourceNode) is found out by the
// probe before ferry writes any switch of its own, so ferry's switch is
// service_node from its first write, floods through the replicator
// hypervisor, and the gateway's status says why; a database that does not
// refuse gets source_node.
func TestSandboxSourceNodeProbe(t *testing.T) {
	for _, refuse := range []bool{true, false} {
		t.Run(fmt.Sprintf("refuse=%v", refuse), func(t *testing.T) {
			s := newSandbox(t)
			gw, vtepctl := startVTEP(t, "p0")
			var refuser *ovstest.SourceNodeRefuser
			if refuse {
				refuser = ovstest.RefuseSourceNode(t, func(args ...string) (string, error) {
					return gw.RunErr("vtep-ctl", append([]string{"--db=unix:" + gw.DBSock}, args...)...)
				})
			}
			s.stop()
			s.probeWait = time.Second
			s.start()
			s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
			s.waitBridge("hv2")
			s.addVIF("hv2", "vm2", "blue-b", "52:54:00:00:01:0b")
			s.update(func(n *model.Snapshot) {
				n.Gateways = []model.Gateway{{Name: "gw1", OVSDB: "unix:" + gw.DBSock}}
				n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1,
					Ports:    []model.Port{{Switch: "blue", Name: "a", IfaceID: "blue-a"}, {Switch: "blue", Name: "b", IfaceID: "blue-b"}},
					Bindings: []model.GatewayBinding{{Switch: "blue", Gateway: "gw1", Port: "p0", VLAN: 0}}}}
			})
			want := model.GatewayReplication{Mode: "source_node", Probe: "supported"}
			if refuse {
				want = model.GatewayReplication{Mode: "service_node", Probe: "unsupported"}
			}
			eventually(t, "the probe's result in status", func() (bool, string) {
				r := s.ctl.Gateway("gw1").Replication
				return r.Mode == want.Mode && r.Probe == want.Probe && r.Evidence != "", fmt.Sprintf("%+v", r)
			})
			t.Logf("replication: %+v", s.ctl.Gateway("gw1").Replication)
			s.waitRealized()
			mode := strings.TrimSpace(vtepctl("get", "Logical_Switch", "ferry-blue", "replication_mode"))
			if mode != `"`+want.Mode+`"` && mode != want.Mode {
				t.Errorf("ferry-blue replication_mode %s, want %s", mode, want.Mode)
			}
			flood := vtepctl("list-remote-macs", "ferry-blue")
			hasHV2 := strings.Contains(flood, "unknown-dst -> vxlan_over_ipv4/198.18.1.12")
			if refuse == hasHV2 {
				// service_node: only the replicator (hv1, the first carrier).
				t.Errorf("flood set with refuse=%v:\n%s", refuse, flood)
			}
			if !strings.Contains(flood, "unknown-dst -> vxlan_over_ipv4/198.18.1.11") {
				t.Errorf("hv1 not in the flood set:\n%s", flood)
			}
			if refuse {
				asked := refuser.Asked()
				if len(asked) == 0 || slices.ContainsFunc(asked, func(n string) bool { return !strings.HasPrefix(n, "ferry-check-") }) {
					t.Errorf("switches that asked the VTEP for source_node: %v, want the probe's scratch switch only", asked)
				}
			}
			if ls := vtepctl("list-ls"); strings.Contains(ls, "ferry-check-") {
				t.Errorf("the probe left its scratch switch:\n%s", ls)
			}
		})
	}
}
