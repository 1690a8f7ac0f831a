package cli

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	"github.com/ferry-sdn/ferry/rest"
	"github.com/ferry-sdn/ferry/rest/api"
)

const switchesYAML = `# two switches, kubectl-style
name: blue
vni: 1001
ports:
  - name: vm1
    iface_id: if-1
    mac: "02:00:00:00:00:01"
    port_security: true
    ips: ["2001:db8::1", 198.18.100.1]
  - {name: vm2, iface_id: if-2}
---
- name: red
  encap: gre
  ports: [{name: vm3, iface_id: if-3}]
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApply(t *testing.T) {
	f := newFixture(t)
	file := writeFile(t, "switches.yaml", switchesYAML)
	if out := f.ok(t, "apply", "-f", file); out != "switch/blue created\nswitch/red created\n" {
		t.Fatalf("first apply: %q", out)
	}
	if out := f.ok(t, "apply", "--filename", file); out != "switch/blue unchanged\nswitch/red unchanged\n" {
		t.Fatalf("second apply: %q", out)
	}
	snap := f.b.Snapshot()
	blue, _ := snap.Switch("blue")
	red, _ := snap.Switch("red")
	if blue.VNI != 1001 || len(blue.Ports) != 2 || blue.Ports[0].MAC.String() != "02:00:00:00:00:01" || red.Encap != "gre" || len(red.Ports) != 1 {
		t.Fatalf("applied blue %+v, red %+v", blue, red)
	}
	if vm1 := blue.Ports[0]; vm1.PortSecurity == nil || !*vm1.PortSecurity || len(vm1.IPs) != 2 || vm1.IPs[0].String() != "198.18.100.1" {
		t.Fatalf("applied vm1 %+v", vm1)
	}

	// JSON, a list, -o json: the server's answers as a JSON array.
	jsonFile := writeFile(t, "switches.json", `[{"name":"blue","vni":1001,"ports":[{"name":"vm1","iface_id":"if-1"}]}]`)
	var out []api.Switch
	if err := json.Unmarshal([]byte(f.ok(t, "apply", "-f", jsonFile, "-o", "json")), &out); err != nil || len(out) != 1 || !slices.Equal(out[0].Ports, []string{"vm1"}) {
		t.Fatalf("-o json: %+v %v", out, err)
	}
}

// TestApplyRefused checks that mistakes in the file are found before
// anything is sent, and that a refusal by the server names the item.
func TestApplyRefused(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct{ name, content, msg string }{
		{"unknown field", "name: blue\ncolour: red\n", `unknown field "colour"`},
		{"no name", "vni: 5\n", "name: required"},
		{"list item", `[{"name":"a"},{"name":"b","ports":"x"}]`, "item 2: ports: must not be a JSON string"},
		{"second document", "name: a\n---\nname: b\nvni: [1]\n", "document 2: vni: must not be a JSON array"},
		{"bad yaml", "name: [\n", "document 1:"},
		{"empty", "# nothing\n", "no switch in the file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(f.requests())
			file := writeFile(t, "f.yaml", c.content)
			code, _, errs := f.run("apply", "-f", file)
			if code != ExitError || !strings.HasPrefix(errs, "ferryctl: "+file+": ") || !strings.Contains(errs, c.msg) {
				t.Fatalf("exit %d, stderr %q; want %q", code, errs, c.msg)
			}
			if n := len(f.requests()); n != before {
				t.Fatalf("a bad file reached the server: %d requests", n-before)
			}
		})
	}
	file := writeFile(t, "bad.yaml", "name: blue\nports:\n  - {name: vm1, iface_id: if-1}\n  - {name: vm2}\n")
	f.fails(t, ExitError, "switch blue: ports[1].iface_id: required (HTTP 400)", "apply", "-f", file)
	f.fails(t, ExitUsage, "apply: missing -f FILE", "apply")
}

// TestApplyWithNorthbound runs apply against the real store, on
// libovsdb's in-memory server and on ovsdb-server: the second apply of the
// same file sends no transaction.
func TestApplyWithNorthbound(t *testing.T) {
	t.Setenv(EnvServer, "")
	t.Setenv(EnvToken, "")
	t.Run("inmemory", func(t *testing.T) { applyWithNorthbound(t, nbdbtest.InMemory(t)) })
	t.Run("ovsdb-server", func(t *testing.T) { applyWithNorthbound(t, nbdbtest.OVSDBServer(t)) })
}

func applyWithNorthbound(t *testing.T, endpoint string) {
	db := nbdbtest.New(t, endpoint)
	srv := httptest.NewServer(rest.NewHandler(db, nil, nil, nil))
	t.Cleanup(srv.Close)
	file := writeFile(t, "switches.yaml", switchesYAML)
	for i, want := range []string{"created", "unchanged"} {
		code, out, errs := run("--server", srv.URL, "apply", "-f", file)
		if code != ExitOK || out != "switch/blue "+want+"\nswitch/red "+want+"\n" {
			t.Fatalf("apply %d: exit %d, %q %q", i+1, code, out, errs)
		}
		if g := db.Snapshot().Generation; g != 2 {
			t.Fatalf("apply %d: generation %d, want 2 (one per created switch)", i+1, g)
		}
	}
	for _, c := range [][2]string{{"if-2", "if-9"}, {"port_security: true", "port_security: false"}, {`198.18.100.1]`, `198.18.100.2]`}} {
		changed := strings.Replace(switchesYAML, c[0], c[1], 1)
		code, out, _ := run("--server", srv.URL, "apply", "-f", writeFile(t, "changed.yaml", changed))
		if code != ExitOK || out != "switch/blue configured\nswitch/red unchanged\n" {
			t.Fatalf("apply with %s: exit %d, %q", c[1], code, out)
		}
	}
}
