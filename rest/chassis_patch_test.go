package rest

import (
	"slices"
	"testing"

	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	"github.com/ferry-sdn/ferry/rest/api"
)

func TestChassisPatch(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/chassis", hv1).want(t, 201)
	f.do(t, "POST", "/v1/chassis", hv2).want(t, 201)

	var ch api.Chassis
	f.do(t, "PATCH", "/v1/chassis/hv1", `{"tunnel_ip":"198.18.1.21","ovsdb":"tcp:198.18.255.21:6640","encaps":["gre"],"underlay_mtu":9000}`).
		want(t, 200).decode(t, &ch)
	if ch.TunnelIP != "198.18.1.21" || ch.OVSDB != "tcp:198.18.255.21:6640" || !slices.Equal(ch.Encaps, []string{"gre"}) ||
		ch.UnderlayMTU != 9000 || ch.Bridge != "br-int" || ch.Kind != "kvm" || ch.Generation != 3 {
		t.Fatalf("patched: %+v", ch)
	}
	f.do(t, "GET", "/v1/chassis/hv1", "").want(t, 200).decode(t, &ch)
	if ch.TunnelIP != "198.18.1.21" || ch.UnderlayMTU != 9000 {
		t.Fatalf("read back: %+v", ch)
	}
	// Targets are stored in canonical form, as in POST.
	f.do(t, "PATCH", "/v1/chassis/hv1", `{"ovsdb":"tcp:[2001:db8:0::1]:6640"}`).want(t, 200).decode(t, &ch)
	if ch.OVSDB != "tcp:[2001:db8::1]:6640" {
		t.Fatalf("ovsdb = %q", ch.OVSDB)
	}
	f.do(t, "PATCH", "/v1/chassis/hv1", `{"underlay_mtu":0,"openflow_peers":[]}`).want(t, 200).decode(t, &ch)
	if ch.UnderlayMTU != 1500 || len(ch.OpenFlowPeers) != 0 {
		t.Fatalf("back to the default MTU: %+v", ch)
	}

	gen := f.b.Snapshot().Generation
	f.do(t, "PATCH", "/v1/chassis/hv9", `{"underlay_mtu":9000}`).want(t, 404, "hv9")
	f.do(t, "PATCH", "/v1/chassis/hv1", `{"tunnel_ip":"198.18.1.12","underlay_mtu":1400}`).want(t, 409, "tunnel_ip:", "hv2")
	f.do(t, "PATCH", "/v1/chassis/hv1", `{"ovsdb":"ssl:198.18.255.12:6640","underlay_mtu":1400}`).want(t, 409, "ovsdb:", "hv2")
	f.do(t, "GET", "/v1/chassis/hv1", "").want(t, 200).decode(t, &ch)
	if f.b.Snapshot().Generation != gen || ch.UnderlayMTU != 1500 || ch.TunnelIP != "198.18.1.21" {
		t.Fatalf("a refused patch changed something: %+v", ch)
	}
}

func TestChassisPatchBadInput(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/chassis", hv1).want(t, 201)
	checkBadWith(t, f, "PATCH", "/v1/chassis/hv1", []badInput{
		{"empty body", "", 400, []string{"empty"}},
		{"malformed", `{"ovsdb":`, 400, []string{"malformed JSON"}},
		{"array", `[]`, 400, []string{"JSON object"}},
		{"no field", `{}`, 400, []string{"request body:", "no field"}},
		{"unknown field", `{"colour":"red"}`, 400, []string{"colour: unknown field"}},
		{"status", `{"status":{}}`, 400, []string{"status: unknown field"}},
		{"name", `{"name":"hv2"}`, 400, []string{"name: cannot be changed"}},
		{"same name", `{"name":"hv1","underlay_mtu":9000}`, 400, []string{"name: cannot be changed"}},
		{"bridge", `{"bridge":"br-ex"}`, 400, []string{"bridge: cannot be changed", "register"}},
		{"kind", `{"kind":"xenserver"}`, 400, []string{"kind: cannot be changed"}},
		{"several", `{"kind":"generic","bridge":"x","tunnel_ip":"nope"}`, 400, []string{"bridge:", "kind:", "tunnel_ip:"}},
		{"ovsdb empty", `{"ovsdb":""}`, 400, []string{"ovsdb: required"}},
		{"ovsdb passive target", `{"ovsdb":"ptcp:6640"}`, 400, []string{"ovsdb:", "passive"}},
		{"ovsdb type", `{"ovsdb":5}`, 400, []string{"ovsdb: must be a string"}},
		{"tunnel_ip v6", `{"tunnel_ip":"2001:db8::1"}`, 400, []string{"tunnel_ip:", "IPv4"}},
		{"tunnel_ip empty", `{"tunnel_ip":""}`, 400, []string{"tunnel_ip:"}},
		{"encaps empty", `{"encaps":[]}`, 400, []string{"encaps:", "empty"}},
		{"encaps unknown", `{"encaps":["geneve"]}`, 400, []string{"encaps:", "geneve"}},
		{"underlay_mtu low", `{"underlay_mtu":575}`, 400, []string{"underlay_mtu:", "576"}},
		{"underlay_mtu type", `{"underlay_mtu":"9000"}`, 400, []string{"underlay_mtu: must be an integer"}},
		{"datapath_type", `{"datapath_type":"dummy"}`, 400, []string{"datapath_type:"}},
		{"openflow_peers", `{"openflow_peers":["nope"]}`, 400, []string{"openflow_peers"}},
		{"openflow", `{"openflow":"1.4"}`, 400, []string{"openflow:", "auto"}},
		{"openflow type", `{"openflow":13}`, 400, []string{"openflow: must be a string"}},
	})
	f.do(t, "PATCH", "/v1/chassis/nope", `{"kind":"generic"}`).want(t, 400, "kind:")
}

// TestChassisPatchStore runs PATCH over the real store: its conflicts
// are those of POST, other spellings of one socket included, and a patch
// that changes nothing writes nothing.
func TestChassisPatchStore(t *testing.T) {
	db := nbdbtest.New(t, nbdbtest.InMemory(t))
	f := &fixture{h: NewHandler(db, nil, nil, nil)}
	f.do(t, "POST", "/v1/chassis", hv1).want(t, 201)
	f.do(t, "POST", "/v1/chassis", hv2).want(t, 201)
	f.do(t, "PATCH", "/v1/chassis/hv1", `{"ovsdb":"tcp:[::ffff:198.18.255.12]:6640"}`).want(t, 409, "ovsdb:", "hv2")
	f.do(t, "PATCH", "/v1/chassis/hv1", `{"tunnel_ip":"198.18.1.12"}`).want(t, 409, "tunnel_ip:", "hv2")
	var ch api.Chassis
	f.do(t, "PATCH", "/v1/chassis/hv1", `{"tunnel_ip":"198.18.1.11"}`).want(t, 200).decode(t, &ch)
	if ch.Generation != 1 || db.Snapshot().Generation != 2 {
		t.Fatalf("a patch changing nothing wrote: %+v, generation %d", ch, db.Snapshot().Generation)
	}
	f.do(t, "PATCH", "/v1/chassis/hv1", `{"tunnel_ip":"198.18.1.21","underlay_mtu":9000}`).want(t, 200).decode(t, &ch)
	if ch.Generation != 3 || ch.TunnelIP != "198.18.1.21" || ch.UnderlayMTU != 9000 {
		t.Fatalf("patched: %+v", ch)
	}
	// The openflow option: stored, read back, and "auto" is the default
	// spelled out, so going from unset to auto writes nothing.
	f.do(t, "PATCH", "/v1/chassis/hv2", `{"openflow":"auto"}`).want(t, 200).decode(t, &ch)
	if ch.OpenFlow != "auto" || db.Snapshot().Generation != 3 {
		t.Fatalf("auto on a chassis that is auto: %+v, generation %d", ch, db.Snapshot().Generation)
	}
	f.do(t, "PATCH", "/v1/chassis/hv2", `{"openflow":"1.3"}`).want(t, 200)
	f.do(t, "GET", "/v1/chassis/hv2", "").want(t, 200).decode(t, &ch)
	if ch.OpenFlow != "1.3" || db.Snapshot().Generation != 4 {
		t.Fatalf("openflow 1.3: %+v, generation %d", ch, db.Snapshot().Generation)
	}
	f.do(t, "PATCH", "/v1/chassis/hv2", `{"openflow":""}`).want(t, 200).decode(t, &ch)
	if ch.OpenFlow != "auto" || ch.Generation != 5 {
		t.Fatalf("openflow back to the default: %+v", ch)
	}
	f.do(t, "POST", "/v1/chassis", `{"name":"hv3","ovsdb":"tcp:198.18.255.13:6640","tunnel_ip":"198.18.1.13","openflow":"1.5"}`).want(t, 201).decode(t, &ch)
	if ch.OpenFlow != "1.5" {
		t.Fatalf("created with openflow 1.5: %+v", ch)
	}
}
