package ui_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/rest"
	"github.com/ferry-sdn/ferry/rest/resttest"
	"github.com/ferry-sdn/ferry/rest/ui"
)

const reader = "ui-test-reader-0123456789"

// handler is ferryd's REST handler with bearer tokens required, as
// --api-tokens makes it: the page is mounted there.
func handler(t *testing.T) http.Handler {
	t.Helper()
	tokens, err := rest.ParseTokens(strings.NewReader(reader + " reader\n"))
	if err != nil {
		t.Fatal(err)
	}
	return rest.NewHandler(resttest.NewBackend(), resttest.NewStatus(), nil, nil, rest.WithAuth(rest.NewAuth(tokens)))
}

func get(h http.Handler, path string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestAssets: every asset is served without a token, with its exact
// content type, the strict CSP, revalidation and no sniffing.
func TestAssets(t *testing.T) {
	h := handler(t)
	for _, c := range []struct{ path, ctype, contains string }{
		{"/ui/", "text/html; charset=utf-8", `<script src="app.js" defer></script>`},
		{"/ui/index.html", "text/html; charset=utf-8", "<svg id=\"map\""},
		{"/ui/app.js", "text/javascript; charset=utf-8", "data-tunnel"},
		{"/ui/style.css", "text/css; charset=utf-8", ".tunnel"},
		{"/ui/favicon.svg", "image/svg+xml", "<svg"},
	} {
		w := get(h, c.path)
		if w.Code != http.StatusOK {
			t.Errorf("GET %s without a token: %d %s, want 200", c.path, w.Code, w.Body)
			continue
		}
		hdr := w.Header()
		if got := hdr.Get("Content-Type"); got != c.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", c.path, got, c.ctype)
		}
		if got := hdr.Get("Content-Security-Policy"); got != ui.ContentSecurityPolicy {
			t.Errorf("GET %s: CSP %q", c.path, got)
		}
		for k, want := range map[string]string{"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if got := hdr.Get(k); got != want {
				t.Errorf("GET %s: %s %q, want %q", c.path, k, got, want)
			}
		}
		if !strings.Contains(w.Body.String(), c.contains) {
			t.Errorf("GET %s: body lacks %q", c.path, c.contains)
		}
		// Revalidation by ETag answers 304 without the body.
		w2 := get(h, c.path, "If-None-Match", hdr.Get("ETag"))
		if w2.Code != http.StatusNotModified || w2.Body.Len() != 0 || hdr.Get("ETag") == "" {
			t.Errorf("GET %s with If-None-Match %q: %d, %d bytes, want 304 and none", c.path, hdr.Get("ETag"), w2.Code, w2.Body.Len())
		}
	}
}

// TestCSP: the policy forbids inline script and style and every other
// origin, and the page needs neither (no inline script, style attribute
// or event handler in the markup).
func TestCSP(t *testing.T) {
	for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(ui.ContentSecurityPolicy, d) {
			t.Errorf("CSP lacks %q: %s", d, ui.ContentSecurityPolicy)
		}
	}
	if strings.Contains(ui.ContentSecurityPolicy, "unsafe") || strings.Contains(ui.ContentSecurityPolicy, "*") {
		t.Errorf("CSP allows too much: %s", ui.ContentSecurityPolicy)
	}
	body := get(handler(t), "/ui/").Body.String()
	inline := regexp.MustCompile(`(?i)<script(?:\s+[^>]*)?>\s*[^<\s]|\sstyle=|\son[a-z]+=|<style|javascript:|https?://`)
	if m := inline.FindString(body); m != "" {
		t.Errorf("index.html has %q, which the CSP forbids or which leaves the origin", m)
	}
	js := get(handler(t), "/ui/app.js").Body.String()
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s: data must go in as text, and the token only in sessionStorage", bad)
		}
	}
}

func TestNotFound(t *testing.T) {
	h := handler(t)
	for _, p := range []string{"/ui/nope.js", "/ui/static/app.js", "/ui/app.js.map", "/ui/a%2Fapp.js"} {
		w := get(h, p)
		if w.Code != http.StatusNotFound || w.Header().Get("Content-Type") != "application/json" ||
			!strings.Contains(w.Body.String(), `"error"`) {
			t.Errorf("GET %s: %d %q %s, want a JSON 404", p, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
}

// TestRedirect: /ui goes to /ui/, where the page's relative asset and API
// paths resolve.
func TestRedirect(t *testing.T) {
	w := get(handler(t), "/ui")
	if w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/ui/" {
		t.Errorf("GET /ui: %d Location %q, want 301 to /ui/", w.Code, w.Header().Get("Location"))
	}
}

// TestAPIStillNeedsToken: opening the page's assets opens nothing else.
func TestAPIStillNeedsToken(t *testing.T) {
	h := handler(t)
	for _, p := range []string{"/v1/switches", "/v1/chassis", "/v1/gateways", "/uix", "/v1/ui/"} {
		if w := get(h, p); w.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d, want 401", p, w.Code)
		}
	}
	// A way out of /ui/ is refused as a path, before any route.
	if w := get(h, "/ui/../v1/switches"); w.Code != http.StatusBadRequest {
		t.Errorf("GET /ui/../v1/switches without a token: %d %s, want 400", w.Code, w.Body)
	}
	if w := get(h, "/v1/switches", "Authorization", "Bearer "+reader); w.Code != http.StatusOK {
		t.Errorf("GET /v1/switches with the reader token: %d %s", w.Code, w.Body)
	}
	r := httptest.NewRequest(http.MethodPost, "/ui/", strings.NewReader("{}"))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/ without a token: %d, want 405", w.Code)
	}
}
