package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ferry-sdn/ferry/internal/crash"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/rest/api"
	"github.com/ferry-sdn/ferry/rest/ui"
)

// Backend holds the northbound state; internal/nbdb.DB implements it.
// Mutations return errors wrapping nbdb.ErrNotFound, nbdb.ErrConflict or
// nbdb.ErrInvalid for the caller's mistakes; anything else is the
// backend's failure.
type Backend interface {
	Snapshot() *model.Snapshot
	CreateSwitch(ctx context.Context, sw model.Switch) (model.Switch, error)
	DeleteSwitch(ctx context.Context, name string) error
	SetXenServerNetworks(ctx context.Context, name string, networks []string) (model.Switch, error)
	CreatePort(ctx context.Context, p model.Port) (model.Port, error)
	// CreatePorts creates ports on one switch: all or none.
	CreatePorts(ctx context.Context, switchName string, ports []model.Port) ([]model.Port, error)
	// ApplySwitch makes a switch, its ports and bindings what sw says,
	// in one transaction; nothing when nothing differs.
	ApplySwitch(ctx context.Context, sw model.Switch) (model.Switch, nbdb.Applied, error)
	DeletePort(ctx context.Context, switchName, portName string) error
	// PutPort makes a port exactly p, creating it if need be.
	PutPort(ctx context.Context, p model.Port) (model.Port, nbdb.Applied, error)
	// PatchPort changes what c sets of an existing port.
	PatchPort(ctx context.Context, switchName, portName string, c nbdb.PortChange) (model.Port, error)
	CreateChassis(ctx context.Context, ch model.Chassis) (model.Chassis, error)
	// PatchChassis changes what c sets of a registered chassis.
	PatchChassis(ctx context.Context, name string, c nbdb.ChassisChange) (model.Chassis, error)
	DeleteChassis(ctx context.Context, name string) error
	CreateGateway(ctx context.Context, gw model.Gateway) (model.Gateway, error)
	// PatchGateway changes a gateway's limits.
	PatchGateway(ctx context.Context, name string, c nbdb.GatewayChange) (model.Gateway, error)
	DeleteGateway(ctx context.Context, name string) error
	CreateBinding(ctx context.Context, b model.GatewayBinding) (model.GatewayBinding, error)
	DeleteBinding(ctx context.Context, b model.GatewayBinding) error
	// Healthy reports whether the northbound database is connected.
	Healthy() bool
}

// Status reports realization; the reconciler implements it.
type Status interface {
	Chassis(name string) model.ChassisStatus
	Switch(sw model.Switch) model.SwitchStatus
	Port(p model.Port) model.PortStatus
	Gateway(name string) model.GatewayStatus
}

// writeTimeout bounds a Backend mutation: libovsdb blocks a transaction
// while it reconnects, and an operator's request should fail instead.
const writeTimeout = 15 * time.Second

type server struct {
	b       Backend
	st      Status
	log     *slog.Logger
	router  *mux.Router
	metrics *metrics
	opts    options
}

// NewHandler returns the API's HTTP handler. s may be nil (every object
// then shows an unrealized status); reg may be nil (a private registry is
// used); logger may be nil. Options add access control (WithAuth) and
// tell the handler what ferryd can do (WithoutTLS).
func NewHandler(b Backend, s Status, reg *prometheus.Registry, logger *slog.Logger, opts ...Option) http.Handler {
	return newServer(b, s, reg, logger, opts...)
}

func newServer(b Backend, s Status, reg *prometheus.Registry, logger *slog.Logger, opts ...Option) *server {
	if s == nil {
		s = noStatus{}
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv := &server{b: b, st: s, log: logger, router: mux.NewRouter(), metrics: newMetrics(reg)}
	for _, o := range opts {
		o(&srv.opts)
	}
	r := srv.router
	// Match on the encoded path: a VTEP port may be called "Ethernet1/1",
	// sent as Ethernet1%2F1 in a URL. Handlers read path variables
	// through vars, which decodes them.
	r.UseEncodedPath()
	// No cleaning: gorilla/mux answers a path with "." or ".." segments
	// (or "//") with a redirect to the cleaned path, so that DELETE
	// …/bindings/gw1/../0 would be sent elsewhere. ServeHTTP refuses
	// such segments (checkPath); what else mux would clean is a 404.
	r.SkipClean(true)

	r.Handle("/v1/switches", srv.handle(srv.listSwitches)).Methods(http.MethodGet)
	r.Handle("/v1/switches", srv.write(srv.createSwitch)).Methods(http.MethodPost)
	r.Handle("/v1/switches/{name}", srv.handle(srv.getSwitch)).Methods(http.MethodGet)
	r.Handle("/v1/switches/{name}", srv.write(srv.deleteSwitch)).Methods(http.MethodDelete)
	r.Handle("/v1/switches/{name}", srv.write(srv.patchSwitch)).Methods(http.MethodPatch)
	r.Handle("/v1/switches/{name}", srv.write(srv.putSwitch)).Methods(http.MethodPut)
	r.Handle("/v1/switches/{switch}/ports", srv.handle(srv.listPorts)).Methods(http.MethodGet)
	r.Handle("/v1/switches/{switch}/ports", srv.write(srv.createPort)).Methods(http.MethodPost)
	r.Handle("/v1/switches/{switch}/ports/{port}", srv.handle(srv.getPort)).Methods(http.MethodGet)
	r.Handle("/v1/switches/{switch}/ports/{port}", srv.write(srv.deletePort)).Methods(http.MethodDelete)
	r.Handle("/v1/switches/{switch}/ports/{port}", srv.write(srv.putPort)).Methods(http.MethodPut)
	r.Handle("/v1/switches/{switch}/ports/{port}", srv.write(srv.patchPort)).Methods(http.MethodPatch)
	r.Handle("/v1/chassis", srv.handle(srv.listChassis)).Methods(http.MethodGet)
	r.Handle("/v1/chassis", srv.write(srv.createChassis)).Methods(http.MethodPost)
	r.Handle("/v1/chassis/{name}", srv.handle(srv.getChassis)).Methods(http.MethodGet)
	r.Handle("/v1/chassis/{name}", srv.write(srv.deleteChassis)).Methods(http.MethodDelete)
	r.Handle("/v1/chassis/{name}", srv.write(srv.patchChassis)).Methods(http.MethodPatch)
	r.Handle("/v1/gateways", srv.handle(srv.listGateways)).Methods(http.MethodGet)
	r.Handle("/v1/gateways", srv.write(srv.createGateway)).Methods(http.MethodPost)
	r.Handle("/v1/gateways/{name}", srv.handle(srv.getGateway)).Methods(http.MethodGet)
	r.Handle("/v1/gateways/{name}", srv.write(srv.deleteGateway)).Methods(http.MethodDelete)
	r.Handle("/v1/gateways/{name}", srv.write(srv.patchGateway)).Methods(http.MethodPatch)
	r.Handle("/v1/gateways/{name}/macs", srv.handle(srv.listGatewayMACs)).Methods(http.MethodGet)
	r.Handle("/v1/gateways/{name}/check", srv.handle(srv.checkGateway)).Methods(http.MethodPost)
	r.Handle("/v1/switches/{switch}/bindings", srv.handle(srv.listBindings)).Methods(http.MethodGet)
	r.Handle("/v1/switches/{switch}/bindings", srv.write(srv.createBinding)).Methods(http.MethodPost)
	r.Handle("/v1/switches/{switch}/bindings/{gateway}/{port}/{vlan}", srv.handle(srv.getBinding)).Methods(http.MethodGet)
	r.Handle("/v1/switches/{switch}/bindings/{gateway}/{port}/{vlan}", srv.write(srv.deleteBinding)).Methods(http.MethodDelete)
	r.Handle("/v1/openapi.json", srv.handle(serveOpenAPI)).Methods(http.MethodGet)
	r.Handle("/v1/version", srv.handle(srv.getVersion)).Methods(http.MethodGet)
	r.Handle("/v1/replicas", srv.handle(srv.listReplicas)).Methods(http.MethodGet)
	r.Handle("/v1/events", srv.handle(srv.listEvents)).Methods(http.MethodGet)
	r.Handle("/v1/trace", srv.handle(srv.getTrace)).Methods(http.MethodGet)
	r.Handle("/v1/trace", srv.handle(srv.postTrace)).Methods(http.MethodPost)
	r.Handle("/healthz", srv.handle(srv.healthz)).Methods(http.MethodGet)
	r.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{})).Methods(http.MethodGet)
	page := ui.New()
	r.Handle("/ui", http.RedirectHandler(ui.Prefix, http.StatusMovedPermanently)).Methods(http.MethodGet)
	r.Handle(ui.Prefix, page).Methods(http.MethodGet)
	r.Handle(ui.Prefix+"{asset}", page).Methods(http.MethodGet)

	r.NotFoundHandler = srv.handle(func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{code: http.StatusNotFound, msg: "no such resource: " + r.URL.Path}
	})
	r.MethodNotAllowedHandler = srv.handle(srv.methodNotAllowed)
	r.Use(srv.labelRoute)
	return srv
}

// ServeHTTP checks the bearer token, then logs and counts every request
// around the router. The access log never includes request headers: the
// Authorization header holds a token.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, code: http.StatusOK}
	label := &routeLabel{route: "unmatched"}
	defer func() {
		p := recover()
		if p == nil || p == http.ErrAbortHandler {
			if p != nil {
				panic(p)
			}
			return
		}
		crash.Recovered(s.log, "rest", p)
		s.metrics.observe(r.Method, label.route, http.StatusInternalServerError, time.Since(start))
		if rec.written {
			// Half an answer is out: end the connection so the client
			// cannot take it for a whole one.
			panic(http.ErrAbortHandler)
		}
		writeJSON(rec, http.StatusInternalServerError, api.Error{Message: "internal error; see the ferryd log"})
	}()
	role, err := s.authorize(rec, r)
	if err == nil {
		err = s.checkPath(r)
	}
	if err != nil {
		// Refused before routing, so that an unknown path is 401 too
		// and reveals nothing; the route is still looked up for metrics.
		var m mux.RouteMatch
		if s.router.Match(r, &m) && m.Route != nil {
			if tpl, err := m.Route.GetPathTemplate(); err == nil {
				label.route = tpl
			}
		}
		s.writeError(rec, r, err)
	} else {
		route := r.WithContext(context.WithValue(r.Context(), routeKey{}, label))
		var w http.ResponseWriter = rec
		if r.Method == http.MethodHead {
			// HEAD is GET without the body (RFC 9110 9.3.2): same
			// status and headers, including Content-Length.
			route.Method = http.MethodGet
			w = headWriter{rec}
		}
		s.router.ServeHTTP(w, route)
	}
	d := time.Since(start)
	s.metrics.observe(r.Method, label.route, rec.code, d)
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", rec.code,
		"bytes", rec.bytes, "duration", d, "remote", r.RemoteAddr}
	if s.opts.auth != nil {
		attrs = append(attrs, "role", role)
	}
	s.log.Debug("http request", attrs...)
}

// handlerFunc is a handler that returns its failure instead of writing it,
// so that error responses are written in one place (writeError).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *server) handle(f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.URL.Query().Has("dry_run") {
			// Silently doing the real thing would be the worst answer.
			s.writeError(w, r, errorf(http.StatusBadRequest, "dry_run: %s %s has no dry run (only writes of switches, ports, chassis, gateways and bindings do)", r.Method, r.URL.Path))
			return
		}
		if err := f(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// httpError is a failure with its status code and the message the client
// sees.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// writeError maps an error to its response. The caller's mistakes keep
// their message; the backend's failures are logged and reported without
// internals.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var code int
	var msg string
	switch {
	case errors.As(err, &he):
		code, msg = he.code, he.msg
	case errors.Is(err, nbdb.ErrNotFound):
		code, msg = http.StatusNotFound, backendMessage(err)
	case errors.Is(err, nbdb.ErrConflict):
		code, msg = http.StatusConflict, backendMessage(err)
	case errors.Is(err, nbdb.ErrInvalid):
		code, msg = http.StatusBadRequest, backendMessage(err)
	case errors.Is(err, nbdb.ErrUnavailable):
		code, msg = http.StatusServiceUnavailable, backendMessage(err)
		s.log.Warn("request failed, northbound database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	case r.Context().Err() != nil:
		// The client went away; nobody reads this response.
		code, msg = http.StatusServiceUnavailable, "request canceled"
		s.log.Debug("request canceled", "method", r.Method, "path", r.URL.Path, "err", err)
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusServiceUnavailable
		msg = fmt.Sprintf("northbound database did not answer within %v; the change may or may not have been applied", writeTimeout)
		s.log.Warn("request timed out", "method", r.Method, "path", r.URL.Path, "err", err)
	case !s.b.Healthy():
		code, msg = http.StatusServiceUnavailable, "northbound database unavailable; try again later"
		s.log.Warn("request failed, northbound database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	default:
		code, msg = http.StatusInternalServerError, "internal error; see the ferryd log"
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, code, &api.Error{Message: msg})
}

// backendMessage returns the message of an nbdb error without the package
// prefix, which means nothing to an API client: "vni: 5 is already used by
// switch \"red\"".
func backendMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "nbdb: ")
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		// Only our own types are encoded; failing here is a bug.
		code = http.StatusInternalServerError
		b = []byte(`{"error": "internal error: cannot encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// decode reads a request body holding exactly one JSON object into v.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := readBody(w, r, maxBodyBytes)
	if err != nil {
		return err
	}
	return decodeJSON(data, v, "")
}

// readBody reads a whole request body of at most limit bytes, which must
// be JSON (checkContentType).
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	switch {
	case isTooLarge(err):
		return nil, errorf(http.StatusRequestEntityTooLarge, "request body: larger than %d bytes", limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// The server's read timeout (ferryd's ReadTimeout) ran out
		// while the client was still sending.
		return nil, errorf(http.StatusRequestTimeout, "request body: not received in time")
	case err != nil:
		return nil, errorf(http.StatusBadRequest, "request body: %s", err)
	}
	return data, nil
}

// checkContentType refuses a body that says it is something other than
// JSON: curl -d, without -H 'Content-Type: application/json', sends
// application/x-www-form-urlencoded, and a form is never what ferry
// expects. A body without Content-Type is taken as JSON, as hand-written
// clients (printf | nc, scripts) often send none; the decoder still
// refuses anything that is not JSON.
func checkContentType(r *http.Request) error {
	values := r.Header.Values("Content-Type")
	if len(values) == 0 {
		return nil
	}
	const hint = "send Content-Type: application/json (curl: -H 'Content-Type: application/json')"
	if len(values) > 1 {
		return errorf(http.StatusUnsupportedMediaType, "Content-Type: given %d times; %s", len(values), hint)
	}
	mt, params, err := mime.ParseMediaType(values[0])
	if err != nil || mt != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, "Content-Type: %q is not application/json; %s", values[0], hint)
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return errorf(http.StatusUnsupportedMediaType, "Content-Type: %q: JSON is UTF-8, no other parameter is understood", values[0])
		}
	}
	return nil
}

// decodeJSON decodes data, exactly one JSON value, into v, refusing
// unknown fields; item names the value in errors when it is an item of a
// list ("ports[3]"), and is "" for a whole request body.
func decodeJSON(data []byte, v any, item string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err, item)
	}
	// Anything after the object (a second object, stray text) is a
	// client bug that would otherwise be silently ignored.
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		return errorf(http.StatusBadRequest, "request body: unexpected data after the JSON object")
	}
	return nil
}

// isList reports whether a request body is a JSON array.
func isList(data []byte) bool {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '['
}

// decodeList decodes a JSON array of objects, naming each item's mistakes
// by its index in list: "ports[3].mac: must be a string".
func decodeList[T any](raw []json.RawMessage, list string) ([]T, error) {
	out := make([]T, len(raw))
	for i, item := range raw {
		if err := decodeJSON(item, &out[i], fmt.Sprintf("%s[%d]", list, i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// bodyError explains a JSON decoding failure, naming the field where it
// can (item: see decodeJSON).
func bodyError(err error, item string) error {
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	field := func(name string) string {
		if item == "" {
			return name
		}
		return item + "." + name
	}
	switch {
	case err == io.EOF:
		return errorf(http.StatusBadRequest, "request body: empty; expected a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(http.StatusBadRequest, "request body: malformed JSON: unexpected end")
	case errors.As(err, &syntax):
		return errorf(http.StatusBadRequest, "request body: malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typeErr):
		switch {
		case typeErr.Field == "" && item == "":
			return errorf(http.StatusBadRequest, "request body: must be a JSON object")
		case typeErr.Field == "":
			return errorf(http.StatusBadRequest, "%s: must be a JSON object", item)
		}
		return errorf(http.StatusBadRequest, "%s: must be %s", field(typeErr.Field), jsonType(typeErr.Type.String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errorf(http.StatusBadRequest, "%s: unknown field", field(name))
	}
	return errorf(http.StatusBadRequest, "request body: %s", err)
}

func jsonType(goType string) string {
	switch goType {
	case "string":
		return "a string"
	case "int64", "uint32", "int":
		return "an integer"
	case "[]string":
		return "an array of strings"
	case "bool":
		return "true or false"
	case "[]json.RawMessage":
		return "an array of objects"
	}
	return "of a different type"
}

// methodNotAllowed answers 405 with the methods the path does allow, as
// HTTP requires.
func (s *server) methodNotAllowed(w http.ResponseWriter, r *http.Request) error {
	allow, _ := s.allowed(r)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	method := r.Method
	if _, ok := w.(headWriter); ok {
		method = http.MethodHead // routed as GET
	}
	return errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s (allowed: %s)", method, r.URL.Path, strings.Join(allow, ", "))
}

// allowed returns the methods the request's path is routed for (HEAD
// wherever GET is) and the path's route template, "" when none matches.
func (s *server) allowed(r *http.Request) (methods []string, template string) {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		var match mux.RouteMatch
		probe := r.Clone(r.Context())
		probe.Method = m
		if s.router.Match(probe, &match) && match.MatchErr == nil {
			methods = append(methods, m)
			if m == http.MethodGet {
				methods = append(methods, http.MethodHead)
			}
			if tpl, err := match.Route.GetPathTemplate(); err == nil {
				template = tpl
			}
		}
	}
	return methods, template
}

// checkPath refuses a path with a segment that is "." or ".." or that
// decodes to something other than printable UTF-8: no object has such a
// name, and mux would otherwise redirect (see SkipClean above). The error
// names the path variable the segment stands for ("port" in
// /v1/switches/{switch}/bindings/{gateway}/{port}/{vlan}), or "path".
func (s *server) checkPath(r *http.Request) error {
	for i, seg := range strings.Split(r.URL.EscapedPath(), "/") {
		dec, err := url.PathUnescape(seg)
		var what string
		switch {
		case err != nil:
			what = "is not a valid escape"
			dec = seg
		case dec == "." || dec == "..":
			what = "is not a name"
		case !printable(dec):
			what = "must be printable UTF-8"
		default:
			continue
		}
		field := "path"
		if _, tpl := s.allowed(r); tpl != "" {
			if segs := strings.Split(tpl, "/"); i < len(segs) && strings.HasPrefix(segs[i], "{") {
				field = strings.Trim(segs[i], "{}")
			}
		}
		return errorf(http.StatusBadRequest, "%s: %q in the path %s", field, dec, what)
	}
	return nil
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) error {
	var self *api.ReplicaHealth
	if rs, ok := s.st.(ReplicaStatus); ok {
		self = rs.Self()
	}
	if s.b.Healthy() {
		writeJSON(w, http.StatusOK, api.Health{Status: "ok", Northbound: "connected", Replica: self})
	} else {
		writeJSON(w, http.StatusServiceUnavailable, api.Health{Status: "unavailable", Northbound: "disconnected",
			Error: "northbound database not connected", Replica: self})
	}
	return nil
}

// writable fails fast when the northbound database is down, instead of
// letting the request wait for a reconnect; it runs after validation so
// that bad input is still a 4xx.
func (s *server) writable() error {
	if !s.b.Healthy() {
		return errorf(http.StatusServiceUnavailable, "northbound database unavailable; try again later")
	}
	return nil
}

// writeCtx is writable, then the context of a Backend mutation, bounded
// by writeTimeout.
func (s *server) writeCtx(r *http.Request) (context.Context, context.CancelFunc, error) {
	if err := s.writable(); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), writeTimeout)
	return ctx, cancel, nil
}

type noStatus struct{}

func (noStatus) Chassis(string) model.ChassisStatus     { return model.ChassisStatus{} }
func (noStatus) Switch(model.Switch) model.SwitchStatus { return model.SwitchStatus{} }
func (noStatus) Port(model.Port) model.PortStatus       { return model.PortStatus{} }
func (noStatus) Gateway(string) model.GatewayStatus     { return model.GatewayStatus{} }

// recorder remembers the status code and size of a response for the
// access log and metrics.
type recorder struct {
	http.ResponseWriter
	code    int
	bytes   int
	written bool // the status line is out
}

func (r *recorder) WriteHeader(code int) {
	r.code = code
	r.written = true
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.written = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// headWriter answers HEAD: headers and status as for GET, no body.
type headWriter struct{ http.ResponseWriter }

func (h headWriter) Write(b []byte) (int, error) { return len(b), nil }

// Unwrap lets http.ResponseController reach the real writer (flushing
// /metrics).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

type routeKey struct{}

// routeLabel carries the matched route template from inside the router
// out to ServeHTTP: metrics are labelled by template, not by path, so that
// object names do not multiply time series.
type routeLabel struct{ route string }

func (s *server) labelRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l, ok := r.Context().Value(routeKey{}).(*routeLabel); ok {
			if tpl, err := mux.CurrentRoute(r).GetPathTemplate(); err == nil {
				l.route = tpl
			}
		}
		next.ServeHTTP(w, r)
	})
}
