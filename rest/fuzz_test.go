package rest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	"github.com/ferry-sdn/ferry/rest/api"
)

// fuzzRoutes are the requests a client can send a body or a name with;
// NAME is replaced by the fuzzed name (path-escaped).
var fuzzRoutes = []struct{ method, path string }{
	{"POST", "/v1/switches"},
	{"PATCH", "/v1/switches/NAME"},
	{"PUT", "/v1/switches/NAME"},
	{"POST", "/v1/switches/NAME/ports"},
	{"POST", "/v1/chassis"},
	{"POST", "/v1/gateways"},
	{"POST", "/v1/switches/NAME/bindings"},
	{"GET", "/v1/switches/NAME"},
	{"GET", "/v1/switches/blue/ports/NAME"},
	{"DELETE", "/v1/switches/NAME"},
	{"DELETE", "/v1/switches/blue/bindings/gw1/NAME/0"},
	{"DELETE", "/v1/chassis/NAME"},
	{"GET", "/v1/gateways/NAME"},
	{"PUT", "/v1/switches/blue/ports/NAME"},
	{"PATCH", "/v1/switches/blue/ports/NAME"},
	{"PATCH", "/v1/chassis/NAME"},
	{"PATCH", "/v1/gateways/NAME"},
}

// FuzzRequest sends any body and any name to every write route of the
// API over the real store (internal/nbdb on libovsdb's in-memory server)
// and checks what the client and the database see: never a 5xx; every
// error a JSON {"error": …}; a refused request changes nothing (the
// northbound generation stays); an accepted one moves it by one and what
// it created can be read back.
//
// Run with: go test ./rest/ -run '^$' -fuzz '^FuzzRequest$' -fuzztime 1m
func FuzzRequest(f *testing.F) {
	db := nbdbtest.New(f, nbdbtest.InMemory(f))
	h := NewHandler(db, nil, nil, nil)
	do := func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "/", strings.NewReader(body))
		// httptest.NewRequest panics on a path it cannot parse; the
		// server's own parser refuses such requests before routing.
		r.URL = &url.URL{Path: path, RawPath: path}
		r.RequestURI = path
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// Something for the routes to find.
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/v1/switches", `{"name":"blue"}`},
		{"POST", "/v1/switches/blue/ports", `{"name":"p1","iface_id":"vm1","mac":"02:00:00:00:00:01"}`},
		{"POST", "/v1/chassis", hv1},
		{"POST", "/v1/gateways", `{"name":"gw1","ovsdb":"tcp:198.18.255.31:6640"}`},
	} {
		if w := do(req.method, req.path, req.body); w.Code != http.StatusCreated {
			f.Fatalf("%s %s: %d %s", req.method, req.path, w.Code, w.Body)
		}
	}
	seeds := []struct {
		route      int
		name, body string
	}{
		{0, "", `{"name":"red","vni":7,"encap":"gre","mtu":1400,"xenserver_networks":["net-a"]}`},
		{0, "", `[{"name":"a"},{"name":"b","vni":16777215}]`},
		{0, "", `{"name":"x","ports":[{"name":"p","iface_id":"i","mac":"02:00:00:00:00:09"}]}`},
		{0, "", `{"name":"\u0085"}`},
		{1, "blue", `{"xenserver_networks":[]}`},
		{1, "blue", `{"encap":"vxlan","mtu":9000}`},
		{2, "green", `{"ports":[{"name":"p1","iface_id":"vm2"}],"bindings":[{"gateway":"gw1","port":"p0","vlan":100}]}`},
		{2, "blue", `{"ports":[{"name":"p1","iface_id":"vm1"},{"name":"p2","mac":"zz"}]}`},
		{3, "blue", `{"name":"p2","iface_id":"vm2","mac":"02:00:00:00:00:02"}`},
		{3, "blue", `[{"name":"p3","iface_id":"vm3"},{"name":"p3","iface_id":"vm4"}]`},
		{4, "", `{"name":"hv2","ovsdb":"ssl:[2001:db8::2]:6640","tunnel_ip":"198.18.1.12","bridge":"xapi1","kind":"xenserver","encaps":["gre","vxlan"]}`},
		{4, "", `{"name":"hv3","ovsdb":"tcp:[::ffff:198.18.255.11]:6640","tunnel_ip":"198.18.1.13"}`},
		{4, "", `{"name":"hv4","ovsdb":"passive","tunnel_ip":"240.0.0.1"}`},
		{5, "", `{"name":"gw2","ovsdb":"unix:/run/vtep/db.sock","physical_switch":"ps0"}`},
		{5, "", `{"name":"gw3","ovsdb":"tcp:198.18.255.33:6640","profile":"dell","limits":{"macs_per_switch":5,"tunnels":2}}`},
		{5, "", `{"name":"gw4","ovsdb":"tcp:198.18.255.34:6640","profile":"nope","limits":{"macs_total":-1}}`},
		{6, "blue", `{"gateway":"gw1","port":"p0","vlan":4095}`},
		{6, "blue", `{"gateway":"gw1","port":"..","vlan":1}`},
		{7, "blue", ""},
		{8, "p1", ""},
		{9, "..", ""},
		{10, "p0", ""},
		{11, "hv1", ""},
		{12, "gw1\x00", ""},
		{3, "blue", `{"name":"p4","iface_id":"vm4","port_security":false,"ips":["198.18.100.4","2001:db8::4"]}`},
		{13, "p9", `{"iface_id":"vm9","mac":"02:00:00:00:00:09","ips":["198.18.100.9"]}`},
		{13, "p1", `{"name":"p2","iface_id":"vm1"}`},
		{14, "p1", `{"port_security":false,"ips":["ff02::1","0.0.0.0"]}`},
		{14, "p1", `{"ips":[],"mac":""}`},
		{14, "p1", `{"port_security":null,"iface_id":"vm1"}`},
		{15, "hv1", `{"tunnel_ip":"198.18.1.21","ovsdb":"ssl:198.18.255.21:6640","encaps":["gre"],"underlay_mtu":9000}`},
		{15, "hv1", `{"underlay_mtu":0,"datapath_type":"","openflow_peers":["::1","198.18.2.1"]}`},
		{15, "hv1", `{"openflow":"1.3"}`},
		{15, "hv1", `{"name":null,"kind":"generic","encaps":[]}`},
		{15, "hv9", `{"ovsdb":"passive"}`},
		{16, "gw1", `{"profile":"aruba-cx","limits":{"tunnels":64}}`},
		{16, "gw1", `{"limits":{"macs_total":1073741825,"macs_per_switch":-3}}`},
		{16, "nope", `{"profile":"dell"}`},
		{0, "", `{"name":"big","vni":1e309}`},
		{0, "", `{"name":"n","unknown":1}`},
		{0, "", `{"name":"n"} {"name":"m"}`},
	}
	for _, s := range seeds {
		f.Add(uint8(s.route), s.name, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, route uint8, name string, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		path := strings.ReplaceAll(rt.path, "NAME", url.PathEscape(name))
		before := db.Snapshot().Generation
		w := do(rt.method, path, string(body))
		after := db.Snapshot().Generation
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", rt.method, path, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var e api.Error
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Message == "" {
				t.Fatalf("%s %s %q: %d with body %q, not a JSON error", rt.method, path, body, w.Code, w.Body)
			}
			if after != before {
				t.Fatalf("%s %s %q refused (%d %s) but moved the generation %d -> %d", rt.method, path, body, w.Code, e.Message, before, after)
			}
			return
		}
		if rt.method == "GET" {
			return
		}
		// A PUT or PATCH that changes nothing is a no-op (idempotent).
		if after != before+1 && !((rt.method == "PATCH" || rt.method == "PUT") && after == before) {
			t.Fatalf("%s %s %q accepted (%d) but the generation went %d -> %d", rt.method, path, body, w.Code, before, after)
		}
		if loc := w.Header().Get("Location"); loc != "" {
			if g := do("GET", loc, ""); g.Code != http.StatusOK {
				t.Fatalf("%s %s %q created %s, which reads back as %d %s", rt.method, path, body, loc, g.Code, g.Body)
			}
		}
	})
}
