package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
)

// ferrydBin is built once by TestMain.
var ferrydBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ferry-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ferrydBin = filepath.Join(dir, "ferryd")
	out, err := exec.Command("go", "build", "-o", ferrydBin, "github.com/ferry-sdn/ferry/cmd/ferryd").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building ferryd: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Ports inside the lab's fresh management namespace; deliberately not the
// daemon defaults.
const (
	apiAddr  = "127.0.0.1:18470"
	ofListen = "ptcp:16653:" + lab.MgmtIP
)

type env struct {
	t      *testing.T
	lab    *lab.Lab
	ferryd *lab.Process
	http   *http.Client
	data   string
	token  string // sent as a bearer token when set (ferryd with --api-tokens)
}

func newEnv(t *testing.T, extra ...string) *env {
	return newEnvFor(t, func(*lab.Lab) []string { return extra })
}

// newEnvFor is newEnv with ferryd arguments that depend on the lab (its
// hypervisors' directories).
func newEnvFor(t *testing.T, extra func(l *lab.Lab) []string) *env {
	l := lab.Up(t)
	e := &env{t: t, lab: l, http: l.HTTPClient(), data: filepath.Join(l.Dir, "ferry-data")}
	args := append([]string{"--api", apiAddr, "--openflow", ofListen,
		"--data-dir", e.data, "--log-level", "debug"}, extra(l)...)
	e.ferryd = l.StartFerryd(t, ferrydBin, args...)
	e.waitAPI()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ferryd log tail:\n%s", tailLines(e.ferryd.Log(), 60))
		}
	})
	return e
}

func tailLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (e *env) waitAPI() {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := e.http.Get("http://" + apiAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("ferryd API not healthy within 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// do sends a request and returns status and body.
func (e *env) do(method, path string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, "http://"+apiAddr+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// must sends a request that has to succeed.
func (e *env) must(method, path string, body any) []byte {
	e.t.Helper()
	code, data := e.do(method, path, body)
	if code/100 != 2 {
		e.t.Fatalf("%s %s: %d %s", method, path, code, data)
	}
	return data
}

func (e *env) registerChassis() {
	for _, hv := range e.lab.Hypervisors() {
		e.must("POST", "/v1/chassis", map[string]any{
			"name": hv.Name, "ovsdb": hv.OVSDB, "tunnel_ip": hv.TunnelIP, "kind": "kvm",
		})
	}
}

type guest struct{ hv, name, cidr, mac string }

func (g guest) ip() string { return strings.Split(g.cidr, "/")[0] }

// addGuests creates guests and a port per guest in sw.
func (e *env) addGuests(sw string, gs ...guest) {
	for _, g := range gs {
		e.lab.Guest(e.t, g.hv, g.name, g.cidr, g.mac, "iface-"+g.name)
		e.must("POST", "/v1/switches/"+sw+"/ports", map[string]any{"name": g.name, "iface_id": "iface-" + g.name})
	}
}

type switchStatus struct {
	Name       string `json:"name"`
	VNI        int    `json:"vni"`
	Generation int64  `json:"generation"`
	Status     struct {
		Realized   bool `json:"realized"`
		PortsBound int  `json:"ports_bound"`
		Chassis    []struct {
			Name string `json:"name"`
		} `json:"chassis"`
	} `json:"status"`
}

// waitRealized polls GET /v1/switches/NAME until realized with every port
// bound, and returns how long that took.
func (e *env) waitRealized(name string, ports int) time.Duration {
	e.t.Helper()
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for {
		var st switchStatus
		code, data := e.do("GET", "/v1/switches/"+name, nil)
		if code == 200 {
			if err := json.Unmarshal(data, &st); err != nil {
				e.t.Fatal(err)
			}
			if st.Status.Realized && st.Status.PortsBound == ports {
				return time.Since(start)
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("switch %s not realized within 30s: %d %s", name, code, data)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var durationRE = regexp.MustCompile(`duration=([0-9.]+)s`)

// ferryFlows returns br-int's flows carrying ferry's cookie marker.
func (e *env) ferryFlows(hv string) []string {
	out := e.lab.OVS(e.t, hv, "ovs-ofctl", "-O", "OpenFlow13,OpenFlow15", "dump-flows", "br-int")
	var flows []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "cookie=0xfe77") {
			flows = append(flows, strings.TrimSpace(l))
		}
	}
	return flows
}

// minFlowAge returns the age of the youngest ferry flow on hv.
func (e *env) minFlowAge(hv string) time.Duration {
	youngest := time.Duration(1 << 62)
	for _, f := range e.ferryFlows(hv) {
		m := durationRE.FindStringSubmatch(f)
		if m == nil {
			e.t.Fatalf("no duration in %q", f)
		}
		s, _ := strconv.ParseFloat(m[1], 64)
		youngest = min(youngest, time.Duration(s*float64(time.Second)))
	}
	return youngest
}

func (e *env) groups(hv string) string {
	return e.lab.OVS(e.t, hv, "ovs-ofctl", "-O", "OpenFlow13,OpenFlow15", "dump-groups", "br-int")
}

// metric reads one unlabelled sample from /metrics.
func (e *env) metric(name string) float64 {
	e.t.Helper()
	_, data := e.do("GET", "/metrics", nil)
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, name+" ") {
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(l, name)), 64)
			if err != nil {
				e.t.Fatal(err)
			}
			return v
		}
	}
	e.t.Fatalf("metric %s not found", name)
	return 0
}

// startPing starts count pings from guest from to ip, interval apart
// ("0.05": 20 a second), and returns a function that waits for them and
// returns ping's output and how it ended.
func (e *env) startPing(from, ip, interval string, count int) func() (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	ping := exec.CommandContext(ctx, "ip", "netns", "exec", e.lab.Namespace(from),
		"ping", "-i", interval, "-c", strconv.Itoa(count), "-W", "1", ip)
	var out strings.Builder
	ping.Stdout, ping.Stderr = &out, &out
	if err := ping.Start(); err != nil {
		cancel()
		e.t.Fatal(err)
	}
	return func() (string, error) {
		defer cancel()
		err := ping.Wait()
		return out.String(), err
	}
}
