package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ferry-sdn/ferry/internal/flagfile"
	"github.com/ferry-sdn/ferry/internal/sdnotify"
	"github.com/ferry-sdn/ferry/openflow"
	"github.com/ferry-sdn/ferry/rest"
)

// defaultConfig is read when --config is not given. Its absence is not an
// error (a ferryd run by hand, or from a checkout, needs no file); the
// absence of a file named with --config is.
var defaultConfig = "/etc/ferry/ferryd.conf"

// notInFile are the flags a configuration file cannot set.
var notInFile = []string{"config", "version"}

// errUsage marks a command-line error the flag package has printed.
var errUsage = errors.New("usage")

// newFlags declares every flag of ferryd on a new flag set writing to cfg.
// The configuration file, the man page and the usage text all come from it.
func newFlags(cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet("ferryd", flag.ContinueOnError)
	fs.StringVar(&cfg.api, "api", "127.0.0.1:8470", "REST API listen address `host:port` (HTTPS with --api-cert)")
	fs.StringVar(&cfg.openflow, "openflow", "ptcp:6653", "passive OpenFlow `target` bridges connect to (ptcp:PORT[:IP], pssl:PORT[:IP], punix:PATH)")
	fs.StringVar(&cfg.advertise, "advertise", "", "active OpenFlow `target` every managed bridge is told to dial, e.g. tcp:198.18.255.1:6653 (default: derived from --openflow when it names an IP)")
	fs.StringVar(&cfg.nb, "nb", "", "northbound database `targets` (tcp:, ssl:, unix:; comma-separated for a cluster); empty runs ferryd's own ovsdb-server in --data-dir")
	fs.StringVar(&cfg.replicaID, "replica-id", "", "run as replica `ID` of several ferryds sharing --nb (a clustered northbound database): register as ID, own a share of the devices through OVSDB locks and drive only those; empty: this ferryd drives every device")
	fs.StringVar(&cfg.apiAdvertise, "api-advertise", "", "the REST API `URL` other replicas and GET /v1/replicas show for this one (with --replica-id; default: derived from --api when it names an IP)")
	fs.StringVar(&cfg.dataDir, "data-dir", "/var/lib/ferry", "`directory` for ferryd's own northbound database")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log `format` on stderr: text (logfmt, key=value) or json (one object per line)")
	fs.DurationVar(&cfg.resync, "resync", 60*time.Second, "period of unconditional reconcile passes")
	fs.BoolVar(&cfg.repair, "repair", true, "repair drift (ferry's state on a device changed by someone else); false only reports it in GET /v1/events, the log and ferry_drift_events_total")
	fs.DurationVar(&cfg.probeInterval, "probe-interval", time.Second, "how often every pair of hypervisors that share a switch is probed through the data plane, each way (reachability, loss, RTT, path MTU; 0: never)")
	fs.IntVar(&cfg.probeRate, "probe-rate", 100, "the most probes one hypervisor sends per second; beyond it, its pairs take turns")
	fs.DurationVar(&cfg.driftCheck, "drift-check", 2*time.Second, "how often each bridge's flows are counted against what ferry installed, to notice flows deleted or added behind its back (0: only at --resync)")
	fs.Var(&cfg.traceAppctl, "trace-appctl", "`CHASSIS=TARGET`[,...]: where packet traces (GET /v1/trace) run ovs-appctl ofproto/trace for a chassis: its ovs-vswitchd's unixctl socket (a .ctl file) or its OVS_RUNDIR (a directory with ovs-vswitchd.pid), on this host; repeatable; other chassis are traced by simulation on their installed flows")
	fs.StringVar(&cfg.ovsdbListen, "ovsdb-listen", "", "passive OVSDB `target` (ptcp:PORT[:IP], pssl:PORT[:IP]) for hosts that dial ferry (ovs-vsctl set-manager tcp:FERRY:PORT); they register with \"ovsdb\": \"passive\" and are matched by system-id")
	fs.StringVar(&cfg.privateKey, "private-key", "", "PEM `file` with ferryd's private key for ssl:/pssl: OVSDB and OpenFlow targets (with --certificate and --ca-cert)")
	fs.StringVar(&cfg.certificate, "certificate", "", "PEM `file` with ferryd's certificate for ssl:/pssl: targets")
	fs.StringVar(&cfg.caCert, "ca-cert", "", "PEM `file` with the CA certificate peers' certificates must be signed by (ovs-pki's switchca)")
	fs.StringVar(&cfg.apiCert, "api-cert", "", "PEM `file` with the REST API's certificate: serve HTTPS (with --api-key); reloaded on SIGHUP")
	fs.StringVar(&cfg.apiKey, "api-key", "", "PEM `file` with the private key of --api-cert")
	fs.StringVar(&cfg.apiCA, "api-ca", "", "PEM `file` with the CA REST API clients' certificates must be signed by (requires client certificates)")
	fs.StringVar(&cfg.apiTokens, "api-tokens", "", "`file` of bearer tokens, one \"TOKEN ROLE\" per line (roles reader, admin): every /v1 request then needs one; reloaded on SIGHUP")
	fs.IntVar(&cfg.apiMaxConns, "api-max-conns", rest.DefaultLimits().MaxConns, "most REST API connections open at once; further clients wait to be accepted until one closes")
	fs.BoolVar(&cfg.metricsAuth, "metrics-auth", false, "require a token (any role) on /metrics too (needs --api-tokens)")
	fs.IntVar(&cfg.ofMaxConns, "openflow-max-conns", openflow.DefaultMaxConns, "most OpenFlow connections open at once; further bridges wait to be accepted until one closes")
	fs.IntVar(&cfg.ofMaxUnbound, "openflow-max-unbound", openflow.DefaultMaxUnbound, "most OpenFlow connections not bound to a chassis at once (in their handshake, or waiting for their chassis); further ones wait to be accepted")
	fs.IntVar(&cfg.ofMaxDumpMiB, "openflow-max-dump", openflow.DefaultMaxDumpBytes>>20, "most `MiB` one flow or group dump of a bridge may take; a bridge answering with more is disconnected")
	fs.StringVar(&cfg.configFile, "config", defaultConfig, "configuration `file`: one \"flag = value\" per line, every flag above settable; flags on the command line win; a missing default file is ignored, \"\" reads none")
	fs.BoolVar(&cfg.showVersion, "version", false, "print the version, commit and Go version, and exit")
	return fs
}

// parseFlags reads the command line, then the configuration file for
// every flag the command line left unset, then checks the values.
func parseFlags(args []string, stderr io.Writer) (config, *flag.FlagSet, error) {
	var cfg config
	fs := newFlags(&cfg)
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, fs, err
		}
		return cfg, fs, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return cfg, fs, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.showVersion {
		return cfg, fs, nil
	}
	if err := loadConfig(fs, &cfg); err != nil {
		return cfg, fs, err
	}
	if err := checkReplicaID(cfg.replicaID); err != nil {
		return cfg, fs, err
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"api-max-conns", cfg.apiMaxConns}, {"openflow-max-conns", cfg.ofMaxConns}, {"openflow-max-unbound", cfg.ofMaxUnbound}, {"openflow-max-dump", cfg.ofMaxDumpMiB}, {"probe-rate", cfg.probeRate}} {
		if f.v < 1 {
			return cfg, fs, fmt.Errorf("--%s: %d: must be at least 1", f.name, f.v)
		}
	}
	if cfg.probeInterval < 0 || cfg.probeInterval > 0 && cfg.probeInterval < 100*time.Millisecond {
		return cfg, fs, fmt.Errorf("--probe-interval: %v: must be 0 (off) or at least 100ms", cfg.probeInterval)
	}
	return cfg, fs, nil
}

// loadConfig applies cfg.configFile. The default file may be missing;
// then cfg.configFile becomes "" (no file in force).
func loadConfig(flags *flag.FlagSet, cfg *config) error {
	if cfg.configFile == "" {
		return nil
	}
	explicit := false
	flags.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	err := flagfile.Load(flags, cfg.configFile, notInFile...)
	if !explicit && errors.Is(err, fs.ErrNotExist) {
		cfg.configFile = ""
		return nil
	}
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	return nil
}

// newLogger is ferryd's slog logger on w, in the format and level given.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q: want text or json", format)
}

// checkConfigFile runs on SIGHUP. The tokens file and the API certificate
// are reloaded; everything else in the configuration file is read at
// start only. Rather than leave an operator believing an edit took
// effect, it reads the file again and logs which settings differ from
// the running ones (or why the file no longer loads).
func checkConfigFile(logger *slog.Logger, args []string, running *flag.FlagSet, path string) {
	var cfg config
	fresh := newFlags(&cfg)
	fresh.SetOutput(io.Discard)
	if err := fresh.Parse(args); err != nil {
		return // parsed at start: cannot happen
	}
	if err := flagfile.Load(fresh, path, notInFile...); err != nil {
		logger.Error("configuration file no longer loads; ferryd would not start with it", "err", err)
		return
	}
	var changed []string
	running.VisitAll(func(f *flag.Flag) {
		if g := fresh.Lookup(f.Name); g != nil && g.Value.String() != f.Value.String() {
			changed = append(changed, f.Name)
		}
	})
	if len(changed) > 0 {
		logger.Warn("configuration file changed: these settings take effect on restart only (SIGHUP reloads --api-tokens and the --api-cert files)",
			"path", path, "settings", strings.Join(changed, ","))
	}
}

// notify tells systemd (Type=notify) what ferryd is doing; a failure is
// logged, not fatal: systemd then times the start out by itself.
func notify(logger *slog.Logger, state string) {
	if err := sdnotify.Notify(state); err != nil {
		logger.Warn("telling systemd "+state, "err", err)
	}
}

// checkReplicaID: a replica ID names locks and rows other replicas read,
// and appears in logs and metrics: keep it short and plain.
func checkReplicaID(id string) error {
	if id == "" {
		return nil
	}
	if len(id) > 64 {
		return fmt.Errorf("--replica-id: %q: at most 64 characters", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("--replica-id: %q: only letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}

// appctlTargets is --trace-appctl: chassis name → unixctl target.
type appctlTargets map[string]string

func (a *appctlTargets) String() string {
	if a == nil || len(*a) == 0 {
		return ""
	}
	var parts []string
	for name, t := range *a {
		parts = append(parts, name+"="+t)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// Set adds CHASSIS=TARGET pairs (comma-separated); each use adds more.
func (a *appctlTargets) Set(v string) error {
	if *a == nil {
		*a = make(appctlTargets)
	}
	for _, pair := range strings.Split(v, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		name, target, ok := strings.Cut(pair, "=")
		if !ok || name == "" || target == "" {
			return fmt.Errorf("%q is not CHASSIS=TARGET (a .ctl socket or an OVS_RUNDIR)", pair)
		}
		(*a)[name] = target
	}
	return nil
}
