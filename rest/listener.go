package rest

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-sdn/ferry/rest/api"
)

// Limits bound what clients can hold of the API server: time for each part
// of a request, the size of its headers, and open connections. Without
// them 500 connections that send a body one byte a minute stay open for
// ever.
type Limits struct {
	// ReadHeaderTimeout bounds the TLS handshake, the request line and
	// the headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds a whole request, body included: a 16 MiB bulk
	// body must arrive within it (60 s is 2.3 Mbit/s).
	ReadTimeout time.Duration
	// WriteTimeout runs from the end of the headers to the end of the
	// response (net/http's definition), so it covers the body, the
	// northbound write (up to 15 s) and the answer. No endpoint
	// long-polls (ferryctl wait polls GET), so nothing needs more.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers (net/http
	// allows 4 KiB more); beyond it the answer is 431.
	MaxHeaderBytes int
	// MaxConns bounds the open connections; when that many are open,
	// Accept waits until one closes (see Listener).
	MaxConns int
}

// DefaultLimits are ferryd's.
func DefaultLimits() Limits {
	const readTimeout = 60 * time.Second
	return Limits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      readTimeout + writeTimeout + 15*time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		MaxConns:          1024,
	}
}

// NewServer returns the HTTP server for the API handler h, bounded by l;
// serve it on a Listener with the same limits. logger receives what
// net/http reports (a handler's panic, accept errors) as warnings.
func NewServer(h http.Handler, l Limits, logger *slog.Logger) *http.Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// Listener is the API's listener. It holds at most Limits.MaxConns
// connections at once: beyond that, Accept waits for one to close, so new
// clients queue in the kernel's backlog (no memory of ferryd's) and are
// served as soon as the timeouts reclaim the connections of slow or idle
// clients, instead of being turned away. It terminates TLS itself, so
// that it can also rewrite the plain-text answers net/http gives, before
// any handler runs, to requests it cannot parse (400 for a bad request
// line or an invalid %-escape in the path, 431 for headers over the
// limit, 501, 505) into JSON errors like every other.
type Listener struct {
	inner     net.Listener
	slots     chan struct{}
	tls       *tls.Config
	handshake time.Duration
	maxHeader int
	log       *slog.Logger
	done      chan struct{}
	closeOnce sync.Once
	waits     atomic.Uint64
	lastWarn  atomic.Int64 // unix nanoseconds of the last "limit reached" warning
}

// Listen wraps ln (a TCP listener) with l's connection cap, serving TLS
// with tlsConfig when it is not nil; logger receives failed TLS
// handshakes and, once a minute at most, that the cap was reached.
func Listen(ln net.Listener, l Limits, tlsConfig *tls.Config, logger *slog.Logger) *Listener {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	maxConns := l.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultLimits().MaxConns
	}
	return &Listener{
		inner:     ln,
		slots:     make(chan struct{}, maxConns),
		tls:       tlsConfig,
		handshake: l.ReadHeaderTimeout,
		maxHeader: l.MaxHeaderBytes,
		log:       logger,
		done:      make(chan struct{}),
	}
}

// Accept waits for a free slot, then for a connection.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.full()
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.inner.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	base := &conn{Conn: c, l: l}
	if l.tls == nil {
		return base, nil
	}
	tc := tls.Server(c, l.tls)
	base.Conn = tc
	return &tlsConn{conn: base, tc: tc, raw: c}, nil
}

func (l *Listener) full() {
	l.waits.Add(1)
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last >= int64(time.Minute) && l.lastWarn.CompareAndSwap(last, now) {
		l.log.Warn("rest: API connection limit reached; new connections wait until one closes (see --api-max-conns)",
			"max_conns", cap(l.slots), "waits_total", l.waits.Load())
	}
}

// Close stops accepting; open connections stay until the server closes
// them.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.inner.Close()
}

// Addr is the listening address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Open is the number of connections open now.
func (l *Listener) Open() int { return len(l.slots) }

// Waits counts the times Accept had to wait for a free slot.
func (l *Listener) Waits() uint64 { return l.waits.Load() }

// RegisterMetrics registers the listener's gauges and counter on reg.
func (l *Listener) RegisterMetrics(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_rest_connections",
			Help: "REST API connections open now.",
		}, func() float64 { return float64(l.Open()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "ferry_rest_connections_max",
			Help: "Most REST API connections open at once (--api-max-conns); more wait to be accepted.",
		}, func() float64 { return float64(cap(l.slots)) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ferry_rest_connection_waits_total",
			Help: "Times a new REST API connection had to wait because --api-max-conns were open.",
		}, func() float64 { return float64(l.Waits()) }),
	)
}

// conn frees its slot when closed and turns net/http's own error answers
// into JSON.
type conn struct {
	net.Conn
	l       *Listener
	release sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.release.Do(func() { <-c.l.slots })
	return err
}

func (c *conn) Write(b []byte) (int, error) {
	if j, ok := c.l.cannedError(b); ok {
		if _, err := c.Conn.Write(j); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// CloseWrite lets net/http half-close after a 431, as it does on a bare
// TCP connection, so that the client reads the answer.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// tlsConn is a conn over TLS. net/http does not see a *tls.Conn (it would
// write its errors below our rewriting), so tlsConn does the handshake,
// bounded by ReadHeaderTimeout, and hands net/http the connection state
// through ConnectionState, which net/http uses for Request.TLS.
type tlsConn struct {
	*conn
	tc   *tls.Conn
	raw  net.Conn
	once sync.Once
	err  error
}

func (c *tlsConn) handshake() error {
	c.once.Do(func() {
		if d := c.l.handshake; d > 0 {
			c.raw.SetDeadline(time.Now().Add(d))
			defer c.raw.SetDeadline(time.Time{})
		}
		c.err = c.tc.Handshake()
		if c.err == nil {
			return
		}
		c.l.log.Warn("rest: TLS handshake failed", "remote", c.raw.RemoteAddr().String(), "err", c.err)
		var re tls.RecordHeaderError
		if errors.As(c.err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader[:]) {
			// Plain HTTP sent to the HTTPS port: tell the client why,
			// in the clear, as net/http does.
			re.Conn.Write(jsonResponse(http.StatusBadRequest, "this is an HTTPS server: use https://"))
		}
	})
	return c.err
}

// ConnectionState is called by net/http before it reads a request.
func (c *tlsConn) ConnectionState() tls.ConnectionState {
	c.handshake()
	return c.tc.ConnectionState()
}

func (c *tlsConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.tc.Read(b)
}

func (c *tlsConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.conn.Write(b)
}

func looksLikeHTTP(hdr []byte) bool {
	for _, m := range []string{"GET /", "HEAD ", "POST ", "PUT /", "DELET", "PATCH", "OPTIO"} {
		if string(hdr) == m {
			return true
		}
	}
	return false
}

// cannedHeaders follow the status line of every answer net/http writes
// itself to a request it could not read (net/http's server.go); a handler's
// answer never looks like this (its headers are sorted and include Date).
const cannedHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// cannedError returns the JSON version of b when b is one of net/http's
// own error answers, which it writes in one piece.
func (l *Listener) cannedError(b []byte) ([]byte, bool) {
	const proto = "HTTP/1.1 "
	if !bytes.HasPrefix(b, []byte(proto)) {
		return nil, false
	}
	end := bytes.Index(b, []byte(cannedHeaders))
	if end < 0 || bytes.IndexByte(b[:end], '\n') >= 0 {
		return nil, false
	}
	status, body := string(b[len(proto):end]), string(b[end+len(cannedHeaders):])
	code, err := strconv.Atoi(strings.SplitN(status, " ", 2)[0])
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	// The body repeats the status line, perhaps with a detail:
	// "400 Bad Request: missing required Host header".
	detail := ""
	if _, d, ok := strings.Cut(body, ": "); ok {
		detail = d
	} else if !strings.HasPrefix(body, strconv.Itoa(code)+" ") {
		detail = body
	}
	var msg string
	switch code {
	case http.StatusRequestHeaderFieldsTooLarge:
		msg = fmt.Sprintf("request headers: larger than %d bytes", l.maxHeader)
	case http.StatusBadRequest:
		msg = "malformed request: " + detail
		if detail == "" {
			msg = "malformed request: the request line (method, path with its %-escapes, version) or a header cannot be parsed"
		}
	default:
		msg = strings.ToLower(http.StatusText(code))
		if detail != "" {
			msg = strings.ToLower(detail)
		}
	}
	return jsonResponse(code, msg), true
}

// jsonResponse is a whole HTTP/1.1 error answer that closes the
// connection.
func jsonResponse(code int, msg string) []byte {
	js, _ := json.Marshal(api.Error{Message: msg})
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n",
		code, http.StatusText(code), len(js)+1, js)
}
