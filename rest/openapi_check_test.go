package rest

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	"github.com/ferry-sdn/ferry/rest/resttest"
)

// The tests in this file keep rest/openapi.json true about status codes,
// in both directions: every response a test of this package gets through
// a fixture must be documented for its operation (checkDocumented, called
// by fixture.doHeader and authFixture.as), and every code the document
// lists for an operation must have been seen by some test (TestMain, when
// the whole package runs). TestOpenAPIRefusals provokes the refusals every
// operation shares; the tests of each handler provoke the rest (409s).

// docOp is one operation of the document.
type docOp struct {
	Responses map[string]json.RawMessage `json:"responses"`
	Security  *[]map[string][]string     `json:"security"`
	Role      string                     `json:"x-ferry-role"`
	Body      json.RawMessage            `json:"requestBody"`
}

var (
	docOpsOnce sync.Once
	docOps     map[string]docOp // "GET /v1/switches/{name}"
	docRouter  *mux.Router      // the API's routes, to name a request's template

	seenMu sync.Mutex
	seen   = map[string]map[int]bool{} // operation → codes tests got
)

func loadDocOps() {
	docOpsOnce.Do(func() {
		var doc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
			panic(fmt.Sprintf("openapi.json: %v", err))
		}
		docOps = map[string]docOp{}
		for path, item := range doc.Paths {
			for method, raw := range item {
				if method == "parameters" {
					continue
				}
				var op docOp
				if err := json.Unmarshal(raw, &op); err != nil {
					panic(fmt.Sprintf("openapi.json: %s %s: %v", method, path, err))
				}
				docOps[strings.ToUpper(method)+" "+path] = op
			}
		}
		docRouter = newServer(resttest.NewBackend(), nil, nil, nil).router
	})
}

// operationOf names the documented operation a request is routed to, ""
// when it is routed nowhere (an unknown path or method: 404 or 405, which
// the document describes once, in info.description).
func operationOf(r *http.Request) string {
	loadDocOps()
	probe := r.Clone(r.Context())
	if probe.Method == http.MethodHead {
		probe.Method = http.MethodGet // answered as GET without the body
	}
	var m mux.RouteMatch
	if !docRouter.Match(probe, &m) || m.MatchErr != nil || m.Route == nil {
		return ""
	}
	tpl, err := m.Route.GetPathTemplate()
	if err != nil {
		return ""
	}
	return probe.Method + " " + tpl
}

// checkDocumented fails t when the response code to r is not one that
// openapi.json lists for r's operation, and remembers it for TestMain.
// A 500 is never documented: it is a bug, and the tests that provoke one
// (a panicking backend) say so themselves.
func checkDocumented(t testing.TB, r *http.Request, code int) {
	t.Helper()
	op := operationOf(r)
	if op == "" || code == http.StatusInternalServerError {
		return
	}
	seenMu.Lock()
	if seen[op] == nil {
		seen[op] = map[int]bool{}
	}
	seen[op][code] = true
	seenMu.Unlock()
	if docOps[op].Responses[strconv.Itoa(code)] == nil {
		t.Errorf("%s %s answered %d, which openapi.json does not list for %s: document it (or fix the handler)",
			r.Method, r.URL.Path, code, op)
	}
}

// TestMain runs the tests, then, when none was left out (no -run or
// -skip), checks that every status code the document lists for an
// operation was answered by some test: a documented code no test can
// provoke is one the API probably cannot return.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && flagValue("test.run") == "" && flagValue("test.skip") == "" {
		if missing := undocumentedCodes(); len(missing) > 0 {
			fmt.Fprintln(os.Stderr, "FAIL: openapi.json lists status codes that no test of package rest provoked"+
				" (provoke each in a test through a fixture, or remove it from the document):")
			for _, s := range missing {
				fmt.Fprintln(os.Stderr, "\t"+s)
			}
			code = 1
		}
	}
	os.Exit(code)
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

func undocumentedCodes() []string {
	loadDocOps()
	seenMu.Lock()
	defer seenMu.Unlock()
	var missing []string
	for op, d := range docOps {
		for c := range d.Responses {
			code, err := strconv.Atoi(c)
			if err != nil || code < 400 {
				continue // "default", and successes, which other tests check
			}
			if !seen[op][code] {
				missing = append(missing, fmt.Sprintf("%s: %d", op, code))
			}
		}
	}
	slices.Sort(missing)
	return missing
}

// TestOpenAPIAccess: every operation says who may call it when ferryd
// runs with --api-tokens (x-ferry-role, and 401/403 where they apply), in
// the way authorize decides: GET is a reader's, everything else an
// admin's; an operation with security [] ("none": /healthz) is open,
// /metrics open unless --metrics-auth.
func TestOpenAPIAccess(t *testing.T) {
	loadDocOps()
	var doc struct {
		Servers []struct {
			URL string `json:"url"`
		} `json:"servers"`
		Info struct {
			License struct {
				Name string `json:"name"`
				URL  string `json:"url"`
			} `json:"license"`
		} `json:"info"`
		Components struct {
			SecuritySchemes map[string]struct {
				Type   string `json:"type"`
				Scheme string `json:"scheme"`
			} `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) == 0 || doc.Servers[0].URL != "http://127.0.0.1:8470" {
		t.Errorf("servers %+v: want ferryd's default --api, http://127.0.0.1:8470, first", doc.Servers)
	}
	if doc.Info.License.Name == "" || doc.Info.License.URL == "" {
		t.Errorf("info.license %+v: want a name and a url", doc.Info.License)
	}
	if s := doc.Components.SecuritySchemes["bearer"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("securitySchemes.bearer %+v: want type http, scheme bearer", s)
	}
	for name, op := range docOps {
		method, path, _ := strings.Cut(name, " ")
		open := op.Security != nil && len(*op.Security) == 0
		if path == "/healthz" && !open {
			t.Errorf("%s: security must be [] (open even with --api-tokens)", name)
		}
		var wantRole string
		switch {
		case open:
			wantRole = "none"
		case method == http.MethodGet, name == "POST /v1/trace": // a trace changes nothing
			wantRole = "reader"
		default:
			wantRole = "admin"
		}
		if op.Role != wantRole {
			t.Errorf("%s: x-ferry-role %q, want %q", name, op.Role, wantRole)
		}
		if has := op.Responses["401"] != nil; has == open {
			t.Errorf("%s: lists 401 = %v, but open = %v", name, has, open)
		}
		if has := op.Responses["403"] != nil; has != (wantRole == "admin") {
			t.Errorf("%s: lists 403 = %v; only admin operations can be refused to a reader", name, has)
		}
	}
}

// refusalProbe is a request that every operation of its kind refuses in
// the same way, whatever the state.
type refusalProbe struct {
	code int
	// applies tells whether the operation can be refused this way.
	applies func(method, template string, op docOp) bool
	// request builds the refused request from an admin request that
	// would succeed (adminRequests).
	request func(method, path, body string) *http.Request
	// handler is the handler the request goes to (fresh per probe).
	handler func(t *testing.T) http.Handler
}

func hasBody(_, _ string, op docOp) bool { return op.Body != nil }

func hasPathVar(_, tpl string, _ docOp) bool { return strings.Contains(tpl, "{") }

// isWrite: every method but GET, except POST /v1/trace, which reads.
func isWrite(method, tpl string, _ docOp) bool {
	return method != http.MethodGet && method+" "+tpl != "POST /v1/trace"
}

func plainHandler(*testing.T) http.Handler { return NewHandler(resttest.NewBackend(), nil, nil, nil) }

func authHandler(t *testing.T) http.Handler {
	return NewHandler(resttest.NewBackend(), nil, nil, nil, WithAuth(NewAuth(mustTokens(t, tokensFile))), WithMetricsAuth())
}

func jsonRequest(method, path, body string) *http.Request {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// lastVar replaces the last path variable of path (whose route is tpl)
// with seg.
func lastVar(path, tpl, seg string) string {
	segs, tsegs := strings.Split(path, "/"), strings.Split(tpl, "/")
	for i := len(tsegs) - 1; i >= 0; i-- {
		if strings.HasPrefix(tsegs[i], "{") {
			segs[i] = seg
			break
		}
	}
	return strings.Join(segs, "/")
}

var refusalProbes = map[string]refusalProbe{
	"no token": {code: 401,
		applies: func(_, _ string, op docOp) bool { return op.Security == nil || len(*op.Security) > 0 },
		request: func(m, p, b string) *http.Request { return jsonRequest(m, p, b) },
		handler: authHandler},
	"reader token": {code: 403, applies: isWrite,
		request: func(m, p, b string) *http.Request {
			r := jsonRequest(m, p, b)
			r.Header.Set("Authorization", "Bearer "+readerToken)
			return r
		},
		handler: authHandler},
	"form body": {code: 415, applies: hasBody,
		request: func(m, p, b string) *http.Request {
			r := httptest.NewRequest(m, p, strings.NewReader(b))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		},
		handler: plainHandler},
	"17 MiB body": {code: 413, applies: hasBody,
		request: func(m, p, _ string) *http.Request {
			return jsonRequest(m, p, `{"name":"`+strings.Repeat("x", maxBulkBodyBytes+1)+`"}`)
		},
		handler: plainHandler},
	"malformed JSON": {code: 400, applies: hasBody,
		request: func(m, p, _ string) *http.Request { return jsonRequest(m, p, `{"name":`) },
		handler: plainHandler},
	"northbound down": {code: 503, applies: isWrite,
		request: func(m, p, b string) *http.Request { return jsonRequest(m, p, b) },
		handler: func(*testing.T) http.Handler {
			b := resttest.NewBackend()
			b.SetHealthy(false)
			return NewHandler(b, nil, nil, nil)
		}},
	// PUT /v1/switches/{name} creates the switch instead; its 404 (a
	// binding's unknown gateway) is provoked by its own tests.
	"nothing exists": {code: 404,
		applies: func(m, tpl string, op docOp) bool {
			return hasPathVar(m, tpl, op) && m+" "+tpl != "PUT /v1/switches/{name}"
		},
		request: func(m, p, b string) *http.Request { return jsonRequest(m, p, b) },
		handler: plainHandler},
}

// TestOpenAPIRefusals provokes, for every routed operation the document
// lists it for, each refusal that does not depend on the operation's own
// rules, and requires the document to list it (checkDocumented) and the
// answer to be that refusal; TestMain then requires every documented code
// to have been provoked by some test.
func TestOpenAPIRefusals(t *testing.T) {
	loadDocOps()
	requests := map[string]struct{ path, body string }{}
	for _, rq := range adminRequests {
		op := operationOf(httptest.NewRequest(rq.method, rq.path, nil))
		if _, ok := requests[op]; !ok {
			requests[op] = struct{ path, body string }{rq.path, rq.body}
		}
	}
	for _, op := range slices.Sorted(maps.Keys(docOps)) {
		method, tpl, _ := strings.Cut(op, " ")
		rq, ok := requests[op]
		if !ok {
			if strings.HasPrefix(tpl, "/v1/") {
				t.Errorf("%s: not in adminRequests: add a request that succeeds", op)
			}
			rq.path = tpl
		}
		for name, p := range refusalProbes {
			if !p.applies(method, tpl, docOps[op]) {
				continue
			}
			r := p.request(method, rq.path, rq.body)
			w := httptest.NewRecorder()
			p.handler(t).ServeHTTP(w, r)
			checkDocumented(t, r, w.Code)
			if w.Code != p.code {
				t.Errorf("%s with %s: %d, want %d: %s", op, name, w.Code, p.code, w.Body)
			}
		}
		// A path variable that names nothing ('..') is a 400 naming
		// the variable, before any lookup.
		if hasPathVar(method, tpl, docOps[op]) {
			r := jsonRequest(method, lastVar(rq.path, tpl, ".."), rq.body)
			w := httptest.NewRecorder()
			plainHandler(t).ServeHTTP(w, r)
			checkDocumented(t, r, w.Code)
			if w.Code != http.StatusBadRequest {
				t.Errorf("%s with '..' as its last path variable: %d, want 400", op, w.Code)
			}
		}
	}
}

// TestOpenAPISlowBody: a body that does not arrive within the server's
// read timeout is a JSON 408 on every operation that reads one.
func TestOpenAPISlowBody(t *testing.T) {
	loadDocOps()
	l := testLimits()
	l.ReadTimeout = 300 * time.Millisecond
	s := serve(t, l, nil, nil)
	var wg sync.WaitGroup
	for _, rq := range adminRequests {
		r := httptest.NewRequest(rq.method, rq.path, nil)
		op := operationOf(r)
		if docOps[op].Body == nil || rq.body == "" {
			continue
		}
		c := dial(t, s.addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: ferry\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				rq.method, rq.path, len(rq.body)+10, rq.body)
			got, _ := io.ReadAll(c)
			status, _, _ := strings.Cut(string(got), "\r\n")
			code := 0
			if f := strings.Fields(status); len(f) > 1 {
				code, _ = strconv.Atoi(f[1])
			}
			checkDocumented(t, r, code)
			if code != http.StatusRequestTimeout {
				t.Errorf("%s with a stalled body: %q, want 408", op, status)
			}
		}()
	}
	wg.Wait()
}

// TestOpenAPIConflicts provokes the 409s of replacing and patching over
// the real store, which the other tests do not: a PATCH adopting a
// XenServer network another switch has, a PUT giving a port another
// port's iface_id.
func TestOpenAPIConflicts(t *testing.T) {
	db := nbdbtest.New(t, nbdbtest.InMemory(t))
	f := &fixture{h: NewHandler(db, nil, nil, nil)}
	f.do(t, "POST", "/v1/switches", `{"name":"blue","xenserver_networks":["net-a"]}`).want(t, 201)
	f.do(t, "POST", "/v1/switches", `{"name":"red"}`).want(t, 201)
	f.do(t, "PATCH", "/v1/switches/red", `{"xenserver_networks":["net-a"]}`).want(t, 409, "xenserver_networks:", "blue")
	f.do(t, "PUT", "/v1/switches/blue/ports/vm1", `{"iface_id":"if-1"}`).want(t, 201)
	f.do(t, "PUT", "/v1/switches/red/ports/vm2", `{"iface_id":"if-1"}`).want(t, 409, "iface_id:", "vm1")
}
