package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ferry-sdn/ferry/rest/api"
)

// maxResponse bounds what ferryctl reads from the server: a list of 10,000
// ports is a few MiB.
const maxResponse = 64 << 20

// client speaks ferry's REST API.
type client struct {
	base  string // scheme://host[/prefix], without a trailing slash
	token string
	hc    *http.Client
}

// newClient returns a client of the API at server; hc nil means a plain
// http.Client.
func newClient(server, token string, hc *http.Client) (*client, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server // "127.0.0.1:8470" is what people type
	}
	u, err := url.Parse(server)
	if err != nil {
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL", server)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return &client{base: strings.TrimSuffix(u.String(), "/"), token: token, hc: hc}, nil
}

// serverError is a response of the server outside 2xx: its {"error": ...}
// message, or the status text when the body has none.
type serverError struct {
	Code    int
	Message string
	body    []byte // for /healthz, whose 503 carries a state to show
}

func (e *serverError) Error() string { return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Code) }

// path joins escaped segments: names may hold any character the server
// accepts.
func path(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// do sends a request with in (if not nil) as its JSON body and returns
// the body of a 2xx response.
func (c *client) do(ctx context.Context, method, p string, in any) ([]byte, error) {
	data, _, err := c.doHeader(ctx, method, p, in)
	return data, err
}

// doHeader is do that also returns the response's header.
func (c *client) doHeader(ctx context.Context, method, p string, in any) ([]byte, http.Header, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+p, body)
	if err != nil {
		return nil, nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ferryctl")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, c.transportError(ctx, method, p, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, c.transportError(ctx, method, p, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, nil, newServerError(resp.StatusCode, data)
	}
	return data, resp.Header, nil
}

func (c *client) transportError(ctx context.Context, method, p string, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: no answer from %s before --timeout", method, p, c.base)
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("cannot reach ferryd at %s: %v", c.base, err)
}

func newServerError(code int, body []byte) *serverError {
	e := &serverError{Code: code, body: body}
	var msg api.Error
	if json.Unmarshal(body, &msg) == nil && msg.Message != "" {
		e.Message = msg.Message
		return e
	}
	// Not ferryd speaking (a proxy, another server): its first line says
	// more than the status text alone.
	line, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	switch text := strings.ToLower(http.StatusText(code)); {
	case line == "" && text == "":
		e.Message = "no error message"
	case line == "":
		e.Message = text
	case text == "":
		e.Message = line
	default:
		e.Message = text + ": " + line
	}
	return e
}

// isStatus reports whether err is an serverError with that HTTP status.
func isStatus(err error, code int) bool {
	var ae *serverError
	return errors.As(err, &ae) && ae.Code == code
}

// decode unmarshals a response body.
func decode(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("unexpected response from the server: %v", err)
	}
	return nil
}

// call sends one request within --timeout.
func (a *app) call(method, p string, in any) ([]byte, error) {
	if a.opts.dryRun && method != http.MethodGet && !strings.Contains(p, "dry_run=") {
		return nil, a.callPlanned(method, p, in)
	}
	ctx, cancel := a.start()
	defer cancel()
	return a.c.do(ctx, method, p, in)
}

// noRoute reports a 404 for a path the server does not route at all (a
// ferryd older than this ferryctl), rather than for an object it lacks.
func noRoute(err error) bool {
	var se *serverError
	return errors.As(err, &se) && se.Code == http.StatusNotFound && strings.HasPrefix(se.Message, "no such resource")
}
