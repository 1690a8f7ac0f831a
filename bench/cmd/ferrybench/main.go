// Command ferrybench runs ferry's benchmark (issue 6) and prints one table:
// the command, the machine, OVS/OVN versions, and every figure next to its
// target. `make bench` runs the default profile, `make bench SMALL=1` the
// small one.
//
//	ferrybench [-profile default|small|tiny] [-systems ferry] [-cpuprofile] [-json FILE] [-probes-only]
//
// It needs Open vSwitch (ovsdb-server, ovs-vswitchd, ovs-vsctl, ovs-ofctl,
// vtep-ctl) and Go; the data-plane step also needs root. Ctrl-C stops
// every process it started and removes its work directory.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ferry-sdn/ferry/bench"
)

func main() {
	profile := flag.String("profile", "default", "workload `profile`: "+strings.Join(bench.ProfileNames(), ", "))
	systems := flag.String("systems", "ferry", "comma-separated `systems` to run steps 1-3 on: "+strings.Join(bench.SystemNames(), ", "))
	ferryd := flag.String("ferryd", "", "use this ferryd `binary` instead of building ./cmd/ferryd")
	workDir := flag.String("workdir", "", "work `directory` (default: a new directory under /tmp, removed at the end)")
	keep := flag.Bool("keep", false, "keep the work directory (logs, databases)")
	dataPlane := flag.Bool("dataplane", true, "run step 5 in the namespace lab (root only)")
	cpuProfile := flag.Bool("cpuprofile", false, "build ferryd with a profiling hook and keep a CPU profile of each step")
	jsonOut := flag.String("json", "", "also write the report as JSON to `file`")
	hypervisors := flag.Int("hypervisors", 0, "override the profile's number of hypervisors")
	switches := flag.Int("switches", 0, "override the profile's number of switches")
	ports := flag.Int("ports", 0, "override the profile's number of ports")
	span := flag.Int("span", -1, "override the number of hypervisors each switch spans (0: all)")
	samples := flag.Int("samples", -1, "override the number of latency samples")
	probesOnly := flag.Bool("probes-only", false, "run step 6 alone: what ferryd's data-plane probes cost it (probes on against --probe-interval 0)")
	probeWindow := flag.Duration("probe-window", 0, "override the length of step 6's CPU windows (0: the profile's)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ferrybench: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	p, ok := bench.Profiles[*profile]
	if !ok {
		fmt.Fprintf(os.Stderr, "ferrybench: unknown profile %q (have %s)\n", *profile, strings.Join(bench.ProfileNames(), ", "))
		os.Exit(2)
	}
	if *hypervisors > 0 {
		p.Hypervisors = *hypervisors
	}
	if *switches > 0 {
		p.Switches = *switches
	}
	if *ports > 0 {
		p.Ports = *ports
	}
	if *span >= 0 {
		p.Span = *span
	}
	if *samples >= 0 {
		p.LatencySamples = *samples
	}
	if *probeWindow > 0 {
		p.ProbeWindow = *probeWindow
	}

	command := os.Getenv("FERRY_BENCH_COMMAND")
	self := strings.Join(os.Args, " ")
	if command == "" {
		command = self
	} else {
		command += "  (" + self + ")"
	}
	fmt.Fprintf(os.Stderr, "ferrybench: %s\n", command)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second Ctrl-C kills at once; children die with us (Pdeathsig).
		<-ctx.Done()
		stop()
	}()
	rep, err := bench.Run(ctx, bench.Options{
		Profile: p, Ferryd: *ferryd, WorkDir: *workDir, Keep: *keep,
		Systems: strings.Split(*systems, ","), DataPlane: *dataPlane, CPUProfile: *cpuProfile,
		ProbesOnly: *probesOnly, Command: command, Progress: os.Stderr,
	})
	if rep != nil {
		fmt.Println()
		fmt.Print(rep.Table())
		if *cpuProfile {
			for _, s := range rep.Systems {
				for step, top := range s.Profiles {
					fmt.Printf("\n--- %s: CPU profile of step %q (go tool pprof -top) ---\n%s", s.System, step, top)
				}
			}
		}
		if *jsonOut != "" {
			b, jerr := json.MarshalIndent(rep, "", "  ")
			if jerr == nil {
				jerr = os.WriteFile(*jsonOut, b, 0o644)
			}
			if jerr != nil {
				fmt.Fprintf(os.Stderr, "ferrybench: %v\n", jerr)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferrybench: %v\n", err)
		os.Exit(1)
	}
	if bad := rep.Check(); len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "ferrybench: %d correctness failure(s):\n  %s\n", len(bad), strings.Join(bad, "\n  "))
		os.Exit(1)
	}
}
