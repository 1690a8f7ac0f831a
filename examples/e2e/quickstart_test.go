package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
)

// The README's Quickstart is the shell blocks between these markers.
const (
	quickstartBegin = "<!-- quickstart:begin -->"
	quickstartEnd   = "<!-- quickstart:end -->"
)

// quickstartPrefix matches the lab's default prefix where the Quickstart
// names it: namespaces (fy-mgmt, fy-vm1) and the lab's directory
// (/tmp/ferry-lab-fy). TestQuickstart puts its own prefix there.
var quickstartPrefix = regexp.MustCompile(`\bfy\b`)

// quickstartScript returns the ```sh blocks between the markers of a
// README, in order, joined; other fences (output shown to the reader)
// are left out.
func quickstartScript(readme string) (string, error) {
	_, rest, ok := strings.Cut(readme, quickstartBegin)
	if !ok {
		return "", errors.New("README.md has no " + quickstartBegin)
	}
	section, _, ok := strings.Cut(rest, quickstartEnd)
	if !ok {
		return "", errors.New("README.md has no " + quickstartEnd + " after " + quickstartBegin)
	}
	var blocks []string
	var cur []string
	in, keep := false, false
	for _, line := range strings.Split(section, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && strings.HasPrefix(trimmed, "```"):
			in, keep = true, trimmed == "```sh" || trimmed == "```bash"
			cur = nil
		case in && trimmed == "```":
			in = false
			if keep {
				blocks = append(blocks, strings.Join(cur, "\n"))
			}
		case in:
			cur = append(cur, line)
		}
	}
	if in {
		return "", errors.New("README.md: a fence in the quickstart is not closed")
	}
	if len(blocks) == 0 {
		return "", errors.New("README.md: no ```sh block between the quickstart markers")
	}
	return strings.Join(blocks, "\n\n") + "\n", nil
}

func readREADME(t *testing.T) (root, readme string) {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return root, string(b)
}

// TestQuickstartBlock checks, without root, that the Quickstart can be
// found and has the shape TestQuickstart relies on.
func TestQuickstartBlock(t *testing.T) {
	_, readme := readREADME(t)
	script, err := quickstartScript(readme)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"make lab\n", "ip netns exec fy-mgmt bin/ferryd ", "ping "} {
		if !strings.Contains(script, want) {
			t.Errorf("the quickstart has no %q:\n%s", want, script)
		}
	}
	if strings.Contains(script, "make lab-down") {
		t.Error("the quickstart removes the lab itself: it must leave it running for the reader")
	}
	_, err = quickstartScript("x\n" + quickstartBegin + "\n```sh\nmake lab\n")
	if err == nil {
		t.Error("an unterminated quickstart was accepted")
	}
}

// TestQuickstart runs the README's Quickstart as a reader would, from the
// repository root with bash (-e -u -o pipefail, so a command that fails
// fails the test: the block's curl calls use --fail-with-body), `make lab`
// included. It changes one thing: every whole word "fy", the lab's default
// prefix, in the namespace names (fy-mgmt, fy-vm1) and the lab directory
// (/tmp/ferry-lab-fy), becomes a prefix of this run's own, which
// LAB_PREFIX also gives `make lab`; so a reader's lab, or another test's,
// is never touched. Afterwards, and on every failure, it stops the
// processes in the lab's management namespace (ferryd, which the block
// starts in the background) by pid and runs `make lab-down`.
func TestQuickstart(t *testing.T) {
	root, readme := readREADME(t)
	script, err := quickstartScript(readme)
	if err != nil {
		t.Fatal(err)
	}
	prefix := lab.Reserve(t)
	script = quickstartPrefix.ReplaceAllString(script, prefix)
	labDir := "/tmp/ferry-lab-" + prefix
	env := append(lab.Env(), "LAB_PREFIX="+prefix, "LAB_DIR="+labDir)

	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(labDir, "ferryd.log")); err == nil {
				t.Logf("ferryd log tail:\n%s", tailLines(string(b), 40))
			}
		}
		stopNamespace(t, prefix+"-mgmt")
		down := exec.Command("make", "lab-down")
		down.Dir, down.Env = root, env
		if out, err := down.CombinedOutput(); err != nil {
			t.Errorf("make lab-down: %v\n%s", err, out)
		}
		if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), prefix+"-") {
			t.Errorf("make lab-down left namespaces:\n%s", out)
		}
		if _, err := os.Stat(labDir); err == nil {
			t.Errorf("make lab-down left %s", labDir)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euxo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = root, env
	// ferryd keeps running in the background, its output in its log
	// file; should it hold the output pipe anyway, do not wait forever.
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's quickstart failed: %v\nscript (prefix %s):\n%s\noutput:\n%s", err, prefix, script, out)
	}
	for _, want := range []string{
		"blue realized at generation",          // ferryctl wait
		"3 packets transmitted, 3 received",    // vm1 -> vm2 across sites
		`"realized": true`, `"ports_bound": 2`, // the switch
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the quickstart's output lacks %q:\n%s", want, out)
		}
	}
}

// stopNamespace stops, by pid, every process in namespace ns (the test's
// own): SIGTERM, then SIGKILL for what is left after 5 s.
func stopNamespace(t *testing.T, ns string) {
	t.Helper()
	pids := func() []int {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		var list []int
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil {
				list = append(list, pid)
			}
		}
		return list
	}
	for _, pid := range pids() {
		syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(pids()) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for _, pid := range pids() {
		t.Logf("pid %d in %s did not stop on SIGTERM; killing it", pid, ns)
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
