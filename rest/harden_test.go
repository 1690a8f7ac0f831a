package rest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
)

// TestErrorResponses: every refusal of the handler, the router's own
// included, is a JSON {"error": ...} with Content-Type application/json
// (response.want checks both), and never a redirect.
func TestErrorResponses(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	f.do(t, "POST", "/v1/gateways", `{"name":"gw1","ovsdb":"tcp:198.18.255.31:6640"}`).want(t, 201)
	f.do(t, "POST", "/v1/switches/blue/bindings", `{"gateway":"gw1","port":"p0"}`).want(t, 201)
	big := `{"name":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	cases := []struct {
		name, method, path, contentType, body string
		code                                  int
		fragments                             []string
		allow                                 string
	}{
		{"unknown path", "GET", "/v2/switches", "", "", 404, []string{"/v2/switches"}, ""},
		{"trailing slash", "GET", "/v1/switches/", "", "", 404, nil, ""},
		{"double slash", "GET", "/v1//switches", "", "", 404, nil, ""},
		{"dot-dot binding port", "DELETE", "/v1/switches/blue/bindings/gw1/../0", "", "", 400, []string{"port:", `".."`}, ""},
		{"dot binding port", "DELETE", "/v1/switches/blue/bindings/gw1/./0", "", "", 400, []string{"port:", `"."`}, ""},
		{"encoded dot-dot", "GET", "/v1/switches/%2e%2e", "", "", 400, []string{"name:", `".."`}, ""},
		{"dot-dot switch", "GET", "/v1/switches/../ports", "", "", 400, []string{"switch:"}, ""},
		{"dot-dot unrouted", "GET", "/v1/../healthz", "", "", 400, []string{"path:"}, ""},
		{"control character", "GET", "/v1/switches/a%01b", "", "", 400, []string{"name:", "printable"}, ""},
		{"C1 control", "GET", "/v1/chassis/a%C2%85b", "", "", 400, []string{"name:", "printable"}, ""},
		{"invalid UTF-8", "GET", "/v1/gateways/a%FFb", "", "", 400, []string{"name:", "UTF-8"}, ""},
		{"405", "PUT", "/v1/switches", "", `{}`, 405, []string{"PUT"}, "GET, HEAD, POST"},
		{"405 lists HEAD", "POST", "/v1/switches/blue", "", `{}`, 405, nil, "GET, HEAD, PUT, PATCH, DELETE"},
		{"HEAD like GET", "HEAD", "/v1/switches/blue/bindings/gw1/p0/0", "", "", 200, nil, ""},
		{"413", "POST", "/v1/switches", "application/json", big, 413, []string{"larger than"}, ""},
		{"415 form", "POST", "/v1/switches", "application/x-www-form-urlencoded", `{"name":"red"}`, 415, []string{"Content-Type:", "application/json"}, ""},
		{"415 text", "POST", "/v1/chassis", "text/plain", `{}`, 415, []string{"Content-Type:"}, ""},
		{"415 charset", "POST", "/v1/switches", "application/json; charset=latin1", `{"name":"red"}`, 415, []string{"UTF-8"}, ""},
		{"415 garbage", "PUT", "/v1/switches/red", ";;", `{}`, 415, []string{"Content-Type:"}, ""},
		{"415 list", "POST", "/v1/switches/blue/ports", "multipart/form-data", `[]`, 415, []string{"Content-Type:"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.b.Mutations()
			header := map[string]string{}
			if c.contentType != "" {
				header["Content-Type"] = c.contentType
			}
			r := f.doHeader(t, c.method, c.path, c.body, header)
			if c.method == "HEAD" {
				// No body, but the headers of the GET answer.
				if r.code != c.code || len(r.body) != 0 || r.header.Get("Content-Type") != "application/json" {
					t.Fatalf("HEAD: %d %q %v", r.code, r.body, r.header)
				}
			} else {
				r.want(t, c.code, c.fragments...)
			}
			if allow := r.header.Get("Allow"); allow != c.allow {
				t.Errorf("Allow %q, want %q", allow, c.allow)
			}
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("Location %q on a refusal", loc)
			}
			if f.b.Mutations() != before {
				t.Error("refused request reached the backend")
			}
		})
	}
	// Accepted: application/json with or without charset=utf-8, and no
	// Content-Type at all.
	for i, ct := range []string{"application/json", "application/json; charset=UTF-8", "Application/JSON", ""} {
		h := map[string]string{}
		if ct != "" {
			h["Content-Type"] = ct
		}
		f.doHeader(t, "POST", "/v1/switches", `{"name":"sw`+strconv.Itoa(i)+`"}`, h).want(t, 201)
	}
}

// TestHead: HEAD is GET without the body.
func TestHead(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	for _, path := range []string{"/v1/switches", "/v1/switches/blue", "/healthz", "/v1/openapi.json", "/v1/switches/nope"} {
		get := f.do(t, "GET", path, "")
		head := f.do(t, "HEAD", path, "")
		if head.code != get.code || len(head.body) != 0 || head.header.Get("Content-Length") != get.header.Get("Content-Length") ||
			head.header.Get("Content-Type") != get.header.Get("Content-Type") {
			t.Errorf("HEAD %s: %d %q %v, GET: %d %v", path, head.code, head.body, head.header, get.code, get.header)
		}
	}
}

// TestDeviceNames: names a hardware switch gives its ports are free-form,
// but printable and never "." or "..".
func TestDeviceNames(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	f.do(t, "POST", "/v1/gateways", `{"name":"gw1","ovsdb":"tcp:198.18.255.31:6640"}`).want(t, 201)
	f.st.SetGateway("gw1", model.GatewayStatus{})
	checkBad(t, f, "/v1/switches/blue/bindings", []badInput{
		{"dot-dot", `{"gateway":"gw1","port":".."}`, 400, []string{"port:", "not a name"}},
		{"dot", `{"gateway":"gw1","port":"."}`, 400, []string{"port:", "not a name"}},
		{"C1 next line", `{"gateway":"gw1","port":"p\u00850"}`, 400, []string{"port:", "printable"}},
		{"C1 CSI", `{"gateway":"gw1","port":"p\u009b0"}`, 400, []string{"port:", "printable"}},
		{"bidi override", `{"gateway":"gw1","port":"p\u202e0"}`, 400, []string{"port:", "printable"}},
		{"line separator", `{"gateway":"gw1","port":"p\u20280"}`, 400, []string{"port:", "printable"}},
		{"no-break space", `{"gateway":"gw1","port":"p\u00a00"}`, 400, []string{"port:", "printable"}},
		{"invalid UTF-8", "{\"gateway\":\"gw1\",\"port\":\"p\xff0\"}", 400, []string{"port:", "printable"}},
		{"gateway slash", `{"gateway":"gw/1","port":"p0"}`, 400, []string{"gateway:"}},
	})
	checkBad(t, f, "/v1/gateways", []badInput{
		{"physical_switch C1", `{"name":"gw2","ovsdb":"tcp:198.18.255.32:6640","physical_switch":"v\u0085"}`, 400, []string{"physical_switch:"}},
		{"physical_switch dot-dot", `{"name":"gw2","ovsdb":"tcp:198.18.255.32:6640","physical_switch":".."}`, 400, []string{"physical_switch:"}},
		{"ovsdb unspecified", `{"name":"gw2","ovsdb":"tcp:0.0.0.0:6640"}`, 400, []string{"ovsdb:", "unspecified"}},
	})
	checkBad(t, f, "/v1/switches/blue/ports", []badInput{
		{"iface_id C1", `{"name":"vm1","iface_id":"a\u0085b"}`, 400, []string{"iface_id:"}},
		{"iface_id invalid UTF-8", "{\"name\":\"vm1\",\"iface_id\":\"a\xffb\"}", 400, []string{"iface_id:"}},
	})
	// Port names of real switches still pass.
	for _, port := range []string{"Ethernet1/1", "xe-0/0/1:2", "p.0", "...x"} {
		f.do(t, "POST", "/v1/switches/blue/bindings", `{"gateway":"gw1","port":"`+port+`"}`).want(t, 201)
	}
}
