package deps

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ferry-sdn/ferry"

type pkg struct {
	ImportPath string
	Imports    []string
}

// rules: package (prefix) → forbidden import prefixes.
var rules = []struct {
	pkg       string
	forbidden []string
	why       string
}{
	{module + "/internal/realize", []string{
		"os", "os/exec", "net/http", "time", "syscall",
		"github.com/ovn-kubernetes/libovsdb/client",
		module + "/internal/reconcile", module + "/rest", module + "/internal/nbdb",
	}, "Desired/Diff are pure: no I/O, no clock, no clients"},
	{module + "/rest", []string{
		module + "/openflow", module + "/internal/reconcile", module + "/ovsdb/vswitch",
		module + "/vtep", "antrea.io/",
	}, "the REST layer never talks to devices"},
	{module + "/ovsdb", []string{module + "/internal", module + "/rest", module + "/openflow", module + "/vtep"}, "ovsdb is a leaf"},
	{module + "/openflow", []string{module + "/internal", module + "/rest", module + "/ovsdb", module + "/vtep"}, "openflow is a leaf"},
	{module + "/vtep", []string{module + "/internal", module + "/rest", module + "/openflow"}, "vtep is a leaf"},
	{module + "/internal/model", []string{module + "/", "github.com/", "antrea.io/"}, "model is plain data"},
}

func TestDependencyDirection(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		for _, r := range rules {
			if p.ImportPath != r.pkg && !strings.HasPrefix(p.ImportPath, r.pkg+"/") {
				continue
			}
			for _, imp := range p.Imports {
				for _, f := range r.forbidden {
					if forbids(f, imp) {
						t.Errorf("%s imports %s: %s", p.ImportPath, imp, r.why)
					}
				}
			}
		}
	}
	if seen < 5 {
		t.Fatalf("go list saw only %d packages", seen)
	}
}

// forbids: a standard library entry forbids exactly that package; a module
// path forbids the package and everything under it; a trailing slash
// forbids the prefix.
func forbids(rule, imp string) bool {
	switch {
	case strings.HasSuffix(rule, "/"):
		return strings.HasPrefix(imp, rule)
	case !strings.Contains(strings.SplitN(rule, "/", 2)[0], "."):
		return imp == rule
	default:
		return imp == rule || strings.HasPrefix(imp, rule+"/")
	}
}
