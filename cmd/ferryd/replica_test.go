package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	"github.com/ferry-sdn/ferry/rest/api"
)

// replicaProc is a ferryd started as a replica.
type replicaProc struct {
	id  string
	f   *ferryd
	api string
}

func startReplicaProc(t *testing.T, nbTarget, id string) *replicaProc {
	t.Helper()
	dir := shortTemp(t)
	f := startFerryd(t, "--config=", "--nb", nbTarget, "--replica-id", id, "--api", "127.0.0.1:0",
		"--openflow", "punix:"+dir+"/of.sock", "--resync", "1h")
	_, addr := f.waitRunning(t)
	return &replicaProc{id: id, f: f, api: "http://" + addr}
}

func (r *replicaProc) replicas(t *testing.T) []api.Replica {
	t.Helper()
	var out []api.Replica
	getJSON(t, r.api+"/v1/replicas", &out)
	return out
}

// getJSON decodes the body of GET url.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %s", url, resp.Status)
	}
}

// shares waits until every replica listed by r owns one of want's counts
// (by replica id) and returns how long that took.
func shares(t *testing.T, r *replicaProc, want map[string]int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var got map[string]int
	for time.Since(start) < within {
		got = map[string]int{}
		seen := map[string]bool{}
		doubled := false
		for _, rep := range r.replicas(t) {
			got[rep.ID] = len(rep.Devices)
			for _, d := range rep.Devices {
				doubled = doubled || seen[d]
				seen[d] = true
			}
		}
		if doubled {
			t.Fatalf("a device listed under two replicas: %+v", r.replicas(t))
		}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("replica %s sees %v after %v, want %v", r.id, got, within, want)
	return 0
}

// TestReplicasShareDevices: three real ferryds on a 3-member northbound
// cluster share twelve chassis four each, every replica seeing the same;
// one killed with SIGKILL, its chassis go to the other two and its row
// disappears; the cluster's leader killed, they keep their shares; one
// replica stopped with SIGTERM, the last one owns everything.
func TestReplicasShareDevices(t *testing.T) {
	needOVSDB(t)
	cluster := nbdbtest.StartCluster(t)
	nbTarget := cluster.NB()
	var reps []*replicaProc
	for _, id := range []string{"r1", "r2", "r3"} {
		reps = append(reps, startReplicaProc(t, nbTarget, id))
	}
	for i := range 12 {
		// Unreachable on purpose: ownership is of registrations.
		post(t, reps[i%3].api+"/v1/chassis", fmt.Sprintf(`{"name":"hv%d","ovsdb":"tcp:198.18.255.%d:6640","tunnel_ip":"198.18.1.%d"}`, i+1, i+11, i+11))
	}
	for _, r := range reps {
		shares(t, r, map[string]int{"r1": 4, "r2": 4, "r3": 4}, 20*time.Second)
	}
	self := 0
	for _, rep := range reps[0].replicas(t) {
		if rep.Self {
			self++
			if rep.ID != "r1" || !rep.Healthy || rep.OpenFlow == "" {
				t.Errorf("r1 about itself: %+v", rep)
			}
		}
	}
	if self != 1 {
		t.Errorf("%d replicas marked self", self)
	}
	var h api.Health
	getJSON(t, reps[1].api+"/healthz", &h)
	if h.Replica == nil || *h.Replica != (api.ReplicaHealth{ID: "r2", Registered: true}) {
		t.Errorf("r2's healthz: %+v", h.Replica)
	}

	if err := reps[2].f.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	took := shares(t, reps[0], map[string]int{"r1": 6, "r2": 6}, 20*time.Second)
	t.Logf("r3 killed: its chassis owned by r1 and r2 after %v", took)
	shares(t, reps[1], map[string]int{"r1": 6, "r2": 6}, 5*time.Second)

	// The leader goes: locks are the leader's, so both replicas lose
	// theirs, find the new leader and take the same shares again.
	leader := cluster.Leader(t)
	cluster.Kill(t, leader)
	killed := time.Now()
	var h2 api.Health
	for {
		getJSON(t, reps[0].api+"/healthz", &h2)
		if h2.Replica != nil && h2.Replica.Registered {
			break
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("r1 not registered again 30 s after the leader was killed: %+v", h2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("leader %d killed: r1 registered again after %v", leader, time.Since(killed))
	for _, r := range reps[:2] {
		shares(t, r, map[string]int{"r1": 6, "r2": 6}, 30*time.Second)
	}

	if err := reps[1].f.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, _ := reps[1].f.exit(t); code != 0 {
		t.Errorf("r2 exit %d", code)
	}
	took = shares(t, reps[0], map[string]int{"r1": 12}, 20*time.Second)
	t.Logf("r2 stopped: r1 owns everything after %v", took)

	// The status of a chassis names its owner.
	var ch api.Chassis
	getJSON(t, reps[0].api+"/v1/chassis/hv1", &ch)
	if ch.Status.Owner != "r1" {
		t.Errorf("hv1 owner %q, want r1", ch.Status.Owner)
	}
	ids := []string{}
	for _, rep := range reps[0].replicas(t) {
		ids = append(ids, rep.ID)
	}
	if !slices.Equal(ids, []string{"r1"}) {
		t.Errorf("replicas left: %v", ids)
	}
}
