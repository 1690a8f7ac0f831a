package rest

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-sdn/ferry/rest/api"
	"github.com/ferry-sdn/ferry/rest/resttest"
)

// clientWait bounds how long a test client waits for the server to act;
// it is a guard against a hang, far above every limit the tests set.
const clientWait = 10 * time.Second

// testLimits are small enough that tests see the limits act.
func testLimits() Limits {
	return Limits{ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 5 * time.Second,
		IdleTimeout: 2 * time.Second, MaxHeaderBytes: 1 << 10, MaxConns: 8}
}

type apiServer struct {
	addr string
	ln   *Listener
	logs *resttest.Log
}

// serve runs the API handler (or h) on a Listener on loopback.
func serve(t *testing.T, l Limits, tlsConfig *tls.Config, h http.Handler) apiServer {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &resttest.Log{}
	logger := logs.Logger()
	if h == nil {
		h = NewHandler(resttest.NewBackend(), nil, prometheus.NewRegistry(), nil)
	}
	ln := Listen(inner, l, tlsConfig, logger)
	srv := NewServer(h, l, logger)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return apiServer{addr: inner.Addr().String(), ln: ln, logs: logs}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(clientWait))
	return c
}

// readJSONError reads one response from r and checks that it is a JSON
// error of the given status whose message has every fragment.
func readJSONError(t *testing.T, r *bufio.Reader, code int, fragments ...string) {
	t.Helper()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != code || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q %s, want %d application/json", resp.StatusCode, resp.Header.Get("Content-Type"), body, code)
	}
	var e api.Error
	if err := json.Unmarshal(body, &e); err != nil || e.Message == "" {
		t.Fatalf("body %q is not a JSON error: %v", body, err)
	}
	for _, f := range fragments {
		if !strings.Contains(e.Message, f) {
			t.Errorf("error %q does not mention %q", e.Message, f)
		}
	}
}

// cannedCases are requests net/http refuses before any handler runs.
var cannedCases = []struct {
	name, request string
	code          int
	fragments     []string
}{
	{"bad escape", "GET /v1/switches/%zz HTTP/1.1\r\nHost: ferry\r\n\r\n", 400, []string{"malformed request"}},
	{"bad request line", "GET\r\n\r\n", 400, []string{"malformed request"}},
	{"no Host", "GET /v1/switches HTTP/1.1\r\n\r\n", 400, []string{"Host header"}},
	{"headers too large", "GET /v1/switches HTTP/1.1\r\nHost: ferry\r\nX-Big: " + strings.Repeat("x", 8<<10) + "\r\n\r\n",
		431, []string{"request headers: larger than 1024 bytes"}},
	{"unknown transfer encoding", "POST /v1/switches HTTP/1.1\r\nHost: ferry\r\nTransfer-Encoding: gzip\r\n\r\n", 501, []string{"transfer encoding"}},
	{"HTTP/2 request line", "GET / HTTP/2.0\r\nHost: ferry\r\n\r\n", 505, []string{"protocol version"}},
}

// TestCannedErrorsAreJSON: what net/http answers by itself is JSON too,
// over plain HTTP and over TLS.
func TestCannedErrorsAreJSON(t *testing.T) {
	plain := serve(t, testLimits(), nil, nil)
	cert, client := testCert(t)
	secure := serve(t, testLimits(), cert, nil)
	for _, c := range cannedCases {
		t.Run(c.name, func(t *testing.T) {
			conn := dial(t, plain.addr)
			io.WriteString(conn, c.request)
			readJSONError(t, bufio.NewReader(conn), c.code, c.fragments...)

			tc := tls.Client(dial(t, secure.addr), client)
			tc.SetDeadline(time.Now().Add(clientWait))
			io.WriteString(tc, c.request)
			readJSONError(t, bufio.NewReader(tc), c.code, c.fragments...)
		})
	}
	t.Run("plain HTTP to the HTTPS port", func(t *testing.T) {
		conn := dial(t, secure.addr)
		io.WriteString(conn, "GET /v1/switches HTTP/1.1\r\nHost: ferry\r\n\r\n")
		readJSONError(t, bufio.NewReader(conn), 400, "HTTPS")
		if !strings.Contains(secure.logs.String(), "TLS handshake failed") {
			t.Errorf("failed handshake not logged: %s", secure.logs)
		}
	})
	// A handler's own answers pass untouched, and see the TLS state.
	sawTLS := make(chan bool, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawTLS <- r.TLS != nil && r.TLS.HandshakeComplete
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Connection", "close")
		w.WriteHeader(400)
		io.WriteString(w, "handler text")
	})
	own := serve(t, testLimits(), cert, h)
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: client}}).Get("https://" + own.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "handler text" || !<-sawTLS {
		t.Fatalf("handler answer %q, or Request.TLS missing", body)
	}
}

// testCert returns a server configuration with httptest's certificate for
// 127.0.0.1 and a client configuration trusting it.
func testCert(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	defer ts.Close()
	server = &tls.Config{Certificates: ts.TLS.Certificates}
	client = ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	client.ServerName = "127.0.0.1"
	return server, client
}

// closedByServer reads from c until the server closes it, returning what
// it sent; it fails if the client's guard deadline runs out first.
func closedByServer(t *testing.T, c net.Conn) string {
	t.Helper()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("server kept the connection open (%v); it sent %q", err, b)
	}
	return string(b)
}

// TestSlowClientsAreClosed: a client that stalls in its headers, in its
// body or between requests loses its connection.
func TestSlowClientsAreClosed(t *testing.T) {
	l := testLimits()
	l.ReadHeaderTimeout, l.ReadTimeout, l.IdleTimeout = 200*time.Millisecond, 400*time.Millisecond, 200*time.Millisecond
	s := serve(t, l, nil, nil)

	t.Run("headers", func(t *testing.T) {
		c := dial(t, s.addr)
		io.WriteString(c, "GET /v1/switches HTTP/1.1\r\nHost: fer")
		closedByServer(t, c)
	})
	t.Run("body", func(t *testing.T) {
		c := dial(t, s.addr)
		io.WriteString(c, "POST /v1/switches HTTP/1.1\r\nHost: ferry\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"name\":")
		got := closedByServer(t, c)
		if !strings.HasPrefix(got, "HTTP/1.1 408 ") || !strings.Contains(got, `"error"`) {
			t.Errorf("slow body answered %q, want a JSON 408", got)
		}
	})
	t.Run("body trickle", func(t *testing.T) {
		// One byte at a time, each well within the header timeout:
		// only the whole-request ReadTimeout ends it.
		c := dial(t, s.addr)
		io.WriteString(c, "POST /v1/switches HTTP/1.1\r\nHost: ferry\r\nContent-Length: 1000\r\n\r\n")
		closed := make(chan string)
		go func() { b, _ := io.ReadAll(c); closed <- string(b) }()
		for i := 0; ; i++ {
			select {
			case got := <-closed:
				if !strings.HasPrefix(got, "HTTP/1.1 408 ") {
					t.Errorf("trickled body answered %q, want 408", got)
				}
				return
			case <-time.After(50 * time.Millisecond):
			}
			if i == 999 {
				t.Fatal("whole body trickled in: no read timeout")
			}
			c.Write([]byte(" "))
		}
	})
	t.Run("idle", func(t *testing.T) {
		c := dial(t, s.addr)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: ferry\r\n\r\n")
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthz: %v %v", resp, err)
		}
		io.Copy(io.Discard, resp.Body)
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("idle keep-alive connection: %v, want closed by the server", err)
		}
	})
}

// TestConnectionCap: beyond MaxConns, a new client waits (it is neither
// refused nor served) and is served as soon as a connection closes, by its
// client or by the server's timeouts.
func TestConnectionCap(t *testing.T) {
	l := testLimits()
	l.MaxConns = 2
	l.ReadHeaderTimeout = time.Minute // only the clients free slots here
	s := serve(t, l, nil, nil)
	var stalled []net.Conn
	for range l.MaxConns {
		stalled = append(stalled, dial(t, s.addr))
	}
	waitFor(t, "both stalled connections accepted", func() bool { return s.ln.Open() == l.MaxConns })

	served := make(chan error, 1)
	go func() {
		c := &http.Client{Timeout: clientWait}
		resp, err := c.Get("http://" + s.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = io.ErrUnexpectedEOF
			}
		}
		served <- err
	}()
	waitFor(t, "the third connection to wait", func() bool { return s.ln.Waits() > 0 })
	select {
	case err := <-served:
		t.Fatalf("a connection beyond the cap was handled (%v) while the cap was full", err)
	default:
	}
	if s.ln.Open() != l.MaxConns {
		t.Fatalf("%d connections open, cap %d", s.ln.Open(), l.MaxConns)
	}
	stalled[0].Close()
	if err := <-served; err != nil {
		t.Fatalf("waiting client not served after a slot freed: %v", err)
	}
	if !strings.Contains(s.logs.String(), "connection limit reached") {
		t.Errorf("reaching the cap is not logged: %s", s.logs)
	}

	// The timeouts free slots too: with a stalled client holding the
	// only slot, a normal client is served once the header timeout
	// closes the stalled one.
	l.MaxConns, l.ReadHeaderTimeout = 1, 200*time.Millisecond
	s = serve(t, l, nil, nil)
	dial(t, s.addr)
	waitFor(t, "the stalled connection accepted", func() bool { return s.ln.Open() == 1 })
	resp, err := (&http.Client{Timeout: clientWait}).Get("http://" + s.addr + "/healthz")
	if err != nil {
		t.Fatalf("normal client behind a stalled one: %v", err)
	}
	resp.Body.Close()
	if s.ln.Waits() == 0 {
		t.Error("the normal client did not have to wait: the cap did not hold")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(clientWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
