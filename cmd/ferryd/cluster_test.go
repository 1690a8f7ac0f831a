package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
)

// TestClusteredNorthbound runs ferryd with --nb on the three members of a
// real Raft cluster: a switch created over REST survives the leader's
// SIGKILL, another one is created within seconds of it (the REST answer
// before that is a 503, never a 500 or a hang), both are listed, /healthz
// is fine on the new leader, and /metrics names the member ferryd is on.
func TestClusteredNorthbound(t *testing.T) {
	c := nbdbtest.StartCluster(t)
	f := startFerryd(t, "--api", "127.0.0.1:0", "--nb", c.NB(),
		"--openflow", fmt.Sprintf("ptcp:%d:127.0.0.1", freePort(t)), "--data-dir", shortTemp(t))
	_, addr := f.waitRunning(t)
	hc := &http.Client{Timeout: 15 * time.Second}
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := call("POST", "/v1/switches", `{"name":"before"}`); code != 201 {
		t.Fatalf("create before the kill: %d %s", code, body)
	}

	leader := c.Leader(t)
	metric := func(n int) string { return `ferry_northbound_endpoint_info{endpoint="` + c.Target(n) + `"} 1` }
	if _, body := call("GET", "/metrics", ""); !strings.Contains(body, metric(leader)) {
		t.Errorf("/metrics does not name leader member %d: want %s in\n%s", leader, metric(leader), grepLines(body, "endpoint"))
	}
	c.Kill(t, leader)
	killed := time.Now()
	var took time.Duration
	for {
		code, body := call("POST", "/v1/switches", `{"name":"after"}`)
		if code == 201 {
			took = time.Since(killed)
			break
		}
		if code != 503 {
			// A 409 would be an earlier attempt of ours that committed
			// although its answer was a 503: say so, it is a finding.
			t.Fatalf("create after killing leader member %d: %d %s (want 201, or 503 while there is no leader)", leader, code, body)
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("no write accepted within 30 s of killing the leader: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("killed leader member %d; a REST write succeeded again %v later", leader, took.Round(time.Millisecond))

	code, body := call("GET", "/v1/switches", "")
	if code != 200 || !strings.Contains(body, `"before"`) || !strings.Contains(body, `"after"`) {
		t.Errorf("GET /v1/switches after the leader change: %d %s", code, body)
	}
	if code, body := call("GET", "/healthz", ""); code != 200 || !strings.Contains(body, `"connected"`) {
		t.Errorf("/healthz after the leader change: %d %s", code, body)
	}
	now := c.Leader(t)
	waitFor(t, func() bool { _, body := call("GET", "/metrics", ""); return strings.Contains(body, metric(now)) },
		"/metrics to name the new leader "+c.Target(now))
	if !strings.Contains(f.output(), "ovsdb: connected") {
		t.Errorf("ferryd did not log its northbound connection:\n%s", f.output())
	}
}
