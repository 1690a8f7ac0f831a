package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed static
var static embed.FS

// Prefix is the path the page is mounted at.
const Prefix = "/ui/"

// ContentSecurityPolicy allows the page only its own script, style and
// API: no inline script or style, no other origin, no framing. A page
// that holds a bearer token must not run anything it did not ship.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// contentTypes names every kind of asset the page ships; an asset of
// another kind is a mistake the tests catch, not something to sniff.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the embedded assets under Prefix: Prefix itself is the
// page (index.html), Prefix+NAME an asset. Anything else is a JSON 404,
// as the API answers.
type Handler struct {
	assets map[string]asset // by name under static/
}

// New returns the handler of the embedded page.
func New() *Handler {
	h, err := newHandler(static, "static")
	if err != nil {
		// The assets are compiled in; a failure is a build mistake
		// that TestAssets catches.
		panic(err)
	}
	return h
}

func newHandler(fsys fs.FS, dir string) (*Handler, error) {
	h := &Handler{assets: map[string]asset{}}
	err := fs.WalkDir(fsys, dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			return &fs.PathError{Op: "ui: asset", Path: name, Err: fs.ErrInvalid}
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h.assets[strings.TrimPrefix(name, dir+"/")] = asset{body: body, contentType: ct,
			etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	return h, err
}

// Names lists the assets served.
func (h *Handler) Names() []string {
	names := make([]string, 0, len(h.assets))
	for n := range h.assets {
		names = append(names, n)
	}
	return names
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if name == "" {
		name = "index.html"
	}
	a, found := h.assets[name]
	if !ok || !found {
		notFound(w, r.URL.Path)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	// The assets change with the binary: the browser revalidates every
	// load (cheap, by ETag) so that an upgraded ferryd never runs with a
	// stale script.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(a.body)
	}
}

func notFound(w http.ResponseWriter, p string) {
	b, _ := json.Marshal(map[string]string{"error": "no such asset: " + p})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNotFound)
	w.Write(append(b, '\n'))
}
