package ovsdb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// testCluster is a three-member Raft cluster of the northbound database,
// each member on a unix socket in dir.
type testCluster struct {
	dir     string
	names   []string
	targets map[string]Target
	procs   map[string]*exec.Cmd
	leader  string // when started
}

// startTestCluster creates and starts a cluster and waits until every
// member has joined and one leads.
func startTestCluster(t *testing.T) *testCluster {
	t.Helper()
	if _, err := exec.LookPath("ovs-appctl"); err != nil {
		t.Skip("ovs-appctl not installed")
	}
	dir := shortTempDir(t)
	schema := filepath.Join(dir, "nb.ovsschema")
	if err := os.WriteFile(schema, nb.SchemaJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	names := []string{"s1", "s2", "s3"}
	raft := map[string]string{}
	for _, n := range names {
		raft[n] = fmt.Sprintf("tcp:127.0.0.1:%d", freePort(t))
	}
	tool := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ovsdb-tool", args...).CombinedOutput(); err != nil {
			t.Fatalf("ovsdb-tool %v: %v: %s", args, err, out)
		}
	}
	tool("create-cluster", filepath.Join(dir, "s1.db"), schema, raft["s1"])
	tool("join-cluster", filepath.Join(dir, "s2.db"), "Ferry_Northbound", raft["s2"], raft["s1"])
	tool("join-cluster", filepath.Join(dir, "s3.db"), "Ferry_Northbound", raft["s3"], raft["s1"])
	targets := map[string]Target{}
	procs := map[string]*exec.Cmd{}
	for _, n := range names {
		targets[n], procs[n] = startClusterMember(t, dir, n)
	}
	cl := &testCluster{dir: dir, names: names, targets: targets, procs: procs}
	eventually(t, 15*time.Second, "a leader", func() bool {
		for _, n := range names {
			if clusterRole(dir, n) == "leader" {
				cl.leader = n
				return true
			}
		}
		return false
	})
	eventually(t, 15*time.Second, "all members joined", func() bool {
		for _, n := range names {
			if r := clusterRole(dir, n); r != "leader" && r != "follower" {
				return false
			}
		}
		return true
	})
	return cl
}

// leaderLast lists the members' targets with the leader last, so that a
// client must skip followers to find it.
func (cl *testCluster) leaderLast() []Target {
	var list []Target
	for _, n := range cl.names {
		if n != cl.leader {
			list = append(list, cl.targets[n])
		}
	}
	return append(list, cl.targets[cl.leader])
}
