package nbdbtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Cluster is a 3-member Raft cluster of the northbound database on
// loopback, run by examples/ha/cluster.sh (the script operators use, so
// that tests and docs exercise one implementation).
type Cluster struct {
	dir    string
	script string
	env    []string
	ports  []int // client ports of members 1..3
}

// StartCluster creates and starts a 3-member cluster on free loopback
// ports in a directory of its own, and waits until every member has joined
// and one leads. It skips the test when OVS is not installed, unless
// FERRY_REQUIRE_OVS=1. The members are stopped by pid and the directory
// removed when the test ends, whatever the outcome.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	for _, bin := range []string{"ovsdb-server", "ovsdb-tool", "ovs-appctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("FERRY_REQUIRE_OVS") == "1" {
				t.Fatalf("nbdbtest: %s not found and FERRY_REQUIRE_OVS=1", bin)
			}
			t.Skipf("nbdbtest: %s not installed", bin)
		}
	}
	_, self, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(self), "..", "..", "..", "examples", "ha", "cluster.sh")
	if _, err := os.Stat(script); err != nil {
		t.Fatalf("nbdbtest: %v", err)
	}
	// The script refuses a directory that holds a cluster; a fresh one
	// inside shortDir keeps its own removal out of the test's way.
	dir := filepath.Join(shortDir(t), "ha")
	ports := freePorts(t, 6)
	c := &Cluster{dir: dir, script: script, ports: ports[:3]}
	c.env = append(os.Environ(),
		"HA_DIR="+dir,
		"HA_HOST=127.0.0.1",
		"HA_NB_PORTS="+joinInts(ports[:3]),
		"HA_RAFT_PORTS="+joinInts(ports[3:]),
		"HA_SCHEMA="+filepath.Join(filepath.Dir(script), "..", "..", "ovsdb", "nb", "nb.ovsschema"))
	t.Cleanup(func() {
		if t.Failed() {
			for n := 1; n <= 3; n++ {
				if b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("m%d", n), "ovsdb-server.log")); err == nil {
					t.Logf("member %d log:\n%s", n, tail(string(b), 40))
				}
			}
		}
		if out, err := c.run("destroy"); err != nil {
			t.Errorf("nbdbtest: cluster.sh destroy: %v: %s", err, out)
		}
	})
	c.must(t, "create")
	c.must(t, "start")
	c.must(t, "wait")
	return c
}

// Target returns member n's client target, tcp:127.0.0.1:PORT (n is 1..3).
func (c *Cluster) Target(n int) string {
	return "tcp:127.0.0.1:" + strconv.Itoa(c.ports[n-1])
}

// NB returns the three targets as ferryd's --nb takes them.
func (c *Cluster) NB() string {
	return c.Target(1) + "," + c.Target(2) + "," + c.Target(3)
}

// Leader waits for a leader (an election may be under way) and returns its
// member number.
func (c *Cluster) Leader(t testing.TB) int {
	t.Helper()
	c.must(t, "wait")
	out := c.must(t, "leader")
	n, err := strconv.Atoi(strings.Fields(out)[0])
	if err != nil {
		t.Fatalf("nbdbtest: cluster.sh leader: %q", out)
	}
	return n
}

// Kill kills member n with SIGKILL (a crash) and returns once it is gone.
// It may be called from any goroutine (a failure is t.Errorf), to kill a
// member while the test's own goroutine is in the middle of a write.
func (c *Cluster) Kill(t testing.TB, n int) {
	if out, err := c.run("kill-member", strconv.Itoa(n)); err != nil {
		t.Errorf("nbdbtest: cluster.sh kill-member %d: %v: %s", n, err, out)
	}
}

// Start starts member n again (after Kill or Stop); it rejoins from its
// own database file.
func (c *Cluster) Start(t testing.TB, n int) { c.must(t, "start", strconv.Itoa(n)) }

// Stop stops member n (SIGTERM, then SIGKILL).
func (c *Cluster) Stop(t testing.TB, n int) { c.must(t, "stop", strconv.Itoa(n)) }

func (c *Cluster) run(args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{c.script}, args...)...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *Cluster) must(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.run(args...)
	if err != nil {
		t.Fatalf("nbdbtest: cluster.sh %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

// freePorts returns n loopback TCP ports that were free a moment ago (all
// held at once, so they differ).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, " ")
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}
