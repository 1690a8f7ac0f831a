package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// profileHook is compiled into a profiling build of ferryd through a Go
// build overlay (go build -overlay): ferryd's sources stay untouched and
// the plain build the numbers come from has no trace of it. With
// FERRY_BENCH_PROFILE_ADDR set it serves, on that address only:
// /cpu/start?file=PATH and /cpu/stop around a step, and /heap?file=PATH.
const profileHook = `package main

import (
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
)

func init() {
	addr := os.Getenv("FERRY_BENCH_PROFILE_ADDR")
	if addr == "" {
		return
	}
	var mu sync.Mutex
	var cpu *os.File
	mux := http.NewServeMux()
	mux.HandleFunc("/cpu/start", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if cpu != nil {
			http.Error(w, "already profiling", http.StatusConflict)
			return
		}
		f, err := os.Create(r.URL.Query().Get("file"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		cpu = f
	})
	mux.HandleFunc("/cpu/stop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if cpu == nil {
			http.Error(w, "not profiling", http.StatusConflict)
			return
		}
		pprof.StopCPUProfile()
		cpu.Close()
		cpu = nil
	})
	mux.HandleFunc("/heap", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		f, err := os.Create(r.URL.Query().Get("file"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	go http.ListenAndServe(addr, mux)
}
`

// BuildFerryd builds ./cmd/ferryd of the module at repo into dir; with
// profiling, the profile hook is added through an overlay.
func BuildFerryd(ctx context.Context, repo, dir string, profiling bool) (string, error) {
	bin := filepath.Join(dir, "ferryd")
	args := []string{"build", "-o", bin}
	if profiling {
		bin += "-profiling"
		hook := filepath.Join(dir, "zz_bench_profile.go")
		if err := os.WriteFile(hook, []byte(profileHook), 0o644); err != nil {
			return "", err
		}
		overlay, err := json.Marshal(map[string]any{"Replace": map[string]string{
			filepath.Join(repo, "cmd", "ferryd", "zz_bench_profile.go"): hook,
		}})
		if err != nil {
			return "", err
		}
		ov := filepath.Join(dir, "overlay.json")
		if err := os.WriteFile(ov, overlay, 0o644); err != nil {
			return "", err
		}
		args = []string{"build", "-overlay", ov, "-o", bin}
	}
	args = append(args, "./cmd/ferryd")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bench: go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// ModuleRoot finds the directory of ferry's go.mod from the working
// directory upwards.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/ferry-sdn/ferry\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("bench: not inside ferry's module (no go.mod of github.com/ferry-sdn/ferry above the working directory)")
		}
		dir = parent
	}
}

// Revision describes the source tree at repo: its commit and whether it
// has uncommitted changes (read-only git commands; "" without git).
func Revision(ctx context.Context, repo string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", repo, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.CommandContext(ctx, "git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		rev += " with uncommitted changes"
	}
	return rev
}

// profiler drives the hook of a profiling ferryd.
type profiler struct {
	addr string
	dir  string
	bin  string
}

func (p *profiler) call(ctx context.Context, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("bench: profile hook: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: profile hook %s: %s %s", path, resp.Status, b)
	}
	return nil
}

func (p *profiler) file(name string) string { return filepath.Join(p.dir, name) }

// start begins a CPU profile of ferryd for step.
func (p *profiler) start(ctx context.Context, step string) error {
	return p.call(ctx, "/cpu/start?file="+p.file("ferryd-"+step+".pprof"))
}

// stop ends the CPU profile and returns go tool pprof -top's summary.
func (p *profiler) stop(ctx context.Context, step string) (string, error) {
	if err := p.call(ctx, "/cpu/stop"); err != nil {
		return "", err
	}
	return p.top(ctx, p.file("ferryd-"+step+".pprof"), "ferryd-"+step)
}

func (p *profiler) heap(ctx context.Context, step string) (string, error) {
	f := p.file("ferryd-" + step + ".heap.pprof")
	if err := p.call(ctx, "/heap?file="+f); err != nil {
		return "", err
	}
	return p.top(ctx, f, "ferryd-"+step+".heap", "-sample_index=inuse_space")
}

// top renders a profile: the functions of ferry and its OVSDB/OpenFlow
// libraries by cumulative share (what to fix), then go tool pprof -top,
// flat and cumulative. The text is kept next to the profile.
func (p *profiler) top(ctx context.Context, profile, name string, extra ...string) (string, error) {
	var b strings.Builder
	args := append([]string{"tool", "pprof", "-nodecount=400", "-top", "-cum"}, extra...)
	args = append(args, p.bin, profile)
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("bench: go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	b.WriteString("hot spots (cumulative, ferry and its libraries):\n")
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Duration:") || strings.HasPrefix(l, "Type:") {
			b.WriteString(l + "\n")
		}
		if n < 25 && (strings.Contains(l, "ferry-sdn/ferry/") || strings.Contains(l, "libovsdb") || strings.Contains(l, "libOpenflow")) {
			b.WriteString(l + "\n")
			n++
		}
	}
	b.WriteString("\n")
	for _, mode := range [][]string{{"-top"}, {"-top", "-cum"}} {
		args := append([]string{"tool", "pprof", "-nodecount=30"}, extra...)
		args = append(args, mode...)
		args = append(args, p.bin, profile)
		out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("bench: go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		b.Write(out)
		b.WriteString("\n")
	}
	if err := os.WriteFile(p.file(name+".txt"), []byte(b.String()), 0o644); err != nil {
		return "", err
	}
	return b.String(), nil
}
