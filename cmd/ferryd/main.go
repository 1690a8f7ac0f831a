package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ferry-sdn/ferry/certname"
	"github.com/ferry-sdn/ferry/internal/crash"
	"github.com/ferry-sdn/ferry/internal/events"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/reconcile"
	"github.com/ferry-sdn/ferry/internal/replica"
	"github.com/ferry-sdn/ferry/internal/sdnotify"
	"github.com/ferry-sdn/ferry/internal/version"
	"github.com/ferry-sdn/ferry/openflow"
	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
	"github.com/ferry-sdn/ferry/rest"
)

type config struct {
	api         string
	openflow    string
	advertise   string
	nb          string
	dataDir     string
	logLevel    string
	logFormat   string
	resync      time.Duration
	ovsdbListen string
	// Several replicas on one northbound database.
	replicaID, apiAdvertise string
	// Drift: repair it (or only report it), and how often flows are
	// counted.
	repair        bool
	driftCheck    time.Duration
	probeInterval time.Duration
	probeRate     int
	// traceAppctl maps chassis to their ovs-vswitchd unixctl targets
	// (--trace-appctl).
	traceAppctl appctlTargets

	// OVS-style peer TLS for ssl:/pssl: OVSDB and OpenFlow targets.
	privateKey, certificate, caCert string
	// The REST API: HTTPS, client certificates, bearer tokens.
	apiCert, apiKey, apiCA string
	apiTokens              string
	metricsAuth            bool
	apiMaxConns            int

	// OpenFlow listener limits.
	ofMaxConns, ofMaxUnbound, ofMaxDumpMiB int

	configFile  string
	showVersion bool

	// onHUP runs on SIGHUP after the reloads (the configuration file
	// check); nil in tests that call run directly.
	onHUP func(*slog.Logger)
}

func main() {
	args := os.Args[1:]
	if len(args) == 1 && args[0] == "--help-man" { // hidden: make man
		if err := writeMan(os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "ferryd: %v\n", err)
			os.Exit(1)
		}
		return
	}
	cfg, fs, err := parseFlags(args, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return
	case errors.Is(err, errUsage):
		os.Exit(2) // the flag package said what
	case err != nil:
		fmt.Fprintf(os.Stderr, "ferryd: %v\n", err)
		os.Exit(2)
	}
	if cfg.showVersion {
		fmt.Println("ferryd", version.Get())
		return
	}
	logger, err := newLogger(os.Stderr, cfg.logFormat, cfg.logLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferryd: %v\n", err)
		os.Exit(2)
	}
	if cfg.configFile != "" {
		cfg.onHUP = func(l *slog.Logger) { checkConfigFile(l, args, fs, cfg.configFile) }
	}
	logger.Info("ferryd starting", "version", version.Get().Version, "commit", version.Get().Commit, "config", cfg.configFile)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		logger.Error("ferryd failed", "err", err)
		os.Exit(1)
	}
}

// advertiseFrom derives the target bridges dial from the listener's, when
// the listener is bound to one address.
func advertiseFrom(listen ovsdb.Target) (string, error) {
	host, port, err := net.SplitHostPort(listen.Address())
	if err != nil || host == "" || net.ParseIP(host).IsUnspecified() {
		return "", errors.New("ferryd: bridges need an address to dial: give --advertise tcp:IP:PORT, or an address in --openflow ptcp:PORT:IP")
	}
	scheme := "tcp"
	if listen.TLS() {
		scheme = "ssl"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + ":" + host + ":" + port, nil
}

func run(ctx context.Context, cfg config, logger *slog.Logger) error {
	// SIGHUP reloads the tokens and the API certificate; caught from the
	// start so that an early one does not kill ferryd.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	sec, err := loadSecurity(cfg, logger)
	if err != nil {
		return err
	}
	ofTarget, err := ovsdb.ParsePassive(cfg.openflow)
	if err != nil {
		return fmt.Errorf("--openflow: %w", err)
	}
	if err := sec.requireTLS("--openflow", ofTarget); err != nil {
		return err
	}
	if cfg.advertise == "" {
		if ofTarget.Network() == "unix" {
			cfg.advertise = "unix:" + ofTarget.Address()
		} else if cfg.advertise, err = advertiseFrom(ofTarget); err != nil {
			return err
		}
	}
	advTarget, err := ovsdb.ParseActive(cfg.advertise)
	if err != nil {
		return fmt.Errorf("--advertise: %w", err)
	}
	var listenTarget ovsdb.Target
	if cfg.ovsdbListen != "" {
		if listenTarget, err = ovsdb.ParsePassive(cfg.ovsdbListen); err != nil {
			return fmt.Errorf("--ovsdb-listen: %w", err)
		}
	}
	var nbFlag []ovsdb.Target
	if cfg.nb != "" {
		if nbFlag, err = ovsdb.ParseActiveTargets(cfg.nb); err != nil {
			return fmt.Errorf("--nb: %w", err)
		}
	}
	// Every ssl:/pssl: target needs the peer TLS flags: fail now, not in a
	// loop that never connects.
	for _, c := range []struct {
		flag    string
		targets []ovsdb.Target
	}{{"--ovsdb-listen", []ovsdb.Target{listenTarget}}, {"--nb", nbFlag}} {
		if err := sec.requireTLS(c.flag, c.targets...); err != nil {
			return err
		}
	}
	if ofTarget.TLS() != advTarget.TLS() && ofTarget.Scheme != ovsdb.PUnix {
		logger.Warn("--advertise and --openflow disagree on TLS: bridges will not connect unless something in between translates",
			"openflow", ofTarget.String(), "advertise", advTarget.String())
	}
	warnPlaintext(logger, "OpenFlow listener", ofTarget, "openflow", ofTarget.String())
	if cfg.ovsdbListen != "" {
		warnPlaintext(logger, "OVSDB listener", listenTarget, "ovsdb_listen", listenTarget.String())
	}
	for _, t := range nbFlag {
		warnPlaintext(logger, "northbound database connection", t, "nb", t.String())
	}
	if host, _, err := net.SplitHostPort(cfg.api); err == nil && sec.api == nil && !loopbackHost(host) {
		logger.Warn("REST API in plain HTTP on a non-loopback address: requests (and bearer tokens) travel in clear; give --api-cert and --api-key",
			"api", cfg.api)
	}
	if sec.auth == nil {
		logger.Info("REST API without access control: anyone who reaches it may change the network (see --api-tokens)", "api", cfg.api)
	}

	// The northbound database: ours, or the operator's.
	nbTargets := cfg.nb
	var nbServer *ovsdb.Supervisor
	if nbTargets == "" {
		dir, err := filepath.Abs(cfg.dataDir)
		if err != nil {
			return err
		}
		// Supervised: killed or crashed, it is started again on the same
		// socket, and the northbound connection comes back by itself.
		srv, err := ovsdb.Supervise(ctx, ovsdb.ServerConfig{DataDir: dir, Schema: nb.SchemaJSON, Logger: logger.With("component", "nb-server")})
		if err != nil {
			return err
		}
		defer func() {
			if err := srv.Stop(); err != nil {
				logger.Warn("stopping the northbound ovsdb-server", "err", err)
			}
		}()
		nbServer = srv
		nbTargets = srv.Target().String()
		logger.Info("northbound database", "target", nbTargets, "data_dir", dir)
	}
	targets, err := ovsdb.ParseActiveTargets(nbTargets)
	if err != nil {
		return fmt.Errorf("--nb: %w", err)
	}
	nbModel, err := nb.FullDatabaseModel()
	if err != nil {
		return err
	}

	// The controller exists only after the connection; early cache events
	// find nil and are covered by the controller's first pass.
	var ctlRef atomic.Pointer[reconcile.Controller]
	var mgrRef atomic.Pointer[replica.Manager]
	var passiveRef atomic.Pointer[ovsdb.Passive]
	nbConn, err := ovsdb.NewConn(ovsdb.ConnConfig{
		Targets: targets, Model: nbModel, LeaderOnly: len(targets) > 1, TLS: sec.peer,
		Logger: logger.With("component", "nb"),
		OnChange: func() {
			if c := ctlRef.Load(); c != nil {
				c.Kick()
			}
			if m := mgrRef.Load(); m != nil {
				m.Kick()
			}
			if p := passiveRef.Load(); p != nil {
				p.Recheck() // a host whose chassis was deleted is dropped
			}
		},
	})
	if err != nil {
		return err
	}
	defer nbConn.Close()
	select {
	case <-nbConn.Ready():
	case <-ctx.Done():
		return nil
	}
	db := nbdb.New(nbConn.Client(), logger.With("component", "nbdb"), nbdb.WithConnected(nbConn.Connected))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ferry_northbound_connected",
		Help: "1 while the northbound database is connected (writes are refused with 503 otherwise).",
	}, func() float64 { return b2f(db.Healthy()) }))
	reg.MustRegister(endpointCollector{nbConn})
	reg.MustRegister(crash.Collector())
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "ferry_ovsdb_refused_messages_total",
		Help: "Device OVSDB connections closed because the device sent a message that is malformed or too large (it could have crashed a less careful decoder).",
	}, func() float64 { return float64(ovsdb.RefusedMessages()) }))
	if nbServer != nil {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "ferry_northbound_server_restarts_total",
			Help: "Restarts of ferryd's own northbound ovsdb-server after it exited unexpectedly.",
		}, func() float64 { return float64(nbServer.Restarts()) }))
	}

	// Hosts that dial in: accepted only when registered as passive.
	var passive *ovsdb.Passive
	if cfg.ovsdbListen != "" {
		relayDir, err := os.MkdirTemp("", "ferry-relay")
		if err != nil {
			return err
		}
		defer os.RemoveAll(relayDir)
		passive, err = ovsdb.NewPassive(ovsdb.PassiveConfig{
			Listen:   listenTarget,
			TLS:      sec.peer,
			RelayDir: relayDir,
			Identify: identifyPassive(db),
			Accept: func(name string) bool {
				snap := db.Snapshot()
				if gw, ok := strings.CutPrefix(name, "gw:"); ok {
					g, ok := snap.GatewayByName(gw)
					return ok && g.OVSDB == model.PassiveOVSDB
				}
				ch, ok := snap.ChassisByName(name)
				return ok && ch.OVSDB == model.PassiveOVSDB
			},
			Logger:  logger.With("component", "ovsdb-listen"),
			OnPanic: func(r any) { crash.Recovered(logger.With("component", "ovsdb-listen"), "ovsdb-listen", r) },
			OnChange: func() {
				if c := ctlRef.Load(); c != nil {
					c.KickDevices()
				}
			},
		})
		if err != nil {
			return fmt.Errorf("--ovsdb-listen: %w", err)
		}
		go func() {
			if err := passive.Serve(ctx); err != nil {
				logger.Error("OVSDB listener stopped", "err", err)
			}
		}()
		defer passive.Close()
		passiveRef.Store(passive)
		reconcile.RegisterPassiveRefused(reg, passive.Refused)
	}

	ofServer := openflow.NewServer(logger.With("component", "openflow"),
		openflow.WithMaxConns(cfg.ofMaxConns), openflow.WithMaxUnbound(cfg.ofMaxUnbound),
		openflow.WithMaxDumpBytes(cfg.ofMaxDumpMiB<<20),
		openflow.WithOnPanic(func(r any) { crash.Recovered(logger.With("component", "openflow"), "openflow", r) }))
	reconcile.RegisterOpenFlow(reg, ofServer.Stats)
	ofLn, err := ofTarget.Listen(sec.peer)
	if err != nil {
		return fmt.Errorf("--openflow: %w", err)
	}
	go func() {
		if err := ofServer.Serve(ofLn); err != nil && ctx.Err() == nil {
			logger.Error("openflow listener stopped", "err", err)
		}
	}()
	defer ofServer.Close()

	limits := rest.DefaultLimits()
	limits.MaxConns = cfg.apiMaxConns
	apiLn, err := listenAPI(cfg.api, sec.api, limits, logger.With("component", "rest"))
	if err != nil {
		return fmt.Errorf("--api: %w", err)
	}
	apiLn.RegisterMetrics(reg)
	apiScheme := "http"
	if sec.api != nil {
		apiScheme = "https"
	}

	// Several replicas: this one's share of the devices, by lock.
	mgr, stopLocks, err := startReplica(cfg, targets, sec.peer, db, model.Replica{
		API: apiURL(cfg, apiScheme, apiLn.Addr()), OpenFlow: cfg.advertise,
	}, func() {
		if c := ctlRef.Load(); c != nil {
			c.KickDevices()
		}
	}, reg, logger.With("component", "replica"))
	if err != nil {
		return err
	}
	defer stopLocks()
	if mgr != nil {
		mgrRef.Store(mgr)
	}
	var ownership reconcile.Ownership
	if mgr != nil {
		ownership = mgr
	}

	drift := events.New(0)
	drift.Register(reg)
	plain := &plainDialWarner{logger: logger.With("component", "reconcile")}
	var dialedIn func(string) (netip.Addr, bool)
	if passive != nil {
		dialedIn = passive.RemoteAddr
	}
	ctl := reconcile.New(reconcile.Config{
		Northbound:        db,
		Switches:          reconcile.OpenFlow(ofServer),
		Dial:              plain.chassisDialer(reconcile.OVSDBDialer(logger.With("component", "chassis"), sec.peer, passive)),
		DialGateway:       plain.gatewayDialer(reconcile.OVSDBGatewayDialer(logger.With("component", "gateway"), sec.peer, passive)),
		Advertise:         cfg.advertise,
		Resync:            cfg.resync,
		Metrics:           reconcile.NewMetrics(reg),
		Logger:            logger.With("component", "reconcile"),
		DialedIn:          dialedIn,
		Ownership:         ownership,
		Events:            drift,
		NoRepair:          !cfg.repair,
		DriftCheck:        cfg.driftCheck,
		PathProbeInterval: cfg.probeInterval,
		PathProbeRate:     cfg.probeRate,
		Probes:            db,
		Appctl:            cfg.traceAppctl,
		PeerControllers: func() []string {
			if mgr == nil {
				return nil
			}
			return mgr.PeerControllers()
		},
	})
	ctlRef.Store(ctl)
	ofEvents, cancelOF := ofServer.Subscribe()
	defer cancelOF()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-ofEvents:
				ctl.KickDevices()
			}
		}
	}()
	ctlDone := make(chan struct{})
	go func() {
		defer close(ctlDone)
		ctl.Run(ctx)
	}()
	var status rest.Status = ctl
	if mgr != nil {
		status = replicaStatus{Controller: ctl, m: mgr, healthy: db.Healthy}
		defer func(stopped <-chan struct{}) { <-stopped }(runReplica(ctx, mgr, ctlDone))
	}

	restOpts := []rest.Option{rest.WithEvents(drift)}
	if sec.peer == nil {
		restOpts = append(restOpts, rest.WithoutTLS())
	}
	if sec.auth != nil {
		restOpts = append(restOpts, rest.WithAuth(sec.auth))
		if cfg.metricsAuth {
			restOpts = append(restOpts, rest.WithMetricsAuth())
		}
	}
	httpSrv := rest.NewServer(rest.NewHandler(db, status, reg, logger.With("component", "rest"), restOpts...),
		limits, logger.With("component", "rest"))
	go func() {
		if err := httpSrv.Serve(apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("REST API stopped", "err", err)
		}
	}()
	logger.Info("ferryd running", "api", apiScheme+"://"+apiLn.Addr().String(), "openflow", cfg.openflow, "advertise", cfg.advertise,
		"tls", sec.peer != nil, "api_tokens", sec.auth != nil)

	notify(logger, sdnotify.Ready)
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-hup:
			notify(logger, sdnotify.Reloading)
			sec.reload(cfg, logger)
			if cfg.onHUP != nil {
				cfg.onHUP(logger)
			}
			notify(logger, sdnotify.Ready)
		}
	}
	notify(logger, sdnotify.Stopping)
	logger.Info("ferryd stopping; devices keep their state")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutdownCtx)
	<-ctlDone
	return nil
}

// identifyPassive names a host that dialled --ovsdb-listen: a hypervisor by
// its Open_vSwitch system-id when a passive chassis has that name, else a
// VTEP by its Physical_Switch, matched to a passive gateway by the gateway's
// physical_switch (or its name when that is empty). Gateways are returned
// as reconcile.PassiveGatewayKey(name). Over pssl: the host's certificate
// must name what it claims to be (certVouches): any host with a certificate
// of the CA could otherwise claim another's registration.
func identifyPassive(db *nbdb.DB) func(ctx context.Context, c *ovsdb.RawConn) (string, error) {
	return func(ctx context.Context, c *ovsdb.RawConn) (string, error) {
		snap := db.Snapshot()
		sysID, sysErr := ovsdb.IdentifyBySystemID(ctx, c)
		if sysErr == nil {
			if ch, ok := snap.ChassisByName(sysID); ok && ch.OVSDB == model.PassiveOVSDB {
				return sysID, certVouches(c.TLS(), "chassis", sysID)
			}
		}
		ps, err := ovsdb.IdentifyByPhysicalSwitch(ctx, c)
		if err != nil {
			if sysErr == nil {
				return sysID, nil // refused by Accept, reported under its system-id
			}
			return "", err
		}
		for _, gw := range snap.Gateways {
			if gw.OVSDB == model.PassiveOVSDB && (gw.PhysicalSwitch == ps || gw.PhysicalSwitch == "" && gw.Name == ps) {
				return reconcile.PassiveGatewayKey(gw.Name), certVouches(c.TLS(), "gateway", gw.Name, ps)
			}
		}
		return ps, nil
	}
}

// certVouches checks that a TLS peer's certificate (verified against
// --ca-cert already) names the host it claims to be: one of names, in its
// common name or a DNS name. Plain-text connections (nil state) pass: the
// listener's warning says they are unauthenticated.
func certVouches(st *tls.ConnectionState, kind string, names ...string) error {
	if st == nil || len(st.PeerCertificates) == 0 {
		return nil
	}
	got := certname.Of(st.PeerCertificates[0])
	if certname.Any(got, names...) {
		return nil
	}
	gave := "no name"
	if len(got) > 0 {
		gave = fmt.Sprintf("%q", got[0])
	}
	return fmt.Errorf("ferryd: the host claims to be %s %q, but its certificate gives %s", kind, names[0], gave)
}

// endpointCollector exports which northbound target ferryd is connected
// to: with a cluster, the member that is leader.
type endpointCollector struct{ c *ovsdb.Conn }

var endpointDesc = prometheus.NewDesc("ferry_northbound_endpoint_info",
	"1 for the northbound target ferryd is connected to (with a cluster, the leader); no series while disconnected.",
	[]string{"endpoint"}, nil)

func (e endpointCollector) Describe(ch chan<- *prometheus.Desc) { ch <- endpointDesc }

func (e endpointCollector) Collect(ch chan<- prometheus.Metric) {
	if ep := e.c.Endpoint(); ep != "" && e.c.Connected() {
		ch <- prometheus.MustNewConstMetric(endpointDesc, prometheus.GaugeValue, 1, ep)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
