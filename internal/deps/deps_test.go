package deps

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ferry-sdn/ferry"

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

// rules: package (prefix) → forbidden imports. direct is checked against
// the package's own imports: standard packages such as os and time are
// linked by almost everything (fmt imports os), so only importing them is
// wrong. linked is checked against everything the package links (go list
// -deps), so that a rule cannot be dodged through a third package.
var rules = []struct {
	pkg    string
	direct []string
	linked []string
	why    string
	// skip, when set, says why the linked rule cannot hold yet.
	skip string
}{
	{
		pkg:    module + "/internal/realize",
		direct: []string{"os", "os/exec", "net/http", "time", "syscall"},
		linked: []string{"os/exec", "net/http", "github.com/ovn-kubernetes/libovsdb/client",
			module + "/internal/reconcile", module + "/rest", module + "/internal/nbdb"},
		why: "Desired/Diff are pure: no I/O, no clock, no clients",
	},
	{
		pkg:    module + "/internal/trace",
		direct: []string{"os", "os/exec", "net/http", "time", "syscall"},
		linked: []string{"os/exec", "net/http", "github.com/ovn-kubernetes/libovsdb/client",
			module + "/internal/reconcile", module + "/rest", module + "/internal/nbdb"},
		why: "the packet trace is pure like realize: reconcile runs ofproto/trace and hands it the devices' state",
	},
	{
		pkg:    module + "/cmd/ferryctl",
		linked: []string{"=" + module + "/internal/nbdb", "github.com/ovn-kubernetes/libovsdb/", "github.com/prometheus/", "=" + module + "/rest", "=" + module + "/ovsdb"},
		why:    "ferryctl is a REST client: it shares rest/api and ovsdb/target, not the server, the store or an OVSDB client",
	},
	{
		pkg: module + "/rest",
		linked: []string{module + "/openflow", module + "/internal/reconcile", module + "/ovsdb/vswitch",
			module + "/vtep", "antrea.io/"},
		why: "the REST layer never talks to devices",
	},
	{
		pkg:    module + "/ovsdb",
		linked: []string{module + "/internal/", module + "/rest", module + "/openflow", module + "/vtep"},
		why:    "ovsdb is a leaf",
	},
	{
		pkg:    module + "/openflow",
		linked: []string{module + "/internal/", module + "/rest", module + "/ovsdb", module + "/vtep"},
		why:    "openflow is a leaf",
	},
	{
		pkg:    module + "/vtep",
		linked: []string{module + "/internal/", module + "/rest", module + "/openflow", "github.com/ovn-kubernetes/libovsdb/client"},
		why:    "vtep is a leaf, and builds operations without a client (only reconcile sends them)",
	},
	{
		pkg:    module + "/hypervisor",
		linked: []string{module + "/internal/", module + "/rest", module + "/openflow", module + "/vtep", "github.com/ovn-kubernetes/libovsdb/client"},
		why:    "hypervisor is a leaf, and builds operations without a client (only reconcile sends them)",
	},
	{
		pkg: module + "/internal/replica",
		linked: []string{module + "/ovsdb", "github.com/ovn-kubernetes/libovsdb/", module + "/rest", module + "/openflow",
			module + "/internal/reconcile", module + "/internal/nbdb"},
		why: "replica decides ownership through its Locks and Store interfaces, so that it is tested against a model of RFC 7047's lock table",
	},
	{
		pkg:    module + "/internal/model",
		linked: []string{module + "/", "github.com/", "antrea.io/"},
		why:    "model is plain data",
	},
}

// graph is every package the module links, with its imports.
func graph(t *testing.T) map[string]pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	g := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		g[p.ImportPath] = p
	}
	return g
}

// chain returns the shortest import chain from pkg to a package forbid
// matches, or nil.
func chain(g map[string]pkg, from, forbid string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, imp := range g[cur].Imports {
			if _, seen := prev[imp]; seen {
				continue
			}
			prev[imp] = cur
			if forbids(forbid, imp) {
				var path []string
				for p := imp; p != ""; p = prev[p] {
					path = append(path, p)
				}
				slices.Reverse(path)
				return path
			}
			queue = append(queue, imp)
		}
	}
	return nil
}

func TestDependencyDirection(t *testing.T) {
	g := graph(t)
	var own []string
	for path := range g {
		if path == module || strings.HasPrefix(path, module+"/") {
			own = append(own, path)
		}
	}
	if len(own) < 5 {
		t.Fatalf("go list saw only %d packages of the module", len(own))
	}
	slices.Sort(own)
	for _, r := range rules {
		t.Run(strings.TrimPrefix(r.pkg, module+"/"), func(t *testing.T) {
			matched := 0
			for _, path := range own {
				if path != r.pkg && !strings.HasPrefix(path, r.pkg+"/") {
					continue
				}
				matched++
				for _, imp := range g[path].Imports {
					for _, f := range r.direct {
						if forbids(f, imp) {
							t.Errorf("%s imports %s: %s", path, imp, r.why)
						}
					}
				}
				if r.skip != "" {
					continue
				}
				for _, f := range r.linked {
					if c := chain(g, path, f); c != nil {
						t.Errorf("%s links %s (%s): %s", path, c[len(c)-1], strings.Join(c, " → "), r.why)
					}
				}
			}
			if matched == 0 {
				t.Fatalf("no package matches %s", r.pkg)
			}
			if r.skip != "" {
				t.Skip("linked-imports rule skipped: " + r.skip)
			}
		})
	}
}

// TestChain checks the checker: it must find a rule broken through a
// third package.
func TestChain(t *testing.T) {
	g := map[string]pkg{
		"a": {ImportPath: "a", Imports: []string{"b", "fmt"}},
		"b": {ImportPath: "b", Imports: []string{"c/client"}},
	}
	if c := chain(g, "a", "c/"); !slices.Equal(c, []string{"a", "b", "c/client"}) {
		t.Fatalf("chain = %v", c)
	}
	if c := chain(g, "a", "=c"); c != nil {
		t.Fatalf("exact rule matched a sub-package: %v", c)
	}
}

// forbids: "=path" forbids exactly that package; a standard library entry
// forbids exactly that package; a module path forbids the package and
// everything under it; a trailing slash forbids the prefix.
func forbids(rule, imp string) bool {
	switch {
	case strings.HasPrefix(rule, "="):
		return imp == rule[1:]
	case strings.HasSuffix(rule, "/"):
		return strings.HasPrefix(imp, rule)
	case !strings.Contains(strings.SplitN(rule, "/", 2)[0], "."):
		return imp == rule
	default:
		return imp == rule || strings.HasPrefix(imp, rule+"/")
	}
}
