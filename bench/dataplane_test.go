package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
)

// Guests of the data-plane step: hv1 (site A) and hv3 (site B, behind the
// router), so every frame crosses the routed underlay as VXLAN.
const (
	dpSwitch = "bench-dp"
	dpVNI    = 4000
	dpAPI    = "127.0.0.1:18479"
	dpOF     = "ptcp:16659:" + lab.MgmtIP
	dpAIP    = "198.18.100.1"
	dpBIP    = "198.18.100.2"
	tcpPort  = "5201"
)

// TestDataPlane is step 5 of the benchmark. It runs only when ferrybench
// asks for it (FERRY_BENCH_DATAPLANE_OUT names the JSON file it writes)
// and needs the namespace lab (root). It measures, between a guest on hv1
// and one on hv3:
//   - REST port create to the first echo reply, over many trials (the port
//     is deleted again after each, and the guests' neighbour caches
//     flushed, so every trial resolves ARP through the new flows);
//   - TCP throughput over ferry's pipeline, then over a minimal two-flow
//     VXLAN pipeline written by hand on the same bridges, with ferryd
//     stopped.
func TestDataPlane(t *testing.T) {
	out := os.Getenv(envDataPlaneOut)
	if out == "" {
		t.Skipf("step 5 of ferrybench (make bench); set %s to run it", envDataPlaneOut)
	}
	trials, _ := strconv.Atoi(os.Getenv(envTrials))
	secs, _ := strconv.Atoi(os.Getenv(envTCPSeconds))
	trials, secs = max(trials, 1), max(secs, 1)
	res := dataPlaneJSON{Seconds: secs}
	save := func() {
		b, _ := json.Marshal(res)
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() && res.Err == "" {
			res.Err = "TestDataPlane failed; see " + filepath.Join(filepath.Dir(out), "test.log")
		}
		save()
	})

	// ferrybench stops the step with SIGTERM (a Ctrl-C): the test then
	// fails at its next step, and the lab's cleanup runs.
	stopped, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	check := func() {
		t.Helper()
		if stopped.Err() != nil {
			t.Fatal("interrupted")
		}
	}

	ferryd := os.Getenv(envFerryd)
	if ferryd == "" {
		ferryd = filepath.Join(t.TempDir(), "ferryd")
		if b, err := exec.Command("go", "build", "-o", ferryd, "github.com/ferry-sdn/ferry/cmd/ferryd").CombinedOutput(); err != nil {
			t.Fatalf("building ferryd: %v\n%s", err, b)
		}
	}

	l := lab.Up(t)
	api := &apiClient{t: t, http: l.HTTPClient()}
	fd := l.StartFerryd(t, ferryd, "--api", dpAPI, "--openflow", dpOF, "--data-dir", filepath.Join(l.Dir, "bench-data"))
	api.waitHealthy()
	for _, name := range []string{"hv1", "hv3"} {
		hv, _ := l.Hypervisor(name)
		api.must("POST", "/v1/chassis", map[string]any{"name": hv.Name, "ovsdb": hv.OVSDB, "tunnel_ip": hv.TunnelIP, "encaps": []string{"vxlan"}})
	}
	api.must("POST", "/v1/switches", map[string]any{"name": dpSwitch, "vni": dpVNI})
	l.Guest(t, "hv1", "dpa", dpAIP+"/24", "02:d0:00:00:00:0a", "iface-dpa")
	l.Guest(t, "hv3", "dpb", dpBIP+"/24", "02:d0:00:00:00:0b", "iface-dpb")
	for _, g := range []string{"dpa", "dpb"} {
		// Retransmit unanswered ARP requests every 10 ms rather than
		// every second: the first reply then follows the flows within
		// the ping interval instead of a neighbour timer.
		if out, err := l.Exec(t, g, "sysctl", "-qw", "net.ipv4.neigh.eth0.retrans_time_ms=10"); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
	api.must("POST", "/v1/switches/"+dpSwitch+"/ports", map[string]any{"name": "dpa", "iface_id": "iface-dpa"})
	api.waitSwitch(1)

	for i := 0; i < trials; i++ {
		check()
		for _, g := range []string{"dpa", "dpb"} {
			l.Exec(t, g, "ip", "neigh", "flush", "all")
		}
		// ping is already sending, every 5 ms, when the REST call goes
		// out; the first reply it prints ends the trial. (With -c or -w,
		// ping would stop at the first "host unreachable".)
		d, err := firstReply(l.Namespace("dpa"), dpBIP, func() {
			api.must("POST", "/v1/switches/"+dpSwitch+"/ports", map[string]any{"name": "dpb", "iface_id": "iface-dpb"})
		})
		if err != nil {
			t.Fatalf("trial %d: %v", i, err)
		}
		res.PingNanos = append(res.PingNanos, int64(d))
		api.waitSwitch(2)
		if i < trials-1 {
			api.must("DELETE", "/v1/switches/"+dpSwitch+"/ports/dpb", nil)
			api.waitSwitch(1)
		}
	}
	pd := NewDist(durations(res.PingNanos))
	t.Logf("port create -> first ping over %d trials: p50 %v, p99 %v, max %v", pd.N, pd.P50, pd.P99, pd.Max)
	save()

	// Throughput, alternating between ferry's pipeline and a minimal
	// two-flow VXLAN pipeline on the same bridges and tunnel ports
	// (ferryd stopped: the bridges keep forwarding in fail_mode secure),
	// tcpRounds times each; the report has the mean of each.
	var ferry, minimal []float64
	for round := 0; round < tcpRounds; round++ {
		check()
		if round > 0 {
			// A restarted ferryd finds its flows gone and puts them
			// back.
			fd.Restart(t)
			api.waitHealthy()
			api.waitSwitch(2)
			if err := l.WaitPing(t, "dpa", dpBIP, 10*time.Second); err != nil {
				t.Fatalf("ferry's pipeline after the restart: %v", err)
			}
		}
		bps, tool, err := tcpThroughput(t, l, secs)
		if err != nil {
			t.Fatalf("TCP over ferry's pipeline: %v", err)
		}
		res.Tool = tool
		ferry = append(ferry, bps)

		check()
		if err := fd.Stop(); err != nil {
			t.Fatalf("stopping ferryd: %v", err)
		}
		twoFlows(t, l)
		if err := l.WaitPing(t, "dpa", dpBIP, 10*time.Second); err != nil {
			t.Fatalf("two-flow pipeline: %v", err)
		}
		if bps, _, err = tcpThroughput(t, l, secs); err != nil {
			t.Fatalf("TCP over the two-flow pipeline: %v", err)
		}
		minimal = append(minimal, bps)
		t.Logf("TCP round %d (%s, %d s): ferry %.2f Gbit/s, two-flow %.2f Gbit/s", round+1, res.Tool, secs, ferry[round]/1e9, bps/1e9)
	}
	res.FerryBps, res.MinimalBps = mean(ferry), mean(minimal)
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// twoFlows replaces everything on hv1's and hv3's br-int with the smallest
// VXLAN pipeline that joins the two guests: VIF to tunnel with the VNI,
// tunnel to VIF.
func twoFlows(t *testing.T, l *lab.Lab) {
	for _, hv := range []string{"hv1", "hv3"} {
		vif := map[string]string{"hv1": "v-dpa", "hv3": "v-dpb"}[hv]
		vifPort := strings.TrimSpace(l.OVS(t, hv, "ovs-vsctl", "get", "Interface", vif, "ofport"))
		tunnels := strings.Fields(l.OVS(t, hv, "ovs-vsctl", "--bare", "--columns=ofport", "find", "Interface", "type=vxlan"))
		if len(tunnels) != 1 {
			t.Fatalf("%s: want one VXLAN port, have ofports %q", hv, tunnels)
		}
		l.OVS(t, hv, "ovs-ofctl", "-O", "OpenFlow15", "del-flows", "br-int")
		l.OVS(t, hv, "ovs-ofctl", "-O", "OpenFlow15", "del-groups", "br-int")
		l.OVS(t, hv, "ovs-ofctl", "-O", "OpenFlow15", "add-flow", "br-int",
			fmt.Sprintf("table=0,priority=100,in_port=%s,actions=set_field:%d->tun_id,output:%s", vifPort, dpVNI, tunnels[0]))
		l.OVS(t, hv, "ovs-ofctl", "-O", "OpenFlow15", "add-flow", "br-int",
			fmt.Sprintf("table=0,priority=100,in_port=%s,actions=output:%s", tunnels[0], vifPort))
	}
}

// firstReply starts ping in namespace ns, runs change once it is sending,
// and returns the time from change's start to the first echo reply.
func firstReply(ns, ip string, change func()) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ping := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "ping", "-n", "-i", "0.005", ip)
	stdout, err := ping.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr bytes.Buffer
	ping.Stderr = &stderr
	if err := ping.Start(); err != nil {
		return 0, err
	}
	defer func() { ping.Process.Kill(); ping.Wait() }()
	replied := make(chan time.Time, 1)
	var lines []string
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if strings.Contains(s.Text(), " bytes from ") {
				replied <- time.Now()
				return
			}
			if len(lines) < 5 {
				lines = append(lines, s.Text())
			}
		}
		close(replied)
	}()
	time.Sleep(50 * time.Millisecond)
	t0 := time.Now()
	change()
	at, ok := <-replied
	if !ok {
		return 0, fmt.Errorf("no echo reply from %s: %s %s", ip, strings.Join(lines, "; "), stderr.String())
	}
	return at.Sub(t0), nil
}

func durations(ns []int64) []time.Duration {
	out := make([]time.Duration, len(ns))
	for i, n := range ns {
		out[i] = time.Duration(n)
	}
	return out
}

// tcpThroughput sends from dpa to dpb for secs seconds: with iperf3 when it
// is installed, else (or with FERRY_BENCH_TCP_TOOL=go) with this test
// binary's own sender and receiver (TestTCPHelper).
func tcpThroughput(t *testing.T, l *lab.Lab, secs int) (float64, string, error) {
	if _, err := exec.LookPath("iperf3"); err == nil && os.Getenv("FERRY_BENCH_TCP_TOOL") != "go" {
		srv := l.Start(t, "dpb", "iperf3", "-s", "-1", "-p", tcpPort)
		defer srv.Stop()
		var last error
		for i := 0; i < 50; i++ {
			out, err := l.Exec(t, "dpa", "iperf3", "-c", dpBIP, "-p", tcpPort, "-t", strconv.Itoa(secs), "-J")
			if err == nil {
				var r struct {
					End struct {
						SumReceived struct {
							BitsPerSecond float64 `json:"bits_per_second"`
						} `json:"sum_received"`
					} `json:"end"`
				}
				if err := json.Unmarshal([]byte(out), &r); err != nil {
					return 0, "", fmt.Errorf("iperf3 output: %w", err)
				}
				return r.End.SumReceived.BitsPerSecond, "iperf3", nil
			}
			last = fmt.Errorf("%v: %s", err, lastLines(out, 3))
			time.Sleep(100 * time.Millisecond) // the server is not listening yet
		}
		return 0, "", last
	}
	exe, err := os.Executable()
	if err != nil {
		return 0, "", err
	}
	helper := func(role string, extra ...string) []string {
		return append([]string{"env", "FERRY_BENCH_TCP_ROLE=" + role}, append(extra, exe, "-test.run=^TestTCPHelper$")...)
	}
	sinkArgs := helper("sink", "FERRY_BENCH_TCP_ADDR="+net.JoinHostPort(dpBIP, tcpPort))
	sink := l.Start(t, "dpb", sinkArgs[0], sinkArgs[1:]...)
	defer sink.Stop()
	var last error
	for i := 0; i < 50; i++ {
		out, err := l.Exec(t, "dpa", helper("source", "FERRY_BENCH_TCP_ADDR="+net.JoinHostPort(dpBIP, tcpPort),
			"FERRY_BENCH_TCP_SECONDS="+strconv.Itoa(secs))...)
		if err == nil {
			for _, line := range strings.Split(out, "\n") {
				if v, ok := strings.CutPrefix(line, "bps="); ok {
					bps, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
					return bps, "go", err
				}
			}
			return 0, "", fmt.Errorf("sender said: %s", out)
		}
		last = fmt.Errorf("%v: %s", err, lastLines(out, 3))
		time.Sleep(100 * time.Millisecond)
	}
	return 0, "", last
}

// TestTCPHelper is the TCP sender or receiver of tcpThroughput when iperf3
// is missing; it does nothing unless FERRY_BENCH_TCP_ROLE is set.
func TestTCPHelper(t *testing.T) {
	addr := os.Getenv("FERRY_BENCH_TCP_ADDR")
	switch os.Getenv("FERRY_BENCH_TCP_ROLE") {
	case "sink":
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, c)
		c.Close()
		ln.Close()
	case "source":
		secs, _ := strconv.Atoi(os.Getenv("FERRY_BENCH_TCP_SECONDS"))
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 128<<10)
		var n int64
		t0 := time.Now()
		end := t0.Add(time.Duration(secs) * time.Second)
		for time.Now().Before(end) {
			k, err := c.Write(buf)
			n += int64(k)
			if err != nil {
				t.Fatal(err)
			}
		}
		// Bytes the receiver has: close and let it drain.
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
		c.Close()
		fmt.Printf("bps=%f\n", float64(n)*8/time.Since(t0).Seconds())
	}
}

// apiClient is a small REST client for the lab's ferryd.
type apiClient struct {
	t    *testing.T
	http *http.Client
}

func (a *apiClient) do(method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+dpAPI+path, rd)
	if err != nil {
		return 0, nil, err
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, err
}

func (a *apiClient) must(method, path string, body any) []byte {
	a.t.Helper()
	code, data, err := a.do(method, path, body)
	if err != nil || code/100 != 2 {
		a.t.Fatalf("%s %s: %d %s %v", method, path, code, data, err)
	}
	return data
}

func (a *apiClient) waitHealthy() {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _, err := a.do("GET", "/healthz", nil); err == nil && code == 200 {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatal("ferryd API not healthy within 30 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitSwitch waits until the switch is realized with ports bound ports.
func (a *apiClient) waitSwitch(ports int) {
	a.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var s switchJSON
		code, data, err := a.do("GET", "/v1/switches/"+dpSwitch, nil)
		if err == nil && code == 200 && json.Unmarshal(data, &s) == nil && s.Status.Realized && s.Status.PortsBound == ports {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("switch %s not realized with %d ports within 30 s: %d %s %v", dpSwitch, ports, code, data, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
