package metricslint_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"

	"github.com/ferry-sdn/ferry/internal/crash"
	"github.com/ferry-sdn/ferry/internal/events"
	"github.com/ferry-sdn/ferry/internal/metricslint"
	"github.com/ferry-sdn/ferry/internal/reconcile"
	"github.com/ferry-sdn/ferry/internal/replica"
	"github.com/ferry-sdn/ferry/openflow"
	"github.com/ferry-sdn/ferry/rest"
)

// recorder registers on a registry and remembers what, so that the test
// can touch the reconciler's vectors without reaching into its package.
type recorder struct {
	*prometheus.Registry
	collectors []prometheus.Collector
}

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return r.Registry.Register(c)
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// noLocks is a lock service that grants nothing.
type noLocks struct{}

func (noLocks) Want([]string)            {}
func (noLocks) Held(string) bool         { return false }
func (noLocks) Changed() <-chan struct{} { return nil }

// ferrydRegistry builds a registry the way cmd/ferryd does, with a child in
// every vector.
func ferrydRegistry(t *testing.T) *prometheus.Registry {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rec := &recorder{Registry: reg}
	reconcile.NewMetrics(rec)
	reconcile.RegisterPassiveRefused(rec, func() uint64 { return 0 })
	reconcile.RegisterOpenFlow(rec, func() openflow.Stats { return openflow.Stats{} })
	rec.MustRegister(crash.Collector())
	replica.New(replica.Config{Locks: noLocks{}}).RegisterMetrics(rec)
	events.New(0).Register(rec)
	metricslint.Touch(rec.collectors...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	rest.Listen(ln, rest.DefaultLimits(), nil, nil).RegisterMetrics(reg)
	// The REST API's metrics get their children from a request.
	h := rest.NewHandler(nil, nil, reg, nil)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", w.Code, w.Body)
	}
	return reg
}

// families maps every gathered ferry family to its type.
func families(t *testing.T, reg *prometheus.Registry) map[string]dto.MetricType {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]dto.MetricType{}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "ferry_") {
			out[f.GetName()] = f.GetType()
		}
	}
	return out
}

func TestFerrydMetricsFollowTheRules(t *testing.T) {
	reg := ferrydRegistry(t)
	for _, err := range metricslint.Check(reg) {
		t.Error(err)
	}
	// What issue 5 asks operators to be able to alert on.
	fams := families(t, reg)
	for _, name := range []string{
		"ferry_device_connected",
		"ferry_reconcile_passes_total", "ferry_reconcile_pass_duration_seconds",
		"ferry_openflow_flow_mods_total", "ferry_openflow_bundle_duration_seconds",
		"ferry_ovsdb_device_transactions_total", "ferry_ovsdb_transaction_duration_seconds",
		"ferry_realized_generation_lag", "ferry_realize_latency_seconds",
		"ferry_openflow_flows", "ferry_openflow_groups",
		"ferry_device_tunnels",
		"ferry_gateway_local_macs", "ferry_gateway_remote_macs", "ferry_gateway_faults",
		"ferry_northbound_switches", "ferry_northbound_ports", "ferry_northbound_bindings",
		"ferry_northbound_chassis", "ferry_northbound_gateways",
		"ferry_ovsdb_passive_refused_total",
		"ferry_port_security_drops_total",
		"ferry_openflow_refused_total", "ferry_panics_recovered_total",
		"ferry_openflow_connections", "ferry_openflow_connection_waits_total",
		"ferry_rest_connections", "ferry_rest_connection_waits_total",
	} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s is not registered", name)
		}
	}
}

var metricRE = regexp.MustCompile(`\bferry_[a-z_]+`)

// referenced returns the ferry metrics exprs use, histogram series
// (_bucket, _sum, _count) under their family's name, and the names that
// are no metric at all.
func referenced(fams map[string]dto.MetricType, exprs []string) (used map[string]bool, unknown []string) {
	used = map[string]bool{}
	for _, e := range exprs {
		for _, name := range metricRE.FindAllString(e, -1) {
			if _, ok := fams[name]; ok {
				used[name] = true
				continue
			}
			found := false
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				base, ok := strings.CutSuffix(name, suffix)
				if ok && fams[base] == dto.MetricType_HISTOGRAM {
					used[base], found = true, true
				}
			}
			if !found && !slices.Contains(unknown, name) {
				unknown = append(unknown, name)
			}
		}
	}
	return used, unknown
}

type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ H, W, X, Y int } `json:"gridPos"`
		Targets []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// TestDashboard: the Grafana dashboard is valid JSON of the expected shape,
// takes its data source from ${DS_PROMETHEUS}, queries only metrics ferryd
// exports, and shows every one of them.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "grafana", "ferry-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without title, uid or panels")
	}
	hasDS := false
	for _, v := range d.Templating.List {
		if v.Name == "DS_PROMETHEUS" && v.Type == "datasource" && v.Query == "prometheus" {
			hasDS = true
		}
	}
	if !hasDS {
		t.Error("no datasource variable DS_PROMETHEUS of type prometheus")
	}
	ids := map[int]bool{}
	var exprs []string
	for _, p := range d.Panels {
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d missing or reused", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${DS_PROMETHEUS}" || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: datasource %+v, want prometheus ${DS_PROMETHEUS}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.RefID == "" || tg.Expr == "" {
				t.Errorf("panel %q: target without refId or expr", p.Title)
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			if s, ok := q["query"].(string); ok {
				exprs = append(exprs, s)
			}
		}
	}
	fams := families(t, ferrydRegistry(t))
	used, unknown := referenced(fams, exprs)
	for _, name := range unknown {
		t.Errorf("dashboard queries %s, which ferryd does not export", name)
	}
	for name := range fams {
		if !used[name] {
			t.Errorf("%s is on no dashboard panel: add it to examples/grafana/ferry-dashboard.json", name)
		}
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestAlertRules: the example rules parse, each says how bad and what
// happened, and they query only metrics ferryd exports.
func TestAlertRules(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "prometheus", "ferry-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("alert rules: %v", err)
	}
	var exprs, alerts []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("group %s: rule without alert or expr", g.Name)
			}
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: no severity label or summary annotation", r.Alert)
			}
			exprs = append(exprs, r.Expr)
			alerts = append(alerts, r.Alert)
		}
	}
	if len(alerts) < 8 {
		t.Errorf("alerts %v: want the eight of issue 5", alerts)
	}
	_, unknown := referenced(families(t, ferrydRegistry(t)), exprs)
	for _, name := range unknown {
		t.Errorf("alert rules query %s, which ferryd does not export", name)
	}
}

// TestAlertRulesPromtool runs promtool's own checks and the rules' unit
// tests (ferry-alerts.test.yml) when promtool is installed (or named by
// $PROMTOOL).
func TestAlertRulesPromtool(t *testing.T) {
	promtool := os.Getenv("PROMTOOL")
	if promtool == "" {
		var err error
		if promtool, err = exec.LookPath("promtool"); err != nil {
			t.Skip("promtool not installed (set PROMTOOL to its path)")
		}
	}
	dir := filepath.Join("..", "..", "examples", "prometheus")
	for _, args := range [][]string{{"check", "rules", "ferry-alerts.yml"}, {"test", "rules", "ferry-alerts.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
