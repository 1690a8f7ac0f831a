package cli

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest"
	"github.com/ferry-sdn/ferry/rest/api"
	"github.com/ferry-sdn/ferry/rest/resttest"
)

// fixture is ferry's real REST handler over the in-memory fakes, recording
// what ferryctl sent.
type fixture struct {
	url string
	b   *resttest.Backend
	st  *resttest.Status

	mu    sync.Mutex
	reqs  []string // "METHOD /path"
	auths []string // Authorization headers
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	// The developer's environment must not leak into the tests.
	t.Setenv(EnvServer, "")
	t.Setenv(EnvToken, "")
	f := &fixture{b: resttest.NewBackend(), st: resttest.NewStatus()}
	h := rest.NewHandler(f.b, f.st, nil, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Method+" "+r.URL.EscapedPath())
		f.auths = append(f.auths, r.Header.Get("Authorization"))
		f.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// run runs ferryctl against the fixture.
func (f *fixture) run(args ...string) (code int, stdout, stderr string) {
	return run(append([]string{"--server", f.url}, args...)...)
}

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// ok runs a command that must succeed and returns its output.
func (f *fixture) ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := f.run(args...)
	if code != ExitOK || errs != "" {
		t.Fatalf("ferryctl %s: exit %d, stderr %q", strings.Join(args, " "), code, errs)
	}
	return out
}

// fails runs a command that must fail with code and print exactly
// "ferryctl: msg" (plus, for usage errors, the usage lines).
func (f *fixture) fails(t *testing.T, code int, msg string, args ...string) string {
	t.Helper()
	got, out, errs := f.run(args...)
	if got != code {
		t.Fatalf("ferryctl %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), got, code, errs)
	}
	first, _, _ := strings.Cut(errs, "\n")
	if first != "ferryctl: "+msg {
		t.Fatalf("ferryctl %s: stderr\n%s\nwant first line\nferryctl: %s", strings.Join(args, " "), errs, msg)
	}
	if code == ExitError && out != "" {
		t.Errorf("ferryctl %s: a failure printed %q on stdout", strings.Join(args, " "), out)
	}
	return errs
}

func (f *fixture) lastAuth() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.auths[len(f.auths)-1]
}

// wantLines checks that out holds these lines, after collapsing runs of
// spaces (table alignment is tabwriter's business).
func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	var got []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		got = append(got, strings.Join(strings.Fields(l), " "))
	}
	for _, l := range lines {
		if !slices.Contains(got, l) {
			t.Errorf("output lacks line %q; got:\n%s", l, out)
		}
	}
}

func TestSwitch(t *testing.T) {
	f := newFixture(t)
	if out := f.ok(t, "switch", "create", "blue", "--vni", "1001"); out != "switch blue created: VNI 1001, vxlan\n" {
		t.Errorf("create: %q", out)
	}
	// Flags before the name, too.
	f.ok(t, "switch", "create", "--encap", "gre", "red")
	f.fails(t, ExitError, `name: switch "blue" already exists (HTTP 409)`, "switch", "create", "blue")
	f.fails(t, ExitError, `vni: 1001 is already used by switch "blue" (HTTP 409)`, "switch", "create", "green", "--vni", "1001")
	f.fails(t, ExitError, "vni: must be between 1 and 16777215 (HTTP 400)", "switch", "create", "green", "--vni", "0")
	f.fails(t, ExitUsage, `switch create: --vni: "x" is not a number`, "switch", "create", "green", "--vni", "x")

	f.st.SetSwitch("blue", model.SwitchStatus{PortsBound: 1, Chassis: []model.SwitchChassis{
		{Name: "hv1", Realized: true, RealizedGeneration: 3},
		{Name: "hv2", RealizedGeneration: 1},
	}})
	f.st.SetSwitch("red", model.SwitchStatus{Realized: true, Chassis: []model.SwitchChassis{}})
	wantLines(t, f.ok(t, "switch", "list"),
		"NAME VNI ENCAP PORTS BOUND REALIZED",
		"blue 1001 vxlan 0 1 no (1/2 chassis)",
		"red 1 gre 0 0 yes")
	wantLines(t, f.ok(t, "switch", "show", "blue"),
		"Name: blue",
		"VNI: 1001",
		"Encap: vxlan",
		"Realized: no (1/2 chassis)",
		"Ports: - (1 bound)",
		"Chassis:",
		"NAME REALIZED REALIZED GENERATION",
		"hv1 yes 3",
		"hv2 no 1")

	var sws []api.Switch
	if err := json.Unmarshal([]byte(f.ok(t, "switch", "list", "-o", "json")), &sws); err != nil {
		t.Fatal(err)
	}
	if len(sws) != 2 || sws[0].Name != "blue" || sws[0].VNI != 1001 || sws[1].Encap != "gre" {
		t.Errorf("switch list -o json: %+v", sws)
	}
	var sw api.Switch
	if err := json.Unmarshal([]byte(f.ok(t, "-o", "json", "switch", "show", "blue")), &sw); err != nil {
		t.Fatal(err)
	}
	if sw.Name != "blue" || len(sw.Status.Chassis) != 2 {
		t.Errorf("switch show -o json: %+v", sw)
	}
	var created api.Switch
	if err := json.Unmarshal([]byte(f.ok(t, "switch", "create", "green", "-o", "json")), &created); err != nil {
		t.Fatal(err)
	}
	if created.Name != "green" || created.VNI != 2 {
		t.Errorf("switch create -o json: %+v", created)
	}

	f.fails(t, ExitError, `switch "nosuch" not found (HTTP 404)`, "switch", "show", "nosuch")
	if out := f.ok(t, "switch", "delete", "red"); out != "switch red deleted\n" {
		t.Errorf("delete: %q", out)
	}
	if out := f.ok(t, "switch", "delete", "green", "-o", "json"); out != "" {
		t.Errorf("delete -o json printed %q", out)
	}
	f.fails(t, ExitError, `switch "red" not found (HTTP 404)`, "switch", "delete", "red")
	wantLines(t, f.ok(t, "switch", "list"), "blue 1001 vxlan 0 1 no (1/2 chassis)")

	f.ok(t, "switch", "delete", "blue")
	if out := f.ok(t, "switch", "list"); out != "No switches.\n" {
		t.Errorf("empty list: %q", out)
	}
	if out := f.ok(t, "switch", "list", "-o", "json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("empty list -o json: %q", out)
	}
}

func TestPort(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "switch", "create", "blue")
	f.fails(t, ExitUsage, "port create: missing --iface-id", "port", "create", "blue", "vm1")
	f.fails(t, ExitUsage, "port create: missing NAME", "port", "create", "blue", "--iface-id", "if1")
	f.fails(t, ExitError, `switch "nosuch" not found (HTTP 404)`, "port", "create", "nosuch", "vm1", "--iface-id", "if1")
	if out := f.ok(t, "port", "create", "blue", "vm1", "--iface-id", "if1", "--mac", "02:00:00:00:00:01"); out != "port vm1 created on switch blue: iface-id if1\n" {
		t.Errorf("create: %q", out)
	}
	f.fails(t, ExitError, `iface_id: "if1" is already used by port "vm1" on switch "blue" (HTTP 409)`,
		"port", "create", "blue", "vm2", "--iface-id", "if1")
	f.ok(t, "port", "create", "--iface-id", "if2", "blue", "vm2")

	f.st.SetPort("blue", "vm2", model.PortStatus{Bound: true, Chassis: "hv1", Interface: "tap2", OFPort: 5, MAC: "02:00:00:00:00:02"})
	wantLines(t, f.ok(t, "port", "list", "blue"),
		"NAME IFACE-ID MAC BOUND CHASSIS INTERFACE OFPORT SECURITY",
		"vm1 if1 02:00:00:00:00:01 no - - - -",
		"vm2 if2 02:00:00:00:00:02 yes hv1 tap2 5 off")
	wantLines(t, f.ok(t, "port", "show", "blue", "vm2"),
		"Name: vm2",
		"Switch: blue",
		"Iface ID: if2",
		"MAC: from the VIF's attached-mac: 02:00:00:00:00:02",
		"Bound: yes",
		"Chassis: hv1",
		"Interface: tap2",
		"OpenFlow port: 5",
		"Port security: off (default (on with a MAC))",
		"IPs: any")
	var p api.Port
	if err := json.Unmarshal([]byte(f.ok(t, "port", "show", "blue", "vm1", "-o", "json")), &p); err != nil {
		t.Fatal(err)
	}
	if p.Name != "vm1" || p.MAC != "02:00:00:00:00:01" || p.Status.Bound {
		t.Errorf("port show -o json: %+v", p)
	}
	f.fails(t, ExitError, `port "vm9" not found on switch "blue" (HTTP 404)`, "port", "show", "blue", "vm9")
	f.fails(t, ExitError, `switch "nosuch" not found (HTTP 404)`, "port", "list", "nosuch")

	// Port security and addresses, at creation and later.
	f.ok(t, "port", "create", "blue", "vm3", "--iface-id", "if3", "--port-security=false", "--ip", "198.18.100.3", "--ip", "2001:db8::3,198.18.100.4")
	var p3 api.Port
	if err := json.Unmarshal([]byte(f.ok(t, "port", "show", "blue", "vm3", "-o", "json")), &p3); err != nil {
		t.Fatal(err)
	}
	if p3.PortSecurity == nil || *p3.PortSecurity || !slices.Equal(p3.IPs, []string{"198.18.100.3", "198.18.100.4", "2001:db8::3"}) {
		t.Errorf("port create --port-security=false --ip: %+v", p3)
	}
	if out := f.ok(t, "port", "set", "blue", "vm3", "--port-security=true", "--ip", ""); out != "port vm3 on switch blue: port security on, IPs any\n" {
		t.Errorf("port set: %q", out)
	}
	f.st.SetPort("blue", "vm3", model.PortStatus{Bound: true, Chassis: "hv1", MAC: "02:00:00:00:00:03", PortSecurity: true})
	wantLines(t, f.ok(t, "port", "show", "blue", "vm3"), "Port security: on (on)", "IPs: any")
	f.fails(t, ExitUsage, "port set: nothing to change: give --port-security, --ip, --mac or --iface-id", "port", "set", "blue", "vm3")
	f.fails(t, ExitError, `ips: "224.0.0.1": multicast address (HTTP 400)`, "port", "set", "blue", "vm3", "--ip", "224.0.0.1")
	f.fails(t, ExitError, `port "vm9" not found on switch "blue" (HTTP 404)`, "port", "set", "blue", "vm9", "--port-security=false")
	f.ok(t, "port", "delete", "blue", "vm3")

	if out := f.ok(t, "port", "delete", "blue", "vm1"); out != "port vm1 deleted from switch blue\n" {
		t.Errorf("delete: %q", out)
	}
	f.fails(t, ExitError, `port "vm1" not found on switch "blue" (HTTP 404)`, "port", "delete", "blue", "vm1")
	f.ok(t, "port", "delete", "blue", "vm2")
	if out := f.ok(t, "port", "list", "blue"); out != "No ports on switch blue.\n" {
		t.Errorf("empty list: %q", out)
	}
}

func TestChassis(t *testing.T) {
	f := newFixture(t)
	f.fails(t, ExitUsage, "chassis create: missing --tunnel-ip", "chassis", "create", "hv1", "--ovsdb", "tcp:198.18.255.11:6640")
	out := f.ok(t, "chassis", "create", "hv1", "--ovsdb", "tcp:198.18.255.11:6640", "--tunnel-ip", "198.18.1.11",
		"--kind", "xenserver", "--bridge", "xapi0", "--encaps", "vxlan")
	if out != "chassis hv1 created: xenserver, tunnel IP 198.18.1.11, OVSDB tcp:198.18.255.11:6640, bridge xapi0, encaps vxlan\n" {
		t.Errorf("create: %q", out)
	}
	snap := f.b.Snapshot()
	if ch := snap.Chassis[0]; ch.Kind != "xenserver" || ch.Bridge != "xapi0" || !slices.Equal(ch.Encaps, []string{"vxlan"}) {
		t.Errorf("stored %+v", ch)
	}
	f.ok(t, "chassis", "create", "hv2", "--ovsdb", "tcp:198.18.255.12:6640", "--tunnel-ip", "198.18.2.12", "--encaps", "vxlan, gre",
		"--openflow-peers", "198.18.9.2, 198.18.9.1")
	if ch := f.b.Snapshot().Chassis[1]; !slices.Equal(ch.Encaps, []string{"vxlan", "gre"}) {
		t.Errorf("encaps %q", ch.Encaps)
	}
	f.fails(t, ExitError, `tunnel_ip: 198.18.1.11 is already used by chassis "hv1" (HTTP 409)`,
		"chassis", "create", "hv3", "--ovsdb", "tcp:198.18.255.13:6640", "--tunnel-ip", "198.18.1.11")
	code, _, errs := f.run("chassis", "create", "hv3", "--ovsdb", "tcp:198.18.255.13:6640", "--tunnel-ip", "nope")
	if code != ExitError || !strings.HasPrefix(errs, "ferryctl: tunnel_ip: ") || !strings.HasSuffix(errs, " (HTTP 400)\n") {
		t.Errorf("bad tunnel ip: exit %d, %q", code, errs)
	}

	f.st.SetChassis("hv1", model.ChassisStatus{OVSDBConnected: true, OpenFlowConnected: true, DatapathID: "00:00:aa",
		RealizedGeneration: 4, Flows: 12, Groups: 2, OpenFlowRefused: &model.OpenFlowRefusal{
			Peer: "198.18.255.12", Reason: "address", Detail: "not hv1", At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Count: 3}})
	f.st.SetChassis("hv2", model.ChassisStatus{OVSDBConnected: true, LastError: "openflow: handshake timed out"})
	wantLines(t, f.ok(t, "chassis", "list"),
		"NAME KIND TUNNEL IP OVSDB BRIDGE ENCAPS CONNECTED",
		"hv1 xenserver 198.18.1.11 tcp:198.18.255.11:6640 xapi0 vxlan yes",
		"hv2 kvm 198.18.2.12 tcp:198.18.255.12:6640 br-int vxlan,gre OVSDB only")
	wantLines(t, f.ok(t, "chassis", "show", "hv2"),
		"Name: hv2",
		"Encaps: vxlan, gre",
		"OVSDB connected: yes",
		"OpenFlow connected: no",
		"Datapath ID: -",
		"OpenFlow peers: 198.18.9.1, 198.18.9.2",
		"OpenFlow refused: -",
		"Flows: 0",
		"Last error: openflow: handshake timed out")
	wantLines(t, f.ok(t, "chassis", "show", "hv1"), "Realized generation: 4", "Flows: 12", "Groups: 2", "Datapath ID: 00:00:aa",
		"OpenFlow peers: -", "OpenFlow refused: 3, last 2026-12-01T10:00:00Z from 198.18.255.12 (address): not hv1")
	var chs []api.Chassis
	if err := json.Unmarshal([]byte(f.ok(t, "chassis", "list", "-o", "json")), &chs); err != nil {
		t.Fatal(err)
	}
	if len(chs) != 2 || chs[0].Status.Flows != 12 {
		t.Errorf("chassis list -o json: %+v", chs)
	}
	f.fails(t, ExitError, `chassis "hv9" not found (HTTP 404)`, "chassis", "show", "hv9")
	if out := f.ok(t, "chassis", "delete", "hv2"); out != "chassis hv2 deleted\n" {
		t.Errorf("delete: %q", out)
	}
	f.fails(t, ExitError, `chassis "hv2" not found (HTTP 404)`, "chassis", "delete", "hv2")
}

func TestStatus(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "chassis", "create", "hv1", "--ovsdb", "tcp:198.18.255.11:6640", "--tunnel-ip", "198.18.1.11")
	f.ok(t, "chassis", "create", "hv2", "--ovsdb", "tcp:198.18.255.12:6640", "--tunnel-ip", "198.18.2.12")
	f.ok(t, "switch", "create", "blue", "--vni", "1001")
	f.ok(t, "port", "create", "blue", "vm1", "--iface-id", "if1")
	f.ok(t, "port", "create", "blue", "vm2", "--iface-id", "if2")
	f.st.SetChassis("hv1", model.ChassisStatus{OVSDBConnected: true, OpenFlowConnected: true, RealizedGeneration: 5, Flows: 9, Groups: 1})
	f.st.SetChassis("hv2", model.ChassisStatus{LastError: "ovsdb: connection refused"})
	f.st.SetSwitch("blue", model.SwitchStatus{PortsBound: 1, Chassis: []model.SwitchChassis{
		{Name: "hv1", Realized: true, RealizedGeneration: 5}, {Name: "hv2"},
	}})
	wantLines(t, f.ok(t, "status"),
		"Server: "+f.url,
		"Northbound: connected",
		"CHASSIS OVSDB OPENFLOW REALIZED GEN FLOWS GROUPS TUNNELS DOWN LAST ERROR",
		"hv1 up up 5 9 1 0 -",
		"hv2 down down 0 0 0 0 ovsdb: connection refused",
		"SWITCH VNI ENCAP GEN REALIZED CHASSIS PORTS BOUND TUNNELS DOWN GATEWAYS UP",
		"blue 1001 vxlan 5 no (1/2 chassis) hv1,hv2(pending) 1/2 0/0 -")

	var st struct {
		Health   api.Health
		Chassis  []api.Chassis
		Switches []api.Switch
	}
	if err := json.Unmarshal([]byte(f.ok(t, "status", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Health.Status != "ok" || len(st.Chassis) != 2 || len(st.Switches) != 1 {
		t.Errorf("status -o json: %+v", st)
	}

	// A disconnected northbound database is a state to show.
	f.b.SetHealthy(false)
	wantLines(t, f.ok(t, "status"), "Northbound: disconnected (northbound database not connected)")
	f.b.SetHealthy(true)

	f2 := newFixture(t)
	wantLines(t, f2.ok(t, "status"), "No chassis.", "No switches.")
}

func TestWait(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "switch", "create", "blue")
	f.st.SetSwitch("blue", model.SwitchStatus{Chassis: []model.SwitchChassis{{Name: "hv1", Realized: true}, {Name: "hv2"}}})
	flip := time.AfterFunc(500*time.Millisecond, func() {
		f.st.SetSwitch("blue", model.SwitchStatus{Realized: true, Chassis: []model.SwitchChassis{
			{Name: "hv1", Realized: true}, {Name: "hv2", Realized: true},
		}})
	})
	defer flip.Stop()
	start := time.Now()
	out := f.ok(t, "wait", "blue", "--timeout", "5s")
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Errorf("wait returned after %v, before the switch was realized", d)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	// Not a terminal: one line per change, not one per poll.
	if len(lines) != 2 || lines[0] != "waiting for blue: 1/2 chassis realized" ||
		!strings.HasPrefix(lines[1], "blue realized at generation 1 on 2 chassis in ") {
		t.Errorf("wait output:\n%s", out)
	}

	// Already realized, -o json: the switch on stdout, nothing else.
	code, out, errs := f.run("wait", "blue", "-o", "json")
	var sw api.Switch
	if code != ExitOK || errs != "" || json.Unmarshal([]byte(out), &sw) != nil || !sw.Status.Realized {
		t.Errorf("wait -o json: exit %d, stdout %q, stderr %q", code, out, errs)
	}

	f.ok(t, "switch", "create", "red")
	start = time.Now()
	code, out, errs = f.run("--timeout", "300ms", "wait", "red")
	if code != ExitError || errs != "ferryctl: timed out after 300ms waiting for red: 0/0 chassis realized\n" {
		t.Errorf("timeout: exit %d, stderr %q", code, errs)
	}
	if out != "waiting for red: 0/0 chassis realized\n" {
		t.Errorf("timeout: stdout %q", out)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a 300ms wait took %v", d)
	}

	f.fails(t, ExitError, `switch "nosuch" not found (HTTP 404)`, "wait", "nosuch")
	f.fails(t, ExitUsage, "wait: missing SWITCH", "wait")
}

// wait keeps polling through a restarting server (5xx, refused
// connections) and stops at once on a 4xx.
func TestWaitRetries(t *testing.T) {
	t.Setenv(EnvServer, "")
	b, st := resttest.NewBackend(), resttest.NewStatus()
	h := rest.NewHandler(b, st, nil, nil)
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if r.Method == http.MethodGet && n <= 3 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error": "northbound database unavailable; try again later"}`))
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	if code, _, errs := run("--server", srv.URL, "switch", "create", "blue"); code != ExitOK {
		t.Fatalf("create: %s", errs)
	}
	st.SetSwitch("blue", model.SwitchStatus{Realized: true})
	code, out, errs := run("--server", srv.URL, "wait", "blue", "--timeout", "5s")
	if code != ExitOK {
		t.Fatalf("wait: exit %d, %s", code, errs)
	}
	wantLines(t, out, "waiting for blue: northbound database unavailable; try again later (HTTP 503)")
	if !strings.Contains(out, "blue realized at generation 1 on 0 chassis") {
		t.Errorf("wait output:\n%s", out)
	}
}

func TestProgressOnTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := &progress{w: &buf, tty: true}
	p.update("waiting for blue: 0/2 chassis realized")
	p.update("waiting for blue: 0/2 chassis realized")
	p.update("waiting for blue: 1/2 chassis realized")
	p.clear()
	p.clear()
	want := "\r\x1b[Kwaiting for blue: 0/2 chassis realized\r\x1b[Kwaiting for blue: 1/2 chassis realized\r\x1b[K"
	if buf.String() != want {
		t.Errorf("got %q\nwant %q", buf.String(), want)
	}
	if isTerminal(&buf) {
		t.Error("a buffer is not a terminal")
	}
}

func TestUsage(t *testing.T) {
	t.Setenv(EnvServer, "http://127.0.0.1:1") // nothing here may reach a server
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string // a line of stdout
		stderr string // the first line of stderr
		usage  string // the usage line
	}{
		{nil, 2, "", "ferryctl: missing command", "usage: ferryctl [global flags] COMMAND [flags] [ARGS]"},
		{[]string{"frob"}, 2, "", `ferryctl: unknown command "frob"`, ""},
		{[]string{"--bogus"}, 2, "", "ferryctl: unknown flag: --bogus", ""},
		{[]string{"switch"}, 2, "", "ferryctl: switch: missing subcommand", "usage: ferryctl switch create|set-networks|list|show|delete ..."},
		{[]string{"switch", "frob"}, 2, "", `ferryctl: switch: unknown subcommand "frob"`, ""},
		{[]string{"switch", "create"}, 2, "", "ferryctl: switch create: missing NAME", "usage: ferryctl switch create NAME [--vni N] [--encap vxlan|gre] [--xenserver-networks UUID,...]"},
		{[]string{"switch", "show", "a", "b"}, 2, "", `ferryctl: switch show: unexpected argument "b"`, "usage: ferryctl switch show NAME"},
		{[]string{"switch", "list", "--bogus"}, 2, "", "ferryctl: switch list: unknown flag: --bogus", ""},
		{[]string{"switch", "list", "-o", "xml"}, 2, "", `ferryctl: switch list: -o: "xml" is not a format: use table, json, yaml or wide`, ""},
		{[]string{"--server", "ftp://x", "switch", "list"}, 2, "", `ferryctl: switch list: --server: "ftp://x" is not an http:// or https:// URL`, ""},
		{[]string{"switch", "show", ""}, 2, "", "ferryctl: switch show: NAME must not be empty", ""},
		{[]string{"binding", "create", "blue", "--gateway", "g", "--port", "p"}, 2, "", "ferryctl: binding create: missing --vlan", ""},
		{[]string{"binding", "delete", "blue", "g", "p", "ten"}, 2, "", `ferryctl: binding delete: VLAN "ten" is not a number`, ""},
		{[]string{"gateway", "create", "gw1"}, 2, "", "ferryctl: gateway create: missing --ovsdb", ""},
		{[]string{"help"}, 0, "  binding delete SWITCH GATEWAY PORT VLAN", "", ""},
		{[]string{"-h"}, 0, "  wait SWITCH [--timeout 30s] [--verified]", "", ""},
		{[]string{"help", "port"}, 0, "  port create SWITCH NAME --iface-id ID [--mac MAC] [--port-security=false] [--ip ADDR]...", "", ""},
		{[]string{"help", "frob"}, 2, "", `ferryctl: no help for "frob"`, ""},
		{[]string{"switch", "--help"}, 0, "  switch delete NAME", "", ""},
		{[]string{"switch", "help"}, 0, "  switch delete NAME", "", ""},
		{[]string{"chassis", "create", "--help"}, 0, "  chassis list", "", ""},
		{[]string{"wait", "-h"}, 0, "  wait SWITCH [--timeout 30s] [--verified]", "", ""},
	} {
		code, out, errs := run(tc.args...)
		name := strings.Join(tc.args, " ")
		if code != tc.code {
			t.Errorf("ferryctl %s: exit %d, want %d (stderr %q)", name, code, tc.code, errs)
			continue
		}
		if tc.stdout != "" && !slices.Contains(strings.Split(out, "\n"), tc.stdout) {
			t.Errorf("ferryctl %s: stdout lacks %q:\n%s", name, tc.stdout, out)
		}
		errLines := strings.Split(errs, "\n")
		if tc.code == 0 && errs != "" {
			t.Errorf("ferryctl %s: stderr %q", name, errs)
		}
		if tc.code == 2 {
			if errLines[0] != tc.stderr || len(errLines) < 3 || !strings.HasPrefix(errLines[1], "usage: ferryctl") {
				t.Errorf("ferryctl %s: stderr\n%s\nwant first line %q and a usage line", name, errs, tc.stderr)
			}
			if tc.usage != "" && errLines[1] != tc.usage {
				t.Errorf("ferryctl %s: usage line %q, want %q", name, errLines[1], tc.usage)
			}
			if out != "" {
				t.Errorf("ferryctl %s: stdout %q", name, out)
			}
		}
	}
	// Help for one noun shows only that noun.
	_, out, _ := run("help", "port")
	if strings.Contains(out, "switch create") || !strings.Contains(out, "--server URL") {
		t.Errorf("help port:\n%s", out)
	}
}

func TestEnvAndToken(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "switch", "create", "blue")
	if got := f.lastAuth(); got != "" {
		t.Errorf("no token: Authorization %q", got)
	}

	t.Setenv(EnvServer, f.url)
	t.Setenv(EnvToken, "s3cret")
	code, out, errs := run("switch", "list")
	if code != ExitOK || !strings.Contains(out, "blue") {
		t.Fatalf("FERRY_SERVER: exit %d, %q %q", code, out, errs)
	}
	if got := f.lastAuth(); got != "Bearer s3cret" {
		t.Errorf("FERRY_TOKEN: Authorization %q", got)
	}
	// Flags win over the environment, wherever they are.
	run("switch", "show", "blue", "--token", "other")
	if got := f.lastAuth(); got != "Bearer other" {
		t.Errorf("--token: Authorization %q", got)
	}
	t.Setenv(EnvServer, "http://127.0.0.1:1")
	if code, _, errs := run("switch", "list", "--server", f.url); code != ExitOK {
		t.Errorf("--server over FERRY_SERVER: exit %d, %s", code, errs)
	}
	// A bare host:port is an http URL.
	if code, _, errs := run("--server", strings.TrimPrefix(f.url, "http://"), "switch", "list"); code != ExitOK {
		t.Errorf("--server host:port: exit %d, %s", code, errs)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Contains(f.reqs, "GET /v1/switches/blue") || !slices.Contains(f.reqs, "POST /v1/switches") {
		t.Errorf("requests: %q", f.reqs)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Setenv(EnvServer, "")
	t.Setenv(EnvToken, "")
	// Nothing listens on a port we held and released.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	code, _, errs := run("--server", dead, "switch", "list")
	if code != ExitError || !strings.HasPrefix(errs, "ferryctl: cannot reach ferryd at "+dead+": ") {
		t.Errorf("unreachable: exit %d, %q", code, errs)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/switches":
			<-r.Context().Done() // never answers
		case "/v1/chassis":
			http.Error(w, "upstream connect error", http.StatusBadGateway)
		default:
			w.Write([]byte("not json"))
		}
	}))
	defer srv.Close()
	start := time.Now()
	code, _, errs = run("--server", srv.URL, "--timeout", "200ms", "switch", "list")
	if code != ExitError || errs != "ferryctl: GET /v1/switches: no answer from "+srv.URL+" before --timeout\n" {
		t.Errorf("timeout: exit %d, %q", code, errs)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a 200ms timeout took %v", d)
	}
	code, _, errs = run("--server", srv.URL, "chassis", "list")
	if code != ExitError || errs != "ferryctl: bad gateway: upstream connect error (HTTP 502)\n" {
		t.Errorf("non-JSON error: exit %d, %q", code, errs)
	}
	code, _, errs = run("--server", srv.URL, "switch", "show", "x")
	if code != ExitError || !strings.HasPrefix(errs, "ferryctl: unexpected response from the server: ") {
		t.Errorf("non-JSON body: exit %d, %q", code, errs)
	}
}

func TestGatewayAndBinding(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "switch", "create", "blue")

	if out := f.ok(t, "gateway", "create", "tor1", "--ovsdb", "tcp:198.18.255.21:6640", "--physical-switch", "ps1"); out != "gateway tor1 created: OVSDB tcp:198.18.255.21:6640, physical switch ps1\n" {
		t.Errorf("create: %q", out)
	}
	f.ok(t, "gateway", "create", "tor2", "--ovsdb", "tcp:198.18.255.22:6640")
	if got, _ := f.b.Snapshot().GatewayByName("tor2"); got.OVSDB != "tcp:198.18.255.22:6640" || got.PhysicalSwitch != "" {
		t.Errorf("stored %+v", got)
	}
	f.fails(t, ExitError, `name: gateway "tor1" already exists (HTTP 409)`, "gateway", "create", "tor1", "--ovsdb", "tcp:198.18.255.21:6640")
	f.st.SetGateway("tor1", model.GatewayStatus{Connected: true, PhysicalSwitch: "ps1", TunnelIPs: []string{"198.18.3.31"},
		Ports: []model.GatewayPort{{Name: "Ethernet1/1"}, {Name: "p9", Faults: []string{"port_down"}}}, RealizedGeneration: 3, LocalMACs: 2})
	wantLines(t, f.ok(t, "gateway", "list"),
		"NAME OVSDB PHYSICAL SWITCH CONNECTED TUNNEL IP PORTS FAULTS",
		"tor1 tcp:198.18.255.21:6640 ps1 yes 198.18.3.31 2 1",
		"tor2 tcp:198.18.255.22:6640 - no - 0 0")
	wantLines(t, f.ok(t, "gateway", "show", "tor1"),
		"Name: tor1", "OVSDB: tcp:198.18.255.21:6640", "Physical switch: ps1", "Connected: yes", "Tunnel IPs: 198.18.3.31",
		"Realized generation: 3", "Local MACs: 2")
	var gws []api.Gateway
	if err := json.Unmarshal([]byte(f.ok(t, "gateway", "list", "-o", "json")), &gws); err != nil || len(gws) != 2 {
		t.Errorf("gateway list -o json: %v %+v", err, gws)
	}
	// A 404 from a server that has the gateway API is about the object.
	f.fails(t, ExitError, `gateway "tor9" not found (HTTP 404)`, "gateway", "show", "tor9")

	if out := f.ok(t, "binding", "create", "blue", "--gateway", "tor1", "--port", "Ethernet1/1", "--vlan", "100"); out != "VLAN 100 on gateway tor1 port Ethernet1/1 bound to switch blue\n" {
		t.Errorf("binding create: %q", out)
	}
	f.ok(t, "binding", "create", "blue", "--gateway", "tor2", "--port", "p2", "--vlan", "0")
	wantLines(t, f.ok(t, "binding", "list", "blue"),
		"GATEWAY PORT VLAN",
		"tor1 Ethernet1/1 100",
		"tor2 p2 0")
	// gateway show lists the bindings on each port.
	wantLines(t, f.ok(t, "gateway", "show", "tor1"),
		"Ports:", "PORT FAULTS BINDINGS", "Ethernet1/1 - VLAN 100 → blue", "p9 port_down -")
	f.fails(t, ExitError, `switch "red" not found (HTTP 404)`, "binding", "list", "red")
	// A port name with a slash survives the path.
	if out := f.ok(t, "binding", "delete", "blue", "tor1", "Ethernet1/1", "100"); out != "VLAN 100 on gateway tor1 port Ethernet1/1 unbound from switch blue\n" {
		t.Errorf("binding delete: %q", out)
	}
	f.fails(t, ExitError, "binding tor1/Ethernet1/1/100 not found (HTTP 404)", "binding", "delete", "blue", "tor1", "Ethernet1/1", "100")
	var bs []api.Binding
	if err := json.Unmarshal([]byte(f.ok(t, "binding", "list", "blue", "-o", "json")), &bs); err != nil || len(bs) != 1 || bs[0].VLAN != 0 {
		t.Errorf("binding list -o json: %v %+v", err, bs)
	}

	if out := f.ok(t, "gateway", "delete", "tor1"); out != "gateway tor1 deleted\n" {
		t.Errorf("delete: %q", out)
	}
	f.fails(t, ExitError, `gateway "tor1" not found (HTTP 404)`, "gateway", "delete", "tor1")
}

// Against an older ferryd without gateway routes, every gateway and binding
// command says so.
func TestGatewayUnsupported(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "switch", "create", "blue")
	old := rest.NewHandler(f.b, f.st, nil, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/gateways") || strings.Contains(r.URL.Path, "/bindings") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"no such resource: ` + r.URL.Path + `"}`))
			return
		}
		old.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	want := errNoGatewayAPI.Error()
	for _, args := range [][]string{
		{"gateway", "list"},
		{"gateway", "create", "tor1", "--ovsdb", "tcp:198.18.255.21:6640"},
		{"gateway", "show", "tor1"},
		{"gateway", "delete", "tor1"},
		{"binding", "list", "blue"},
		{"binding", "create", "blue", "--gateway", "tor1", "--port", "p1", "--vlan", "10"},
		{"binding", "delete", "blue", "tor1", "p1", "10"},
	} {
		f.fails(t, ExitError, want, args...)
	}
}

func TestXenServerNetworksAndChassisFields(t *testing.T) {
	srv := httptest.NewServer(rest.NewHandler(resttest.NewBackend(), resttest.NewStatus(), nil, nil))
	defer srv.Close()
	run := func(args ...string) (int, string) {
		var out, errOut strings.Builder
		code := Run(append([]string{"--server", srv.URL}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := run("switch", "create", "xen", "--xenserver-networks", "net-a, net-b"); code != 0 || !strings.Contains(out, "created") {
		t.Fatalf("create: %d %s", code, out)
	}
	if code, out := run("switch", "set-networks", "xen", "--xenserver-networks", "net-c"); code != 0 || !strings.Contains(out, "net-c") {
		t.Fatalf("set-networks: %d %s", code, out)
	}
	if code, out := run("switch", "set-networks", "xen", "--xenserver-networks", ""); code != 0 || !strings.Contains(out, "none") {
		t.Fatalf("set-networks to none: %d %s", code, out)
	}
	if code, out := run("switch", "set-networks", "xen"); code != 2 {
		t.Fatalf("set-networks without the flag: %d %s", code, out)
	}
	if code, out := run("-o", "json", "chassis", "create", "x1", "--ovsdb", "passive", "--tunnel-ip", "198.18.2.21",
		"--underlay-mtu", "9000", "--datapath-type", "netdev"); code != 0 || !strings.Contains(out, `"underlay_mtu": 9000`) && !strings.Contains(out, `"underlay_mtu":9000`) {
		t.Fatalf("chassis create: %d %s", code, out)
	}
}
