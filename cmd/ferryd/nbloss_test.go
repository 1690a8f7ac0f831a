package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNorthboundLoss kills ferryd's own northbound ovsdb-server: ferryd says
// so on /healthz within 5 s, refuses writes with a JSON 503 within 5 s,
// restarts the server, and takes writes again without being restarted;
// what was acknowledged before is still there.
func TestNorthboundLoss(t *testing.T) {
	f, addr, data := ferrydWithOwnNB(t)
	hc := &http.Client{Timeout: 10 * time.Second}
	call := func(method, path, body string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	if code, body, _ := call("POST", "/v1/switches", `{"name":"before"}`); code != 201 {
		t.Fatalf("create before the loss: %d %s", code, body)
	}
	pid := func() int {
		b, err := os.ReadFile(filepath.Join(data, "nb.pid"))
		if err != nil {
			return 0
		}
		p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return p
	}
	old := pid()
	if old == 0 {
		t.Fatal("no nb.pid in the data directory")
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	sawDown := false
	for time.Since(killed) < 5*time.Second {
		code, body, _ := call("GET", "/healthz", "")
		if code == 503 {
			var h struct{ Status, Northbound, Error string }
			if err := json.Unmarshal([]byte(body), &h); err != nil || h.Error == "" {
				t.Errorf("/healthz 503 body is not a JSON reason: %q", body)
			}
			sawDown = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The restart may be quicker than the poll; the log tells.
	restartLogged := func() bool { return strings.Contains(f.output(), "server exited unexpectedly") }
	if !sawDown && !restartLogged() {
		t.Fatalf("/healthz never answered 503 in the 5 s after the northbound server died:\n%s", f.output())
	}
	waitFor(t, restartLogged, "ferryd to log the northbound server's death")
	waitFor(t, func() bool { p := pid(); return p != 0 && p != old }, "a new northbound server")
	waitFor(t, func() bool { code, _, _ := call("GET", "/healthz", ""); return code == 200 }, "/healthz back to 200")
	if code, body, _ := call("POST", "/v1/switches", `{"name":"after"}`); code != 201 {
		t.Fatalf("create after the restart: %d %s", code, body)
	}
	code, body, _ := call("GET", "/v1/switches", "")
	if code != 200 || !strings.Contains(body, `"before"`) || !strings.Contains(body, `"after"`) {
		t.Errorf("switches after the restart: %d %s", code, body)
	}
	if _, body, _ := call("GET", "/metrics", ""); !strings.Contains(body, "ferry_northbound_server_restarts_total 1") {
		t.Errorf("metrics lack the restart count:\n%s", grepLines(body, "ferry_northbound"))
	}
}

// TestNorthboundDownRefusesWrites keeps the northbound server frozen
// (SIGSTOP, so that it cannot be restarted): writes fail with a JSON 503
// within 5 s instead of hanging, and work again once it thaws.
func TestNorthboundDownRefusesWrites(t *testing.T) {
	f, addr, data := ferrydWithOwnNB(t)
	b, err := os.ReadFile(filepath.Join(data, "nb.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	hc := &http.Client{Timeout: 30 * time.Second}
	post := func(name string) (int, string, time.Duration) {
		start := time.Now()
		resp, err := hc.Post("http://"+addr+"/v1/switches", "application/json", strings.NewReader(`{"name":"`+name+`"}`))
		if err != nil {
			t.Fatalf("POST %s: %v", name, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), time.Since(start)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	t.Cleanup(func() {
		if !thawed {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	})
	code, body, took := post("frozen")
	var e struct{ Error string }
	if code != 503 || json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
		t.Errorf("write to a frozen northbound: %d %q, want a JSON 503", code, body)
	}
	if took > 5*time.Second {
		t.Errorf("write to a frozen northbound took %v, want ≤ 5 s", took)
	}
	if code, body, _ := post("frozen-2"); code != 503 {
		t.Errorf("second write while frozen: %d %s", code, body)
	}
	syscall.Kill(pid, syscall.SIGCONT)
	thawed = true
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body, _ := post("thawed")
		if code == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes do not work again after the thaw: %d %s\n%s", code, body, f.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ferrydWithOwnNB starts a ferryd running its own northbound server; it
// returns the API address and the data directory.
func ferrydWithOwnNB(t *testing.T) (f *ferryd, addr, data string) {
	t.Helper()
	needOVSDB(t)
	data = filepath.Join(shortTemp(t), "data")
	f = startFerryd(t, "--api", "127.0.0.1:0", "--data-dir", data,
		"--openflow", fmt.Sprintf("ptcp:%d:127.0.0.1", freePort(t)))
	_, addr = f.waitRunning(t)
	return f, addr, data
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
