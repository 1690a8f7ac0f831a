package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// DataPlaneResult is step 5, measured in the namespace lab (examples/lab)
// by TestDataPlane, which the harness runs as a test of this package.
type DataPlaneResult struct {
	Skipped string // why it did not run
	Err     string
	// Ping: REST port create to the first echo reply between guests on
	// hypervisors in different underlay subnets.
	Ping Dist
	// Tool measured the throughput: "iperf3", or "go" (the test's own
	// TCP sender and receiver) when iperf3 is missing.
	Tool       string
	Seconds    int
	FerryBps   float64 // over ferry's pipeline
	MinimalBps float64 // over a two-flow VXLAN pipeline on the same OVS
}

// tcpRounds is how many times TestDataPlane measures each pipeline's
// throughput (alternating).
const tcpRounds = 2

// Environment of TestDataPlane.
const (
	envDataPlaneOut = "FERRY_BENCH_DATAPLANE_OUT"
	envFerryd       = "FERRY_BENCH_FERRYD"
	envTrials       = "FERRY_BENCH_TRIALS"
	envTCPSeconds   = "FERRY_BENCH_TCP_SECONDS"
)

// dataPlaneJSON is what TestDataPlane writes.
type dataPlaneJSON struct {
	PingNanos  []int64 `json:"ping_ns"`
	Tool       string  `json:"tool"`
	Seconds    int     `json:"seconds"`
	FerryBps   float64 `json:"ferry_bps"`
	MinimalBps float64 `json:"minimal_bps"`
	Err        string  `json:"error,omitempty"`
}

var skipRE = regexp.MustCompile(`(?m)--- SKIP: TestDataPlane.*\n\s+\S+:\d+: (.*)`)

func (r *runner) runDataPlane(ctx context.Context, dir string) *DataPlaneResult {
	p := r.opts.Profile
	res := &DataPlaneResult{Seconds: p.TCPSeconds}
	if p.DataPlaneTrials <= 0 {
		res.Skipped = "not in this profile"
		return res
	}
	if os.Geteuid() != 0 {
		res.Skipped = "needs root (network namespaces, veth, OVS userspace datapath)"
		r.logf("step 5: skipped: %s", res.Skipped)
		return res
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		res.Err = err.Error()
		return res
	}
	out := filepath.Join(dir, "dataplane.json")
	r.logf("step 5: namespace lab: %d port-create-to-ping trials, %d s TCP runs", p.DataPlaneTrials, p.TCPSeconds)
	// The test binary runs directly, in its own process group: a Ctrl-C
	// on the terminal reaches only the harness, which then sends SIGTERM;
	// TestDataPlane stops at its next step and its cleanup takes the lab
	// down. (Through `go test`, the interrupt would kill the test binary
	// before its cleanup.)
	testBin := filepath.Join(dir, "bench.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", testBin, "./bench")
	build.Dir = r.opts.Repo
	if b, err := build.CombinedOutput(); err != nil {
		res.Err = fmt.Sprintf("go test -c ./bench: %v: %s", err, lastLines(string(b), 15))
		return res
	}
	args := []string{"-test.run", "^TestDataPlane$", "-test.v", "-test.count=1", "-test.timeout", "20m"}
	cmd := exec.CommandContext(ctx, testBin, args...)
	cmd.Dir = filepath.Join(r.opts.Repo, "bench")
	cmd.Env = append(os.Environ(),
		envDataPlaneOut+"="+out, envFerryd+"="+r.ferryd,
		fmt.Sprintf("%s=%d", envTrials, p.DataPlaneTrials), fmt.Sprintf("%s=%d", envTCPSeconds, p.TCPSeconds))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 2 * time.Minute
	b, err := cmd.CombinedOutput()
	os.WriteFile(filepath.Join(dir, "test.log"), b, 0o644)
	args = append([]string{testBin}, args...)
	data, rerr := os.ReadFile(out)
	if rerr != nil {
		if m := skipRE.FindSubmatch(b); m != nil {
			res.Skipped = strings.TrimSpace(string(m[1]))
			r.logf("step 5: skipped: %s", res.Skipped)
			return res
		}
		res.Err = fmt.Sprintf("%s: %v: %s", strings.Join(args, " "), err, lastLines(string(b), 15))
		r.logf("step 5 failed: %s", res.Err)
		return res
	}
	var j dataPlaneJSON
	if err := json.Unmarshal(data, &j); err != nil {
		res.Err = err.Error()
		return res
	}
	var ds []time.Duration
	for _, n := range j.PingNanos {
		ds = append(ds, time.Duration(n))
	}
	res.Ping, res.Tool, res.FerryBps, res.MinimalBps, res.Err = NewDist(ds), j.Tool, j.FerryBps, j.MinimalBps, j.Err
	if res.Err == "" && err != nil {
		res.Err = fmt.Sprintf("TestDataPlane: %v: %s", err, lastLines(string(b), 15))
	}
	if res.Err == "" {
		r.logf("step 5: port create -> ping p50 %v p99 %v; TCP %s ferry %.2f Gbit/s, two-flow %.2f Gbit/s",
			res.Ping.P50.Round(time.Millisecond), res.Ping.P99.Round(time.Millisecond), res.Tool, res.FerryBps/1e9, res.MinimalBps/1e9)
	} else {
		r.logf("step 5 failed: %s", res.Err)
	}
	return res
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
