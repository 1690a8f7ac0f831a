package cli

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/api"
)

// errPlanned ends a write command run with --dry-run once the server's
// plan is printed: the command's own confirmation would be a lie.
var errPlanned = errors.New("dry run: planned")

// dryRunFlag gives a write command --dry-run: the write goes with
// ?dry_run=true, and ferryctl prints the plan instead of the result.
func (a *app) dryRunFlag(c *cobra.Command) {
	c.Flags().BoolVar(&a.opts.dryRun, "dry-run", false, "ask ferryd what the change would do on every device and commit nothing (needs the admin role)")
}

// dryRun sends a write as a dry run and returns its answer.
func (a *app) dryRun(method, p string, in any) (api.DryRun, []byte, error) {
	sep := "?"
	if strings.Contains(p, "?") {
		sep = "&"
	}
	data, err := a.call(method, p+sep+"dry_run=true", in)
	if err != nil {
		return api.DryRun{}, nil, err
	}
	var dr api.DryRun
	if err := decode(data, &dr); err != nil {
		return api.DryRun{}, nil, err
	}
	if !dr.DryRun {
		// An older ferryd ignores the parameter: it has written.
		return dr, data, errors.New("this ferryd does not do dry runs (it is older than this ferryctl): the change was applied")
	}
	return dr, data, nil
}

// callPlanned is call for a write under --dry-run: it prints the plan and
// ends the command with errPlanned.
func (a *app) callPlanned(method, p string, in any) error {
	dr, data, err := a.dryRun(method, p, in)
	if err != nil {
		return err
	}
	if a.machine() {
		err = a.write(data)
	} else {
		err = a.printPlan(fmt.Sprintf("%s %s", method, p), dr)
	}
	if err != nil {
		return err
	}
	return errPlanned
}

// printPlan prints a dry run's answer readably.
func (a *app) printPlan(what string, dr api.DryRun) error {
	w := a.stdout
	p := dr.Plan
	fmt.Fprintf(w, "dry run of %s: nothing committed; the write would answer %d %s\n", what, dr.Status, http.StatusText(dr.Status))
	if len(p.Switches) > 0 {
		fmt.Fprintf(w, "switches whose state changes: %s\n", strings.Join(p.Switches, ", "))
	} else {
		fmt.Fprintln(w, "no switch's state changes")
	}
	for _, d := range p.Devices {
		printDevicePlan(a, d)
	}
	_, err := fmt.Fprintf(w, "%d %s unchanged\n", p.Unchanged, plural(p.Unchanged, "device"))
	return err
}

func printDevicePlan(a *app, d model.DevicePlan) {
	w := a.stdout
	exact := "exact"
	if !d.Exact {
		exact = "from scratch"
	}
	summary := fmt.Sprintf("%d OVSDB %s", len(d.OVSDB), plural(len(d.OVSDB), "operation"))
	if f := d.Flows; f != nil {
		summary = fmt.Sprintf("%d flows added, %d deleted; %d groups added, %d modified, %d deleted; ",
			len(f.AddFlows), len(f.DeleteFlows), len(f.AddGroups), len(f.ModifyGroups), len(f.DeleteGroups)) + summary
	}
	fmt.Fprintf(w, "%s/%s (%s): %s\n", d.Kind, d.Name, exact, summary)
	if d.Note != "" {
		fmt.Fprintf(w, "  note: %s\n", d.Note)
	}
	if len(d.Recomputed) > 0 {
		fmt.Fprintf(w, "  recomputes: %s\n", strings.Join(d.Recomputed, ", "))
	}
	for _, op := range d.OVSDB {
		fmt.Fprintf(w, "  ovsdb: %s\n", op)
	}
	if f := d.Flows; f != nil {
		for _, l := range f.AddFlows {
			fmt.Fprintf(w, "  + %s\n", l)
		}
		for _, l := range f.DeleteFlows {
			fmt.Fprintf(w, "  - %s\n", l)
		}
		for _, l := range f.AddGroups {
			fmt.Fprintf(w, "  + %s\n", l)
		}
		for _, l := range f.ModifyGroups {
			fmt.Fprintf(w, "  ~ %s\n", l)
		}
		for _, l := range f.DeleteGroups {
			fmt.Fprintf(w, "  - %s\n", l)
		}
	}
}

// diffCmd is apply -f as a dry run: per switch of the file, what applying
// it would change. Each switch is planned against the current state, not
// after the file's earlier switches (they are not applied).
func (a *app) diffCmd() *cobra.Command {
	var file string
	c := a.leaf("diff -f FILE",
		"show what apply -f FILE would change on every device, committing nothing (admin; exits 1 when something would change)",
		func([]string) error { return a.diff(file) })
	c.Flags().StringVarP(&file, "filename", "f", "", "the `FILE` of switches (-: standard input)")
	_ = c.MarkFlagFilename("filename", "json", "yaml", "yml")
	return c
}

func (a *app) diff(file string) error {
	specs, err := a.readSpecs(file)
	if err != nil {
		return err
	}
	var out [][]byte
	changing := 0
	for _, spec := range specs {
		dr, data, err := a.dryRun(http.MethodPut, path("v1", "switches", spec.Name), spec)
		if err != nil {
			return fmt.Errorf("switch %s: %w", spec.Name, err)
		}
		out = append(out, data)
		if len(dr.Plan.Switches) > 0 || dr.Status == http.StatusCreated {
			changing++
		}
		if !a.machine() {
			if err := a.printPlan("switch/"+spec.Name, dr); err != nil {
				return err
			}
		}
	}
	if a.machine() {
		if err := a.write(fmt.Appendf(nil, "[%s]\n", joinJSON(out))); err != nil {
			return err
		}
	}
	if changing > 0 {
		return fmt.Errorf("%d of %d %s would change", changing, len(specs), plural(len(specs), "switch"))
	}
	return a.say("no switch would change")
}
