package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/rest/api"
	"github.com/ferry-sdn/ferry/rest/resttest"
)

type fixture struct {
	h  http.Handler
	b  *resttest.Backend
	st *resttest.Status
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b, st := resttest.NewBackend(), resttest.NewStatus()
	return &fixture{h: NewHandler(b, st, prometheus.NewRegistry(), nil), b: b, st: st}
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (f *fixture) do(t *testing.T, method, path, body string) response {
	t.Helper()
	return f.doHeader(t, method, path, body, nil)
}

func (f *fixture) doHeader(t *testing.T, method, path, body string, header map[string]string) response {
	t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	checkDocumented(t, r, w.Code)
	return response{code: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// want checks the status code and, for errors, that the body is a JSON
// error whose message contains every fragment (the field, typically).
func (r response) want(t *testing.T, code int, fragments ...string) response {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d; body %s", r.code, code, r.body)
	}
	if code == http.StatusNoContent {
		return r
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if code >= 400 {
		var e api.Error
		if err := json.Unmarshal(r.body, &e); err != nil || e.Message == "" {
			t.Fatalf("error body %s is not {\"error\": ...}: %v", r.body, err)
		}
		for _, f := range fragments {
			if !strings.Contains(e.Message, f) {
				t.Fatalf("error %q does not mention %q", e.Message, f)
			}
		}
	}
	return r
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

const (
	hv1 = `{"name":"hv1","ovsdb":"tcp:198.18.255.11:6640","tunnel_ip":"198.18.1.11"}`
	hv2 = `{"name":"hv2","ovsdb":"ssl:198.18.255.12:6640","tunnel_ip":"198.18.1.12","bridge":"xapi1","kind":"xenserver","encaps":["gre"]}`
)

func TestSwitches(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	if loc := r.header.Get("Location"); loc != "/v1/switches/blue" {
		t.Fatalf("Location %q", loc)
	}
	var sw api.Switch
	r.decode(t, &sw)
	if sw.Name != "blue" || sw.VNI != 1 || sw.Encap != "vxlan" || sw.Generation != 1 || sw.Ports == nil || sw.Status.Realized {
		t.Fatalf("created %+v", sw)
	}
	f.do(t, "POST", "/v1/switches", `{"name":"amber","vni":5000,"encap":"gre"}`).want(t, 201)
	f.do(t, "POST", "/v1/switches", `{"name":"cyan","vni":null}`).want(t, 201).decode(t, &sw)
	if sw.VNI != 2 {
		t.Fatalf("allocated VNI %d, want 2", sw.VNI)
	}

	var list []api.Switch
	f.do(t, "GET", "/v1/switches", "").want(t, 200).decode(t, &list)
	if got := names(list, func(s api.Switch) string { return s.Name }); !slices.Equal(got, []string{"amber", "blue", "cyan"}) {
		t.Fatalf("list %v, want sorted by name", got)
	}

	f.st.SetSwitch("amber", model.SwitchStatus{Realized: true, PortsBound: 1,
		Chassis: []model.SwitchChassis{{Name: "hv1", RealizedGeneration: 2, Realized: true}}})
	var raw map[string]any
	f.do(t, "GET", "/v1/switches/amber", "").want(t, 200).decode(t, &raw)
	st, _ := raw["status"].(map[string]any)
	if raw["vni"] != 5000.0 || raw["encap"] != "gre" || st["realized"] != true || st["ports_bound"] != 1.0 {
		t.Fatalf("GET amber = %v", raw)
	}
	f.do(t, "GET", "/v1/switches/cyan", "").want(t, 200).decode(t, &raw)
	if st := raw["status"].(map[string]any); st["realized"] != false || st["chassis"] == nil {
		t.Fatalf("unrealized status = %v (chassis must be [] not null)", st)
	}

	f.do(t, "DELETE", "/v1/switches/blue", "").want(t, 204)
	f.do(t, "GET", "/v1/switches/blue", "").want(t, 404, `switch "blue" not found`)
	f.do(t, "DELETE", "/v1/switches/blue", "").want(t, 404, "blue")
}

func names[T any](items []T, name func(T) string) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, name(it))
	}
	return out
}

// badInput lists requests that must be refused with a 4xx before they reach
// the backend.
type badInput struct {
	name      string
	body      string
	code      int
	fragments []string
}

// bodyProblems are refused the same way by every POST endpoint.
var bodyProblems = []badInput{
	{"empty body", "", 400, []string{"empty"}},
	{"malformed", `{"name":`, 400, []string{"malformed JSON"}},
	{"not JSON", `name=blue`, 400, []string{"malformed JSON"}},
	{"array", `[]`, 400, []string{"JSON object"}},
	{"unknown field", `{"name":"x","colour":"red"}`, 400, []string{"colour: unknown field"}},
	{"trailing object", `{"name":"x"} {"name":"y"}`, 400, []string{"after the JSON object"}},
	{"trailing garbage", `{"name":"x"}]`, 400, []string{"after the JSON object"}},
	{"name type", `{"name":5}`, 400, []string{"name: must be a string"}},
	{"too large", `{"name":"` + strings.Repeat("x", 1<<20) + `"}`, 413, []string{"larger than"}},
}

func checkBad(t *testing.T, f *fixture, path string, cases []badInput) {
	t.Helper()
	checkBadWith(t, f, http.MethodPost, path, cases)
}

// checkBadWith is checkBad with another method.
func checkBadWith(t *testing.T, f *fixture, method, path string, cases []badInput) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := f.b.Mutations()
			gen := f.b.Snapshot().Generation
			f.do(t, method, path, c.body).want(t, c.code, c.fragments...)
			if f.b.Mutations() != before || f.b.Snapshot().Generation != gen {
				t.Fatal("bad input reached the backend")
			}
		})
	}
}

func TestSwitchBadInput(t *testing.T) {
	f := newFixture(t)
	checkBad(t, f, "/v1/switches", append(slices.Clone(bodyProblems), []badInput{
		{"no name", `{"vni":5}`, 400, []string{"name: required"}},
		{"name charset", `{"name":"blue net"}`, 400, []string{"name:"}},
		{"name slash", `{"name":"a/b"}`, 400, []string{"name:"}},
		{"name leading dash", `{"name":"-blue"}`, 400, []string{"name:", "start"}},
		{"name leading dot", `{"name":".blue"}`, 400, []string{"name:", "start"}},
		{"name too long", `{"name":"` + strings.Repeat("b", 65) + `"}`, 400, []string{"name:", "64"}},
		{"vni zero", `{"name":"x","vni":0}`, 400, []string{"vni: must be between 1 and 16777215"}},
		{"vni negative", `{"name":"x","vni":-1}`, 400, []string{"vni: must be between 1 and 16777215"}},
		{"vni too big", `{"name":"x","vni":16777216}`, 400, []string{"vni: must be between 1 and 16777215"}},
		{"vni fraction", `{"name":"x","vni":1.5}`, 400, []string{"vni: must be an integer"}},
		{"vni string", `{"name":"x","vni":"5"}`, 400, []string{"vni: must be an integer"}},
		{"encap", `{"name":"x","encap":"geneve"}`, 400, []string{"encap:", "geneve"}},
		{"several", `{"name":"","vni":0}`, 400, []string{"name: required", "vni:"}},
	}...))
	f.do(t, "POST", "/v1/switches", `{"name":"x","vni":16777215}`).want(t, 201)

	f.do(t, "POST", "/v1/switches", `{"name":"blue","vni":7}`).want(t, 201)
	f.do(t, "POST", "/v1/switches", `{"name":"blue","vni":8}`).want(t, 409, "name:", "blue")
	f.do(t, "POST", "/v1/switches", `{"name":"red","vni":7}`).want(t, 409, "vni:", "blue")
}

func TestPorts(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	f.do(t, "POST", "/v1/switches", `{"name":"red"}`).want(t, 201)

	r := f.do(t, "POST", "/v1/switches/blue/ports", `{"name":"vm2","iface_id":"if-2","mac":"02:AB:CD:00:00:02"}`).want(t, 201)
	if loc := r.header.Get("Location"); loc != "/v1/switches/blue/ports/vm2" {
		t.Fatalf("Location %q", loc)
	}
	var p api.Port
	r.decode(t, &p)
	if p.Name != "vm2" || p.Switch != "blue" || p.IfaceID != "if-2" || p.MAC != "02:ab:cd:00:00:02" {
		t.Fatalf("created %+v (MAC must be lower-case)", p)
	}
	f.do(t, "POST", "/v1/switches/blue/ports", `{"name":"vm1","iface_id":"if-1"}`).want(t, 201)
	f.do(t, "POST", "/v1/switches/red/ports", `{"name":"vm1","iface_id":"if-3"}`).want(t, 201)

	var list []api.Port
	f.do(t, "GET", "/v1/switches/blue/ports", "").want(t, 200).decode(t, &list)
	if got := names(list, func(p api.Port) string { return p.Name }); !slices.Equal(got, []string{"vm1", "vm2"}) {
		t.Fatalf("ports %v", got)
	}
	var sw api.Switch
	f.do(t, "GET", "/v1/switches/blue", "").want(t, 200).decode(t, &sw)
	if !slices.Equal(sw.Ports, []string{"vm1", "vm2"}) {
		t.Fatalf("switch ports %v", sw.Ports)
	}

	f.st.SetPort("blue", "vm1", model.PortStatus{Bound: true, Chassis: "hv1", Interface: "tap1", OFPort: 7, MAC: "52:54:00:00:00:01"})
	var raw map[string]any
	f.do(t, "GET", "/v1/switches/blue/ports/vm1", "").want(t, 200).decode(t, &raw)
	if st := raw["status"].(map[string]any); st["bound"] != true || st["chassis"] != "hv1" || st["ofport"] != 7.0 {
		t.Fatalf("port status %v", raw)
	}
	if _, ok := raw["mac"]; ok {
		t.Fatalf("port without a MAC shows one: %v", raw)
	}

	f.do(t, "POST", "/v1/switches/blue/ports", `{"name":"vm1","iface_id":"if-9"}`).want(t, 409, "name:", "vm1")
	f.do(t, "POST", "/v1/switches/blue/ports", `{"name":"vm9","iface_id":"if-3"}`).want(t, 409, "iface_id:", "red")
	f.do(t, "POST", "/v1/switches/green/ports", `{"name":"vm1","iface_id":"if-8"}`).want(t, 404, "green")
	f.do(t, "GET", "/v1/switches/green/ports", "").want(t, 404, "green")
	f.do(t, "GET", "/v1/switches/green/ports/vm1", "").want(t, 404, "green")
	f.do(t, "GET", "/v1/switches/blue/ports/vm9", "").want(t, 404, "vm9")
	f.do(t, "DELETE", "/v1/switches/blue/ports/vm9", "").want(t, 404, "vm9")
	f.do(t, "DELETE", "/v1/switches/green/ports/vm1", "").want(t, 404, "green")

	f.do(t, "DELETE", "/v1/switches/blue/ports/vm2", "").want(t, 204)
	f.do(t, "GET", "/v1/switches/blue/ports/vm2", "").want(t, 404)
	// The iface_id is free again.
	f.do(t, "POST", "/v1/switches/red/ports", `{"name":"vm2","iface_id":"if-2"}`).want(t, 201)
}

func TestPortBadInput(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	checkBad(t, f, "/v1/switches/blue/ports", append(slices.Clone(bodyProblems), []badInput{
		{"no iface_id", `{"name":"vm1"}`, 400, []string{"iface_id: required"}},
		{"long iface_id", `{"name":"vm1","iface_id":"` + strings.Repeat("i", 256) + `"}`, 400, []string{"iface_id:"}},
		{"control iface_id", `{"name":"vm1","iface_id":"a\nb"}`, 400, []string{"iface_id:"}},
		{"no name", `{"iface_id":"x"}`, 400, []string{"name: required"}},
		{"bad name", `{"name":"vm 1","iface_id":"x"}`, 400, []string{"name:"}},
		{"mac garbage", `{"name":"vm1","iface_id":"x","mac":"zz:zz"}`, 400, []string{"mac:"}},
		{"mac eui64", `{"name":"vm1","iface_id":"x","mac":"02:00:00:00:00:00:00:01"}`, 400, []string{"mac:"}},
		{"mac multicast", `{"name":"vm1","iface_id":"x","mac":"01:00:5e:00:00:01"}`, 400, []string{"mac:", "multicast"}},
		{"mac broadcast", `{"name":"vm1","iface_id":"x","mac":"ff:ff:ff:ff:ff:ff"}`, 400, []string{"mac:"}},
		{"mac zero", `{"name":"vm1","iface_id":"x","mac":"00:00:00:00:00:00"}`, 400, []string{"mac:", "zero"}},
		{"switch field", `{"name":"vm1","iface_id":"x","switch":"blue"}`, 400, []string{"switch: unknown field"}},
	}...))
}

func TestChassis(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, "POST", "/v1/chassis", hv1).want(t, 201)
	if loc := r.header.Get("Location"); loc != "/v1/chassis/hv1" {
		t.Fatalf("Location %q", loc)
	}
	var ch api.Chassis
	r.decode(t, &ch)
	if ch.Bridge != "br-int" || ch.Kind != "kvm" || !slices.Equal(ch.Encaps, []string{"vxlan", "gre"}) || ch.TunnelIP != "198.18.1.11" || ch.Generation != 1 {
		t.Fatalf("defaults: %+v", ch)
	}
	f.do(t, "POST", "/v1/chassis", hv2).want(t, 201).decode(t, &ch)
	if ch.Bridge != "xapi1" || ch.Kind != "xenserver" || !slices.Equal(ch.Encaps, []string{"gre"}) {
		t.Fatalf("hv2: %+v", ch)
	}
	// Targets are stored in canonical form.
	f.do(t, "POST", "/v1/chassis", `{"name":"hv3","ovsdb":"tcp:[2001:db8:0::1]:6640","tunnel_ip":"198.18.1.13"}`).want(t, 201).decode(t, &ch)
	if ch.OVSDB != "tcp:[2001:db8::1]:6640" {
		t.Fatalf("ovsdb = %q", ch.OVSDB)
	}
	f.do(t, "POST", "/v1/chassis", `{"name":"hv4","ovsdb":"unix:/run/hv4/db.sock","tunnel_ip":"198.18.1.14"}`).want(t, 201)

	f.st.SetChassis("hv1", model.ChassisStatus{OVSDBConnected: true, OpenFlowConnected: true, RealizedGeneration: 3, DatapathID: "00000000000000a1"})
	var raw map[string]any
	f.do(t, "GET", "/v1/chassis/hv1", "").want(t, 200).decode(t, &raw)
	st := raw["status"].(map[string]any)
	if st["ovsdb_connected"] != true || st["openflow_connected"] != true || st["realized_generation"] != 3.0 {
		t.Fatalf("chassis status %v", raw)
	}
	var list []api.Chassis
	f.do(t, "GET", "/v1/chassis", "").want(t, 200).decode(t, &list)
	if got := names(list, func(c api.Chassis) string { return c.Name }); !slices.Equal(got, []string{"hv1", "hv2", "hv3", "hv4"}) {
		t.Fatalf("list %v", got)
	}

	f.do(t, "POST", "/v1/chassis", hv1).want(t, 409, "name:", "hv1")
	f.do(t, "POST", "/v1/chassis", `{"name":"hv9","ovsdb":"tcp:198.18.255.19:6640","tunnel_ip":"198.18.1.11"}`).want(t, 409, "tunnel_ip:", "hv1")
	f.do(t, "GET", "/v1/chassis/hv9", "").want(t, 404, "hv9")
	f.do(t, "DELETE", "/v1/chassis/hv9", "").want(t, 404, "hv9")
	f.do(t, "DELETE", "/v1/chassis/hv1", "").want(t, 204)
	f.do(t, "GET", "/v1/chassis/hv1", "").want(t, 404)
}

func TestChassisBadInput(t *testing.T) {
	f := newFixture(t)
	with := func(field, value string) string {
		m := map[string]any{"name": "hv1", "ovsdb": "tcp:198.18.255.11:6640", "tunnel_ip": "198.18.1.11"}
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			t.Fatal(err)
		}
		m[field] = v
		b, _ := json.Marshal(m)
		return string(b)
	}
	checkBad(t, f, "/v1/chassis", append(slices.Clone(bodyProblems), []badInput{
		{"no ovsdb", `{"name":"hv1","tunnel_ip":"198.18.1.11"}`, 400, []string{"ovsdb: required"}},
		{"ovsdb no method", with("ovsdb", `"198.18.255.11:6640"`), 400, []string{"ovsdb:"}},
		{"ovsdb no port", with("ovsdb", `"tcp:198.18.255.11"`), 400, []string{"ovsdb:", "port"}},
		{"ovsdb bad port", with("ovsdb", `"tcp:198.18.255.11:70000"`), 400, []string{"ovsdb:", "port"}},
		{"ovsdb bad ip", with("ovsdb", `"tcp:198.18.255.300:6640"`), 400, []string{"ovsdb:"}},
		{"ovsdb host name", with("ovsdb", `"tcp:hv1.example.net:6640"`), 400, []string{"ovsdb:", "not an IP address"}},
		{"ovsdb passive", with("ovsdb", `"ptcp:6640"`), 400, []string{"ovsdb:", "passive"}},
		{"ovsdb relative unix", with("ovsdb", `"unix:db.sock"`), 400, []string{"ovsdb:", "absolute"}},
		{"ovsdb unknown method", with("ovsdb", `"http://198.18.255.11:6640"`), 400, []string{"ovsdb:"}},
		{"no tunnel_ip", `{"name":"hv1","ovsdb":"tcp:198.18.255.11:6640"}`, 400, []string{"tunnel_ip: required"}},
		{"tunnel_ip garbage", with("tunnel_ip", `"198.18.1"`), 400, []string{"tunnel_ip:", "not an IP"}},
		{"tunnel_ip v6", with("tunnel_ip", `"2001:db8::1"`), 400, []string{"tunnel_ip:", "IPv4", "vxlan_over_ipv4"}},
		{"tunnel_ip mapped", with("tunnel_ip", `"::ffff:198.18.1.11"`), 400, []string{"tunnel_ip:", "IPv4"}},
		{"tunnel_ip multicast", with("tunnel_ip", `"239.1.1.1"`), 400, []string{"tunnel_ip:", "unicast"}},
		{"tunnel_ip zero", with("tunnel_ip", `"0.0.0.0"`), 400, []string{"tunnel_ip:"}},
		{"tunnel_ip loopback", with("tunnel_ip", `"127.0.0.1"`), 400, []string{"tunnel_ip:"}},
		{"tunnel_ip broadcast", with("tunnel_ip", `"255.255.255.255"`), 400, []string{"tunnel_ip:", "broadcast"}},
		{"tunnel_ip this network", with("tunnel_ip", `"0.1.2.3"`), 400, []string{"tunnel_ip:", "unspecified"}},
		{"tunnel_ip class E", with("tunnel_ip", `"240.0.0.1"`), 400, []string{"tunnel_ip:", "class E"}},
		{"tunnel_ip class E top", with("tunnel_ip", `"254.255.255.255"`), 400, []string{"tunnel_ip:", "class E"}},
		{"tunnel_ip link-local", with("tunnel_ip", `"169.254.10.1"`), 400, []string{"tunnel_ip:", "link-local"}},
		{"tunnel_ip link-local v6", with("tunnel_ip", `"fe80::1"`), 400, []string{"tunnel_ip:", "IPv4"}},
		{"ovsdb unspecified", with("ovsdb", `"tcp:0.0.0.0:6640"`), 400, []string{"ovsdb:", "unspecified"}},
		{"ovsdb unspecified v6", with("ovsdb", `"ssl:[::]:6640"`), 400, []string{"ovsdb:", "unspecified"}},
		{"ovsdb broadcast", with("ovsdb", `"tcp:255.255.255.255:6640"`), 400, []string{"ovsdb:", "broadcast"}},
		{"ovsdb multicast", with("ovsdb", `"tcp:239.0.0.1:6640"`), 400, []string{"ovsdb:", "multicast"}},
		{"ovsdb unix root", with("ovsdb", `"unix:/"`), 400, []string{"ovsdb:", "directory"}},
		{"ovsdb unix dir", with("ovsdb", `"unix:/run/openvswitch/"`), 400, []string{"ovsdb:", "directory"}},
		{"ovsdb unix dot-dot", with("ovsdb", `"unix:/run/.."`), 400, []string{"ovsdb:", "directory"}},
		{"ovsdb empty", with("ovsdb", `""`), 400, []string{"ovsdb: required"}},
		{"bridge long", with("bridge", `"br-int-is-too-long"`), 400, []string{"bridge:", "15"}},
		{"bridge slash", with("bridge", `"br/int"`), 400, []string{"bridge:"}},
		{"bridge dash", with("bridge", `"-br"`), 400, []string{"bridge:"}},
		{"kind", with("kind", `"hyperv"`), 400, []string{"kind:", "hyperv"}},
		{"encaps empty", with("encaps", `[]`), 400, []string{"encaps:", "empty"}},
		{"encaps duplicate", with("encaps", `["vxlan","vxlan"]`), 400, []string{"encaps:", "twice"}},
		{"encaps unknown", with("encaps", `["geneve"]`), 400, []string{"encaps:", "geneve"}},
		{"encaps type", with("encaps", `"vxlan"`), 400, []string{"encaps: must be an array of strings"}},
	}...))
}

func TestBackendFailures(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)

	f.b.FailWith(errors.New("nbdb: create switch: connection reset"))
	r := f.do(t, "POST", "/v1/switches", `{"name":"red"}`).want(t, 500, "internal error")
	if bytes.Contains(r.body, []byte("connection reset")) {
		t.Fatalf("internal error leaked: %s", r.body)
	}
	f.b.FailWith(fmt.Errorf("nbdb: create switch: %w", context.DeadlineExceeded))
	f.do(t, "POST", "/v1/switches", `{"name":"red"}`).want(t, 503, "did not answer", "may or may not")
	f.b.FailWith(&nbdb.Error{Kind: nbdb.ErrInvalid, Field: "encap", Msg: "must be vxlan or gre"})
	f.do(t, "POST", "/v1/switches", `{"name":"red"}`).want(t, 400, "encap: must be vxlan or gre")
	f.b.FailWith(errors.New("nbdb: create switch: connection reset"))
	f.b.SetHealthy(false)
	f.do(t, "POST", "/v1/switches", `{"name":"red"}`).want(t, 503, "unavailable")
	f.b.FailWith(nil)

	// While the database is down: writes are refused before reaching the
	// backend, bad input is still the client's fault, reads serve the
	// last known state.
	before := f.b.Mutations()
	f.do(t, "POST", "/v1/switches", `{"name":"red"}`).want(t, 503, "unavailable")
	f.do(t, "DELETE", "/v1/switches/blue", "").want(t, 503)
	f.do(t, "POST", "/v1/switches/blue/ports", `{"name":"p","iface_id":"i"}`).want(t, 503)
	f.do(t, "DELETE", "/v1/switches/blue/ports/p", "").want(t, 503)
	f.do(t, "POST", "/v1/chassis", hv1).want(t, 503)
	f.do(t, "DELETE", "/v1/chassis/hv1", "").want(t, 503)
	f.do(t, "POST", "/v1/switches", `{"name":"red","vni":0}`).want(t, 400, "vni:")
	if f.b.Mutations() != before {
		t.Fatal("writes reached an unhealthy backend")
	}
	f.do(t, "GET", "/v1/switches/blue", "").want(t, 200)
	var h api.Health
	f.do(t, "GET", "/healthz", "").want(t, 503).decode(t, &h)
	if h.Status != "unavailable" || h.Northbound != "disconnected" {
		t.Fatalf("health %+v", h)
	}
	f.b.SetHealthy(true)
	f.do(t, "GET", "/healthz", "").want(t, 200).decode(t, &h)
	if h.Status != "ok" {
		t.Fatalf("health %+v", h)
	}
}

func TestRouting(t *testing.T) {
	f := newFixture(t)
	f.do(t, "GET", "/nope", "").want(t, 404, "/nope")
	f.do(t, "GET", "/v1/switches/", "").want(t, 404)
	f.do(t, "GET", "/v1/switches/a/b/c/d", "").want(t, 404)
	r := f.do(t, "PUT", "/v1/switches", `{}`).want(t, 405, "PUT")
	if allow := r.header.Get("Allow"); allow != "GET, HEAD, POST" {
		t.Fatalf("Allow %q", allow)
	}
	r = f.do(t, "POST", "/v1/switches/blue", `{}`).want(t, 405)
	if allow := r.header.Get("Allow"); allow != "GET, HEAD, PUT, PATCH, DELETE" {
		t.Fatalf("Allow %q", allow)
	}
	f.do(t, "DELETE", "/healthz", "").want(t, 405)
	f.do(t, "PUT", "/v1/chassis/hv1", "{}").want(t, 405)

	var doc map[string]any
	f.do(t, "GET", "/v1/openapi.json", "").want(t, 200).decode(t, &doc)
	if doc["openapi"] != "3.0.3" {
		t.Fatalf("openapi document %v", doc["openapi"])
	}
}

func TestMetricsAndAccessLog(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	b := resttest.NewBackend()
	h := NewHandler(b, nil, reg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	// A second handler on the same registry must not panic.
	NewHandler(b, nil, reg, nil)
	f := &fixture{h: h, b: b}
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	f.do(t, "GET", "/v1/switches/blue", "").want(t, 200)
	f.do(t, "GET", "/v1/switches/red", "").want(t, 404)
	f.do(t, "GET", "/nope", "").want(t, 404)

	r := f.do(t, "GET", "/metrics", "")
	if r.code != 200 {
		t.Fatalf("/metrics: %d", r.code)
	}
	for _, want := range []string{
		`ferry_rest_requests_total{code="201",method="POST",route="/v1/switches"} 1`,
		`ferry_rest_requests_total{code="200",method="GET",route="/v1/switches/{name}"} 1`,
		`ferry_rest_requests_total{code="404",method="GET",route="/v1/switches/{name}"} 1`,
		`ferry_rest_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`ferry_rest_request_duration_seconds_bucket`,
	} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(logs.String(), `msg="http request" method=POST path=/v1/switches status=201`) {
		t.Errorf("no access log line for the POST:\n%s", logs.String())
	}
}

// droppingBackend loses the northbound connection in the middle of a
// write.
type droppingBackend struct{ *resttest.Backend }

func (b droppingBackend) CreateSwitch(context.Context, model.Switch) (model.Switch, error) {
	b.SetHealthy(false)
	return model.Switch{}, errors.New("nbdb: create switch: not connected")
}

func TestConnectionLostDuringWrite(t *testing.T) {
	f := &fixture{h: NewHandler(droppingBackend{resttest.NewBackend()}, nil, nil, nil)}
	r := f.do(t, "POST", "/v1/switches", `{"name":"red"}`).want(t, 503, "unavailable")
	if bytes.Contains(r.body, []byte("not connected")) {
		t.Fatalf("internal error leaked: %s", r.body)
	}
}
