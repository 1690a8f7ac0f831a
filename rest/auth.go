package rest

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/ferry-sdn/ferry/rest/ui"
)

// Role is what the holder of a bearer token may do.
type Role string

// The roles of a tokens file.
const (
	// RoleReader may read: GET (and HEAD) on every path.
	RoleReader Role = "reader"
	// RoleAdmin may do everything.
	RoleAdmin Role = "admin"
)

// MinTokenLength is the shortest token a tokens file may hold: shorter ones
// are guessable. `openssl rand -hex 16` makes a 32-character token.
const MinTokenLength = 16

// Tokens is a parsed tokens file (ferryd's --api-tokens): bearer tokens and
// their roles. Only SHA-256 digests of the tokens are kept, so a Tokens in
// memory, a panic dump or a log line never holds a usable token.
type Tokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	digest [sha256.Size]byte
	role   Role
}

// ParseTokens reads a tokens file: one "TOKEN ROLE" per line, separated by
// spaces or tabs, ROLE "reader" or "admin". Blank lines and lines starting
// with '#' are ignored. A token is at least MinTokenLength characters of
// the RFC 6750 token alphabet (letters, digits, "-._~+/", trailing "=").
// Errors name the line but never repeat a token.
func ParseTokens(r io.Reader) (*Tokens, error) {
	return parseTokens(r, "tokens")
}

// LoadTokens reads the tokens file at path (see ParseTokens); errors name
// the file.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rest: tokens: %w", err)
	}
	defer f.Close()
	return parseTokens(f, path)
}

// parseTokens is ParseTokens with the name errors give the source.
func parseTokens(r io.Reader, src string) (*Tokens, error) {
	lineErr := func(n int, format string, args ...any) error {
		return fmt.Errorf("rest: %s: line %d: %s", src, n, fmt.Sprintf(format, args...))
	}
	t := &Tokens{}
	seen := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		switch len(fields) {
		case 1:
			return nil, lineErr(n, "missing role after the token (want \"TOKEN reader\" or \"TOKEN admin\")")
		case 2:
		default:
			return nil, lineErr(n, "%d fields, want 2 (TOKEN ROLE)", len(fields))
		}
		token, role := fields[0], Role(fields[1])
		if err := checkToken(token); err != nil {
			return nil, lineErr(n, "%v", err)
		}
		if role != RoleReader && role != RoleAdmin {
			// A long "role" may be a second token (two tokens on one
			// line): errors end up in logs, so it is not repeated.
			if len(role) >= MinTokenLength {
				return nil, lineErr(n, "unknown role in the second field (want %q or %q)", RoleReader, RoleAdmin)
			}
			return nil, lineErr(n, "unknown role %q (want %q or %q)", role, RoleReader, RoleAdmin)
		}
		d := sha256.Sum256([]byte(token))
		if first, dup := seen[d]; dup {
			return nil, lineErr(n, "same token as line %d", first)
		}
		seen[d] = n
		t.entries = append(t.entries, tokenEntry{digest: d, role: role})
	}
	if err := sc.Err(); err != nil {
		return nil, lineErr(n+1, "%v", err)
	}
	if len(t.entries) == 0 {
		return nil, fmt.Errorf("rest: %s: no token (every request would be refused)", src)
	}
	return t, nil
}

// checkToken accepts RFC 6750's b64token: what a client can send in an
// Authorization header without quoting.
func checkToken(tok string) error {
	if len(tok) < MinTokenLength {
		return fmt.Errorf("token shorter than %d characters (make one with `openssl rand -hex 16`)", MinTokenLength)
	}
	body := strings.TrimRight(tok, "=")
	for _, c := range body {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~+/", c)) {
			return errors.New("token has a character outside letters, digits and -._~+/ (and trailing =)")
		}
	}
	return nil
}

// Len is the number of tokens.
func (t *Tokens) Len() int { return len(t.entries) }

// Role returns the role of token. Its time does not depend on which token,
// if any, matches: the presented token's digest is compared with every
// entry in constant time.
func (t *Tokens) Role(token string) (Role, bool) {
	d := sha256.Sum256([]byte(token))
	match := 0 // index+1 of the matching entry
	for i := range t.entries {
		eq := subtle.ConstantTimeCompare(d[:], t.entries[i].digest[:])
		match = subtle.ConstantTimeSelect(eq, i+1, match)
	}
	if match == 0 {
		return "", false
	}
	return t.entries[match-1].role, true
}

// Auth holds the tokens a handler checks; Set replaces them while it
// serves (ferryd reloads its tokens file on SIGHUP).
type Auth struct {
	cur atomic.Pointer[Tokens]
}

// NewAuth returns an Auth checking t.
func NewAuth(t *Tokens) *Auth {
	a := &Auth{}
	a.Set(t)
	return a
}

// Set replaces the tokens; requests already authorized are not affected.
func (a *Auth) Set(t *Tokens) {
	if t == nil {
		t = &Tokens{} // refuse everything rather than nothing
	}
	a.cur.Store(t)
}

// Tokens returns the current tokens.
func (a *Auth) Tokens() *Tokens { return a.cur.Load() }

// Option configures NewHandler.
type Option func(*options)

type options struct {
	auth        *Auth
	metricsAuth bool
	noTLS       bool
	events      EventLog
}

// WithAuth requires a bearer token (Authorization: Bearer TOKEN) on every
// request except /healthz, the topology page's assets (/ui/, which hold
// no data) and, unless WithMetricsAuth is given, /metrics:
// without a valid token the answer is 401, a reader's request other than
// GET or HEAD is 403, an admin may do everything.
func WithAuth(a *Auth) Option {
	return func(o *options) { o.auth = a }
}

// WithMetricsAuth makes /metrics require a token too (any role). Without
// WithAuth it does nothing.
func WithMetricsAuth() Option {
	return func(o *options) { o.metricsAuth = true }
}

// WithoutTLS tells the handler that ferryd has no TLS configuration, so
// registering a chassis or gateway with an ssl: OVSDB target is refused
// (400) instead of producing a device loop that can never connect.
func WithoutTLS() Option {
	return func(o *options) { o.noTLS = true }
}

// authorize checks the request's bearer token. It returns nil when the
// request may proceed, or the error response to send; a 401 also sets
// WWW-Authenticate, as RFC 6750 requires.
func (s *server) authorize(w http.ResponseWriter, r *http.Request) (Role, error) {
	a := s.opts.auth
	// The topology page's assets hold no data (the page reads the API
	// with the operator's token), and a browser cannot send a token
	// with the request that loads a page.
	page := r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, ui.Prefix)
	if a == nil || page || r.URL.Path == "/healthz" || r.URL.Path == "/metrics" && !s.opts.metricsAuth {
		return "", nil
	}
	const challenge = `Bearer realm="ferry"`
	h := r.Header.Get("Authorization")
	if h == "" {
		w.Header().Set("WWW-Authenticate", challenge)
		return "", errorf(http.StatusUnauthorized, "authentication required: send Authorization: Bearer TOKEN")
	}
	scheme, token, _ := strings.Cut(h, " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_request"`)
		return "", errorf(http.StatusUnauthorized, "authorization: not a bearer token (want Authorization: Bearer TOKEN)")
	}
	role, ok := a.Tokens().Role(token)
	if !ok {
		w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_token"`)
		return "", errorf(http.StatusUnauthorized, "invalid bearer token")
	}
	if role == RoleReader && r.Method != http.MethodGet && r.Method != http.MethodHead && !readOnlyPost(r) {
		return role, errorf(http.StatusForbidden, "role %s may only read (GET); %s needs an %s token", role, r.Method, RoleAdmin)
	}
	return role, nil
}

// readOnlyPost reports a POST that changes nothing, which a reader may
// make: a packet trace described in a body (POST /v1/trace).
func readOnlyPost(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/v1/trace"
}
