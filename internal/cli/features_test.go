package cli

import (
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/version"
	"github.com/ferry-sdn/ferry/rest"
	"github.com/ferry-sdn/ferry/rest/api"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with what ferryctl prints")

// golden compares got with testdata/NAME.golden, after replacing the
// fixture's URL (a random port) with SERVER.
func (f *fixture) golden(t *testing.T, name, got string) {
	t.Helper()
	got = strings.ReplaceAll(got, f.url, "SERVER")
	file := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -run %s -update rewrites it)\ngot:\n%s\nwant:\n%s", file, t.Name(), got, want)
	}
}

// stderr runs a command that must fail with code and returns its stderr.
func (f *fixture) stderr(t *testing.T, code int, args ...string) string {
	t.Helper()
	got, out, errs := f.run(args...)
	if got != code || out != "" {
		t.Fatalf("ferryctl %s: exit %d (want %d), stdout %q, stderr %q", strings.Join(args, " "), got, code, out, errs)
	}
	return errs
}

// estate fills the fixture with a small network: two chassis and a
// gateway, switch blue on all three with a tunnel down, switch red with
// an unbound port.
func (f *fixture) estate(t *testing.T) {
	t.Helper()
	f.ok(t, "chassis", "create", "hv1", "--ovsdb", "tcp:198.18.255.11:6640", "--tunnel-ip", "198.18.1.11")
	f.ok(t, "chassis", "create", "hv2", "--ovsdb", "tcp:198.18.255.12:6640", "--tunnel-ip", "198.18.2.12", "--encaps", "vxlan")
	f.ok(t, "gateway", "create", "gw1", "--ovsdb", "tcp:198.18.255.31:6640")
	f.st.SetGateway("gw1", model.GatewayStatus{Connected: true, PhysicalSwitch: "ps1", TunnelIPs: []string{"198.18.3.31"},
		Ports:  []model.GatewayPort{{Name: "p0", Faults: []string{}}, {Name: "p1", Faults: []string{"port_down"}}},
		Faults: []string{}, RealizedGeneration: 6, LocalMACs: 1, RemoteMACs: 2})
	f.st.SetGatewayMACs("gw1", model.GatewayMACs{
		Local: []model.GatewayMAC{{Switch: "blue", MAC: "02:00:00:00:bb:01", TunnelIP: "198.18.3.31", IP: "198.18.100.10"}},
		Remote: []model.GatewayMAC{
			{Switch: "blue", MAC: "52:54:00:00:01:0a", TunnelIP: "198.18.1.11"},
			{Switch: "blue", MAC: "52:54:00:00:01:0b", TunnelIP: "198.18.2.12"},
		}})
	f.ok(t, "switch", "create", "blue", "--vni", "1001")
	f.ok(t, "port", "create", "blue", "vm1", "--iface-id", "if1", "--mac", "52:54:00:00:01:0a")
	f.ok(t, "port", "create", "blue", "vm2", "--iface-id", "if2")
	f.ok(t, "binding", "create", "blue", "--gateway", "gw1", "--port", "p0", "--vlan", "100")
	f.ok(t, "switch", "create", "red", "--encap", "gre")
	f.ok(t, "port", "create", "red", "vm3", "--iface-id", "if3", "--port-security=false", "--ip", "198.18.101.3")
	f.st.SetChassis("hv1", model.ChassisStatus{OVSDBConnected: true, OpenFlowConnected: true, DatapathID: "0000aa", RealizedGeneration: 6, Flows: 21, Groups: 2})
	f.st.SetChassis("hv2", model.ChassisStatus{OVSDBConnected: true, LastError: "openflow: no connection from the bridge yet"})
	f.st.SetPort("blue", "vm1", model.PortStatus{Bound: true, Chassis: "hv1", Interface: "tap1", OFPort: 3, MAC: "52:54:00:00:01:0a", PortSecurity: true})
	f.st.SetPort("blue", "vm2", model.PortStatus{Bound: true, Chassis: "hv2", Interface: "vif7.0", OFPort: 4, MAC: "52:54:00:00:01:0b"})
	f.st.SetSwitch("blue", model.SwitchStatus{PortsBound: 2, MTU: 1450,
		Chassis: []model.SwitchChassis{{Name: "hv1", Realized: true, RealizedGeneration: 6}, {Name: "hv2", RealizedGeneration: 2}},
		Tunnels: []model.SwitchTunnel{{A: "hv1", B: "hv2", Encap: "vxlan", State: "down"}, {A: "gw1", B: "hv1", Encap: "vxlan", State: "up"},
			{A: "gw1", B: "hv2", Encap: "vxlan", State: "unknown"}},
		Gateways: []model.SwitchGateway{{Name: "gw1", Realized: true, RealizedGeneration: 6, ReplicationMode: "source_node", LocalMACs: 1}}})
	f.st.SetSwitch("red", model.SwitchStatus{Realized: true, Chassis: []model.SwitchChassis{}, Tunnels: []model.SwitchTunnel{}, Gateways: []model.SwitchGateway{}})
}

// withReason makes the fixture's server say why red's ports are unbound,
// as a server with status.reason does.
func (f *fixture) withReason(t *testing.T) {
	inner := f.url
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.DefaultClient.Do(mustRequest(t, r.Method, inner+r.URL.RequestURI(), r))
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Error(err)
		}
		if strings.HasPrefix(r.URL.Path, "/v1/switches/red/ports") && resp.StatusCode == http.StatusOK {
			var ports []map[string]any
			list := json.Unmarshal(data, &ports) == nil
			if !list {
				ports = []map[string]any{{}}
				json.Unmarshal(data, &ports[0])
			}
			for _, p := range ports {
				p["status"].(map[string]any)["reason"] = "no VIF with iface-id if3 on any connected chassis"
			}
			if list {
				data, _ = json.Marshal(ports)
			} else {
				data, _ = json.Marshal(ports[0])
			}
		}
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
}

func mustRequest(t *testing.T, method, url string, in *http.Request) *http.Request {
	r, err := http.NewRequest(method, url, in.Body)
	if err != nil {
		t.Fatal(err)
	}
	r.Header = in.Header.Clone()
	return r
}

// TestGoldenOutputs pins what operators read: the show tree, status, the
// gateway tables, wide and YAML output, and the reasons of unbound ports.
func TestGoldenOutputs(t *testing.T) {
	f := newFixture(t)
	f.estate(t)
	f.withReason(t)
	for _, c := range []struct {
		name string
		args []string
	}{
		{"show", []string{"show"}},
		{"status", []string{"status"}},
		{"gateway-list", []string{"gateway", "list"}},
		{"gateway-list-wide", []string{"gateway", "list", "-o", "wide"}},
		{"gateway-show", []string{"gateway", "show", "gw1"}},
		{"gateway-macs", []string{"gateway", "macs", "gw1"}},
		{"switch-list-wide", []string{"switch", "list", "-o", "wide"}},
		{"port-list-wide", []string{"port", "ls", "red", "-o", "wide"}},
		{"port-show-unbound", []string{"port", "get", "red", "vm3"}},
		{"chassis-list-wide", []string{"chassis", "list", "-o", "wide"}},
		{"switch-show-yaml", []string{"switch", "show", "blue", "-o", "yaml"}},
		{"port-list-yaml", []string{"-o", "yaml", "port", "list", "blue"}},
	} {
		t.Run(c.name, func(t *testing.T) { f.golden(t, c.name, f.ok(t, c.args...)) })
	}
}

// TestGoldenErrors pins usage errors and suggestions.
func TestGoldenErrors(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "switch", "create", "blue")
	f.ok(t, "port", "create", "blue", "vm1", "--iface-id", "if1")
	for _, c := range []struct {
		name string
		code int
		args []string
	}{
		{"unknown-command", ExitUsage, []string{"swich", "list"}},
		{"unknown-verb", ExitUsage, []string{"switch", "lst"}},
		{"unknown-flag", ExitUsage, []string{"switch", "create", "green", "--vin", "5"}},
		{"bad-number", ExitUsage, []string{"binding", "create", "blue", "--gateway", "gw1", "--port", "p0", "--vlan", "ten"}},
		{"bad-bool", ExitUsage, []string{"port", "create", "blue", "vm1", "--iface-id", "x", "--port-security=maybe"}},
		{"no-help", ExitUsage, []string{"help", "gatway"}},
		{"missing-arg", ExitUsage, []string{"gateway", "macs"}},
		{"bad-format", ExitUsage, []string{"status", "-o", "xml"}},
		{"may-exist-differs", ExitError, []string{"switch", "create", "blue", "--vni", "7", "--encap", "gre", "--may-exist"}},
		{"server-error", ExitError, []string{"port", "show", "blue", "nothing"}},
		{"not-found-suggests", ExitError, []string{"switch", "show", "bleu"}},
		{"not-found-suggests-port", ExitError, []string{"port", "rm", "blue", "vm10"}},
	} {
		t.Run(c.name, func(t *testing.T) { f.golden(t, "error-"+c.name, f.stderr(t, c.code, c.args...)) })
	}
}

func TestAliases(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "switch", "create", "blue")
	f.ok(t, "port", "create", "blue", "vm1", "--iface-id", "if1")
	f.ok(t, "chassis", "create", "hv1", "--ovsdb", "tcp:198.18.255.11:6640", "--tunnel-ip", "198.18.1.11")
	f.ok(t, "gateway", "create", "gw1", "--ovsdb", "tcp:198.18.255.31:6640")
	for _, args := range [][]string{{"switch", "list"}, {"port", "list", "blue"}, {"chassis", "list"}, {"gateway", "list"}, {"binding", "list", "blue"},
		{"switch", "show", "blue"}, {"port", "show", "blue", "vm1"}, {"chassis", "show", "hv1"}, {"gateway", "show", "gw1"}} {
		alias := map[string]string{"list": "ls", "show": "get"}[args[1]]
		want := f.ok(t, args...)
		if got := f.ok(t, append([]string{args[0], alias}, args[2:]...)...); got != want {
			t.Errorf("%s %s: %q, %s: %q", args[0], alias, got, args[1], want)
		}
	}
	if out := f.ok(t, "port", "rm", "blue", "vm1"); out != "port vm1 deleted from switch blue\n" {
		t.Errorf("port rm: %q", out)
	}
	for _, args := range [][]string{{"switch", "rm", "blue"}, {"chassis", "rm", "hv1"}, {"gateway", "rm", "gw1"}} {
		f.ok(t, args...)
	}
	if out := f.ok(t, "switch", "ls"); out != "No switches.\n" {
		t.Errorf("after rm: %q", out)
	}
	wantLines(t, f.ok(t, "help", "switch"), "(also: ls)", "(also: get)", "(also: rm)")
}

// TestIdempotent: --may-exist accepts an identical object only, and
// --if-exists an absent one.
func TestIdempotent(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "switch", "create", "blue", "--vni", "1001")
	if out := f.ok(t, "switch", "create", "blue", "--vni", "1001", "--may-exist"); out != "switch blue exists: VNI 1001, vxlan (unchanged)\n" {
		t.Errorf("may-exist: %q", out)
	}
	f.ok(t, "switch", "create", "blue", "--may-exist") // nothing given to compare
	f.fails(t, ExitError, "switch blue exists with a different vni (has 1001, wanted 5); --may-exist accepts only an identical one",
		"switch", "create", "blue", "--vni", "5", "--may-exist")
	f.fails(t, ExitError, `name: switch "blue" already exists (HTTP 409)`, "switch", "create", "blue", "--vni", "1001")
	// A conflict about something else than the name stays the server's.
	f.fails(t, ExitError, `vni: 1001 is already used by switch "blue" (HTTP 409)`, "switch", "create", "green", "--vni", "1001", "--may-exist")
	var sw map[string]any
	if err := json.Unmarshal([]byte(f.ok(t, "switch", "create", "blue", "--may-exist", "-o", "json")), &sw); err != nil || sw["name"] != "blue" {
		t.Errorf("may-exist -o json: %v %v", sw, err)
	}

	f.ok(t, "port", "create", "blue", "vm1", "--iface-id", "if1", "--ip", "198.18.100.1,2001:db8::1")
	f.ok(t, "port", "create", "blue", "vm1", "--iface-id", "if1", "--ip", "2001:db8:0::1", "--ip", "198.18.100.1", "--may-exist")
	f.fails(t, ExitError, "port vm1 on switch blue exists with a different iface_id (has if1, wanted if9); --may-exist accepts only an identical one",
		"port", "create", "blue", "vm1", "--iface-id", "if9", "--may-exist")
	f.fails(t, ExitError, "port vm1 on switch blue exists with a different port_security (has default (on with a MAC), wanted off); --may-exist accepts only an identical one",
		"port", "create", "blue", "vm1", "--iface-id", "if1", "--port-security=false", "--may-exist")

	f.ok(t, "chassis", "create", "hv1", "--ovsdb", "tcp:198.18.255.11:6640", "--tunnel-ip", "198.18.1.11")
	if out := f.ok(t, "chassis", "create", "hv1", "--ovsdb", "tcp:198.18.255.11:6640", "--tunnel-ip", "198.18.1.11", "--may-exist"); !strings.HasPrefix(out, "chassis hv1 exists (unchanged): ") {
		t.Errorf("chassis may-exist: %q", out)
	}
	f.fails(t, ExitError, "chassis hv1 exists with a different tunnel_ip (registered 198.18.1.11, wanted 198.18.1.12); --may-exist accepts only an identical one",
		"chassis", "create", "hv1", "--ovsdb", "tcp:198.18.255.11:6640", "--tunnel-ip", "198.18.1.12", "--may-exist")

	f.ok(t, "gateway", "create", "gw1", "--ovsdb", "tcp:198.18.255.31:6640")
	f.ok(t, "gateway", "create", "gw1", "--ovsdb", "tcp:198.18.255.31:6640", "--may-exist")
	f.fails(t, ExitError, "gateway gw1 exists with a different ovsdb (has tcp:198.18.255.31:6640, wanted tcp:198.18.255.32:6640); --may-exist accepts only an identical one",
		"gateway", "create", "gw1", "--ovsdb", "tcp:198.18.255.32:6640", "--may-exist")
	f.ok(t, "binding", "create", "blue", "--gateway", "gw1", "--port", "p0", "--vlan", "10")
	if out := f.ok(t, "binding", "create", "blue", "--gateway", "gw1", "--port", "p0", "--vlan", "10", "--may-exist"); out != "VLAN 10 on gateway gw1 port p0 is bound to switch blue (unchanged)\n" {
		t.Errorf("binding may-exist: %q", out)
	}
	f.ok(t, "switch", "create", "red")
	f.fails(t, ExitError, `vlan: gw1/p0/10 is already bound to switch "blue" (HTTP 409)`,
		"binding", "create", "red", "--gateway", "gw1", "--port", "p0", "--vlan", "10", "--may-exist")

	// --if-exists: absent is success, and says so.
	for _, c := range []struct {
		args []string
		out  string
	}{
		{[]string{"binding", "delete", "blue", "gw1", "p0", "10"}, "VLAN 10 on gateway gw1 port p0 unbound from switch blue\n"},
		{[]string{"binding", "delete", "blue", "gw1", "p0", "10"}, "binding of VLAN 10 on gateway gw1 port p0 to switch blue not found: nothing to delete\n"},
		{[]string{"port", "delete", "blue", "vm1"}, "port vm1 deleted from switch blue\n"},
		{[]string{"port", "delete", "blue", "vm1"}, "port vm1 on switch blue not found: nothing to delete\n"},
		{[]string{"port", "delete", "nosuch", "vm1"}, "port vm1 on switch nosuch not found: nothing to delete\n"},
		{[]string{"switch", "delete", "red"}, "switch red deleted\n"},
		{[]string{"switch", "delete", "red"}, "switch red not found: nothing to delete\n"},
		{[]string{"chassis", "delete", "hv9"}, "chassis hv9 not found: nothing to delete\n"},
		{[]string{"gateway", "delete", "gw9"}, "gateway gw9 not found: nothing to delete\n"},
	} {
		if out := f.ok(t, append(c.args, "--if-exists")...); out != c.out {
			t.Errorf("%s --if-exists: %q, want %q", strings.Join(c.args, " "), out, c.out)
		}
	}
	f.fails(t, ExitError, `switch "red" not found (HTTP 404)`, "switch", "delete", "red")
	// Other refusals stay errors.
	f.ok(t, "binding", "create", "blue", "--gateway", "gw1", "--port", "p0", "--vlan", "10")
	f.fails(t, ExitError, `name: gateway "gw1" still has bindings (HTTP 409)`, "gateway", "delete", "gw1", "--if-exists")
}

// complete runs `ferryctl __complete ARGS` (what the shell scripts call)
// and returns the candidates and the directive line.
func (f *fixture) complete(t *testing.T, args ...string) (names []string, directive string) {
	t.Helper()
	code, out, errs := f.run(append([]string{"__complete"}, args...)...)
	if code != ExitOK || !strings.HasPrefix(errs, "Completion ended with directive:") {
		t.Fatalf("__complete %q: exit %d, stderr %q", args, code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	return lines[:len(lines)-1], lines[len(lines)-1]
}

func TestCompletion(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "switch", "create", "blue")
	f.ok(t, "switch", "create", "black")
	f.ok(t, "switch", "create", "red")
	f.ok(t, "port", "create", "blue", "vm1", "--iface-id", "if1")
	f.ok(t, "port", "create", "blue", "vm2", "--iface-id", "if2")
	f.ok(t, "chassis", "create", "hv1", "--ovsdb", "tcp:198.18.255.11:6640", "--tunnel-ip", "198.18.1.11")
	f.ok(t, "gateway", "create", "gw1", "--ovsdb", "tcp:198.18.255.31:6640")
	f.st.SetGateway("gw1", model.GatewayStatus{Connected: true, Ports: []model.GatewayPort{{Name: "p0"}, {Name: "Ethernet1/1"}}})
	f.ok(t, "binding", "create", "blue", "--gateway", "gw1", "--port", "p0", "--vlan", "100")
	const noFiles = ":4" // cobra.ShellCompDirectiveNoFileComp
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"switch", "show", ""}, "black blue red"},
		{[]string{"switch", "rm", "bl"}, "black blue"},
		{[]string{"port", "show", "blue", ""}, "vm1 vm2"},
		{[]string{"port", "create", ""}, "black blue red"},
		{[]string{"port", "create", "blue", ""}, ""}, // a new name
		{[]string{"chassis", "show", ""}, "hv1"},
		{[]string{"gateway", "macs", ""}, "gw1"},
		{[]string{"binding", "create", "blue", "--gateway", ""}, "gw1"},
		{[]string{"binding", "create", "blue", "--gateway", "gw1", "--port", ""}, "Ethernet1/1 p0"},
		{[]string{"binding", "delete", "blue", "gw1", "p0", ""}, "100"},
		{[]string{"switch", "create", "x", "--encap", ""}, "vxlan gre"},
		{[]string{"status", "-o", ""}, "table json yaml wide"},
		{[]string{"completion", ""}, "bash zsh fish"},
		{[]string{"help", "sw"}, "switch"},
	} {
		names, directive := f.complete(t, c.args...)
		if got := strings.Join(names, " "); got != c.want || directive != noFiles {
			t.Errorf("__complete %q: %q %s, want %q %s", c.args, got, directive, c.want, noFiles)
		}
	}
	// The names come from the server named on the line, with its token.
	t.Setenv(EnvServer, "http://127.0.0.1:1")
	if code, out, _ := run("__complete", "--server", f.url, "--token", "t0k", "switch", "show", ""); code != 0 || !strings.Contains(out, "blue\n") {
		t.Errorf("__complete --server: %d %q", code, out)
	}
	if got := f.lastAuth(); got != "Bearer t0k" {
		t.Errorf("__complete --token: Authorization %q", got)
	}
	// Unreachable: no names, no error.
	if code, out, errs := run("__complete", "switch", "show", ""); code != 0 || out != noFiles+"\n" {
		t.Errorf("__complete without a server: %d %q %q", code, out, errs)
	}
	for shell, marker := range map[string]string{"bash": "__start_ferryctl", "zsh": "#compdef ferryctl", "fish": "complete -c ferryctl"} {
		if out := f.ok(t, "completion", shell); !strings.Contains(out, marker) {
			t.Errorf("completion %s lacks %q", shell, marker)
		}
	}
	f.fails(t, ExitUsage, `completion: "tcsh": use bash, zsh or fish`, "completion", "tcsh")
}

func TestVersionCommand(t *testing.T) {
	f := newFixture(t)
	v := version.Get()
	wantLines(t, f.ok(t, "version"), "Client: ferryctl "+v.String(), "Server: ferryd "+v.String())
	if out := f.ok(t, "version", "--client", "--server", "http://127.0.0.1:1"); out != "Client:  ferryctl "+v.String()+"\n" {
		t.Errorf("version --client: %q", out)
	}
	if out := f.ok(t, "--version"); out != "ferryctl "+v.String()+"\n" {
		t.Errorf("--version: %q", out)
	}
	var got versions
	if err := json.Unmarshal([]byte(f.ok(t, "version", "-o", "json")), &got); err != nil || got.Client != v || got.Server == nil || *got.Server != v {
		t.Errorf("version -o json: %+v %v", got, err)
	}
	// An older ferryd: the client's version, and why the server's is missing.
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"no such resource: /v1/version"}`))
	}))
	defer old.Close()
	code, out, errs := run("--server", old.URL, "version")
	if code != ExitError || out != "Client:  ferryctl "+v.String()+"\n" ||
		errs != "ferryctl: ferryd at "+old.URL+" does not tell its version (no GET /v1/version): it is older than this ferryctl\n" {
		t.Errorf("version against an old ferryd: %d %q %q", code, out, errs)
	}
}

func TestMan(t *testing.T) {
	dir := t.TempDir()
	if code, out, errs := run("man", dir); code != 0 || out != "" || errs != "" {
		t.Fatalf("man: %d %q %q", code, out, errs)
	}
	for _, page := range []string{"ferryctl.1", "ferryctl-switch-create.1", "ferryctl-gateway-macs.1", "ferryctl-show.1", "ferryctl-completion.1"} {
		data, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil || !strings.Contains(string(data), ".TH \"FERRYCTL\" \"1\"") {
			t.Errorf("%s: %v\n%.300s", page, err, data)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "ferryctl-switch-create.1"))
	if !strings.Contains(string(data), "may-exist") {
		t.Errorf("switch create's page lacks its flags:\n%s", data)
	}
	if _, err := os.Stat(filepath.Join(dir, "ferryctl-man.1")); err == nil {
		t.Error("the hidden man command has a page")
	}
	// Not in the help either.
	if _, out, _ := run("help"); strings.Contains(out, "man DIR") {
		t.Error("help lists the hidden man command")
	}
	if code, _, _ := run("man"); code != ExitUsage {
		t.Errorf("man without a directory: exit %d", code)
	}
}

// TestYAMLKeys: -o yaml has the JSON's keys, so that scripts can switch
// between the two.
func TestYAMLKeys(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "switch", "create", "blue", "--vni", "1001")
	f.ok(t, "port", "create", "blue", "vm1", "--iface-id", "if1", "--mac", "02:00:00:00:00:01")
	out := f.ok(t, "port", "show", "blue", "vm1", "-o", "yaml")
	for _, l := range []string{"name: vm1", "iface_id: if1", `mac: "02:00:00:00:00:01"`, "status:", "  bound: false", "  port_security: false"} {
		if !strings.Contains(out, l+"\n") {
			t.Errorf("port show -o yaml lacks %q:\n%s", l, out)
		}
	}
	// Confirmations are left out, as with -o json: the output is the object.
	if out := f.ok(t, "switch", "delete", "blue", "-o", "yaml"); out != "" {
		t.Errorf("delete -o yaml printed %q", out)
	}
	// status holds the four documents.
	out = f.ok(t, "status", "-o", "yaml")
	for _, k := range []string{"chassis:", "gateways:", "health:", "switches:"} {
		if !strings.Contains(out, "\n"+k) && !strings.HasPrefix(out, k) {
			t.Errorf("status -o yaml lacks %q:\n%s", k, out)
		}
	}
}

// Against an older ferryd whose gateway has no macs route, gateway macs
// says so.
func TestGatewayMACsUnsupported(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "gateway", "create", "gw1", "--ovsdb", "tcp:198.18.255.31:6640")
	if out := f.ok(t, "gateway", "macs", "gw1"); out != "No MACs on gateway gw1.\n" {
		t.Errorf("no MACs: %q", out)
	}
	f.fails(t, ExitError, `gateway "gw9" not found (HTTP 404)`, "gateway", "macs", "gw9")
	h := rest.NewHandler(f.b, f.st, nil, nil)
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/macs") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"no such resource: ` + r.URL.Path + `"}`))
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer old.Close()
	f.url = old.URL
	f.fails(t, ExitError, "this ferryd does not list gateway MACs (no GET /v1/gateways/{name}/macs): it is older than this ferryctl", "gateway", "macs", "gw1")
}

// TestChassisSet changes a chassis through PATCH: only the flags given
// are sent, an empty --openflow-peers clears them, and a call with
// nothing to change is a usage error that sends nothing.
func TestChassisSet(t *testing.T) {
	f := newFixture(t)
	f.ok(t, "chassis", "create", "hv1", "--ovsdb", "tcp:198.18.255.11:6640", "--tunnel-ip", "198.18.1.11", "--openflow-peers", "198.18.1.12")
	f.ok(t, "chassis", "create", "hv2", "--ovsdb", "tcp:198.18.255.12:6640", "--tunnel-ip", "198.18.2.12")
	f.golden(t, "chassis-set", f.ok(t, "chassis", "set", "hv1", "--tunnel-ip", "198.18.1.21", "--encaps", "gre", "--underlay-mtu", "9000", "--openflow-peers", ""))
	var ch struct {
		TunnelIP      string   `json:"tunnel_ip"`
		OVSDB         string   `json:"ovsdb"`
		Encaps        []string `json:"encaps"`
		UnderlayMTU   int      `json:"underlay_mtu"`
		OpenFlowPeers []string `json:"openflow_peers"`
	}
	if err := json.Unmarshal([]byte(f.ok(t, "chassis", "show", "hv1", "-o", "json")), &ch); err != nil {
		t.Fatal(err)
	}
	if ch.TunnelIP != "198.18.1.21" || ch.OVSDB != "tcp:198.18.255.11:6640" || strings.Join(ch.Encaps, ",") != "gre" ||
		ch.UnderlayMTU != 9000 || len(ch.OpenFlowPeers) != 0 {
		t.Errorf("after set: %+v", ch)
	}
	if errs := f.stderr(t, ExitUsage, "chassis", "set", "hv1"); !strings.Contains(errs, "nothing to change") {
		t.Errorf("set without flags: %q", errs)
	}
	if errs := f.stderr(t, ExitError, "chassis", "set", "hv1", "--tunnel-ip", "198.18.2.12"); !strings.Contains(errs, "hv2") {
		t.Errorf("set to hv2's tunnel IP: %q", errs)
	}
	if errs := f.stderr(t, ExitError, "chassis", "set", "hv3", "--underlay-mtu", "1600"); !strings.Contains(errs, "hv3") {
		t.Errorf("set of a missing chassis: %q", errs)
	}
}

// TestReplicaOutputs pins what an operator of several replicas reads: the
// replica list, and status with an OWNER column once devices have owners
// (without owners, status is as golden "status" pins it).
func TestReplicaOutputs(t *testing.T) {
	f := newFixture(t)
	f.golden(t, "replica-list-none", f.ok(t, "replica", "list"))
	f.estate(t)
	f.st.SetReplicas([]api.Replica{
		{ID: "a", API: "http://198.18.255.1:8470", OpenFlow: "tcp:198.18.255.1:6653", Started: "2026-12-03T17:00:00Z", Self: true, Healthy: true,
			Devices: []string{"chassis/hv1", "gateway/gw1"}},
		{ID: "b", OpenFlow: "tcp:198.18.255.2:6653", Started: "2026-12-03T17:00:01Z", Healthy: true, Devices: []string{"chassis/hv2"}},
	})
	hv1 := f.st.Chassis("hv1")
	hv1.Owner = "a"
	f.st.SetChassis("hv1", hv1)
	hv2 := f.st.Chassis("hv2")
	hv2.Owner = "b"
	f.st.SetChassis("hv2", hv2)
	gw1 := f.st.Gateway("gw1")
	gw1.Owner = "a"
	f.st.SetGateway("gw1", gw1)
	f.golden(t, "replica-list", f.ok(t, "replica", "ls"))
	f.golden(t, "replica-list-wide", f.ok(t, "replica", "list", "-o", "wide"))
	f.golden(t, "status-owners", f.ok(t, "status"))
}
