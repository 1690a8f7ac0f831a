package cli

import (
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
)

// TestTrace: ferryctl trace sends the frame as query parameters and
// prints both views, hop by hop, and the disagreement; -o json is the
// server's answer.
func TestTrace(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "switch", "create", "blue")
	f.ok(t, "port", "create", "blue", "vm1", "--iface-id", "vm1")
	vlan := uint16(100)
	tunnel := model.TraceOutput{Kind: "tunnel", Port: "fvxc612031f", OFPort: 32769, Remote: "gw1", RemoteIP: "198.18.3.31", Encap: "vxlan", VNI: 6001}
	var got model.TraceQuery
	f.st.SetTrace(func(q model.TraceQuery) (model.Trace, error) {
		got = q
		return model.Trace{Switch: "blue", From: "vm1", VNI: 6001, Frame: "dl_src=02:00:00:00:00:01,dl_dst=02:00:00:b0:00:10,ip",
			Logical: model.TraceView{Verdict: "unicast", Hops: []model.TraceHop{
				{Device: "hv1", Kind: "chassis", Bridge: "br-int", InPort: "vnet1", InOFPort: 1, Verdict: "unicast", Outputs: []model.TraceOutput{tunnel}},
				{Device: "gw1", Kind: "gateway", Verdict: "unicast", Outputs: []model.TraceOutput{{Kind: "physical", Port: "p0", VLAN: &vlan}}},
			}},
			Real: model.TraceView{Verdict: "flood", Hops: []model.TraceHop{
				{Device: "hv1", Kind: "chassis", Verdict: "flood", Source: "ofproto/trace", Note: "flood group 0x80002ee2",
					Outputs: []model.TraceOutput{tunnel}, Steps: []string{"10. tun_id=0x1771,metadata=0x1, priority 50"}},
			}},
			Disagreements: []string{"hop 1 (chassis hv1): logical: output to tunnel fvxc612031f to gw1; real: flooded through group 0x80002ee2 to tunnel fvxc612031f to gw1"},
		}, nil
	})
	out := f.ok(t, "trace", "--switch", "blue", "--from", "vm1", "--dst-mac", "02:00:00:b0:00:10", "--vlan", "7", "--ip-dst", "198.18.110.10")
	if got.Switch != "blue" || got.From != "vm1" || got.DstMAC.String() != "02:00:00:b0:00:10" || got.VLAN != 7 || got.IPDst.String() != "198.18.110.10" {
		t.Fatalf("query %+v", got)
	}
	for _, want := range []string{
		"enters switch blue (VNI 6001) at port vm1",
		"logical: unicast",
		"1. chassis hv1 (br-int), in vnet1 [ofport 1]: unicast",
		"-> tunnel fvxc612031f to gw1 198.18.3.31 (vxlan, vni 6001) [ofport 32769]",
		"2. gateway gw1: unicast",
		"-> port p0 vlan 100",
		"real: flood",
		"(ofproto/trace)",
		"| 10. tun_id=0x1771",
		"disagreements:\n    hop 1 (chassis hv1)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if out := f.ok(t, "trace", "--switch", "blue", "--from", "vm1", "--dst-mac", "02:00:00:b0:00:10", "-o", "json"); !strings.Contains(out, `"disagreements"`) {
		t.Errorf("json: %s", out)
	}
	if code, _, errs := f.run("trace", "--switch", "blue", "--from", "vm1"); code != ExitUsage || !strings.Contains(errs, "--dst-mac") {
		t.Errorf("missing --dst-mac: %d %s", code, errs)
	}
	if code, _, errs := f.run("trace", "--switch", "blue", "--from", "nope", "--dst-mac", "02:00:00:b0:00:10"); code == 0 || !strings.Contains(errs, "from:") {
		t.Errorf("unknown port: %d %s", code, errs)
	}
}
