package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/cli"
	"github.com/ferry-sdn/ferry/rest/api"
)

// TestFerryctl drives a ferryd in the lab with nothing but ferryctl, as an
// operator would: register the hypervisors, create a switch and two ports
// bound to guests on different sites, wait for realization, check the
// guests talk and `status` agrees, then the failure paths. ferryctl runs in
// this process (cli.RunWith) with an HTTP client that dials inside the
// management namespace, where ferryd's API listens on loopback. `host join`
// runs as the built binary inside a hypervisor's namespace, as it would on
// the host.
func TestFerryctl(t *testing.T) {
	e := newEnv(t)
	t.Setenv(cli.EnvToken, "")

	// host join on a lab hypervisor: lab.sh set the system-id and created
	// br-int with the userspace datapath, so there is nothing to change...
	out := e.hostJoin("hv3", "--name", "hv3", "--datapath-type", "netdev")
	if !strings.HasSuffix(out, "host hv3: nothing to change\n") {
		t.Errorf("host join on a lab host:\n%s", out)
	}
	// ...until it is asked for a second OVSDB listener, which ferry can
	// then reach from the management network.
	out = e.hostJoin("hv3", "--manager", "ptcp:6641:198.18.255.13")
	if !strings.Contains(out, "manager: ptcp:6641:198.18.255.13 added\n") || !strings.HasSuffix(out, "host hv3: 1 change made\n") {
		t.Errorf("host join --manager:\n%s", out)
	}
	e.waitDial("198.18.255.13:6641")
	if out := e.hostJoin("hv3", "--manager", "ptcp:6641:198.18.255.13"); !strings.HasSuffix(out, "host hv3: nothing to change\n") {
		t.Errorf("host join again:\n%s", out)
	}

	for _, hv := range e.lab.Hypervisors() {
		out := e.ctlOK("chassis", "create", hv.Name, "--ovsdb", hv.OVSDB, "--tunnel-ip", hv.TunnelIP)
		want := fmt.Sprintf("chassis %s created: kvm, tunnel IP %s, OVSDB %s, bridge br-int, encaps vxlan,gre\n", hv.Name, hv.TunnelIP, hv.OVSDB)
		if out != want {
			t.Errorf("chassis create: %q, want %q", out, want)
		}
	}
	if out := e.ctlOK("switch", "create", "blue", "--vni", "7001"); out != "switch blue created: VNI 7001, vxlan\n" {
		t.Errorf("switch create: %q", out)
	}
	a := guest{"hv1", "ctl-a", "198.18.100.1/24", "02:c7:10:00:00:0a"}
	b := guest{"hv3", "ctl-b", "198.18.100.2/24", "02:c7:10:00:00:0b"}
	for _, g := range []guest{a, b} {
		e.lab.Guest(t, g.hv, g.name, g.cidr, g.mac, "iface-"+g.name)
		out := e.ctlOK("port", "create", "blue", g.name, "--iface-id", "iface-"+g.name)
		if want := fmt.Sprintf("port %s created on switch blue: iface-id iface-%s\n", g.name, g.name); out != want {
			t.Errorf("port create: %q, want %q", out, want)
		}
	}

	start := time.Now()
	code, out, errs := e.ctl("wait", "blue", "--timeout", "30s")
	if code != cli.ExitOK || !strings.Contains(out, "blue realized at generation") {
		t.Fatalf("wait blue: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	t.Logf("ferryctl wait blue: %v: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(out))
	// Realized means working: no retries.
	if err := e.lab.Ping(t, a.name, b.ip(), 3); err != nil {
		t.Fatalf("%s -> %s after ferryctl wait: %v", a.name, b.name, err)
	}
	if err := e.lab.Ping(t, b.name, a.ip(), 3); err != nil {
		t.Fatalf("%s -> %s after ferryctl wait: %v", b.name, a.name, err)
	}

	// status: every chassis holds both connections; blue is realized on
	// the two carriers, both ports bound.
	out = e.ctlOK("status")
	rows := statusRows(out)
	for _, hv := range []string{"hv1", "hv2", "hv3"} {
		r := rows[hv]
		if len(r) < 3 || r[1] != "up" || r[2] != "up" {
			t.Errorf("status: chassis %s row %q, want OVSDB and OpenFlow up\n%s", hv, r, out)
		}
	}
	// ... with its one tunnel (BFD may not be up yet: not asserted) and no
	// gateway.
	if r := rows["blue"]; len(r) != 9 || r[1] != "7001" || r[4] != "yes" || r[5] != "hv1,hv3" || r[6] != "2/2" || !strings.HasSuffix(r[7], "/1") || r[8] != "-" {
		t.Errorf("status: switch blue row %q, want VNI 7001 realized on hv1,hv3 with 2/2 ports, one tunnel, no gateway\n%s", r, out)
	}
	if !strings.Contains(out, "Northbound:  connected\n") {
		t.Errorf("status: northbound not connected:\n%s", out)
	}

	// -o json: the API's JSON, parseable as the API's types.
	var st struct {
		Health   api.Health    `json:"health"`
		Chassis  []api.Chassis `json:"chassis"`
		Switches []api.Switch  `json:"switches"`
	}
	if err := json.Unmarshal([]byte(e.ctlOK("status", "-o", "json")), &st); err != nil {
		t.Fatalf("status -o json: %v", err)
	}
	if len(st.Chassis) != 3 || len(st.Switches) != 1 || !st.Switches[0].Status.Realized || st.Switches[0].VNI != 7001 {
		t.Errorf("status -o json: %+v", st)
	}
	for _, ch := range st.Chassis {
		if !ch.Status.OVSDBConnected || !ch.Status.OpenFlowConnected {
			t.Errorf("status -o json: chassis %s not connected: %+v", ch.Name, ch.Status)
		}
	}
	var ports []api.Port
	if err := json.Unmarshal([]byte(e.ctlOK("-o", "json", "port", "list", "blue")), &ports); err != nil {
		t.Fatalf("port list -o json: %v", err)
	}
	bound := map[string]string{}
	for _, p := range ports {
		bound[p.Name] = p.Status.Chassis + " " + p.Status.MAC
	}
	if bound[a.name] != "hv1 "+a.mac || bound[b.name] != "hv3 "+b.mac {
		t.Errorf("port list -o json: bindings %q", bound)
	}

	// A bad MAC: exit 1 with the server's own message.
	req := map[string]any{"name": "bad", "iface_id": "iface-bad", "mac": "02:00:zz:00:00:01"}
	httpCode, body := e.do("POST", "/v1/switches/blue/ports", req)
	var apiErr api.Error
	if err := json.Unmarshal(body, &apiErr); httpCode != 400 || err != nil || apiErr.Message == "" {
		t.Fatalf("POST a port with a bad MAC: %d %s", httpCode, body)
	}
	code, out, errs = e.ctl("port", "create", "blue", "bad", "--iface-id", "iface-bad", "--mac", "02:00:zz:00:00:01")
	if want := "ferryctl: " + apiErr.Message + " (HTTP 400)\n"; code != cli.ExitError || errs != want || out != "" {
		t.Errorf("port create with a bad MAC: exit %d, stdout %q, stderr %q, want exit 1 and %q", code, out, errs, want)
	}

	// Delete, then wait: the switch will not appear by waiting.
	if out := e.ctlOK("switch", "delete", "blue"); out != "switch blue deleted\n" {
		t.Errorf("switch delete: %q", out)
	}
	start = time.Now()
	code, out, errs = e.ctl("wait", "blue", "--timeout", "10s")
	if code == cli.ExitOK || errs != "ferryctl: switch \"blue\" not found (HTTP 404)\n" || out != "" {
		t.Errorf("wait for a deleted switch: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("wait for a deleted switch took %v: a 404 must not be retried", d)
	}
	if err := e.lab.Ping(t, a.name, b.ip(), 2); err == nil {
		t.Errorf("%s still reaches %s after switch delete", a.name, b.name)
	}
}

// ctl runs ferryctl against the lab's ferryd.
func (e *env) ctl(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	args = append([]string{"--server", "http://" + apiAddr}, args...)
	code = cli.RunWith(context.Background(), cli.Options{HTTPClient: e.http}, args, &out, &errb)
	return code, out.String(), errb.String()
}

// ctlOK runs ferryctl and fails the test unless it succeeds silently on
// stderr.
func (e *env) ctlOK(args ...string) string {
	e.t.Helper()
	code, out, errs := e.ctl(args...)
	if code != cli.ExitOK || errs != "" {
		e.t.Fatalf("ferryctl %s: exit %d, stderr %q", strings.Join(args, " "), code, errs)
	}
	return out
}

// statusRows indexes the rows of `ferryctl status` tables by their first
// column.
func statusRows(out string) map[string][]string {
	rows := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rows[f[0]] = f
		}
	}
	return rows
}

var (
	ferryctlOnce sync.Once
	ferryctlBin  string
	ferryctlErr  error
)

// hostJoin runs the ferryctl binary's `host join` inside a hypervisor's
// namespace, with that host's OVS environment (its default OVSDB socket),
// and returns its output.
func (e *env) hostJoin(hv string, args ...string) string {
	e.t.Helper()
	ferryctlOnce.Do(func() {
		// Next to ferryd, in the directory TestMain removes.
		bin := filepath.Join(filepath.Dir(ferrydBin), "ferryctl")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/ferry-sdn/ferry/cmd/ferryctl").CombinedOutput()
		if err != nil {
			ferryctlErr = fmt.Errorf("building ferryctl: %v\n%s", err, out)
			return
		}
		ferryctlBin = bin
	})
	if ferryctlErr != nil {
		e.t.Fatal(ferryctlErr)
	}
	out, err := e.lab.Exec(e.t, hv, append([]string{ferryctlBin, "host", "join"}, args...)...)
	if err != nil {
		e.t.Fatalf("ferryctl host join %s on %s: %v\n%s", strings.Join(args, " "), hv, err, out)
	}
	return out
}

// waitDial waits until addr accepts TCP connections from the management
// namespace, where ferryd runs.
func (e *env) waitDial(addr string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := e.lab.DialContext(ctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("nothing listens on %s seen from the management network: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
