package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Ferry is ferryd as a System: a real process with its own northbound
// ovsdb-server in a data directory, the REST API and OpenFlow listener on
// loopback, chassis reached over their unix sockets.
type Ferry struct {
	// Binary is the ferryd executable.
	Binary string
	// Dir holds the data directory and ferryd's log.
	Dir string
	// Env is added to ferryd's environment (e.g. the profiling hook).
	Env []string
	// LogLevel is ferryd's --log-level (default info).
	LogLevel string
	// Revision is the source ferryd was built from, for the report.
	Revision string
	// Args are more ferryd flags (the probe step turns probes off with
	// them).
	Args []string
	// OpenFlowPort is the loopback port ferryd listens on for bridges
	// (0: a free one), chosen beforehand when something must relay to
	// it (the probe step's bridges in network namespaces of their own).
	OpenFlowPort int

	api, openflow string
	proc          *Proc
	http          *http.Client
	hvs           []*Hypervisor
	generation    int64 // northbound generation when Crash killed ferryd
}

// Name implements System.
func (f *Ferry) Name() string { return "ferry" }

// Version implements System.
func (f *Ferry) Version(ctx context.Context) string {
	if f.Revision == "" {
		return "ferryd"
	}
	return "ferryd built from " + f.Revision
}

// freePort returns a loopback TCP port nobody listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Start implements System.
func (f *Ferry) Start(ctx context.Context, hvs []*Hypervisor) error {
	apiPort, err := freePort()
	if err != nil {
		return err
	}
	ofPort := f.OpenFlowPort
	if ofPort == 0 {
		if ofPort, err = freePort(); err != nil {
			return err
		}
	}
	f.api = fmt.Sprintf("127.0.0.1:%d", apiPort)
	f.openflow = fmt.Sprintf("ptcp:%d:127.0.0.1", ofPort)
	f.hvs = hvs
	f.http = &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute,
		},
	}
	if err := f.Restart(ctx); err != nil {
		return err
	}
	if err := f.waitHealthy(ctx); err != nil {
		return err
	}
	for i, hv := range hvs {
		body := map[string]any{"name": hvName(i), "ovsdb": hv.DB(), "tunnel_ip": hv.TunnelIP,
			"bridge": hv.Bridge, "encaps": []string{"vxlan"}}
		if err := f.do(ctx, http.MethodPost, "/v1/chassis", body, nil); err != nil {
			return err
		}
	}
	// Connected: OVSDB, and the bridge dialled ferry's OpenFlow listener
	// after ferry pointed it there.
	return poll(ctx, 50*time.Millisecond, func() (bool, error) {
		chs, err := f.chassis(ctx)
		if err != nil {
			return false, err
		}
		n := 0
		for _, c := range chs {
			if c.Status.OVSDBConnected && c.Status.OpenFlowConnected {
				n++
			}
		}
		return n == len(hvs), nil
	})
}

func hvName(i int) string { return fmt.Sprintf("hv%02d", i+1) }

// Restart implements System: ferryd on the same ports and data directory.
func (f *Ferry) Restart(ctx context.Context) error {
	if f.proc != nil && !f.proc.Exited() {
		return errors.New("bench: ferryd is running")
	}
	level := f.LogLevel
	if level == "" {
		level = "info"
	}
	env := append(os.Environ(), f.Env...)
	args := append([]string{"--api", f.api, "--openflow", f.openflow, "--data-dir", filepath.Join(f.Dir, "data"),
		"--log-level", level}, f.Args...)
	p, err := StartProc("ferryd", f.Dir, env, filepath.Join(f.Dir, "ferryd.log"), f.Binary, args...)
	if err != nil {
		return err
	}
	f.proc = p
	return nil
}

func (f *Ferry) waitHealthy(ctx context.Context) error {
	return poll(ctx, 20*time.Millisecond, func() (bool, error) {
		if f.proc.Exited() {
			return false, fmt.Errorf("bench: ferryd exited:\n%s", f.proc.Tail(20))
		}
		resp, err := f.http.Get("http://" + f.api + "/healthz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// Stop implements System.
func (f *Ferry) Stop() {
	if f.proc != nil {
		f.proc.Stop(15 * time.Second)
	}
}

// Crash implements System: SIGKILL, after noting the northbound
// generation the restarted ferryd must find again.
func (f *Ferry) Crash(ctx context.Context) error {
	m, err := f.metrics(ctx)
	if err != nil {
		return err
	}
	f.generation = int64(m["ferry_northbound_generation"])
	f.proc.Kill()
	return nil
}

// Reload stops ferryd (SIGTERM), starts it again with args as its extra
// flags on the same state, and waits until every device is verified in
// step with the generation it had.
func (f *Ferry) Reload(ctx context.Context, args []string) error {
	m, err := f.metrics(ctx)
	if err != nil {
		return err
	}
	f.generation = int64(m["ferry_northbound_generation"])
	f.Stop()
	f.Args = args
	if err := f.Restart(ctx); err != nil {
		return err
	}
	return f.WaitInStep(ctx)
}

// WaitInStep implements System: every chassis connected over OVSDB and
// OpenFlow with realized_generation equal to the generation ferryd had
// before the crash, which the restarted ferryd must have read back.
func (f *Ferry) WaitInStep(ctx context.Context) error {
	if err := f.waitHealthy(ctx); err != nil {
		return err
	}
	return poll(ctx, 10*time.Millisecond, func() (bool, error) {
		m, err := f.metrics(ctx)
		if err != nil {
			return false, nil
		}
		if int64(m["ferry_northbound_generation"]) != f.generation {
			return false, nil
		}
		chs, err := f.chassis(ctx)
		if err != nil || len(chs) != len(f.hvs) {
			return false, nil
		}
		for _, c := range chs {
			st := c.Status
			if !st.OVSDBConnected || !st.OpenFlowConnected || st.RealizedGeneration != f.generation {
				return false, nil
			}
		}
		return true, nil
	})
}

// CreateSwitch implements System.
func (f *Ferry) CreateSwitch(ctx context.Context, sw Switch) error {
	return f.do(ctx, http.MethodPost, "/v1/switches", map[string]any{"name": sw.Name, "vni": sw.VNI}, nil)
}

// CreatePort implements System.
func (f *Ferry) CreatePort(ctx context.Context, sw string, p Port) error {
	return f.do(ctx, http.MethodPost, "/v1/switches/"+sw+"/ports", map[string]any{"name": p.Name, "iface_id": p.IfaceID}, nil)
}

// CreateSwitchWithPorts implements BulkCreator: PUT /v1/switches/{name}.
func (f *Ferry) CreateSwitchWithPorts(ctx context.Context, sw Switch) error {
	ports := make([]map[string]any, 0, len(sw.Ports))
	for _, p := range sw.Ports {
		ports = append(ports, map[string]any{"name": p.Name, "iface_id": p.IfaceID})
	}
	return f.do(ctx, http.MethodPut, "/v1/switches/"+sw.Name, map[string]any{"vni": sw.VNI, "ports": ports}, nil)
}

// WaitAll implements System. A full GET /v1/switches computes every
// switch's status (bindings over all ports, per switch), so it is asked
// only when the cheap per-chassis status says every chassis has realized
// the newest generation any switch shows.
func (f *Ferry) WaitAll(ctx context.Context, sws []Switch) error {
	want := make(map[string]int, len(sws))
	for _, sw := range sws {
		want[sw.Name] = len(sw.Ports)
	}
	for {
		var list []switchJSON
		if err := f.do(ctx, http.MethodGet, "/v1/switches", nil, &list); err != nil {
			return err
		}
		var gen int64
		done := 0
		for _, s := range list {
			gen = max(gen, s.Generation)
			if n, ok := want[s.Name]; ok && s.Status.Realized && s.Status.PortsBound == n {
				done++
			}
		}
		if done == len(want) {
			return nil
		}
		if err := f.waitChassis(ctx, gen, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// WaitSwitch implements System: the switch's generation (bumped by the port
// create), then every chassis' realized generation (cheap to read, polled
// every 5 ms: the resolution of the measurement), then the switch's own status, which also checks that every
// port is bound as the chassis programmed it.
func (f *Ferry) WaitSwitch(ctx context.Context, sw Switch) error {
	for {
		var s switchJSON
		if err := f.do(ctx, http.MethodGet, "/v1/switches/"+sw.Name, nil, &s); err != nil {
			return err
		}
		if s.Status.Realized && s.Status.PortsBound == len(sw.Ports) {
			return nil
		}
		if err := f.waitChassis(ctx, s.Generation, 5*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitChassis polls GET /v1/chassis until every chassis has realized at
// least gen, then waits one more interval if it already had: the caller's
// next full check then does not spin.
func (f *Ferry) waitChassis(ctx context.Context, gen int64, every time.Duration) error {
	first := true
	return poll(ctx, every, func() (bool, error) {
		chs, err := f.chassis(ctx)
		if err != nil {
			return false, err
		}
		for _, c := range chs {
			if !c.Status.OVSDBConnected || !c.Status.OpenFlowConnected || c.Status.RealizedGeneration < gen {
				first = false
				return false, nil
			}
		}
		if first {
			first = false
			return false, nil
		}
		return true, nil
	})
}

// Counters implements System, from /metrics.
func (f *Ferry) Counters(ctx context.Context) (Counters, error) {
	m, err := f.metrics(ctx)
	if err != nil {
		return Counters{}, err
	}
	get := func(name string) float64 {
		if v, ok := m[name]; ok {
			return v
		}
		return Unknown
	}
	passes := int64(0)
	for _, r := range []string{"changed", "noop", "skipped", "error"} {
		passes += int64(m[`ferry_reconcile_passes_total{result="`+r+`"}`])
	}
	return Counters{
		Passes:      passes,
		FlowMods:    int64(get("ferry_openflow_flow_mods_total")),
		OVSDBWrites: int64(get("ferry_ovsdb_device_transactions_total")),
		Bundles:     int64(get("ferry_openflow_bundle_duration_seconds_count")),
		BundleTime:  get("ferry_openflow_bundle_duration_seconds_sum"),
	}, nil
}

// Processes implements System: ferryd and its northbound ovsdb-server.
func (f *Ferry) Processes() []NamedPid {
	var out []NamedPid
	if f.proc != nil && !f.proc.Exited() {
		out = append(out, NamedPid{"ferryd", f.proc.Pid()})
	}
	if b, err := os.ReadFile(filepath.Join(f.Dir, "data", "nb.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			out = append(out, NamedPid{"northbound ovsdb-server", pid})
		}
	}
	return out
}

// Diagnose implements Diagnoser: how long ferry's status queries take at
// this size (the harness polls them), and the passes ferry ran.
func (f *Ferry) Diagnose(ctx context.Context, sws []Switch) []Diagnostic {
	var out []Diagnostic
	timed := func(what, path string) {
		t0 := time.Now()
		var discard json.RawMessage
		if err := f.do(ctx, http.MethodGet, path, nil, &discard); err != nil {
			out = append(out, Diagnostic{what, err.Error()})
			return
		}
		out = append(out, Diagnostic{what, ms(time.Since(t0))})
	}
	timed(fmt.Sprintf("GET /v1/switches (%d switches)", len(sws)), "/v1/switches")
	if len(sws) > 0 {
		timed("GET /v1/switches/NAME", "/v1/switches/"+sws[0].Name)
		if len(sws[0].Ports) > 0 {
			timed("GET /v1/switches/NAME/ports/PORT", "/v1/switches/"+sws[0].Name+"/ports/"+sws[0].Ports[0].Name)
		}
	}
	timed("GET /v1/chassis", "/v1/chassis")
	if m, err := f.metrics(ctx); err == nil {
		var parts []string
		for _, r := range []string{"changed", "noop", "skipped", "error"} {
			parts = append(parts, fmt.Sprintf("%s %s", r, num(int64(m[`ferry_reconcile_passes_total{result="`+r+`"}`]))))
		}
		out = append(out, Diagnostic{"reconcile passes so far", strings.Join(parts, ", ")})
		if n := m["ferry_reconcile_pass_duration_seconds_count"]; n > 0 {
			out = append(out, Diagnostic{"mean duration of a pass that reached the device",
				ms(time.Duration(m["ferry_reconcile_pass_duration_seconds_sum"] / n * float64(time.Second)))})
		}
	}
	return out
}

// Pid is ferryd's pid (0 when not running).
func (f *Ferry) Pid() int {
	if f.proc == nil || f.proc.Exited() {
		return 0
	}
	return f.proc.Pid()
}

// LogTail returns the end of ferryd's log, for failure reports.
func (f *Ferry) LogTail(n int) string {
	if f.proc == nil {
		return ""
	}
	return f.proc.Tail(n)
}

// The parts of the API's JSON the harness reads.
type switchJSON struct {
	Name       string `json:"name"`
	Generation int64  `json:"generation"`
	Status     struct {
		Realized   bool `json:"realized"`
		PortsBound int  `json:"ports_bound"`
	} `json:"status"`
}

type chassisJSON struct {
	Name   string `json:"name"`
	Status struct {
		OVSDBConnected     bool   `json:"ovsdb_connected"`
		OpenFlowConnected  bool   `json:"openflow_connected"`
		RealizedGeneration int64  `json:"realized_generation"`
		Flows              int    `json:"flows"`
		Groups             int    `json:"groups"`
		LastError          string `json:"last_error"`
	} `json:"status"`
}

func (f *Ferry) chassis(ctx context.Context) ([]chassisJSON, error) {
	var out []chassisJSON
	err := f.do(ctx, http.MethodGet, "/v1/chassis", nil, &out)
	return out, err
}

// do sends a request; a non-2xx answer is an error. out may be nil.
func (f *Ferry) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+f.api+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return fmt.Errorf("bench: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("bench: %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("bench: %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("bench: %s %s: %w", method, path, err)
		}
	}
	return nil
}

// metrics reads /metrics: samples by name, or name{labels} as exposed.
func (f *Ferry) metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+f.api+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: GET /metrics: %w", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	s := bufio.NewScanner(resp.Body)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		l := s.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		// name{labels} value: labels hold no spaces in ferry's metrics.
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		name, val, ok := l[:i], l[i+1:], true
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out, s.Err()
}

// poll calls cond every interval until it returns true or an error, or ctx
// ends.
func poll(ctx context.Context, every time.Duration, cond func() (bool, error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
