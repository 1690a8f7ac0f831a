package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// replica is one ferryd of several in the lab's management namespace.
type replica struct {
	id, api string
	p       *lab.Process
}

// newReplicas starts a northbound ovsdb-server and n ferryds sharing it,
// each with its own REST and OpenFlow port; e talks to the first.
func newReplicas(t *testing.T, n int) (*env, []*replica) {
	l := lab.Up(t)
	nbTarget := startNB(t, l)
	targets := make([]string, n)
	for i := range targets {
		targets[i] = nbTarget
	}
	return startReplicas(t, l, targets...)
}

// startNB starts the lab's northbound ovsdb-server and returns its target.
func startNB(t *testing.T, l *lab.Lab) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := ovsdb.RunServer(ctx, ovsdb.ServerConfig{DataDir: filepath.Join(l.Dir, "nb"), Schema: nb.SchemaJSON})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(); cancel() })
	return srv.Target().String()
}

// startReplicas starts one ferryd per northbound target given, r1, r2…,
// each with its own REST and OpenFlow port; e talks to the first.
func startReplicas(t *testing.T, l *lab.Lab, nbTargets ...string) (*env, []*replica) {
	t.Helper()
	var reps []*replica
	for i, nbTarget := range nbTargets {
		r := &replica{id: fmt.Sprintf("r%d", i+1), api: fmt.Sprintf("127.0.0.1:%d", 18470+i)}
		r.p = l.StartFerryd(t, ferrydBin, "--api", r.api, "--openflow", fmt.Sprintf("ptcp:%d:%s", 16653+i, lab.MgmtIP),
			"--nb", nbTarget, "--replica-id", r.id, "--log-level", "debug")
		reps = append(reps, r)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s log tail:\n%s", r.id, tailLines(r.p.Log(), 40))
			}
		})
	}
	e := &env{t: t, lab: l, ferryd: reps[0].p, http: l.HTTPClient()}
	e.waitAPI()
	return e, reps
}

// get decodes GET path from replica r.
func (e *env) getFrom(r *replica, path string, v any) {
	e.t.Helper()
	resp, err := e.http.Get("http://" + r.api + path)
	if err != nil {
		e.t.Fatalf("%s: GET %s: %v", r.id, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("%s: GET %s: %d %s", r.id, path, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, v); err != nil {
		e.t.Fatalf("%s: GET %s: %v", r.id, path, err)
	}
}

// metricFrom reads one unlabelled sample from replica r's /metrics.
func (e *env) metricFrom(r *replica, name string) float64 {
	e.t.Helper()
	resp, err := e.http.Get("http://" + r.api + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				e.t.Fatal(err)
			}
			return f
		}
	}
	e.t.Fatalf("%s: metric %s not found", r.id, name)
	return 0
}

type chassisOwner struct {
	Status struct {
		Owner              string `json:"owner"`
		RealizedGeneration int64  `json:"realized_generation"`
		OpenFlowConnected  bool   `json:"openflow_connected"`
	} `json:"status"`
}

// TestReplicaTakeover: two ferryds share the lab's hypervisors; the owner
// of hv1 is killed (SIGKILL) during a ping at 100 packets/s between hv1
// and hv3. No packet is lost, the survivor owns hv1 and has it realized
// again within seconds, sending it no flow_mod and no OVSDB transaction.
// Before that, a switch created through the replica that does not own hv1
// carries traffic on hv1 and shows as realized on both replicas; after
// it, a switch created through the survivor works on both hypervisors.
func TestReplicaTakeover(t *testing.T) {
	e, reps := newReplicas(t, 2)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	e.addGuests("blue", blueA, blueB)
	e.waitRealized("blue", 2)
	if err := e.lab.WaitPing(t, "blue-a", blueB.ip(), 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// Who owns hv1, as every replica sees it.
	var st chassisOwner
	e.getFrom(reps[1], "/v1/chassis/hv1", &st)
	owner := st.Status.Owner
	var victim, survivor *replica
	for _, r := range reps {
		if r.id == owner {
			victim = r
		} else {
			survivor = r
		}
	}
	if victim == nil {
		t.Fatalf("hv1's owner %q is not a replica", owner)
	}

	// A switch created through the replica that does not own hv1, with a
	// guest on hv1: realized by hv1's owner, reported by both.
	postTo(t, e, survivor, "/v1/switches", map[string]any{"name": "red", "vni": 1002})
	redA := guest{"hv1", "red-a", "198.18.101.1/24", "02:7e:d0:00:00:0a"}
	redB := guest{"hv3", "red-b", "198.18.101.2/24", "02:7e:d0:00:00:0b"}
	for _, g := range []guest{redA, redB} {
		e.lab.Guest(t, g.hv, g.name, g.cidr, g.mac, "iface-"+g.name)
		postTo(t, e, survivor, "/v1/switches/red/ports", map[string]any{"name": g.name, "iface_id": "iface-" + g.name})
	}
	if err := e.lab.WaitPing(t, "red-a", redB.ip(), 15*time.Second); err != nil {
		t.Errorf("red, created through %s while %s owns hv1: %v", survivor.id, victim.id, err)
	}
	for _, r := range reps {
		var red switchStatus
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			e.getFrom(r, "/v1/switches/red", &red)
			if red.Status.Realized || time.Now().After(deadline) {
				break
			}
		}
		if !red.Status.Realized {
			t.Errorf("red not realized as %s reports it", r.id)
		}
	}

	var gen struct {
		Generation int64 `json:"generation"`
	}
	e.getFrom(survivor, "/v1/switches/red", &gen)
	// A pass that changed a bridge records the generation on it up to a
	// second later: wait until the survivor's counts settle.
	var flowMods, txns float64
	for settled := 0; settled < 15; settled++ {
		f, x := e.metricFrom(survivor, "ferry_openflow_flow_mods_total"), e.metricFrom(survivor, "ferry_ovsdb_device_transactions_total")
		if f != flowMods || x != txns {
			flowMods, txns, settled = f, x, 0
		}
		time.Sleep(100 * time.Millisecond)
	}

	waitPing := e.startPing("blue-a", blueB.ip(), "0.01", 600)
	time.Sleep(1500 * time.Millisecond)
	if err := victim.p.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var took time.Duration
	for {
		e.getFrom(survivor, "/v1/chassis/hv1", &st)
		if st.Status.Owner == survivor.id && st.Status.OpenFlowConnected && st.Status.RealizedGeneration >= gen.Generation {
			took = time.Since(killed)
			break
		}
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("hv1 not owned and realized by %s 20 s after %s was killed: %+v", survivor.id, victim.id, st.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%s killed: hv1 owned and realized by %s after %v", victim.id, survivor.id, took)
	out, err := waitPing()
	if err != nil {
		t.Errorf("ping across the take-over failed: %v\n%s", err, tailLines(out, 3))
	}
	if !strings.Contains(out, "600 received, 0% packet loss") {
		t.Errorf("packets lost across the take-over:\n%s", tailLines(out, 3))
	}
	if n := e.metricFrom(survivor, "ferry_openflow_flow_mods_total") - flowMods; n != 0 {
		t.Errorf("the new owner sent %v flow_mods taking over hv1", n)
	}
	if n := e.metricFrom(survivor, "ferry_ovsdb_device_transactions_total") - txns; n != 0 {
		t.Errorf("the new owner sent %v OVSDB transactions taking over hv1", n)
	}

	// A switch created through the survivor works on both hypervisors.
	post := func(path string, body any) { postTo(t, e, survivor, path, body) }
	post("/v1/switches", map[string]any{"name": "green", "vni": 1003})
	greenA := guest{"hv1", "green-a", "198.18.102.1/24", "02:9e:00:00:00:0a"}
	greenB := guest{"hv3", "green-b", "198.18.102.2/24", "02:9e:00:00:00:0b"}
	for _, g := range []guest{greenA, greenB} {
		e.lab.Guest(t, g.hv, g.name, g.cidr, g.mac, "iface-"+g.name)
		post("/v1/switches/green/ports", map[string]any{"name": g.name, "iface_id": "iface-" + g.name})
	}
	if err := e.lab.WaitPing(t, "green-a", greenB.ip(), 15*time.Second); err != nil {
		t.Errorf("green created through %s: %v", survivor.id, err)
	}
}

// postTo POSTs body to path on replica r and requires a 2xx.
func postTo(t *testing.T, e *env, r *replica, path string, body any) {
	t.Helper()
	data, _ := json.Marshal(body)
	resp, err := e.http.Post("http://"+r.api+path, "application/json", strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s: POST %s: %d %s", r.id, path, resp.StatusCode, msg)
	}
}
