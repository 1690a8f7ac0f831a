package cli

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-sdn/ferry/rest/api"
)

// Shell completion: cobra writes the bash, zsh and fish scripts, which
// call `ferryctl __complete ARGS...`; the names of switches, ports,
// chassis and gateways come from the API then, with the --server and
// --token on the line being completed (or the environment).

// completionTimeout bounds the requests of one completion: a shell that
// waits longer than this for a name is worse than no name.
const completionTimeout = 3 * time.Second

// argKind is what a positional argument or a flag names.
type argKind int

const (
	noArg argKind = iota
	switchArg
	portArg // a port of the switch in the first argument
	chassisArg
	gatewayArg
	gatewayPortArg // a port of the gateway in the second argument (or --gateway)
	vlanArg        // a VLAN bound on the switch, gateway and port before it
)

// argKinds says what c's positional arguments name: completion offers
// those names, and a 404 suggests the closest.
func (a *app) argKinds(c *cobra.Command, kinds ...argKind) {
	c.ValidArgsFunction = a.completeArgs(kinds...)
	if a.kinds == nil {
		a.kinds = map[*cobra.Command][]argKind{}
	}
	a.kinds[c] = kinds
}

// hintError is an error with a line of advice printed after it: the
// error's own line stays what the server said, for scripts that match it.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// suggestObject adds "did you mean" to a 404 about an argument that names
// no existing object, when one is spelt close to it.
func (a *app) suggestObject(c *cobra.Command, pos []string, err error) error {
	var se *serverError
	if !errors.As(err, &se) || se.Code != http.StatusNotFound {
		return err
	}
	kinds := a.kinds[c]
	for i := 0; i < len(pos) && i < len(kinds); i++ {
		names := a.names(c, kinds[i], pos[:i], "")
		if names == nil || slices.Contains(names, pos[i]) {
			continue
		}
		var close []string
		for _, n := range names {
			if distance(pos[i], n) <= suggestDistance {
				close = append(close, n)
			}
		}
		if len(close) == 0 {
			return err
		}
		return &hintError{err: err, hint: "Did you mean " + orList(close) + "?"}
	}
	return err
}

// completeArgs completes positional arguments: kinds[i] says what the
// i-th names.
func (a *app) completeArgs(kinds ...argKind) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) >= len(kinds) {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return filter(a.names(c, kinds[len(args)], args, ""), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeFlag completes a flag's value; from names the flag whose value
// scopes it (--port's --gateway).
func (a *app) completeFlag(kind argKind, from string) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		scope := ""
		if from != "" {
			scope, _ = c.Flags().GetString(from)
		}
		return filter(a.names(c, kind, args, scope), prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

// fixed completes a flag from a fixed list.
func fixed(values ...string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return filter(values, prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

func filter(names []string, prefix string) []cobra.Completion {
	var out []cobra.Completion
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}

// names asks the API for the names of kind; nothing when it cannot be
// reached: completion never fails loudly.
func (a *app) names(c *cobra.Command, kind argKind, args []string, scope string) []string {
	cl, err := a.newClient(c)
	if err != nil || kind == noArg {
		return nil
	}
	ctx, cancel := context.WithTimeout(a.ctx, completionTimeout)
	defer cancel()
	get := func(p string, v any) bool {
		data, err := cl.do(ctx, http.MethodGet, p, nil)
		return err == nil && decode(data, v) == nil
	}
	var names []string
	switch kind {
	case switchArg:
		var sws []api.Switch
		if get("/v1/switches", &sws) {
			for _, sw := range sws {
				names = append(names, sw.Name)
			}
		}
	case portArg:
		var sw api.Switch
		if len(args) > 0 && get(path("v1", "switches", args[0]), &sw) {
			names = sw.Ports
		}
	case chassisArg:
		var chs []api.Chassis
		if get("/v1/chassis", &chs) {
			for _, ch := range chs {
				names = append(names, ch.Name)
			}
		}
	case gatewayArg:
		var gws []api.Gateway
		if get("/v1/gateways", &gws) {
			for _, g := range gws {
				names = append(names, g.Name)
			}
		}
	case gatewayPortArg:
		if scope == "" && len(args) > 1 {
			scope = args[1]
		}
		var g api.Gateway
		if scope != "" && get(path("v1", "gateways", scope), &g) {
			for _, p := range g.Status.Ports {
				names = append(names, p.Name)
			}
		}
	case vlanArg:
		var bs []api.Binding
		if len(args) > 2 && get(path("v1", "switches", args[0], "bindings"), &bs) {
			for _, b := range bs {
				if b.Gateway == args[1] && b.Port == args[2] {
					names = append(names, itoa(b.VLAN))
				}
			}
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(names)))
}

// completionCmd is cobra's completion command with ferry's install lines.
func (a *app) completionCmd() *cobra.Command {
	shells := map[string]func(c *cobra.Command) error{
		"bash": func(c *cobra.Command) error { return c.Root().GenBashCompletionV2(c.OutOrStdout(), true) },
		"zsh":  func(c *cobra.Command) error { return c.Root().GenZshCompletion(c.OutOrStdout()) },
		"fish": func(c *cobra.Command) error { return c.Root().GenFishCompletion(c.OutOrStdout(), true) },
	}
	c := &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "print the shell completion script (names of switches, ports, chassis and gateways come from the API)",
		Long: `Load completion into the current shell:
  bash:  source <(ferryctl completion bash)
  zsh:   source <(ferryctl completion zsh)
  fish:  ferryctl completion fish | source
Install it for every shell:
  bash:  ferryctl completion bash > /etc/bash_completion.d/ferryctl
  zsh:   ferryctl completion zsh > "${fpath[1]}/_ferryctl"
  fish:  ferryctl completion fish > ~/.config/fish/completions/ferryctl.fish`,
		Args:                  cobra.ArbitraryArgs,
		DisableFlagsInUseLine: true,
		ValidArgs:             []cobra.Completion{"bash", "zsh", "fish"},
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		a.cmd = c
		switch {
		case len(args) == 0:
			return a.usage("missing the shell: bash, zsh or fish")
		case len(args) > 1:
			return a.usage("unexpected argument %q", args[1])
		}
		gen, ok := shells[args[0]]
		if !ok {
			return a.usage("%q: use bash, zsh or fish", args[0])
		}
		return gen(c)
	}
	return c
}
