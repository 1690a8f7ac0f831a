package reconcile

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
)

// An unbound port says why, against real OVS: no VIF with its iface-id
// anywhere; a VIF OVS could not attach (no ofport); a registered chassis
// ferry cannot reach, whose VIFs it does not know. Bound ports say
// nothing.
func TestSandboxUnboundPortSaysWhy(t *testing.T) {
	s := newSandbox(t)
	s.blueAcross()
	s.addPort("c", "blue-c")
	port := func(name string) model.PortStatus {
		return s.ctl.Port(model.Port{Switch: "blue", Name: name, IfaceID: "blue-" + name})
	}
	waitReason := func(name, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for st := port(name); st.Bound || !strings.HasPrefix(st.Reason, want); st = port(name) {
			if time.Now().After(deadline) {
				t.Fatalf("port %s: %+v, want unbound with reason %q…", name, st, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("%s: %s", name, port(name).Reason)
	}
	waitReason("c", "no VIF with iface-id blue-c on any connected chassis")
	if st := port("a"); !st.Bound || st.Reason != "" {
		t.Errorf("bound port a: %+v, want no reason", st)
	}

	// OVS cannot open an interface of an unknown type: ofport -1.
	s.hvs["hv2"].Vsctl(t, "add-port", "br-int", "vm3", "--", "set", "interface", "vm3", "type=no-such-type",
		"external_ids:iface-id=blue-c", "external_ids:iface-status=inactive")
	waitReason("c", "found on hv2 (interface vm3) but iface-status is inactive and it has no OpenFlow port (ofport -1")
	s.hvs["hv2"].Vsctl(t, "del-port", "br-int", "vm3")

	// A chassis ferry cannot reach: its VIFs are unknown.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	s.update(func(n *model.Snapshot) {
		n.Chassis = append(slices.Clone(n.Chassis), model.Chassis{Name: "hv9", OVSDB: "tcp:" + closed, Bridge: "br-int",
			Kind: model.KindKVM, TunnelIP: net.IPv4(198, 18, 1, 90).To4(), Encaps: []string{"vxlan"}, Generation: n.Generation + 1})
	})
	waitReason("c", "no VIF with iface-id blue-c on any connected chassis; chassis hv9 not connected")
}
