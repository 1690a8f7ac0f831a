package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/reconcile"
	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/rest"
)

// security is what the TLS and access-control flags built.
type security struct {
	// peer authenticates OVSDB and OpenFlow peers on ssl: and pssl:
	// targets (--private-key, --certificate, --ca-cert); nil without them.
	peer *tls.Config
	// api serves the REST API over HTTPS (--api-cert, --api-key); nil
	// serves plain HTTP.
	api *apiTLS
	// auth checks bearer tokens (--api-tokens); nil leaves the API open.
	auth *rest.Auth
}

// loadSecurity reads the certificates and the tokens file the flags name;
// logger receives the warning of a tokens file others may read.
func loadSecurity(cfg config, logger *slog.Logger) (*security, error) {
	var s security
	peerFlags := map[string]string{"--private-key": cfg.privateKey, "--certificate": cfg.certificate, "--ca-cert": cfg.caCert}
	if err := together(peerFlags); err != nil {
		return nil, err
	}
	if cfg.privateKey != "" {
		var err error
		if s.peer, err = ovsdb.LoadTLSConfig(cfg.privateKey, cfg.certificate, cfg.caCert); err != nil {
			return nil, fmt.Errorf("--private-key/--certificate/--ca-cert: %w", err)
		}
	}
	if err := together(map[string]string{"--api-cert": cfg.apiCert, "--api-key": cfg.apiKey}); err != nil {
		return nil, err
	}
	if cfg.apiCA != "" && cfg.apiCert == "" {
		return nil, errors.New("ferryd: --api-ca (client certificates) needs --api-cert and --api-key")
	}
	if cfg.apiCert != "" {
		var err error
		if s.api, err = newAPITLS(cfg.apiCert, cfg.apiKey, cfg.apiCA); err != nil {
			return nil, err
		}
	}
	if cfg.metricsAuth && cfg.apiTokens == "" {
		return nil, errors.New("ferryd: --metrics-auth needs --api-tokens")
	}
	if cfg.apiTokens != "" {
		t, err := rest.LoadTokens(cfg.apiTokens)
		if err != nil {
			return nil, fmt.Errorf("--api-tokens: %w", err)
		}
		s.auth = rest.NewAuth(t)
		warnTokensMode(logger, cfg.apiTokens)
	}
	return &s, nil
}

// warnTokensMode warns, as ssh does for a private key, when the tokens
// file may be read or written by others than its owner: a reader learns
// every token, a writer can make itself admin. A warning, not a refusal:
// the operator may have a reason (a group of ferry admins), and refusing
// to start would cost the network its controller.
func warnTokensMode(logger *slog.Logger, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		return // LoadTokens has just read it; a race with a rename is not worth a line
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		logger.Warn("--api-tokens file is readable or writable by group or others: whoever reads it has every token; chmod 600 it",
			"file", path, "mode", fmt.Sprintf("%04o", perm))
	}
}

// together fails unless the flags are all given or all empty.
func together(flags map[string]string) error {
	var given, missing []string
	for name, v := range flags {
		if v == "" {
			missing = append(missing, name)
		} else {
			given = append(given, name)
		}
	}
	if len(given) == 0 || len(missing) == 0 {
		return nil
	}
	all := make([]string, 0, len(flags))
	for name := range flags {
		all = append(all, name)
	}
	slices.Sort(all)
	slices.Sort(missing)
	return fmt.Errorf("ferryd: %s go together: missing %s", strings.Join(all, ", "), strings.Join(missing, ", "))
}

// requireTLS fails when a target needs TLS and ferryd has no peer
// configuration: better at start than a loop that never connects.
func (s *security) requireTLS(flag string, targets ...ovsdb.Target) error {
	for _, t := range targets {
		if t.TLS() && s.peer == nil {
			return fmt.Errorf("ferryd: %s %s: TLS needs --private-key, --certificate and --ca-cert", flag, t)
		}
	}
	return nil
}

// loopbackHost reports whether host names this machine only.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// plaintext reports whether t carries OVSDB or OpenFlow unencrypted beyond
// this machine: tcp: or ptcp: on an address other than loopback (a ptcp:
// without address listens on all of them).
func plaintext(t ovsdb.Target) bool {
	return (t.Scheme == ovsdb.TCP || t.Scheme == ovsdb.PTCP) && !loopbackHost(t.Host)
}

// warnPlaintext logs once per listener or peer that the operator chose
// plain TCP off this machine: allowed (they wrote tcp:), but never silent.
func warnPlaintext(logger *slog.Logger, what string, t ovsdb.Target, attrs ...any) {
	if !plaintext(t) {
		return
	}
	logger.Warn("plain-text "+what+" on a non-loopback address: no encryption, no peer authentication; use ssl:/pssl: with --private-key, --certificate and --ca-cert", attrs...)
}

// plainDialWarner warns once per chassis or gateway target dialled in plain
// text.
type plainDialWarner struct {
	logger *slog.Logger
	mu     sync.Mutex
	seen   map[string]bool
}

func (w *plainDialWarner) warn(kind, name, target string) {
	if target == model.PassiveOVSDB {
		return
	}
	ts, err := ovsdb.ParseActiveTargets(target)
	if err != nil {
		return // the dialer reports it
	}
	for _, t := range ts {
		if !plaintext(t) {
			continue
		}
		key := kind + "\x00" + name + "\x00" + t.String()
		w.mu.Lock()
		first := !w.seen[key]
		if w.seen == nil {
			w.seen = map[string]bool{}
		}
		w.seen[key] = true
		w.mu.Unlock()
		if first {
			warnPlaintext(w.logger, "OVSDB connection", t, kind, name, "ovsdb", t.String())
		}
	}
}

// chassisDialer wraps a DialFunc with the plain-text warning.
func (w *plainDialWarner) chassisDialer(dial reconcile.DialFunc) reconcile.DialFunc {
	return func(ch model.Chassis, notify func()) (reconcile.Device, error) {
		w.warn("chassis", ch.Name, ch.OVSDB)
		return dial(ch, notify)
	}
}

// gatewayDialer wraps a DialGatewayFunc with the plain-text warning.
func (w *plainDialWarner) gatewayDialer(dial reconcile.DialGatewayFunc) reconcile.DialGatewayFunc {
	return func(gw model.Gateway, notify func()) (reconcile.Device, error) {
		w.warn("gateway", gw.Name, gw.OVSDB)
		return dial(gw, notify)
	}
}

// apiTLS is the REST API's server TLS configuration, replaced as a whole
// on reload (SIGHUP) so that a renewed certificate needs no restart.
type apiTLS struct {
	certFile, keyFile, caFile string
	cur                       atomic.Pointer[tls.Config]
}

func newAPITLS(certFile, keyFile, caFile string) (*apiTLS, error) {
	a := &apiTLS{certFile: certFile, keyFile: keyFile, caFile: caFile}
	if err := a.reload(); err != nil {
		return nil, err
	}
	return a, nil
}

// reload reads the files again; on failure the previous configuration
// stays.
func (a *apiTLS) reload() error {
	cert, err := tls.LoadX509KeyPair(a.certFile, a.keyFile)
	if err != nil {
		return fmt.Errorf("--api-cert/--api-key: %w", err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if a.caFile != "" {
		pem, err := os.ReadFile(a.caFile)
		if err != nil {
			return fmt.Errorf("--api-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--api-ca: no certificate found in %s", a.caFile)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	a.cur.Store(c)
	return nil
}

// config is what the listener uses: every handshake takes the current
// configuration.
func (a *apiTLS) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return a.cur.Load(), nil
		},
	}
}

// listenAPI listens for the REST API: HTTPS with --api-cert, else HTTP,
// with the connection cap of limits.
func listenAPI(addr string, api *apiTLS, limits rest.Limits, logger *slog.Logger) (*rest.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	var cfg *tls.Config
	if api != nil {
		cfg = api.config()
	}
	return rest.Listen(ln, limits, cfg, logger), nil
}

// reload re-reads the tokens file and the API certificate (SIGHUP). A file
// that fails to load leaves the previous one in force.
func (s *security) reload(cfg config, logger *slog.Logger) {
	if s.auth != nil {
		if t, err := rest.LoadTokens(cfg.apiTokens); err != nil {
			logger.Error("reloading --api-tokens failed; keeping the previous tokens", "err", err)
		} else {
			s.auth.Set(t)
			logger.Info("reloaded --api-tokens", "tokens", t.Len())
			warnTokensMode(logger, cfg.apiTokens)
		}
	}
	if s.api != nil {
		if err := s.api.reload(); err != nil {
			logger.Error("reloading the API certificate failed; keeping the previous one", "err", err)
		} else {
			logger.Info("reloaded the API certificate", "cert", cfg.apiCert)
		}
	}
}
