package rest

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-sdn/ferry/rest/resttest"
)

const (
	adminToken  = "admin-0123456789abcdef"
	readerToken = "reader-0123456789abcdef"
	tokensFile  = "# ferry API tokens\n\n" + adminToken + " admin\n\t" + readerToken + "\treader  \n"
)

func mustTokens(t *testing.T, s string) *Tokens {
	t.Helper()
	tok, err := ParseTokens(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// authFixture is a fixture whose requests carry a bearer token.
type authFixture struct {
	*fixture
	logs *bytes.Buffer
}

func newAuthFixture(t *testing.T, opts ...Option) authFixture {
	t.Helper()
	b, st := resttest.NewBackend(), resttest.NewStatus()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts = append([]Option{WithAuth(NewAuth(mustTokens(t, tokensFile)))}, opts...)
	return authFixture{&fixture{h: NewHandler(b, st, prometheus.NewRegistry(), logger, opts...), b: b, st: st}, &logs}
}

func (f authFixture) as(t *testing.T, authorization, method, path, body string) response {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var r *http.Request
	if rd == nil {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, rd)
	}
	if authorization != "" {
		r.Header.Set("Authorization", authorization)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	checkDocumented(t, r, w.Code)
	return response{code: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// adminRequests exercises every route as an admin, in an order where each
// succeeds: objects are created before they are read and deleted last.
var adminRequests = []struct{ method, path, body string }{
	{"POST", "/v1/switches", `{"name":"blue"}`},
	{"GET", "/v1/switches", ""},
	{"GET", "/v1/switches/blue", ""},
	{"PATCH", "/v1/switches/blue", `{"xenserver_networks":[]}`},
	{"POST", "/v1/switches/blue/ports", `{"name":"p1","iface_id":"vm1"}`},
	{"PUT", "/v1/switches/red", `{"ports":[{"name":"p1","iface_id":"vm2"}]}`},
	{"GET", "/v1/switches/blue/ports", ""},
	{"GET", "/v1/switches/blue/ports/p1", ""},
	{"PATCH", "/v1/switches/blue/ports/p1", `{"port_security":false}`},
	{"PUT", "/v1/switches/blue/ports/p2", `{"iface_id":"vm3","ips":["198.18.100.3"]}`},
	{"POST", "/v1/chassis", hv1},
	{"GET", "/v1/chassis", ""},
	{"GET", "/v1/chassis/hv1", ""},
	{"PATCH", "/v1/chassis/hv1", `{"underlay_mtu":9000}`},
	{"POST", "/v1/gateways", `{"name":"gw1","ovsdb":"tcp:198.18.255.31:6640"}`},
	{"GET", "/v1/gateways", ""},
	{"GET", "/v1/gateways/gw1", ""},
	{"GET", "/v1/gateways/gw1/macs", ""},
	{"POST", "/v1/gateways/gw1/check", ""},
	{"PATCH", "/v1/gateways/gw1", `{"limits":{"tunnels":16}}`},
	{"POST", "/v1/switches/blue/bindings", `{"gateway":"gw1","port":"p0","vlan":0}`},
	{"GET", "/v1/switches/blue/bindings", ""},
	{"GET", "/v1/switches/blue/bindings/gw1/p0/0", ""},
	{"GET", "/v1/openapi.json", ""},
	{"GET", "/v1/version", ""},
	{"GET", "/v1/replicas", ""},
	{"GET", "/v1/events", ""},
	{"GET", "/v1/trace?switch=blue&from=p1&dst_mac=ff:ff:ff:ff:ff:ff", ""},
	{"POST", "/v1/trace", `{"switch":"blue","from":"p1","dst_mac":"02:00:00:00:00:02"}`},
	{"DELETE", "/v1/switches/blue/bindings/gw1/p0/0", ""},
	{"DELETE", "/v1/gateways/gw1", ""},
	{"DELETE", "/v1/chassis/hv1", ""},
	{"DELETE", "/v1/switches/blue/ports/p1", ""},
	{"DELETE", "/v1/switches/blue", ""},
	{"DELETE", "/v1/switches/red", ""},
}

// walkV1 returns every routed "METHOD /v1/template".
func walkV1(t *testing.T) map[string]bool {
	t.Helper()
	s := newServer(resttest.NewBackend(), nil, nil, nil)
	routes := map[string]bool{}
	err := s.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil || !strings.HasPrefix(tpl, "/v1/") {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			return err
		}
		for _, m := range methods {
			routes[m+" "+tpl] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(routes) < 20 {
		t.Fatalf("walked only %d /v1 routes", len(routes))
	}
	return routes
}

// templateOf maps a concrete path of adminRequests to its route template.
func templateOf(t *testing.T, h http.Handler, method, path string) string {
	t.Helper()
	var m mux.RouteMatch
	if !h.(*server).router.Match(httptest.NewRequest(method, path, nil), &m) || m.Route == nil {
		t.Fatalf("%s %s matches no route", method, path)
	}
	tpl, _ := m.Route.GetPathTemplate()
	return method + " " + tpl
}

func TestAuthEveryRoute(t *testing.T) {
	f := newAuthFixture(t)
	routes := walkV1(t)
	covered := map[string]bool{}
	for _, rq := range adminRequests {
		covered[templateOf(t, f.h, rq.method, rq.path)] = true
	}
	for r := range routes {
		if !covered[r] {
			t.Errorf("route %s is not exercised by adminRequests: add it", r)
		}
	}

	for _, rq := range adminRequests {
		// No token, a wrong one, a wrong scheme: 401 with a challenge.
		for _, auth := range []string{"", "Bearer nope-0123456789abcdef", "Basic " + adminToken, "Bearer"} {
			r := f.as(t, auth, rq.method, rq.path, rq.body).want(t, 401)
			if ch := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer") {
				t.Fatalf("%s %s with %q: WWW-Authenticate %q", rq.method, rq.path, auth, ch)
			}
		}
		// An admin may do everything.
		r := f.as(t, "bearer "+adminToken, rq.method, rq.path, rq.body) // the scheme is case-insensitive
		if r.code/100 != 2 {
			t.Fatalf("admin %s %s: %d %s", rq.method, rq.path, r.code, r.body)
		}
		// A reader may read, and only read (refused before routing, so
		// the admin's deletion above does not matter).
		r = f.as(t, "Bearer "+readerToken, rq.method, rq.path, rq.body)
		if rq.method == "GET" || rq.path == "/v1/trace" {
			// A trace reads, even when its question comes as a body.
			r.want(t, 200)
		} else {
			r.want(t, 403, "role reader", rq.method)
		}
	}
	if n := len(f.b.Snapshot().Switches); n != 0 {
		t.Fatalf("%d switches left: a refused request changed something", n)
	}

	// Unknown paths are refused before routing: no token, no 404.
	f.as(t, "", "GET", "/v1/nothing-here", "").want(t, 401)
	f.as(t, "", "GET", "/", "").want(t, 401)
	f.as(t, "Bearer "+readerToken, "GET", "/v1/nothing-here", "").want(t, 404)
	// HEAD is a read.
	if r := f.as(t, "Bearer "+readerToken, "HEAD", "/v1/switches", ""); r.code == 403 || r.code == 401 {
		t.Fatalf("reader HEAD: %d", r.code)
	}

	// The token never reaches the log.
	logs := f.logs.String()
	for _, tok := range []string{adminToken, readerToken, "nope-0123456789abcdef"} {
		if strings.Contains(logs, tok) {
			t.Fatalf("a token is in the log:\n%s", logs)
		}
	}
	if !strings.Contains(logs, "status=401") || !strings.Contains(logs, "role=admin") {
		t.Fatalf("access log lacks refusals or roles:\n%s", logs)
	}
}

func TestAuthOpenEndpoints(t *testing.T) {
	f := newAuthFixture(t)
	f.as(t, "", "GET", "/healthz", "").want(t, 200)
	if r := f.as(t, "", "GET", "/metrics", ""); r.code != 200 {
		t.Fatalf("/metrics without a token: %d, want 200 (open by default)", r.code)
	}
	// Refusals are counted under their route.
	f.as(t, "", "POST", "/v1/switches", `{"name":"x"}`).want(t, 401)
	r := f.as(t, "", "GET", "/metrics", "")
	if want := `ferry_rest_requests_total{code="401",method="POST",route="/v1/switches"} 1`; !bytes.Contains(r.body, []byte(want)) {
		t.Fatalf("/metrics lacks %s:\n%s", want, r.body)
	}

	f = newAuthFixture(t, WithMetricsAuth())
	f.as(t, "", "GET", "/healthz", "").want(t, 200)
	r = f.as(t, "", "GET", "/metrics", "").want(t, 401)
	if r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
	f.as(t, "Bearer wrong-0123456789abcdef", "GET", "/metrics", "").want(t, 401)
	if r := f.as(t, "Bearer "+readerToken, "GET", "/metrics", ""); r.code != 200 {
		t.Fatalf("/metrics with a reader token: %d", r.code)
	}

	// Without WithAuth, WithMetricsAuth changes nothing.
	h := NewHandler(resttest.NewBackend(), nil, nil, nil, WithMetricsAuth())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/switches", nil))
	if w.Code != 200 {
		t.Fatalf("no auth configured: %d", w.Code)
	}
}

func TestAuthReload(t *testing.T) {
	a := NewAuth(mustTokens(t, tokensFile))
	b := resttest.NewBackend()
	f := authFixture{fixture: &fixture{h: NewHandler(b, nil, nil, nil, WithAuth(a)), b: b}}
	f.as(t, "Bearer "+readerToken, "GET", "/v1/switches", "").want(t, 200)
	a.Set(mustTokens(t, "fresh-0123456789abcdef admin\n"))
	f.as(t, "Bearer "+readerToken, "GET", "/v1/switches", "").want(t, 401)
	f.as(t, "Bearer fresh-0123456789abcdef", "GET", "/v1/switches", "").want(t, 200)
	a.Set(nil)
	f.as(t, "Bearer fresh-0123456789abcdef", "GET", "/v1/switches", "").want(t, 401)
}

func TestParseTokens(t *testing.T) {
	tok := mustTokens(t, tokensFile)
	if tok.Len() != 2 {
		t.Fatalf("%d tokens", tok.Len())
	}
	for token, want := range map[string]Role{adminToken: RoleAdmin, readerToken: RoleReader} {
		if got, ok := tok.Role(token); !ok || got != want {
			t.Errorf("Role(%s) = %q %v, want %q", token, got, ok, want)
		}
	}
	for _, bad := range []string{"", adminToken + "x", adminToken[:len(adminToken)-1], "admin"} {
		if got, ok := tok.Role(bad); ok {
			t.Errorf("Role(%q) = %q, want no match", bad, got)
		}
	}

	const secret = "s3cret-0123456789abcdef"
	for _, c := range []struct{ file, want string }{
		{"", "no token"},
		{"# only a comment\n\n", "no token"},
		{"\n" + secret + "\n", "line 2: missing role"},
		{secret + " root\n", `line 1: unknown role "root"`},
		{secret + " admin extra\n", "line 1: 3 fields"},
		{"short admin\n", "line 1: token shorter than 16"},
		{"bad,char-0123456789abcdef admin\n", "line 1: token has a character"},
		{secret + " admin\n# x\n" + secret + " reader\n", "line 3: same token as line 1"},
		{secret + " Admin\n", "unknown role"},
	} {
		_, err := ParseTokens(strings.NewReader(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseTokens(%q) = %v, want an error containing %q", c.file, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q repeats the token", err)
		}
	}
	// Base64 padding and the RFC 6750 punctuation are fine.
	mustTokens(t, "abc-._~+/0123456789== reader\n")

	if _, err := LoadTokens(t.TempDir() + "/missing"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("LoadTokens of a missing file: %v", err)
	}
}

func TestSSLTargetWithoutTLS(t *testing.T) {
	b := resttest.NewBackend()
	f := &fixture{h: NewHandler(b, nil, nil, nil, WithoutTLS()), b: b}
	f.do(t, "POST", "/v1/chassis", hv2).want(t, 400, "ovsdb:", "ssl:198.18.255.12:6640", "no TLS configuration", "--private-key")
	f.do(t, "POST", "/v1/gateways", `{"name":"gw1","ovsdb":"ssl:198.18.255.31:6640"}`).want(t, 400, "ovsdb:", "no TLS")
	// Every problem in one answer.
	f.do(t, "POST", "/v1/chassis", `{"name":"hv2","ovsdb":"ssl:198.18.255.12:6640","tunnel_ip":"x"}`).want(t, 400, "tunnel_ip:", "ovsdb:")
	f.do(t, "POST", "/v1/chassis", hv1).want(t, 201)
	if len(b.Snapshot().Chassis) != 1 || len(b.Snapshot().Gateways) != 0 {
		t.Fatalf("refused registrations reached the backend: %+v", b.Snapshot())
	}
	// With TLS (the default), ssl: is accepted.
	newFixture(t).do(t, "POST", "/v1/chassis", hv2).want(t, 201)
}
