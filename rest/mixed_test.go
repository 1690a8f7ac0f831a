package rest

import (
	"slices"
	"testing"

	"github.com/ferry-sdn/ferry/rest/api"
)

func TestXenServerNetworksAndPatch(t *testing.T) {
	f := newFixture(t)
	var sw api.Switch
	f.do(t, "POST", "/v1/switches", `{"name":"xen","xenserver_networks":["net-b","net-a"]}`).want(t, 201).decode(t, &sw)
	if !slices.Equal(sw.XenServerNetworks, []string{"net-a", "net-b"}) {
		t.Fatalf("networks %v", sw.XenServerNetworks)
	}
	f.do(t, "PATCH", "/v1/switches/xen", `{"xenserver_networks":["net-c"]}`).want(t, 200).decode(t, &sw)
	if !slices.Equal(sw.XenServerNetworks, []string{"net-c"}) {
		t.Fatalf("networks after PATCH %v", sw.XenServerNetworks)
	}
	f.do(t, "PATCH", "/v1/switches/xen", `{"xenserver_networks":[]}`).want(t, 200).decode(t, &sw)
	if len(sw.XenServerNetworks) != 0 {
		t.Fatalf("networks after clearing %v", sw.XenServerNetworks)
	}
	f.do(t, "PATCH", "/v1/switches/nope", `{"xenserver_networks":[]}`).want(t, 404, "nope")
	f.do(t, "PATCH", "/v1/switches/xen", `{}`).want(t, 400, "xenserver_networks")
	f.do(t, "PATCH", "/v1/switches/xen", `{"vni":3}`).want(t, 400, "vni")
	f.do(t, "PATCH", "/v1/switches/xen", `{"xenserver_networks":["a","a"]}`).want(t, 400, "xenserver_networks")
	f.do(t, "POST", "/v1/switches", `{"name":"y","xenserver_networks":[""]}`).want(t, 400, "xenserver_networks")
}

func TestChassisMixedFields(t *testing.T) {
	f := newFixture(t)
	var ch api.Chassis
	f.do(t, "POST", "/v1/chassis", `{"name":"xen1","ovsdb":"passive","tunnel_ip":"198.18.2.21","kind":"xenserver","bridge":"xapi1","underlay_mtu":9000,"datapath_type":"netdev"}`).
		want(t, 201).decode(t, &ch)
	if ch.OVSDB != "passive" || ch.UnderlayMTU != 9000 || ch.DatapathType != "netdev" || ch.Bridge != "xapi1" {
		t.Fatalf("chassis %+v", ch)
	}
	f.do(t, "POST", "/v1/chassis", `{"name":"kvm1","ovsdb":"tcp:198.18.255.11:6640","tunnel_ip":"198.18.1.11"}`).want(t, 201).decode(t, &ch)
	if ch.UnderlayMTU != 1500 {
		t.Fatalf("default underlay_mtu %d", ch.UnderlayMTU)
	}
	f.do(t, "POST", "/v1/chassis", `{"name":"x","ovsdb":"tcp:198.18.255.12:6640","tunnel_ip":"198.18.1.12","underlay_mtu":100}`).want(t, 400, "underlay_mtu")
	f.do(t, "POST", "/v1/chassis", `{"name":"x","ovsdb":"tcp:198.18.255.12:6640","tunnel_ip":"198.18.1.12","datapath_type":"dpdk"}`).want(t, 400, "datapath_type")
	f.do(t, "POST", "/v1/chassis", `{"name":"x","ovsdb":"tcp:198.18.255.12:6640","tunnel_ip":"198.18.1.12","openflow":"1.0"}`).want(t, 400, "openflow:")
	f.do(t, "POST", "/v1/chassis", `{"name":"x","ovsdb":"passiv","tunnel_ip":"198.18.1.12"}`).want(t, 400, "ovsdb")
}
