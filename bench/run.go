package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure a run.
type Options struct {
	Profile Profile
	// Repo is the root of ferry's module (found from the working
	// directory when empty): ferryd is built from it, and the data-plane
	// step runs its tests.
	Repo string
	// Ferryd is a ferryd binary to use instead of building one.
	Ferryd string
	// WorkDir holds everything the run creates (a fresh directory under
	// /tmp when empty: unix socket paths must stay short). Removed at the
	// end unless Keep.
	WorkDir string
	Keep    bool
	// Systems are the registered systems to run steps 1-3 on, in order
	// (default: ferry).
	Systems []string
	// DataPlane runs step 5 (needs root; skipped with a reason otherwise).
	DataPlane bool
	// CPUProfile builds ferryd with the profiling hook and writes a CPU
	// profile of each step to WorkDir/profiles (kept).
	CPUProfile bool
	// ProbesOnly runs step 6 (the probe cost) alone.
	ProbesOnly bool
	// Command is what the report shows as the command that ran.
	Command string
	// Progress receives one line per event (nil: discarded).
	Progress io.Writer
}

// Env is what a System factory gets.
type Env struct {
	Options *Options
	// Dir is the system's own scratch directory.
	Dir string
	// Ferryd is the ferryd binary of this run.
	Ferryd string
	// FerrydEnv is extra environment for ferryd (the profiling hook).
	FerrydEnv []string
	// Revision describes the source tree (commit, local changes).
	Revision string
	// Logf reports progress.
	Logf func(format string, args ...any)
}

// Factory makes a System for one run.
type Factory func(env *Env) (System, error)

var (
	factoriesMu sync.Mutex
	factories   = map[string]Factory{
		"ferry": func(env *Env) (System, error) {
			return &Ferry{Binary: env.Ferryd, Dir: env.Dir, Env: env.FerrydEnv, Revision: env.Revision}, nil
		},
	}
)

// Register adds a System under name (for -systems); another control plane
// registers itself from an init function in its own file.
func Register(name string, f Factory) {
	factoriesMu.Lock()
	defer factoriesMu.Unlock()
	factories[name] = f
}

// SystemNames lists the registered systems.
func SystemNames() []string {
	factoriesMu.Lock()
	defer factoriesMu.Unlock()
	var out []string
	for n := range factories {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

type runner struct {
	opts   *Options
	start  time.Time
	dir    string
	ferryd string
	rev    string
	// sysStart is when the current system's run began: the profile's
	// Timeout bounds each system's steps 1-3 and what follows them.
	sysStart time.Time
	prof     *profiler
	clean    cleanups
	logMu    sync.Mutex
}

func (r *runner) logf(format string, args ...any) {
	if r.opts.Progress == nil {
		return
	}
	r.logMu.Lock()
	defer r.logMu.Unlock()
	fmt.Fprintf(r.opts.Progress, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

// Run runs every step of opts.Profile and returns the report. Processes,
// hypervisors and (unless Keep) the work directory are gone when it
// returns, whatever happened, also when ctx is cancelled (Ctrl-C). Steps
// that fail are recorded in the report and the run goes on with the next
// one where it can; the error is non-nil only when nothing could be
// measured.
func Run(ctx context.Context, opts Options) (*Report, error) {
	p := opts.Profile
	if err := p.Check(); err != nil {
		return nil, err
	}
	if missing := MissingOVS(); len(missing) > 0 {
		return nil, fmt.Errorf("bench: Open vSwitch not installed (missing %s): run `make deps`", strings.Join(missing, ", "))
	}
	if len(opts.Systems) == 0 {
		opts.Systems = []string{"ferry"}
	}
	for _, name := range opts.Systems {
		factoriesMu.Lock()
		_, ok := factories[name]
		factoriesMu.Unlock()
		if !ok {
			return nil, fmt.Errorf("bench: unknown system %q (have %s)", name, strings.Join(SystemNames(), ", "))
		}
	}
	if opts.Repo == "" {
		root, err := ModuleRoot()
		if err != nil {
			return nil, err
		}
		opts.Repo = root
	}
	r := &runner{opts: &opts, start: time.Now()}
	defer r.clean.run()

	dir := opts.WorkDir
	if dir == "" {
		d, err := os.MkdirTemp("/tmp", "ferrybench-")
		if err != nil {
			return nil, err
		}
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	r.dir = dir
	if !opts.Keep {
		r.clean.add(func() {
			if opts.CPUProfile {
				// Profiles outlive the run; the rest goes.
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					if e.Name() != "profiles" && e.Name() != "bin" {
						os.RemoveAll(filepath.Join(dir, e.Name()))
					}
				}
				return
			}
			os.RemoveAll(dir)
		})
	}

	rep := &Report{Command: opts.Command, Profile: p, Started: r.start, Machine: DescribeMachine(ctx), WorkDir: dir}
	if opts.Ferryd == "" {
		r.rev = Revision(ctx, opts.Repo)
	}
	binDir := filepath.Join(dir, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, err
	}
	r.ferryd = opts.Ferryd
	if r.ferryd == "" || opts.CPUProfile {
		r.logf("building ferryd%s", map[bool]string{true: " (with the profiling hook)"}[opts.CPUProfile])
		bin, err := BuildFerryd(ctx, opts.Repo, binDir, opts.CPUProfile)
		if err != nil {
			return nil, err
		}
		r.ferryd = bin
	}
	var ferrydEnv []string
	if opts.CPUProfile {
		pdir := filepath.Join(dir, "profiles")
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			return nil, err
		}
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		r.prof = &profiler{addr: fmt.Sprintf("127.0.0.1:%d", port), dir: pdir, bin: r.ferryd}
		ferrydEnv = []string{"FERRY_BENCH_PROFILE_ADDR=" + r.prof.addr}
		rep.ProfileDir = pdir
	}

	if !opts.ProbesOnly {
		for _, name := range opts.Systems {
			if ctx.Err() != nil {
				break
			}
			res := r.runSystem(ctx, name, ferrydEnv)
			rep.Systems = append(rep.Systems, res)
		}
		if ctx.Err() == nil {
			rep.VTEP = r.runVTEP(ctx, filepath.Join(dir, "vtep"))
		}
		if ctx.Err() == nil && opts.DataPlane {
			rep.DataPlane = r.runDataPlane(ctx, filepath.Join(dir, "dataplane"))
		}
	}
	if ctx.Err() == nil {
		rep.Probes = r.runProbes(ctx, filepath.Join(dir, "probes"))
	}
	rep.Took = time.Since(r.start)
	if err := ctx.Err(); err != nil {
		return rep, fmt.Errorf("bench: interrupted: %w", err)
	}
	return rep, nil
}

// Result is one System's figures for steps 1-3.
type Result struct {
	System  string
	Version string
	Errors  []string // steps that failed, with why

	Setup  time.Duration // hypervisors started, bridges and VIFs created
	Attach time.Duration // Start: every hypervisor connected

	// Step 1.
	SwitchesCreated int
	PortsCreated    int
	Partial         bool          // the write budget ran out
	Writes          int           // REST calls (switches and ports)
	WriteTime       time.Duration // first call to last answer
	Realize         time.Duration // first call to every switch realized
	Realized        bool
	Flows           int // on every bridge, counted with ovs-ofctl
	Groups          int
	Counters        Counters // the system's own, at the end of step 1
	Usage           []ProcUsageResult
	Idle            *Idle
	Ceiling         *Ceiling
	Repush          *Repush

	// Step 2.
	Latency         Dist // REST call to realized on every chassis
	PostLatency     Dist // the REST call alone
	LatencyFailures int
	LatencySkipped  int // not run: the latency budget ran out

	// Step 3.
	Restart *RestartResult

	// The bulk step, after step 3.
	Bulk *BulkResult

	Profiles    map[string]string // step → go tool pprof -top
	Diagnostics []Diagnostic
}

// BulkResult is the bulk step: switches created whole, one call each
// (BulkCreator), on top of step 1's estate.
type BulkResult struct {
	Calls, Ports int
	WriteTime    time.Duration // first call to last answer
	Realize      time.Duration // first call to every bulk switch realized
	Realized     bool
}

// bulk creates the workload's bulk switches, each with its ports in one
// call, and waits for them to be realized.
func (r *runner) bulk(ctx context.Context, sys System, w Workload, res *Result) {
	bc, ok := sys.(BulkCreator)
	if !ok || len(w.Bulk) == 0 {
		return
	}
	p := r.opts.Profile
	b := &BulkResult{}
	res.Bulk = b
	r.logf("%s: bulk step: %d switches with their ports, one call each", res.System, len(w.Bulk))
	t0 := time.Now()
	created := make([]bool, len(w.Bulk))
	err := forEachUntil(ctx, len(w.Bulk), p.Concurrency, t0.Add(p.WriteBudget), func(ctx context.Context, i int) error {
		if err := bc.CreateSwitchWithPorts(ctx, w.Bulk[i]); err != nil {
			return err
		}
		created[i] = true
		return nil
	})
	b.WriteTime = time.Since(t0)
	var want []Switch
	for i, sw := range w.Bulk {
		if created[i] {
			b.Calls++
			b.Ports += len(sw.Ports)
			want = append(want, sw)
		}
	}
	if err != nil {
		res.fail("bulk step (writes)", err)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, p.RealizeBudget)
	err = sys.WaitAll(wctx, want)
	cancel()
	b.Realize = time.Since(t0)
	if err != nil {
		res.fail("bulk step (realize)", fmt.Errorf("not every bulk switch realized %v after the first call: %w", b.Realize.Round(time.Millisecond), err))
		return
	}
	b.Realized = true
	r.logf("%s: bulk step: %d calls (%d ports) in %v, realized in %v", res.System, b.Calls, b.Ports,
		b.WriteTime.Round(time.Millisecond), b.Realize.Round(time.Millisecond))
}

// Diagnoser is implemented by systems with more to say after step 1 (how
// long their own status queries take, how many passes they ran).
type Diagnoser interface {
	Diagnose(ctx context.Context, sws []Switch) []Diagnostic
}

// Diagnostic is one extra line of the report.
type Diagnostic struct {
	What, Value string
}

// ProcUsageResult is one process's usage at the end of step 1.
type ProcUsageResult struct {
	Name string
	Usage
}

// Idle is the control plane's cost with nothing changing, right after
// step 1.
type Idle struct {
	Window time.Duration
	CPU    []ProcUsageResult // CPU used in the window
	Delta  Counters          // what the system did in the window
}

// idle watches the control plane for the profile's idle window.
func (r *runner) idle(ctx context.Context, sys System, res *Result) {
	win := r.opts.Profile.IdleWindow
	if win <= 0 {
		return
	}
	procs := sys.Processes()
	before := make([]Usage, len(procs))
	for i, np := range procs {
		before[i], _ = ProcUsage(np.Pid)
	}
	c0, _ := sys.Counters(ctx)
	select {
	case <-ctx.Done():
		return
	case <-time.After(win):
	}
	c1, _ := sys.Counters(ctx)
	id := &Idle{Window: win, Delta: c1.Sub(c0)}
	for i, np := range procs {
		after, err := ProcUsage(np.Pid)
		if err != nil {
			continue
		}
		id.CPU = append(id.CPU, ProcUsageResult{Name: np.Name, Usage: Usage{CPU: after.CPU - before[i].CPU, RSS: after.RSS}})
	}
	id.CPU = mergeUsage(id.CPU)
	res.Idle = id
	if len(id.CPU) > 0 {
		r.logf("%s: idle for %v: %s used %v of CPU, %d passes", res.System, win, id.CPU[0].Name, id.CPU[0].CPU, id.Delta.Passes)
	}
}

// Ceiling is the ovs-ofctl --bundle ceiling on a fresh bridge of one
// hypervisor, with the flows and groups the system put on its br-int.
type Ceiling struct {
	Hypervisor string
	Flows      int
	Groups     int
	Runs       []CeilingRun
}

// CeilingRun is one fill of the fresh bridge.
type CeilingRun struct {
	FlowTime  time.Duration // ovs-ofctl --bundle add-flows
	GroupTime time.Duration // ovs-ofctl --bundle add-groups
}

// Rate is the median over runs of flows and groups per second through
// ovs-ofctl --bundle.
func (c *Ceiling) Rate() float64 {
	var rates []float64
	for _, r := range c.Runs {
		rates = append(rates, float64(c.Flows+c.Groups)/(r.FlowTime+r.GroupTime).Seconds())
	}
	return median(rates)
}

// Repush is the system refilling one bridge whose ovs-vswitchd restarted
// (its flows were gone), a few times.
type Repush struct {
	Hypervisor string
	Flows      int
	Groups     int
	Runs       []RepushRun
}

// RepushRun is one refill.
type RepushRun struct {
	Took  time.Duration // ovs-vswitchd answering again to every flow back
	Delta Counters      // what the system reports for the re-push
}

// Rate is the median over runs of flows and groups per second of bundle
// time, 0 when the system does not report its bundle time.
func (p *Repush) Rate() float64 {
	var rates []float64
	for _, r := range p.Runs {
		if r.Delta.BundleTime <= 0 {
			return 0
		}
		rates = append(rates, float64(p.Flows+p.Groups)/r.Delta.BundleTime)
	}
	return median(rates)
}

// EndToEnd is the median over runs of the time until every flow was back.
func (p *Repush) EndToEnd() time.Duration {
	var ds []time.Duration
	for _, r := range p.Runs {
		ds = append(ds, r.Took)
	}
	return NewDist(ds).P50
}

// repeats is how many times the ceiling and the re-push are measured.
const repeats = 3

// RestartResult is step 3.
type RestartResult struct {
	Took        time.Duration // new process started to every device verified
	Counters    Counters      // what the restarted system sent
	FlowsIntact bool          // every bridge kept its flows and groups
}

func (res *Result) fail(step string, err error) {
	res.Errors = append(res.Errors, step+": "+err.Error())
}

func (r *runner) runSystem(ctx context.Context, name string, ferrydEnv []string) *Result {
	res := &Result{System: name, Profiles: map[string]string{}}
	r.sysStart = time.Now()
	p := r.opts.Profile
	dir := filepath.Join(r.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.fail("setup", err)
		return res
	}
	var stop cleanups
	defer stop.run()

	setupStart := time.Now()
	w := NewWorkload(p)
	r.logf("%s: starting %d hypervisors", name, p.Hypervisors)
	hvs, err := startHypervisors(ctx, dir, p.Hypervisors, &stop, false)
	if err != nil {
		res.fail("setup", err)
		return res
	}
	vifs := w.VIFs(p.Hypervisors)
	total := 0
	for _, v := range vifs {
		total += len(v)
	}
	r.logf("%s: creating br-int and %d VIFs", name, total)
	if err := forEach(ctx, len(hvs), 4, func(ctx context.Context, i int) error {
		if _, err := hvs[i].Vsctl(ctx, "add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=dummy"); err != nil {
			return err
		}
		return hvs[i].AddVIFs(ctx, vifs[i])
	}); err != nil {
		res.fail("setup", err)
		return res
	}
	res.Setup = time.Since(setupStart)

	factoriesMu.Lock()
	factory := factories[name]
	factoriesMu.Unlock()
	sysDir := filepath.Join(dir, "control")
	if err := os.MkdirAll(sysDir, 0o755); err != nil {
		res.fail("setup", err)
		return res
	}
	sys, err := factory(&Env{Options: r.opts, Dir: sysDir, Ferryd: r.ferryd, FerrydEnv: ferrydEnv, Revision: r.rev, Logf: r.logf})
	if err != nil {
		res.fail("setup", err)
		return res
	}
	res.Version = sys.Version(ctx)
	attachStart := time.Now()
	r.logf("%s: starting the control plane", name)
	actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = sys.Start(actx, hvs)
	cancel()
	stop.add(sys.Stop)
	if err != nil {
		res.fail("start", err)
		r.logTail(sys)
		return res
	}
	res.Attach = time.Since(attachStart)
	r.logf("%s: %d hypervisors attached in %v", name, len(hvs), res.Attach.Round(time.Millisecond))

	w, ok := r.scale(ctx, sys, hvs, w, res)
	if !ok {
		r.logTail(sys)
		return res
	}
	for _, step := range []func(){
		func() { r.idle(ctx, sys, res) },
		func() { r.ceiling(ctx, hvs, res) },
		func() { r.repush(ctx, sys, hvs, w, res) },
		func() { r.latency(ctx, sys, w, res) },
		func() { r.restart(ctx, sys, hvs, res) },
		func() { r.bulk(ctx, sys, w, res) },
	} {
		if ctx.Err() != nil {
			res.fail("run", ctx.Err())
			break
		}
		step()
	}
	if len(res.Errors) > 0 {
		r.logTail(sys)
	}
	return res
}

func (r *runner) logTail(sys System) {
	if lt, ok := sys.(interface{ LogTail(n int) string }); ok {
		r.logf("%s log tail:\n%s", sys.Name(), lt.LogTail(30))
	}
}

// mergeUsage sums the entries of processes of the same name (OVN's
// ovn-controller, one per hypervisor) into one, "NAME xN", in the order
// of their first entry.
func mergeUsage(us []ProcUsageResult) []ProcUsageResult {
	var out []ProcUsageResult
	idx := map[string]int{}
	count := map[string]int{}
	for _, u := range us {
		count[u.Name]++
		i, ok := idx[u.Name]
		if !ok {
			idx[u.Name] = len(out)
			out = append(out, u)
			continue
		}
		out[i].RSS += u.RSS
		out[i].CPU += u.CPU
		out[i].Threads += u.Threads
	}
	for i := range out {
		if n := count[out[i].Name]; n > 1 {
			out[i].Name = fmt.Sprintf("%s x%d", out[i].Name, n)
		}
	}
	return out
}

// startHypervisors starts m hypervisors in dir/hvNN, a few at a time;
// with netns, each ovs-vswitchd runs in a network namespace of its own
// with its tunnel address (OVS.NetnsIP).
func startHypervisors(ctx context.Context, dir string, m int, stop *cleanups, netns bool) ([]*Hypervisor, error) {
	hvs := make([]*Hypervisor, m)
	err := forEach(ctx, m, 4, func(ctx context.Context, i int) error {
		d := filepath.Join(dir, fmt.Sprintf("hv%02d", i+1))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		o, err := StartOVS(ctx, hvName(i), d, []string{VswitchSchema}, false)
		if err != nil {
			return err
		}
		stop.add(o.Stop)
		if netns {
			o.NetnsIP = tunnelIP(i)
		}
		if err := o.StartVswitchd(ctx); err != nil {
			return err
		}
		hvs[i] = &Hypervisor{OVS: o, TunnelIP: tunnelIP(i), Bridge: "br-int"}
		return nil
	})
	return hvs, err
}

// forEach runs f(0..n-1) with at most par at a time; the first error
// cancels the rest.
func forEach(ctx context.Context, n, par int, f func(ctx context.Context, i int) error) error {
	return forEachUntil(ctx, n, par, time.Time{}, f)
}

// forEachUntil is forEach that starts no new call after deadline (zero:
// none); calls under way finish, so that the caller knows exactly which
// ran.
func forEachUntil(ctx context.Context, n, par int, deadline time.Time, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idx := make(chan int)
	errs := make(chan error, par)
	var wg sync.WaitGroup
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				if err := f(ctx, i); err != nil {
					select {
					case errs <- err:
					default:
					}
					cancel()
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		if !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
		select {
		case idx <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return ctx.Err()
}

// scale is step 1: create everything (or what the write budget allows),
// wait until it is realized, count. It returns the workload as created.
func (r *runner) scale(ctx context.Context, sys System, hvs []*Hypervisor, w Workload, res *Result) (Workload, bool) {
	p := r.opts.Profile
	r.startProfile(ctx, "scale")
	r.logf("%s: step 1: creating %d switches and %d ports (%d clients, %v budget)", res.System, p.Switches, p.Ports, p.Concurrency, p.WriteBudget)
	t0 := time.Now()
	deadline := t0.Add(p.WriteBudget)
	swOK := make([]bool, len(w.Switches))
	err := forEachUntil(ctx, len(w.Switches), p.Concurrency, deadline, func(ctx context.Context, i int) error {
		if err := sys.CreateSwitch(ctx, w.Switches[i]); err != nil {
			return err
		}
		swOK[i] = true
		return nil
	})
	type ref struct{ sw, port int }
	var ports []ref
	for i, sw := range w.Switches {
		for j := range sw.Ports {
			ports = append(ports, ref{i, j})
		}
	}
	// Ports round-robin over switches, as a cloud creates VMs.
	sort.SliceStable(ports, func(a, b int) bool { return ports[a].port < ports[b].port })
	portOK := make([]bool, len(ports))
	var done sync.WaitGroup
	progress := make(chan struct{})
	done.Add(1)
	go func() {
		defer done.Done()
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-progress:
				return
			case <-t.C:
				n := 0
				for i := range portOK {
					if portOK[i] {
						n++
					}
				}
				r.logf("%s: %d of %d ports created", res.System, n, len(ports))
			}
		}
	}()
	if err == nil {
		err = forEachUntil(ctx, len(ports), p.Concurrency, deadline, func(ctx context.Context, i int) error {
			sw := w.Switches[ports[i].sw]
			if !swOK[ports[i].sw] {
				return nil
			}
			if err := sys.CreatePort(ctx, sw.Name, sw.Ports[ports[i].port]); err != nil {
				return err
			}
			portOK[i] = true
			return nil
		})
	}
	close(progress)
	done.Wait()
	res.WriteTime = time.Since(t0)

	// The workload as created: the switches that exist with the ports
	// that exist, and the latency samples on those switches.
	var created Workload
	keep := make([][]Port, len(w.Switches))
	for i, ref := range ports {
		if portOK[i] {
			keep[ref.sw] = append(keep[ref.sw], w.Switches[ref.sw].Ports[ref.port])
		}
	}
	newIndex := make([]int, len(w.Switches))
	for i, sw := range w.Switches {
		newIndex[i] = -1
		if swOK[i] {
			newIndex[i] = len(created.Switches)
			res.SwitchesCreated++
			res.PortsCreated += len(keep[i])
			created.Switches = append(created.Switches, Switch{Name: sw.Name, VNI: sw.VNI, Ports: keep[i]})
		}
	}
	for _, lp := range w.Latency {
		if j := newIndex[lp.Switch]; j >= 0 {
			created.Latency = append(created.Latency, LatencyPort{Switch: j, Port: lp.Port})
		}
	}
	created.Bulk = w.Bulk
	res.Writes = res.SwitchesCreated + res.PortsCreated
	if err != nil {
		res.fail("step 1 (REST writes)", err)
		r.stopProfile(ctx, "scale", res)
		return created, false
	}
	if res.PortsCreated < p.Ports || res.SwitchesCreated < p.Switches {
		res.fail("step 1", fmt.Errorf("write budget of %v over: %d of %d switches and %d of %d ports created; the later steps run on that",
			p.WriteBudget, res.SwitchesCreated, p.Switches, res.PortsCreated, p.Ports))
		res.Partial = true
	}
	wantSw := created.Switches
	r.logf("%s: %d REST calls in %v; waiting for every switch to be realized", res.System, res.Writes, res.WriteTime.Round(time.Millisecond))
	wctx, cancel := context.WithTimeout(ctx, p.RealizeBudget)
	err = sys.WaitAll(wctx, wantSw)
	cancel()
	res.Realize = time.Since(t0)
	r.stopProfile(ctx, "scale", res)
	if err != nil {
		res.fail("step 1 (realize)", fmt.Errorf("not every switch realized %v after the first REST call (realize budget %v): %w",
			res.Realize.Round(time.Millisecond), p.RealizeBudget, err))
		return created, false
	}
	res.Realized = true
	r.logf("%s: every switch realized %v after the first REST call", res.System, res.Realize.Round(time.Millisecond))

	if c, err := sys.Counters(ctx); err == nil {
		res.Counters = c
	} else {
		res.fail("step 1 (counters)", err)
	}
	for _, np := range sys.Processes() {
		if u, err := ProcUsage(np.Pid); err == nil {
			res.Usage = append(res.Usage, ProcUsageResult{Name: np.Name, Usage: u})
		}
	}
	res.Usage = mergeUsage(res.Usage)
	if r.prof != nil {
		if top, err := r.prof.heap(ctx, "scale"); err == nil {
			res.Profiles["scale heap"] = top
		}
	}
	if d, ok := sys.(Diagnoser); ok {
		res.Diagnostics = append(res.Diagnostics, d.Diagnose(ctx, wantSw)...)
	}
	flows, groups, err := countFlows(ctx, hvs)
	if err != nil {
		res.fail("step 1 (flow count)", err)
		return created, true
	}
	for i := range hvs {
		res.Flows += flows[i]
		res.Groups += groups[i]
	}
	r.logf("%s: %d flows and %d groups on %d bridges", res.System, res.Flows, res.Groups, len(hvs))
	return created, true
}

func countFlows(ctx context.Context, hvs []*Hypervisor) (flows, groups []int, err error) {
	flows, groups = make([]int, len(hvs)), make([]int, len(hvs))
	err = forEach(ctx, len(hvs), 4, func(ctx context.Context, i int) error {
		f, g, err := hvs[i].FlowCount(ctx, hvs[i].Bridge)
		flows[i], groups[i] = f, g
		return err
	})
	return flows, groups, err
}

func (r *runner) startProfile(ctx context.Context, step string) {
	if r.prof == nil {
		return
	}
	if err := r.prof.start(ctx, step); err != nil {
		r.logf("profile %s: %v", step, err)
	}
}

func (r *runner) stopProfile(ctx context.Context, step string, res *Result) {
	if r.prof == nil {
		return
	}
	top, err := r.prof.stop(ctx, step)
	if err != nil {
		r.logf("profile %s: %v", step, err)
		return
	}
	res.Profiles[step] = top
}

// busiest returns the hypervisor with the most flows.
func busiest(ctx context.Context, hvs []*Hypervisor) (int, error) {
	flows, _, err := countFlows(ctx, hvs)
	if err != nil {
		return 0, err
	}
	best := 0
	for i := range flows {
		if flows[i] > flows[best] {
			best = i
		}
	}
	return best, nil
}

// ceiling measures ovs-ofctl --bundle on a fresh bridge of the busiest
// hypervisor with exactly the flows and groups found on its br-int.
func (r *runner) ceiling(ctx context.Context, hvs []*Hypervisor, res *Result) {
	i, err := busiest(ctx, hvs)
	if err != nil {
		res.fail("ceiling", err)
		return
	}
	hv := hvs[i]
	var c *Ceiling
	for k := 0; k < repeats; k++ {
		one, err := bundleCeiling(ctx, hv, r.dir)
		if err != nil {
			res.fail("ceiling", err)
			return
		}
		if c == nil {
			c = one
		} else {
			c.Runs = append(c.Runs, one.Runs...)
		}
	}
	res.Ceiling = c
	r.logf("%s: ovs-ofctl --bundle ceiling on %s (%d flows, %d groups): %.0f/s", res.System, c.Hypervisor, c.Flows, c.Groups, c.Rate())
}

// repush restarts ovs-vswitchd of the busiest hypervisor (its flows and
// groups are gone, as after a host's OVS restart) and times the system
// filling the bridge again.
func (r *runner) repush(ctx context.Context, sys System, hvs []*Hypervisor, w Workload, res *Result) {
	i, err := busiest(ctx, hvs)
	if err != nil {
		res.fail("re-push", err)
		return
	}
	hv := hvs[i]
	flows, groups, err := hv.FlowCount(ctx, hv.Bridge)
	if err != nil {
		res.fail("re-push", err)
		return
	}
	rp := &Repush{Hypervisor: hv.Name, Flows: flows, Groups: groups}
	for k := 0; k < repeats; k++ {
		before, err := sys.Counters(ctx)
		if err != nil {
			res.fail("re-push", err)
			return
		}
		hv.StopVswitchd()
		if err := hv.StartVswitchd(ctx); err != nil {
			res.fail("re-push", err)
			return
		}
		t0 := time.Now()
		wctx, cancel := context.WithTimeout(ctx, min(r.opts.Profile.RealizeBudget, time.Minute))
		err = poll(wctx, 5*time.Millisecond, func() (bool, error) {
			f, g, err := hv.FlowCount(wctx, hv.Bridge)
			return err == nil && f >= flows && g >= groups, nil
		})
		took := time.Since(t0)
		if err == nil {
			err = sys.WaitAll(wctx, w.Switches)
		}
		cancel()
		if err != nil {
			res.fail("re-push", fmt.Errorf("bridge %s not refilled: %w", hv.Name, err))
			return
		}
		after, err := sys.Counters(ctx)
		if err != nil {
			res.fail("re-push", err)
			return
		}
		rp.Runs = append(rp.Runs, RepushRun{Took: took, Delta: after.Sub(before)})
		d := rp.Runs[k].Delta
		r.logf("%s: re-push %d: %d flows back on %s in %v (%d flow_mods in %d bundles, %.3f s of bundle time)", res.System, k+1,
			flows, hv.Name, took.Round(time.Millisecond), d.FlowMods, d.Bundles, d.BundleTime)
	}
	res.Repush = rp
}

// latency is step 2: single-port creates one after another.
func (r *runner) latency(ctx context.Context, sys System, w Workload, res *Result) {
	if len(w.Latency) == 0 {
		return
	}
	r.startProfile(ctx, "latency")
	defer r.stopProfile(ctx, "latency", res)
	r.logf("%s: step 2: %d single-port creates", res.System, len(w.Latency))
	sws := w.Switches
	var lat, post []time.Duration
	var firstErr error
	deadline := time.Now().Add(r.opts.Profile.LatencyBudget)
	if t := r.opts.Profile.Timeout; t > 0 {
		if end := r.sysStart.Add(t - r.afterLatency()); end.Before(deadline) {
			deadline = end
		}
	}
	for k, lp := range w.Latency {
		if ctx.Err() != nil {
			break
		}
		if time.Now().After(deadline) {
			res.LatencySkipped = len(w.Latency) - k
			r.logf("%s: latency step out of time after %d samples (budget %v, run timeout %v)", res.System, k, r.opts.Profile.LatencyBudget, r.opts.Profile.Timeout)
			break
		}
		sw := &sws[lp.Switch]
		sw.Ports = append(sw.Ports, lp.Port)
		t0 := time.Now()
		err := sys.CreatePort(ctx, sw.Name, lp.Port)
		tp := time.Since(t0)
		if err == nil {
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err = sys.WaitSwitch(sctx, *sw)
			cancel()
		}
		if err != nil {
			res.LatencyFailures++
			if firstErr == nil {
				firstErr = fmt.Errorf("sample %d (%s on %s): %w", k, lp.Port.Name, sw.Name, err)
			}
			continue
		}
		lat = append(lat, time.Since(t0))
		post = append(post, tp)
		if (k+1)%max(1, len(w.Latency)/10) == 0 {
			r.logf("%s: %d/%d samples, last %v", res.System, k+1, len(w.Latency), lat[len(lat)-1].Round(time.Millisecond))
		}
	}
	res.Latency, res.PostLatency = NewDist(lat), NewDist(post)
	if firstErr != nil {
		res.fail("step 2", fmt.Errorf("%d of %d samples failed; first: %w", res.LatencyFailures, len(w.Latency), firstErr))
	}
	r.logf("%s: REST→realized p50 %v p99 %v max %v", res.System, res.Latency.P50.Round(time.Millisecond),
		res.Latency.P99.Round(time.Millisecond), res.Latency.Max.Round(time.Millisecond))
}

// afterLatency is what the steps after step 2 need, for the run to end
// within the profile's Timeout.
func (r *runner) afterLatency() time.Duration {
	p := r.opts.Profile
	d := 30 * time.Second // step 3 and 4
	// Step 3b's writes and realization: 200 ms a switch, at most 30 s,
	// so that the tiny profile's one minute still holds step 2.
	d += min(time.Duration(p.BulkSwitches)*200*time.Millisecond, 30*time.Second)
	if r.opts.DataPlane && p.DataPlaneTrials > 0 {
		// Lab up and down, the trials, tcpRounds of both pipelines.
		d += 30*time.Second + time.Duration(p.DataPlaneTrials)*time.Second/2 +
			time.Duration(2*tcpRounds)*(time.Duration(p.TCPSeconds)*time.Second+5*time.Second)
	}
	return d
}

// restart is step 3: SIGKILL and restart on unchanged state.
func (r *runner) restart(ctx context.Context, sys System, hvs []*Hypervisor, res *Result) {
	r.logf("%s: step 3: kill -9 and restart", res.System)
	flowsBefore, groupsBefore, err := countFlows(ctx, hvs)
	if err != nil {
		res.fail("step 3", err)
		return
	}
	if err := sys.Crash(ctx); err != nil {
		res.fail("step 3 (crash)", err)
		return
	}
	t0 := time.Now()
	if err := sys.Restart(ctx); err != nil {
		res.fail("step 3 (restart)", err)
		return
	}
	// The restarted process gets the hook's port again; a profile of
	// its catch-up starts as soon as it answers.
	// OVN's ovn-controllers take more than a minute to come back at the
	// default size on two cores.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	err = sys.WaitInStep(wctx)
	took := time.Since(t0)
	if err != nil {
		res.fail("step 3", fmt.Errorf("not every device verified in step after %v: %w", took.Round(time.Millisecond), err))
		return
	}
	// Anything a late pass would still send shows up within a moment.
	select {
	case <-ctx.Done():
		return
	case <-time.After(2 * time.Second):
	}
	c, err := sys.Counters(ctx)
	if err != nil {
		res.fail("step 3 (counters)", err)
		return
	}
	flowsAfter, groupsAfter, err := countFlows(ctx, hvs)
	if err != nil {
		res.fail("step 3", err)
		return
	}
	intact := true
	for i := range hvs {
		intact = intact && flowsAfter[i] == flowsBefore[i] && groupsAfter[i] == groupsBefore[i]
	}
	res.Restart = &RestartResult{Took: took, Counters: c, FlowsIntact: intact}
	r.logf("%s: every device in step %v after the restart; %d flow_mods, %d OVSDB writes", res.System,
		took.Round(time.Millisecond), c.FlowMods, c.OVSDBWrites)
}
