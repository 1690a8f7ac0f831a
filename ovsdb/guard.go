package ovsdb

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// A guard stands between libovsdb and a device's ovsdb-server. libovsdb
// (and the JSON-RPC package under it) decodes what a server sends in
// goroutines ferry cannot recover, and panics on malformed input: a reply
// without an id, an update notification with too few parameters, an empty
// array or a ["set", 1] where a row value should be. One such message from
// a device would take ferryd, and every network it drives, down. So
// libovsdb dials a local socket of the guard, the guard dials the device,
// and every message from the device is first decoded here, with the types
// libovsdb will use, under recover: a message that fails is never passed
// on; the connection is closed (libovsdb reconnects with its backoff) and
// the rejection logged and counted. Messages are also bounded in size, so
// that a device cannot make ferryd buffer without limit.
type guard struct {
	target Target
	tls    *tls.Config
	ln     net.Listener
	path   string
	log    *slog.Logger
	dial   time.Duration // bound on dialling the device
	max    int           // longest message accepted from the device
	notify func()        // called when err or lastRefusal changes

	rejected atomic.Uint64
	mu       sync.Mutex
	lastErr  error     // of the last dial; nil once one succeeds
	refusal  error     // the last message refused
	refused  time.Time // when
	conns    map[net.Conn]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// DefaultMaxMessage bounds one OVSDB message from a device: the initial
// monitor reply of a hypervisor with 10,000 VIFs is about 10 MB.
const DefaultMaxMessage = 64 << 20

// refusedTotal counts, over every guard of the process, the connections
// closed for a refused message.
var refusedTotal atomic.Uint64

// RefusedMessages is the number of device connections guards closed
// because the device sent a message ferry refuses (process-wide, for a
// metric).
func RefusedMessages() uint64 { return refusedTotal.Load() }

// guardReadBuffer is the read buffer of each direction of a relay: small,
// as a guard per device stays for the device's lifetime.
const guardReadBuffer = 16 << 10

// maxPendingCalls bounds the requests the guard remembers per connection;
// libovsdb has a handful in flight.
const maxPendingCalls = 4096

func newGuard(dir string, i int, t Target, tlsConfig *tls.Config, dial time.Duration, maxMsg int, log *slog.Logger, notify func()) (*guard, error) {
	path := filepath.Join(dir, strconv.Itoa(i)+".sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("ovsdb: guard for %s: %w", t, err)
	}
	g := &guard{target: t, tls: tlsConfig, ln: ln, path: path, log: log, dial: dial, max: maxMsg, notify: notify, conns: map[net.Conn]struct{}{}}
	g.wg.Add(1)
	go g.serve()
	return g, nil
}

// endpoint is what libovsdb dials.
func (g *guard) endpoint() string { return "unix:" + g.path }

func (g *guard) close() {
	g.mu.Lock()
	g.closed = true
	for c := range g.conns {
		_ = c.Close()
	}
	g.mu.Unlock()
	_ = g.ln.Close()
	g.wg.Wait()
}

// track registers a connection for close; false once the guard is closed.
func (g *guard) track(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.conns[c] = struct{}{}
	return true
}

func (g *guard) untrack(c net.Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	_ = c.Close()
}

func (g *guard) setErr(err error) {
	g.mu.Lock()
	changed := fmt.Sprint(err) != fmt.Sprint(g.lastErr)
	g.lastErr = err
	g.mu.Unlock()
	if changed {
		g.notify()
	}
}

// err is why the last dial of the device failed (nil once one succeeds).
func (g *guard) err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastErr
}

// lastRefusal is the last message refused and when.
func (g *guard) lastRefusal() (error, time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refusal, g.refused
}

func (g *guard) serve() {
	defer g.wg.Done()
	for {
		local, err := g.ln.Accept()
		if err != nil {
			return
		}
		if !g.track(local) {
			_ = local.Close()
			return
		}
		g.wg.Add(1)
		go g.relay(local)
	}
}

// relay connects one libovsdb connection to the device.
func (g *guard) relay(local net.Conn) {
	defer g.wg.Done()
	defer g.untrack(local)
	ctx, cancel := context.WithTimeout(context.Background(), g.dial)
	up, err := g.target.Dial(ctx, g.tls)
	cancel()
	if err != nil {
		// libovsdb sees the connection close and retries with backoff;
		// the cause is kept for status.
		g.setErr(err)
		return
	}
	if !g.track(up) {
		_ = up.Close()
		return
	}
	defer g.untrack(up)
	// Not a success yet: over TLS 1.3 a device that refuses ferry's
	// certificate says so only in answer to the first request. The error
	// clears with the device's first message (forwardReplies).
	calls := &pendingCalls{byID: map[uint64]string{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := g.forwardRequests(local, up, calls)
		_ = up.Close()
		_ = local.Close()
		_ = err // libovsdb closing its side is how every session ends
	}()
	if err := g.forwardReplies(up, local, calls); err != nil {
		n := g.rejected.Add(1)
		refusedTotal.Add(1)
		g.mu.Lock()
		g.refusal, g.refused = err, time.Now()
		g.mu.Unlock()
		g.notify()
		g.log.Warn("ovsdb: closing connection: device sent a message ferry refuses", "target", g.target.String(), "err", err, "rejected", n)
	}
	_ = up.Close()
	_ = local.Close()
	<-done
}

// pendingCalls maps the ids of libovsdb's requests to their methods, so
// that a reply is decoded as what it answers.
type pendingCalls struct {
	mu   sync.Mutex
	byID map[uint64]string
}

// add records a request; false when too many are unanswered (the device
// does not answer: the connection is better closed).
func (p *pendingCalls) add(id uint64, method string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.byID) >= maxPendingCalls {
		return false
	}
	p.byID[id] = method
	return true
}

func (p *pendingCalls) take(id uint64) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.byID[id]
	delete(p.byID, id)
	return m
}

// readMessages reads src until it fails, calling msg for every complete
// message (valid until msg returns) and then chunk, if set, with the bytes
// of each read. It returns the first error of a callback or the splitter,
// or src's read error.
func readMessages(src io.Reader, max int, msg, chunk func([]byte) error) error {
	sp := splitter{max: max}
	buf := make([]byte, guardReadBuffer)
	for {
		n, err := src.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			m, rest, perr := sp.feed(data)
			if perr != nil {
				return refusal{perr}
			}
			if m != nil {
				if merr := msg(m); merr != nil {
					return merr
				}
			}
			data = rest
		}
		if n > 0 && chunk != nil {
			if cerr := chunk(buf[:n]); cerr != nil {
				return cerr
			}
		}
		if err != nil {
			return err
		}
	}
}

// forwardRequests copies libovsdb's messages to the device, noting the
// method of every request.
func (g *guard) forwardRequests(local, up net.Conn, calls *pendingCalls) error {
	return readMessages(local, g.max, func(msg []byte) error {
		var req struct {
			Method string          `json:"method"`
			ID     json.RawMessage `json:"id"`
		}
		if json.Unmarshal(msg, &req) == nil && req.Method != "" {
			if id, ok := numericID(req.ID); ok && !calls.add(id, req.Method) {
				return fmt.Errorf("ovsdb: guard: %d requests unanswered by %s", maxPendingCalls, g.target)
			}
		}
		return nil
	}, func(chunk []byte) error {
		// A device that stops reading must not hold this relay (and
		// its sockets) until it thaws.
		_ = up.SetWriteDeadline(time.Now().Add(rawWriteTimeout))
		_, err := up.Write(chunk)
		return err
	})
}

// refusal is a message the guard refuses (as opposed to a connection
// that ends).
type refusal struct{ error }

func (r refusal) Unwrap() error { return r.error }

// forwardReplies copies the device's messages to libovsdb, each only once
// it is complete and has passed checkMessage. It returns nil when either
// side closes, and the reason when the guard refuses a message.
func (g *guard) forwardReplies(up, local net.Conn, calls *pendingCalls) error {
	answered := false
	err := readMessages(up, g.max, func(msg []byte) error {
		if err := checkMessage(msg, calls.take); err != nil {
			return refusal{err}
		}
		if !answered {
			answered = true
			g.setErr(nil)
		}
		_, err := local.Write(msg)
		return err
	}, nil)
	if r, ok := errors.AsType[refusal](err); ok {
		return r.error
	}
	if !answered && err != nil && !errors.Is(err, net.ErrClosed) {
		// The device hung up before answering anything (a TLS alert, a
		// server that does not speak OVSDB): that is why it is not
		// connected.
		g.setErr(err)
	}
	return nil // either side closed: libovsdb reconnects
}

// numericID reads a JSON-RPC id as libovsdb's JSON-RPC client sends and
// expects it: a non-negative integer.
func numericID(raw json.RawMessage) (uint64, bool) {
	var id uint64
	// null decodes into a uint64 without an error, but the JSON-RPC layer
	// reads a reply's id through a pointer that null leaves nil.
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) || json.Unmarshal(t, &id) != nil {
		return 0, false
	}
	return id, true
}

// checkMessage decodes one message from a device as libovsdb will, and
// reports why it must not reach libovsdb: not a JSON-RPC object, a reply
// whose id libovsdb cannot read, a notification libovsdb would index past
// its parameters, or a body whose decoding fails or panics. method returns
// (and forgets) the method of the request a reply answers, "" if unknown.
func checkMessage(msg []byte, method func(id uint64) string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ovsdb: malformed message from device (%v)", r)
		}
	}()
	var m struct {
		ID     json.RawMessage   `json:"id"`
		Method *string           `json:"method"`
		Params []json.RawMessage `json:"params"`
		Result json.RawMessage   `json:"result"`
		Error  json.RawMessage   `json:"error"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return fmt.Errorf("ovsdb: malformed message from device: %w", err)
	}
	// The JSON-RPC layer takes a message with a non-empty method for a
	// request and anything else for a reply.
	if m.Method != nil && *m.Method != "" {
		return checkNotification(*m.Method, m.Params)
	}
	id, ok := numericID(m.ID)
	if !ok {
		return fmt.Errorf("ovsdb: device sent a reply with id %s, which is not one of ferry's", clip(m.ID))
	}
	// A reply to nothing ferry asked (or asked and got) could land on a
	// call libovsdb has registered but the guard not yet seen, unchecked
	// as what it is not: a server never sends one.
	call := method(id)
	if call == "" {
		return fmt.Errorf("ovsdb: device sent a reply to id %d, which ferry has not sent or already had answered", id)
	}
	if len(m.Result) == 0 || string(m.Result) == "null" {
		return nil // an error reply: libovsdb reports it to the caller
	}
	var body any
	switch call {
	case "transact":
		body = &[]libovsdb.OperationResult{}
	case libovsdb.MonitorRPC:
		body = &libovsdb.TableUpdates{}
	case libovsdb.ConditionalMonitorRPC:
		body = &libovsdb.TableUpdates2{}
	case libovsdb.ConditionalMonitorSinceRPC:
		body = &libovsdb.MonitorCondSinceReply{}
	case "get_schema":
		body = &libovsdb.DatabaseSchema{}
	case "list_dbs":
		body = &[]string{}
	case "monitor_cancel":
		body = &libovsdb.OperationResult{}
	case "echo":
		body = &[]any{}
	default:
		return nil // a method whose reply libovsdb decodes into nothing fragile
	}
	if err := json.Unmarshal(m.Result, body); err != nil {
		return fmt.Errorf("ovsdb: malformed reply to %s from device: %w", call, err)
	}
	return nil
}

// checkNotification checks a request from the device (libovsdb answers
// echo and applies update, update2 and update3).
func checkNotification(method string, params []json.RawMessage) error {
	var want int
	var updates any
	switch method {
	case "update":
		want, updates = 2, &libovsdb.TableUpdates{}
	case "update2":
		want, updates = 2, &libovsdb.TableUpdates2{}
	case "update3":
		want, updates = 3, &libovsdb.TableUpdates2{}
	default:
		return nil
	}
	if len(params) != want {
		return fmt.Errorf("ovsdb: device sent %s with %d parameters, want %d", method, len(params), want)
	}
	if method == "update3" {
		var txn string
		if err := json.Unmarshal(params[1], &txn); err != nil {
			return fmt.Errorf("ovsdb: malformed %s from device: transaction id: %w", method, err)
		}
	}
	if err := json.Unmarshal(params[want-1], updates); err != nil {
		return fmt.Errorf("ovsdb: malformed %s from device: %w", method, err)
	}
	return nil
}

// clip shortens device input quoted in an error.
func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// guardDirPrefix names the guard socket directories: "pid" and the pid of
// the process that made them follow, so that stale ones can be told apart.
// The marker matters: the random suffix of a name without it is digits too,
// and the soak lost a live ferryd's sockets to a sweep that took it for a
// dead pid.
const guardDirPrefix = "ferry-ovsdb-pid"

var sweepOnce sync.Once

// guardDir makes the private directory of a Conn's guard sockets. A
// ferryd killed with SIGKILL cannot remove its own: the first call of a
// process removes those of processes that no longer exist.
func guardDir() (string, error) {
	sweepOnce.Do(sweepGuardDirs)
	dir, err := os.MkdirTemp("", guardDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", fmt.Errorf("ovsdb: guard: %w", err)
	}
	return dir, nil
}

func sweepGuardDirs() {
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), guardDirPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidStr, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 {
			continue // not one of ours
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(filepath.Join(os.TempDir(), e.Name()))
		}
	}
}
