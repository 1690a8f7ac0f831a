package rest

import (
	"slices"
	"testing"

	"github.com/ferry-sdn/ferry/rest/api"
)

// A chassis' openflow_peers are stored canonical and sorted, read back,
// always listed ([] when none), and validated naming the field.
func TestChassisOpenFlowPeers(t *testing.T) {
	f := newFixture(t)
	var ch api.Chassis
	f.do(t, "POST", "/v1/chassis", `{"name":"hv1","ovsdb":"tcp:198.18.255.11:6640","tunnel_ip":"198.18.1.11","openflow_peers":["198.18.9.2","2001:db8::0:1","::ffff:198.18.9.1"]}`).
		want(t, 201).decode(t, &ch)
	want := []string{"198.18.9.1", "198.18.9.2", "2001:db8::1"}
	if !slices.Equal(ch.OpenFlowPeers, want) {
		t.Errorf("created with openflow_peers %v, want %v", ch.OpenFlowPeers, want)
	}
	f.do(t, "GET", "/v1/chassis/hv1", "").want(t, 200).decode(t, &ch)
	if !slices.Equal(ch.OpenFlowPeers, want) {
		t.Errorf("read back openflow_peers %v, want %v", ch.OpenFlowPeers, want)
	}
	f.do(t, "POST", "/v1/chassis", `{"name":"hv2","ovsdb":"tcp:198.18.255.12:6640","tunnel_ip":"198.18.1.12"}`).want(t, 201).decode(t, &ch)
	if ch.OpenFlowPeers == nil || len(ch.OpenFlowPeers) != 0 {
		t.Errorf("openflow_peers of a chassis without any: %#v, want []", ch.OpenFlowPeers)
	}
	for _, bad := range []string{`["198.18.9"]`, `["0.0.0.0"]`, `["::"]`, `["224.0.0.1"]`, `["255.255.255.255"]`, `["240.0.0.1"]`,
		`["fe80::1%eth0"]`, `["198.18.9.1","198.18.9.1"]`, `[7]`} {
		f.do(t, "POST", "/v1/chassis", `{"name":"x","ovsdb":"tcp:198.18.255.13:6640","tunnel_ip":"198.18.1.13","openflow_peers":`+bad+`}`).
			want(t, 400, "openflow_peers")
	}
}
