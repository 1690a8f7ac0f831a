package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ProbeResult is step 6: what ferryd's data-plane probes (issue 13) cost
// it, ferryd's CPU over the same window with probes at their default
// interval and with --probe-interval 0, on the same state.
type ProbeResult struct {
	Hypervisors, Switches, Ports int
	// Pairs are the ordered pairs of hypervisors that share a switch:
	// each is probed once per interval, whatever the number of switches
	// it shares (between MinShared and MaxShared).
	Pairs                int
	MinShared, MaxShared int
	// Underlay says how the hypervisors reach each other; empty when
	// they do not (then every probe times out).
	Underlay   string
	NoUnderlay string // why not
	Crossed    bool   // probes arrived on the far hypervisor
	Setup      time.Duration
	Realize    time.Duration // first PUT to every switch realized
	On, Off    *ProbeWindow
	Err        string
}

// ProbeWindow is one measuring window.
type ProbeWindow struct {
	Args   []string      // ferryd's extra flags
	Window time.Duration // wall clock of the CPU reading
	CPU    time.Duration // ferryd's utime+stime in it
	// Sent counts the probes injected on every bridge, Received those
	// the far bridges punted back, both per second of the window, from
	// the n_packets of ferry's probe flows.
	Sent, Received float64
	// Metrics are ferryd's own counters whose name has "probe" in it,
	// per second, when it exports any.
	Metrics map[string]float64
	// Busy is the share of all cores the machine used in the window
	// (/proc/stat), Load the 1-minute load average at its end.
	Busy, Load float64
}

// Core is ferryd's CPU in the window as a share of one core.
func (w *ProbeWindow) Core() float64 {
	if w == nil || w.Window <= 0 {
		return 0
	}
	return w.CPU.Seconds() / w.Window.Seconds()
}

// ProbeWorkload lays out the probe step's switches: switch i has one port
// on each of 2, 3 or 4 hypervisors (in turn), the first of them i mod
// hypervisors so that all are covered, the others drawn with a fixed
// seed, so that pairs of hypervisors share many switches.
func ProbeWorkload(hypervisors, switches int) []Switch {
	rng := rand.New(rand.NewPCG(13, 13))
	var out []Switch
	idx := 0
	for i := 0; i < switches; i++ {
		k := min(2+i%3, hypervisors)
		on := []int{i % hypervisors}
		for len(on) < k {
			if h := rng.IntN(hypervisors); !slices.Contains(on, h) {
				on = append(on, h)
			}
		}
		sw := Switch{Name: fmt.Sprintf("pr%04d", i), VNI: 5000 + i}
		for _, h := range on {
			idx++
			sw.Ports = append(sw.Ports, Port{
				Name:       fmt.Sprintf("q%05d", idx),
				IfaceID:    fmt.Sprintf("probe-%05d", idx),
				MAC:        fmt.Sprintf("02:bf:%02x:%02x:%02x:%02x", byte(idx>>24), byte(idx>>16), byte(idx>>8), byte(idx)),
				Hypervisor: h,
				VIF:        fmt.Sprintf("vq%05d", idx),
			})
		}
		out = append(out, sw)
	}
	return out
}

// sharedPairs counts the ordered pairs of hypervisors that share a switch
// and the fewest and most switches a pair shares.
func sharedPairs(sws []Switch) (pairs, least, most int) {
	shared := map[[2]int]int{}
	for _, sw := range sws {
		for _, a := range sw.Ports {
			for _, b := range sw.Ports {
				if a.Hypervisor != b.Hypervisor {
					shared[[2]int{a.Hypervisor, b.Hypervisor}]++
				}
			}
		}
	}
	for _, n := range shared {
		if least == 0 || n < least {
			least = n
		}
		most = max(most, n)
	}
	return len(shared), least, most
}

// canUnderlay reports whether the hypervisors can get a dummy underlay
// (network namespaces need root), and why not.
func canUnderlay() (bool, string) {
	if os.Getenv("FERRY_BENCH_NO_UNDERLAY") != "" {
		return false, "FERRY_BENCH_NO_UNDERLAY is set"
	}
	if os.Geteuid() != 0 {
		return false, "not root: no network namespaces for the hypervisors' tunnel addresses"
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		return false, "unshare not installed"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return false, "ip (iproute2) not installed"
	}
	return true, ""
}

func (r *runner) runProbes(ctx context.Context, dir string) *ProbeResult {
	p := r.opts.Profile
	if p.ProbeWindow <= 0 || p.ProbeHypervisors < 2 || p.ProbeSwitches < 1 {
		return nil
	}
	res := &ProbeResult{Hypervisors: p.ProbeHypervisors, Switches: p.ProbeSwitches}
	if t := p.Timeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	if err := r.probeStep(ctx, dir, res); err != nil {
		res.Err = err.Error()
		r.logf("step 6 failed: %v", err)
	}
	return res
}

// underlayMAC is the MAC of hypervisor i's br-phy.
func underlayMAC(i int) string {
	return fmt.Sprintf("02:fe:00:00:%02x:%02x", byte((i+1)>>8), byte(i+1))
}

// tunnelIP is hypervisor i's tunnel address.
func tunnelIP(i int) string { return fmt.Sprintf("198.18.%d.%d", 1+i/250, 1+i%250) }

func (r *runner) probeStep(ctx context.Context, dir string, res *ProbeResult) error {
	p := r.opts.Profile
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var stop cleanups
	defer stop.run()
	sws := ProbeWorkload(p.ProbeHypervisors, p.ProbeSwitches)
	for _, sw := range sws {
		res.Ports += len(sw.Ports)
	}
	res.Pairs, res.MinShared, res.MaxShared = sharedPairs(sws)
	underlay, why := canUnderlay()
	r.logf("step 6: probe cost: %d hypervisors, %d switches, %d ports, %d ordered pairs sharing %d-%d switches",
		res.Hypervisors, res.Switches, res.Ports, res.Pairs, res.MinShared, res.MaxShared)
	t0 := time.Now()

	// The underlay: one more ovs-vswitchd whose br-ul is the switch
	// every hypervisor's br-phy is cabled to, each cable a netdev-dummy
	// unix stream (how OVS's own tests join dummy datapaths).
	var hub *OVS
	hubDir := filepath.Join(dir, "underlay")
	if underlay {
		if err := os.MkdirAll(hubDir, 0o755); err != nil {
			return err
		}
		o, err := StartOVS(ctx, "underlay", hubDir, []string{VswitchSchema}, true)
		if err != nil {
			return err
		}
		stop.add(o.Stop)
		hub = o
		args := []string{"add-br", "br-ul", "--", "set", "bridge", "br-ul", "datapath_type=dummy"}
		for i := 0; i < res.Hypervisors; i++ {
			u := fmt.Sprintf("u%02d", i+1)
			args = append(args, "--", "add-port", "br-ul", u, "--", "set", "Interface", u, "type=dummy",
				"options:pstream=punix:"+filepath.Join(hubDir, u+".sock"))
		}
		if _, err := hub.Vsctl(ctx, args...); err != nil {
			return err
		}
	}
	vifs := make([][]VIF, res.Hypervisors)
	for _, sw := range sws {
		for _, pt := range sw.Ports {
			vifs[pt.Hypervisor] = append(vifs[pt.Hypervisor], pt.vif())
		}
	}
	// ferryd's OpenFlow port, known before the bridges dial it.
	ofPort, err := freePort()
	if err != nil {
		return err
	}
	hvs, err := startHypervisors(ctx, dir, res.Hypervisors, &stop, underlay)
	if err != nil {
		return err
	}
	err = forEach(ctx, res.Hypervisors, 4, func(ctx context.Context, i int) error {
		hv := hvs[i]
		if underlay {
			relay, err := startRelay(hv.VswitchdPid(), fmt.Sprintf("127.0.0.1:%d", ofPort))
			if err != nil {
				return err
			}
			stop.add(func() { relay.Close() })
		}
		if _, err := hv.Vsctl(ctx, "add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=dummy"); err != nil {
			return err
		}
		if err := hv.AddVIFs(ctx, vifs[i]); err != nil {
			return err
		}
		if !underlay {
			return nil
		}
		if _, err := hv.Vsctl(ctx, "add-br", "br-phy", "--", "set", "bridge", "br-phy", "datapath_type=dummy",
			"other_config:hwaddr="+underlayMAC(i),
			"--", "add-port", "br-phy", "p0", "--", "set", "Interface", "p0", "type=dummy",
			fmt.Sprintf("options:stream=unix:%s", filepath.Join(hubDir, fmt.Sprintf("u%02d.sock", i+1)))); err != nil {
			return err
		}
		// The address receives the tunnels (the kernel's copy on lo
		// only makes it local for the route lookup); the route sends
		// them out br-phy; static neighbours, since nothing answers
		// ARP on a dummy port.
		if _, err := hv.Appctl(ctx, "netdev-dummy/ip4addr", "br-phy", hv.TunnelIP+"/15"); err != nil {
			return err
		}
		if _, err := hv.Appctl(ctx, "ovs/route/add", "198.18.0.0/15", "br-phy"); err != nil {
			return err
		}
		for j := 0; j < res.Hypervisors; j++ {
			if j == i {
				continue
			}
			if _, err := hv.Appctl(ctx, "tnl/neigh/set", "br-phy", tunnelIP(j), underlayMAC(j)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if underlay {
		res.Underlay = fmt.Sprintf("dummy: %d hypervisors (one ovs-vswitchd each, in its own network namespace for its tunnel address, OpenFlow relayed to ferryd by the harness) cabled to one hub ovs-vswitchd by netdev-dummy unix streams", res.Hypervisors)
	} else {
		res.NoUnderlay = why
		r.logf("step 6: no underlay (%s): every probe times out; the figure is the send side and the bookkeeping of lost probes", why)
	}
	res.Setup = time.Since(t0)

	ctlDir := filepath.Join(dir, "control")
	if err := os.MkdirAll(ctlDir, 0o755); err != nil {
		return err
	}
	f := &Ferry{Binary: r.ferryd, Dir: ctlDir, Revision: r.rev, OpenFlowPort: ofPort}
	stop.add(f.Stop)
	actx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = f.Start(actx, hvs)
	cancel()
	if err != nil {
		return fmt.Errorf("bench: ferryd did not attach every hypervisor: %w", err)
	}
	r.logf("step 6: creating %d switches, one PUT each with its ports", len(sws))
	t1 := time.Now()
	if err := forEach(ctx, len(sws), p.Concurrency, func(ctx context.Context, i int) error {
		return f.CreateSwitchWithPorts(ctx, sws[i])
	}); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, p.RealizeBudget)
	err = f.WaitAll(wctx, sws)
	cancel()
	res.Realize = time.Since(t1)
	if err != nil {
		return fmt.Errorf("bench: not every probe-step switch realized %v after the first PUT: %w", res.Realize.Round(time.Millisecond), err)
	}
	r.logf("step 6: every switch realized in %v", res.Realize.Round(time.Millisecond))

	// Both windows start from a ferryd just restarted on the same state
	// (a restart sends nothing when nothing changed), so that they
	// differ only in the probes.
	for _, w := range []struct {
		args []string
		out  **ProbeWindow
	}{{nil, &res.On}, {[]string{"--probe-interval", "0"}, &res.Off}} {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		err := f.Reload(rctx, w.args)
		cancel()
		if err != nil {
			return fmt.Errorf("bench: ferryd %s not back in step: %w", strings.Join(w.args, " "), err)
		}
		win, err := r.probeWindow(ctx, f, hvs, w.args)
		if err != nil {
			return err
		}
		*w.out = win
		r.logf("step 6: ferryd %q: %.2f %% of a core over %v; %.1f probes sent/s, %.1f received/s",
			strings.Join(w.args, " "), 100*win.Core(), win.Window.Round(time.Millisecond), win.Sent, win.Received)
	}
	res.Crossed = res.On.Received > 0
	if underlay && !res.Crossed {
		return errors.New("bench: no probe crossed the dummy underlay")
	}
	return nil
}

// probeWindow lets ferryd settle, then reads its CPU over the profile's
// probe window, and the probes the bridges sent and punted around it.
func (r *runner) probeWindow(ctx context.Context, f *Ferry, hvs []*Hypervisor, args []string) (*ProbeWindow, error) {
	p := r.opts.Profile
	if err := sleepCtx(ctx, p.ProbeSettle); err != nil {
		return nil, err
	}
	pid := f.Pid()
	if pid == 0 {
		return nil, errors.New("bench: ferryd not running")
	}
	// Everything that asks ferryd or OVS something happens outside the
	// CPU reading.
	m0, err := f.metrics(ctx)
	if err != nil {
		return nil, err
	}
	tc0 := time.Now()
	s0, r0, err := probeCounts(ctx, hvs)
	if err != nil {
		return nil, err
	}
	busy0, total0 := cpuTicks()
	u0, err := ProcUsage(pid)
	if err != nil {
		return nil, err
	}
	w0 := time.Now()
	if err := sleepCtx(ctx, p.ProbeWindow); err != nil {
		return nil, err
	}
	u1, err := ProcUsage(pid)
	if err != nil {
		return nil, err
	}
	win := &ProbeWindow{Args: args, Window: time.Since(w0), CPU: u1.CPU - u0.CPU}
	busy1, total1 := cpuTicks()
	if total1 > total0 {
		win.Busy = float64(busy1-busy0) / float64(total1-total0)
	}
	win.Load = loadAverage()
	tc := time.Since(tc0).Seconds()
	s1, r1, err := probeCounts(ctx, hvs)
	if err != nil {
		return nil, err
	}
	win.Sent, win.Received = float64(s1-s0)/tc, float64(r1-r0)/tc
	m1, err := f.metrics(ctx)
	if err != nil {
		return nil, err
	}
	mt := time.Since(tc0).Seconds()
	for k, v := range m1 {
		if strings.Contains(k, "probe") && (strings.Contains(k, "_total") || strings.HasSuffix(k, "_count")) {
			if win.Metrics == nil {
				win.Metrics = map[string]float64{}
			}
			win.Metrics[k] = (v - m0[k]) / mt
		}
	}
	return win, nil
}

// probeCounts sums over the bridges the probes ferry injected (n_packets
// of the probe flows matching in_port=CONTROLLER) and the probes that
// arrived and were punted (those whose action is CONTROLLER), both read
// with ovs-ofctl: every probe is an EtherType 0x88b5 frame.
func probeCounts(ctx context.Context, hvs []*Hypervisor) (sent, received int64, err error) {
	outs := make([]int64, len(hvs))
	ins := make([]int64, len(hvs))
	err = forEach(ctx, len(hvs), 4, func(ctx context.Context, i int) error {
		flows, err := hvs[i].Ofctl(ctx, "dump-flows", hvs[i].Bridge)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(flows, "\n") {
			_, v, ok := strings.Cut(l, "n_packets=")
			if !ok || !strings.Contains(l, "dl_type=0x88b5") {
				continue
			}
			v, _, _ = strings.Cut(v, ",")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch {
			case strings.Contains(l, "in_port=CONTROLLER"):
				outs[i] += n
			case strings.Contains(l, "actions=CONTROLLER"):
				ins[i] += n
			}
		}
		return nil
	})
	for i := range hvs {
		sent += outs[i]
		received += ins[i]
	}
	return sent, received, err
}

// Appctl runs ovs-appctl against the instance's ovs-vswitchd.
func (o *OVS) Appctl(ctx context.Context, args ...string) (string, error) {
	return o.Run(ctx, "ovs-appctl", append([]string{"-t", "ovs-vswitchd", "--timeout=30"}, args...)...)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// cpuTicks reads the machine's busy and total CPU ticks (/proc/stat).
func cpuTicks() (busy, total int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	for i, f := range fields[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		if i >= 8 {
			break // guest time is already in user
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// targetProbeCore is issue 13's bound on what probes cost ferryd.
const targetProbeCore = 0.02

// table renders step 6.
func (pr *ProbeResult) table(b *strings.Builder) {
	fmt.Fprintf(b, "\nstep 6: cost of ferryd's data-plane probes (issue 13)\n")
	fmt.Fprintf(b, "  workload:  %d hypervisors, %d switches (each with one port on 2-4 hypervisors), %s ports; %d ordered pairs share a switch (%d-%d switches each)\n",
		pr.Hypervisors, pr.Switches, num(int64(pr.Ports)), pr.Pairs, pr.MinShared, pr.MaxShared)
	if pr.Underlay != "" {
		fmt.Fprintf(b, "  underlay:  %s; VXLAN with OVS native tunnels\n", pr.Underlay)
	} else {
		fmt.Fprintf(b, "  underlay:  none (%s): probes do not cross, every one times out; this is the send side and the bookkeeping of lost probes\n", pr.NoUnderlay)
	}
	if pr.On == nil || pr.Off == nil {
		if pr.Err != "" {
			fmt.Fprintf(b, "  failed:    %s\n", pr.Err)
		}
		return
	}
	fmt.Fprintf(b, "  crossed:   %s\n", map[bool]string{true: "yes: probes punted on the far hypervisor", false: "no"}[pr.Crossed])
	fmt.Fprintf(b, "  setup %s, realized %s after the first PUT\n", ms(pr.Setup), ms(pr.Realize))
	for _, w := range []struct {
		what string
		w    *ProbeWindow
	}{{"probes on (default --probe-interval, 1 s)", pr.On}, {"probes off (--probe-interval 0)", pr.Off}} {
		fmt.Fprintf(b, "  ferryd CPU, %-42s %5.2f %% of a core over %s; probes: %.1f/s sent, %.1f/s received\n",
			w.what+":", 100*w.w.Core(), ms(w.w.Window), w.w.Sent, w.w.Received)
	}
	d := pr.On.Core() - pr.Off.Core()
	if d > -5e-5 && d < 5e-5 {
		d = 0 // not "-0.00 %"
	}
	fmt.Fprintf(b, "  probe cost (on - off): %.2f %% of a core   target <= %.0f %%%s\n", 100*d, 100*targetProbeCore, mark(d <= targetProbeCore))
	if len(pr.On.Metrics) == 0 {
		fmt.Fprintf(b, "  ferryd's own probe counters: none exported (figures above read from OVS)\n")
	} else {
		var keys []string
		for k := range pr.On.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(b, "  ferryd %s: %.1f/s (probes on), %.1f/s (off)\n", k, pr.On.Metrics[k], pr.Off.Metrics[k])
		}
	}
	fmt.Fprintf(b, "  machine during the windows: %.0f %% / %.0f %% of all cores busy, load average %.2f / %.2f (on / off)\n",
		100*pr.On.Busy, 100*pr.Off.Busy, pr.On.Load, pr.Off.Load)
}
