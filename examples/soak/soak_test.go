package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
)

// ferrydBin is built once by TestMain.
var ferrydBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ferry-soak")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ferrydBin = filepath.Join(dir, "ferryd")
	out, err := exec.Command("go", "build", "-o", ferrydBin, "github.com/ferry-sdn/ferry/cmd/ferryd").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: building ferryd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Inside the lab's own management namespace; not the daemon defaults.
const (
	apiAddr    = "127.0.0.1:18470"
	ofListen   = "ptcp:16653:" + lab.MgmtIP
	controller = "tcp:" + lab.MgmtIP + ":16653"
)

// Bounds of the invariants.
const (
	inStepBound  = 5 * time.Second  // every device back in step after a heal
	inStepGiveUp = 60 * time.Second // then the soak stops waiting and reports
	// settle follows a data-plane fault's return to step: tunnels' BFD
	// and the guests' neighbour entries come back in this time.
	settle         = 5 * time.Second
	maxRSSKiB      = 200 << 10
	goroutineCap   = 2 // times the warm-up count, plus goroutineSlack
	goroutineSlack = 100
)

// guest is a pinging guest of the soak's two stable switches, or a churn
// guest the client's ports bind to (no traffic).
type guest struct{ hv, name, cidr, mac, sw string }

func (g guest) ip() string { return strings.Split(g.cidr, "/")[0] }

var (
	stableGuests = []guest{
		{"hv1", "g1", "198.18.200.1/24", "02:50:a0:00:00:01", "soak"},
		{"hv2", "g2", "198.18.200.2/24", "02:50:a0:00:00:02", "soak"},
		{"hv3", "g3", "198.18.200.3/24", "02:50:a0:00:00:03", "soak"},
		{"hv1", "h1", "198.18.201.1/24", "02:50:a1:00:00:01", "soakg"},
		{"hv3", "h3", "198.18.201.3/24", "02:50:a1:00:00:03", "soakg"},
	}
	churnGuests = []guest{
		{"hv1", "x1", "198.18.202.1/24", "02:50:a2:00:00:01", ""},
		{"hv2", "x2", "198.18.202.2/24", "02:50:a2:00:00:02", ""},
		{"hv3", "x3", "198.18.202.3/24", "02:50:a2:00:00:03", ""},
	}
)

type config struct {
	faults int
	seed   uint64
	long   bool
	kinds  []faultKind // nil: all
}

func configFromEnv(t *testing.T) config {
	c := config{faults: 20, seed: uint64(time.Now().UnixNano())}
	if v := os.Getenv("FERRY_SOAK_FAULTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("FERRY_SOAK_FAULTS=%q: want a count", v)
		}
		c.faults = n
	}
	if v := os.Getenv("FERRY_SOAK_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("FERRY_SOAK_SEED=%q: want a number", v)
		}
		c.seed = s
	}
	c.long = os.Getenv("FERRY_SOAK_LONG") == "1"
	if v := os.Getenv("FERRY_SOAK_KINDS"); v != "" {
		for _, k := range strings.Split(v, ",") {
			if !slices.Contains(faultKinds, faultKind(k)) {
				t.Fatalf("FERRY_SOAK_KINDS: unknown kind %q (known: %v)", k, faultKinds)
			}
			c.kinds = append(c.kinds, faultKind(k))
		}
	}
	return c
}

// env is one soak run.
type env struct {
	t       *testing.T
	lab     *lab.Lab
	ferryd  *lab.Process
	data    string
	client  *client
	nb      *northbound
	sum     *summary
	windows []window // data-plane fault windows, by host
	nbDown  []window // northbound loss (503 allowed)
}

func TestSoak(t *testing.T) {
	cfg := configFromEnv(t)
	l := lab.Up(t)
	// Interrupted (make soak stopped by hand), the test's cleanups would
	// not run: tear the lab down from here.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			fmt.Fprintln(os.Stderr, "soak: interrupted; tearing the lab down")
			if err := l.Teardown(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
			os.Exit(1)
		}
	}()
	t.Logf("soak: seed %d, %d faults (replay: make soak FAULTS=%d SEED=%d%s)", cfg.seed, cfg.faults, cfg.faults, cfg.seed,
		map[bool]string{true: " LONG=1"}[cfg.long])

	e := &env{t: t, lab: l, data: filepath.Join(l.Dir, "ferry-data"), sum: newSummary(cfg.seed, cfg.long)}
	e.ferryd = l.StartFerryd(t, ferrydBin, "--api", apiAddr, "--openflow", ofListen, "--data-dir", e.data, "--log-level", "info")
	hc := l.HTTPClient()
	hc.Timeout = 10 * time.Second
	e.client = newClient("http://"+apiAddr, hc, cfg.seed)
	if !e.waitHealthy(30 * time.Second) {
		t.Fatalf("ferryd not healthy within 30 s")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var err error
	if e.nb, err = openNorthbound(ctx, filepath.Join(e.data, "nb.sock")); err != nil {
		t.Fatal(err)
	}
	defer e.nb.close()
	e.setUp()

	// Guests ping each other all the time, pairwise within a switch.
	var pingers []*pinger
	var wg sync.WaitGroup
	for _, a := range stableGuests {
		for _, b := range stableGuests {
			if a.name == b.name || a.sw != b.sw {
				continue
			}
			p, err := newPinger(ctx, l, a.name, b.name, b.ip(), uint16(0x5000+len(pingers)))
			if err != nil {
				t.Fatal(err)
			}
			pingers = append(pingers, p)
			wg.Add(1)
			go func() { defer wg.Done(); p.run(ctx) }()
		}
	}
	stop := make(chan struct{})
	clientDone := make(chan struct{})
	go func() { defer close(clientDone); e.client.run(stop) }()

	start := time.Now()
	rnd := rand.New(rand.NewPCG(cfg.seed, 0xfa17))
	hosts := []string{"hv1", "hv2", "hv3"}
	deadline, hasDeadline := t.Deadline()
	e.check(nil) // the baseline: in step, desired == actual, before any fault
	e.selfTest()
	for n := 1; n <= cfg.faults; n++ {
		// Leave time for the worst fault and for cleanup: a test killed by
		// -timeout runs no cleanup.
		if hasDeadline && time.Until(deadline) < 3*time.Minute {
			e.sum.other = append(e.sum.other, fmt.Sprintf("stopped after %d of %d faults: the test's -timeout is near", n-1, cfg.faults))
			break
		}
		f := drawFault(rnd, n, hosts, cfg.long)
		for cfg.kinds != nil && !slices.Contains(cfg.kinds, f.kind) {
			f = drawFault(rnd, n, hosts, cfg.long)
		}
		e.run(&f)
		e.check(&f)
		if t.Failed() {
			break // the harness itself failed (a lab command); the log says why
		}
		time.Sleep(500 * time.Millisecond)
	}
	close(stop)
	<-clientDone
	// Let the last probes come back before counting.
	time.Sleep(pingTimeout + pingInterval)
	cancel()
	wg.Wait()
	e.sum.duration = time.Since(start)
	e.countPings(pingers, hostsOf(stableGuests))

	t.Log("\n" + e.sum.String())
	if len(e.sum.violations()) > 0 {
		e.keepLogs()
	}
	for _, v := range e.sum.violations() {
		t.Error(v)
	}
}

func hostsOf(gs []guest) map[string]string {
	m := map[string]string{}
	for _, g := range gs {
		m[g.name] = g.hv
	}
	return m
}

// setUp registers the hypervisors, creates the two stable switches (VXLAN
// and GRE) with their pinging guests, and the churn guests.
func (e *env) setUp() {
	t := e.t
	for _, hv := range e.lab.Hypervisors() {
		e.must("POST", "/v1/chassis", map[string]any{"name": hv.Name, "ovsdb": hv.OVSDB, "tunnel_ip": hv.TunnelIP, "kind": "kvm"})
	}
	e.must("POST", "/v1/switches", map[string]any{"name": "soak", "vni": 7000})
	e.must("POST", "/v1/switches", map[string]any{"name": "soakg", "vni": 7001, "encap": "gre"})
	for _, g := range stableGuests {
		e.lab.Guest(t, g.hv, g.name, g.cidr, g.mac, "iface-"+g.name)
		e.must("POST", "/v1/switches/"+g.sw+"/ports", map[string]any{"name": g.name, "iface_id": "iface-" + g.name})
	}
	for _, g := range churnGuests {
		e.lab.Guest(t, g.hv, g.name, g.cidr, g.mac, "iface-"+g.name)
	}
	for _, a := range stableGuests {
		for _, b := range stableGuests {
			if a.name != b.name && a.sw == b.sw {
				if err := e.lab.WaitPing(t, a.name, b.ip(), 30*time.Second); err != nil {
					t.Fatalf("before any fault: %v", err)
				}
			}
		}
	}
}

func (e *env) must(method, path string, body any) {
	e.t.Helper()
	if r := e.client.do(method, path, body); r.code/100 != 2 {
		e.t.Fatalf("%s %s: %d %s %v", method, path, r.code, r.body, r.err)
	}
}

func (e *env) healthy() bool {
	r := e.client.do("GET", "/healthz", nil)
	return r.code == http.StatusOK
}

func (e *env) waitHealthy(timeout time.Duration) bool { return waitUntil(timeout, e.healthy) }

// run injects f, holds it, and heals it.
func (e *env) run(f *fault) {
	t := e.t
	t.Logf("soak: %s fault %v", time.Now().Format("15:04:05.000"), f)
	e.sum.faults[f.kind]++
	f.injected = time.Now()
	switch f.kind {
	case ferrydKill, ferrydTerm:
		if f.kind == ferrydKill {
			if err := e.ferryd.Kill(); err != nil {
				t.Fatalf("kill ferryd: %v", err)
			}
		} else if err := e.ferryd.Stop(); err != nil {
			e.sum.other = append(e.sum.other, fmt.Sprintf("%v: ferryd did not exit cleanly on SIGTERM: %v", f, err))
		}
		time.Sleep(f.hold)
		e.ferryd.Start(t)
		if !e.waitHealthy(30 * time.Second) {
			e.sum.other = append(e.sum.other, fmt.Sprintf("%v: ferryd not healthy 30 s after its restart", f))
		}
	case vswitchdKill, ovsdbKill:
		daemon := map[faultKind]string{vswitchdKill: lab.OVSVswitchd, ovsdbKill: lab.OVSDBServer}[f.kind]
		e.lab.KillDaemon(t, f.host, daemon, "KILL")
		time.Sleep(f.hold)
		e.lab.StartDaemon(t, f.host, daemon)
	case nbKill:
		pid := readPid(filepath.Join(e.data, "nb.pid"))
		if pid <= 0 || !isChildOf(pid, e.ferryd.Pid()) {
			e.sum.other = append(e.sum.other, fmt.Sprintf("%v: no northbound ovsdb-server of ferryd's to kill (nb.pid %d)", f, pid))
			break
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill the northbound ovsdb-server: %v", err)
		}
		// ferryd sees the loss and restarts its server; wait for both.
		waitUntil(5*time.Second, func() bool { return !e.healthy() })
		if !e.waitHealthy(30 * time.Second) {
			e.sum.other = append(e.sum.other, fmt.Sprintf("%v: northbound not back 30 s after the kill", f))
		}
	case mgmtCut, underlayCut:
		link := map[faultKind]string{mgmtCut: lab.MgmtLink, underlayCut: lab.UnderlayLink}[f.kind]
		e.lab.Cut(t, link, f.host, f.mode)
		time.Sleep(f.hold)
		e.lab.Heal(t, link, f.host)
	}
	f.healed = time.Now()
	if f.kind == nbKill {
		e.nbDown = append(e.nbDown, window{from: f.injected, to: f.healed.Add(time.Second)})
	}
}

// check pauses the client and verifies the invariants after f healed (nil:
// before the first fault).
func (e *env) check(f *fault) {
	t := e.t
	e.client.pause()
	defer e.client.resume()
	what := "before the first fault"
	if f != nil {
		what = "after " + f.String()
	}

	// 1. Back in step: the API says every device is connected and has
	// realized the current generation, and 2. every bridge holds exactly
	// what DesiredChassis computes from scratch. The status alone is not
	// enough: just after ovs-vswitchd restarted, ferry still reports the
	// flows it installed before.
	var why string
	var statusFirst time.Time
	bridgesDiffer := false
	ok := waitUntil(inStepGiveUp, func() bool {
		if !e.nb.conn.Connected() {
			why = "the soak's northbound connection is down"
			return false
		}
		var in bool
		if in, why = inStep(e.client, e.nb.snapshot().Generation); !in {
			bridgesDiffer = false
			return false
		}
		if statusFirst.IsZero() {
			statusFirst = time.Now()
		}
		if m := e.compareBridges(); m != "" {
			why, bridgesDiffer = "the API says in step, but the bridges differ from the desired state:\n"+m, true
			return false
		}
		return true
	})
	took := time.Since(f0(f, time.Now()))
	if ok && !statusFirst.IsZero() && time.Since(statusFirst) > time.Second {
		e.sum.statusAhead++
	}
	switch {
	case ok:
	case bridgesDiffer:
		e.sum.desiredMismatch = append(e.sum.desiredMismatch, fmt.Sprintf("%s, for %v: %s", what, inStepGiveUp, why))
	default:
		e.sum.slow = append(e.sum.slow, fmt.Sprintf("%s: not in step within %v: %s", what, inStepGiveUp, why))
	}
	if f != nil {
		f.inStep = took
		e.sum.maxInStep[f.kind] = max(e.sum.maxInStep[f.kind], took)
		if ok && took > inStepBound {
			e.sum.slow = append(e.sum.slow, fmt.Sprintf("%v: in step %v after the heal", f, took.Round(10*time.Millisecond)))
		}
		if f.kind.dataPlane() {
			e.windows = append(e.windows, window{from: f.injected, to: time.Now().Add(settle), hosts: []string{f.host}})
		}
		t.Logf("soak: %s %v: healed at %s, in step %v after the heal", time.Now().Format("15:04:05.000"), f,
			f.healed.Format("15:04:05.000"), took.Round(10*time.Millisecond))
	}

	// 3. No acknowledged write lost.
	lost, err := e.client.verify()
	if err != nil {
		e.sum.other = append(e.sum.other, fmt.Sprintf("%s: verifying writes: %v", what, err))
	}
	for _, s := range lost {
		e.sum.writesLost = append(e.sum.writesLost, what+": "+s)
	}

	// 4. No 5xx but a JSON 503 during northbound loss.
	answers, bad := e.client.take()
	for _, b := range bad {
		e.sum.badAnswers = append(e.sum.badAnswers, what+": "+b)
	}
	n503, bad5 := classify5xx(answers, e.nbDown)
	e.sum.got503InNB += n503
	for _, b := range bad5 {
		e.sum.bad5xx = append(e.sum.bad5xx, what+": "+b)
	}
	e.sum.writesAcked, e.sum.writesRefused, e.sum.writesNoAnswer = e.client.counts()

	// 5. ferryd's resources stay bounded.
	rss, gor, err := ferrydResources(e.client, e.ferryd.Pid())
	if err != nil {
		e.sum.other = append(e.sum.other, fmt.Sprintf("%s: reading ferryd's resources: %v", what, err))
		return
	}
	if f == nil {
		e.sum.baseGoroutine = gor
	}
	e.sum.maxRSSKiB = max(e.sum.maxRSSKiB, rss)
	e.sum.maxGoroutines = max(e.sum.maxGoroutines, gor)
	if rss > maxRSSKiB {
		e.sum.resources = append(e.sum.resources, fmt.Sprintf("%s: ferryd RSS %d KiB > %d KiB", what, rss, maxRSSKiB))
	}
	if limit := goroutineCap*e.sum.baseGoroutine + goroutineSlack; gor > limit {
		e.sum.resources = append(e.sum.resources, fmt.Sprintf("%s: ferryd has %d goroutines > %d", what, gor, limit))
	}
}

// keepLogs copies ferryd's and the hypervisors' logs out of the lab
// directory, which teardown removes, for the post-mortem of a failed run.
func (e *env) keepLogs() {
	dir, err := os.MkdirTemp("", fmt.Sprintf("ferry-soak-%d-", e.sum.seed))
	if err != nil {
		e.t.Log(err)
		return
	}
	files := []string{e.ferryd.LogPath, filepath.Join(e.data, "nb.log")}
	for _, hv := range e.lab.Hypervisors() {
		for _, f := range []string{"ovs-vswitchd.log", "ovsdb-server.log"} {
			files = append(files, filepath.Join(hv.Dir, f))
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		name := strings.ReplaceAll(strings.TrimPrefix(f, e.lab.Dir+"/"), "/", "_")
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	e.t.Logf("soak: logs kept in %s", dir)
}

// classify5xx counts the 503s answered during northbound loss (allowed)
// and describes every other 5xx.
func classify5xx(answers []response, nbDown []window) (allowed int, bad []string) {
	for _, r := range answers {
		if r.code < 500 {
			continue
		}
		inNB := false
		for _, w := range nbDown {
			inNB = inNB || w.covers(r.at, r.at)
		}
		if r.code == http.StatusServiceUnavailable && inNB {
			allowed++
			continue
		}
		bad = append(bad, fmt.Sprintf("%s %s at %s: %d %s", r.method, r.path, r.at.Format("15:04:05.000"), r.code, strings.TrimSpace(r.body)))
	}
	return allowed, bad
}

// selfTest shows that the checks can fail: a flow ferry did not install
// is a difference from the desired state, and an acknowledged write the
// server does not have is a lost write.
func (e *env) selfTest() {
	t := e.t
	e.client.pause()
	defer e.client.resume()
	e.lab.OVS(t, "hv1", "ovs-ofctl", "-O", "OpenFlow15", "add-flow", "br-int", "cookie=0x5,table=0,priority=1,actions=drop")
	if d := e.compareBridges(); !strings.Contains(d, "not ferry's") {
		t.Errorf("self-test: a foreign flow on hv1 is not reported as a difference:\n%s", d)
	}
	e.lab.OVS(t, "hv1", "ovs-ofctl", "-O", "OpenFlow15", "del-flows", "br-int", "cookie=0x5/-1")
	if d := e.compareBridges(); d != "" {
		t.Errorf("self-test: bridges differ after the foreign flow was removed:\n%s", d)
	}
	if _, err := e.client.verify(); err != nil {
		t.Fatalf("self-test: %v", err)
	}
	e.client.mu.Lock()
	e.client.model["c3"] = &swState{Encap: "vxlan", Ports: map[string]string{"p9": "iface-never"}}
	e.client.mu.Unlock()
	if lost, err := e.client.verify(); err != nil || len(lost) != 1 || !strings.Contains(lost[0], "p9=iface-never") {
		t.Errorf("self-test: a write the server does not have is not reported lost: %q %v", lost, err)
	}
}

// f0 is when f healed, or now before any fault.
func f0(f *fault, now time.Time) time.Time {
	if f == nil {
		return now
	}
	return f.healed
}

// compareBridges returns "" when every hypervisor's br-int holds exactly
// what DesiredChassis computes, else the differences.
func (e *env) compareBridges() string {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	hvs := e.lab.Hypervisors()
	want, tunnels, err := desiredBridges(ctx, e.nb.snapshot(), hvs, controller)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, hv := range hvs {
		got, err := dumpBridge(e.lab, e.t, hv.Name, "br-int")
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", hv.Name, err)
			continue
		}
		d := diffLines("flow", got.flows, want[hv.Name].flows) +
			diffLines("group", got.groups, want[hv.Name].groups) +
			diffLines("tunnel port", tunnels[hv.Name].tunnels, want[hv.Name].tunnels)
		if d != "" {
			fmt.Fprintf(&b, "%s:\n%s", hv.Name, d)
		}
	}
	return b.String()
}

// countPings sorts every lost probe into a fault window of its path or
// outside any; losses outside are reported as runs per pair.
func (e *env) countPings(ps []*pinger, hostOf map[string]string) {
	for _, p := range ps {
		sent, lost := p.stats()
		e.sum.pingsSent += sent
		slices.SortFunc(lost, time.Time.Compare)
		var run []time.Time
		flush := func() {
			if len(run) > 0 {
				e.sum.pingsLostOutside += len(run)
				e.sum.lossRuns = append(e.sum.lossRuns, fmt.Sprintf("%v: %d probes sent %s–%s", p.pair, len(run),
					run[0].Format("15:04:05.000"), run[len(run)-1].Format("15:04:05.000")))
				run = nil
			}
		}
		for _, at := range lost {
			if excused(e.windows, at, hostOf[p.pair.from], hostOf[p.pair.to]) {
				e.sum.pingsLostInWindows++
				continue
			}
			if len(run) > 0 && at.Sub(run[len(run)-1]) > 2*pingInterval {
				flush()
			}
			run = append(run, at)
		}
		flush()
	}
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

// isChildOf checks /proc: the soak kills only a process it knows to be
// ferryd's own server, never one a recycled pid names.
func isChildOf(pid, parent int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ppid ...
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return false
	}
	fields := strings.Fields(s[i+1:])
	return len(fields) > 1 && fields[1] == strconv.Itoa(parent)
}
