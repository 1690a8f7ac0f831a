package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ferry-sdn/ferry/internal/version"
)

// Exit codes of Run.
const (
	ExitOK    = 0
	ExitError = 1 // the server refused or could not be reached; wait timed out
	ExitUsage = 2
)

// DefaultServer is where ferryd serves its API unless told otherwise.
const DefaultServer = "http://127.0.0.1:8470"

// Environment variables that set --server and --token.
const (
	EnvServer = "FERRY_SERVER"
	EnvToken  = "FERRY_TOKEN"
)

const defaultTimeout = 30 * time.Second

// Output formats of -o.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatYAML  = "yaml"
	formatWide  = "wide"
)

var formats = []string{formatTable, formatJSON, formatYAML, formatWide}

// suggestDistance is how many edits away a command or flag may be to be
// suggested for a misspelt one (cobra's default).
const suggestDistance = 2

// rootUse is the usage line of ferryctl itself.
const rootUse = "ferryctl [global flags] COMMAND [flags] [ARGS]"

func init() {
	// Help lists commands in the order they are declared: nouns by how
	// often they are used, verbs create, list, show, delete.
	cobra.EnableCommandSorting = false
}

// options are the global flags.
type options struct {
	server  string
	token   string
	output  string
	timeout time.Duration
	dryRun  bool // --dry-run of a write command
}

// app is one invocation of ferryctl.
type app struct {
	ctx            context.Context
	stdout, stderr io.Writer
	opts           options
	cmd            *cobra.Command               // the command being run, for its usage line
	waitVerified   bool                         // wait --verified
	c              *client                      // set by setup
	kinds          map[*cobra.Command][]argKind // what positional arguments name (argKinds)
	hc             *http.Client                 // from Options; nil: a plain one
}

// usageError is a mistake on the command line: exit 2, with a usage line.
type usageError struct {
	msg string
	cmd *cobra.Command // whose usage line is shown; nil: ferryctl's
}

func (e *usageError) Error() string { return e.msg }

// Run runs ferryctl with args (without the program name), writing output
// to stdout and diagnostics to stderr, and returns the exit code. The
// environment supplies defaults for --server and --token.
func Run(args []string, stdout, stderr io.Writer) int {
	return RunContext(context.Background(), args, stdout, stderr)
}

// RunContext is Run with a context whose cancellation (Ctrl-C) interrupts
// the command.
func RunContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return RunWith(ctx, Options{}, args, stdout, stderr)
}

// Options adjust how RunWith reaches ferryd. The zero value is what the
// ferryctl binary uses.
type Options struct {
	// HTTPClient sends every API request; nil means a plain http.Client.
	// Tests set one whose dialer opens connections where ferryd listens,
	// e.g. inside the lab's management namespace.
	HTTPClient *http.Client
}

// RunWith is RunContext with Options.
func RunWith(ctx context.Context, opts Options, args []string, stdout, stderr io.Writer) int {
	a := &app{ctx: ctx, stdout: stdout, stderr: stderr, hc: opts.HTTPClient}
	root := a.root()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	_, err := root.ExecuteContextC(ctx)
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ferryctl: %s\nusage: %s\n", ue.msg, usageLine(ue.cmd))
		if noun := nounOf(ue.cmd); noun == "" {
			fmt.Fprintln(stderr, "Run 'ferryctl help' for every command.")
		} else {
			fmt.Fprintf(stderr, "Run 'ferryctl help %s' for details.\n", noun)
		}
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "ferryctl: %v\n", err)
		var he *hintError
		if errors.As(err, &he) {
			fmt.Fprintln(stderr, he.hint)
		}
		return ExitError
	}
}

// root builds the command tree of one invocation: flag values land in a.
func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   rootUse,
		Short: "drive ferry, the Open vSwitch controller, over its REST API",
		Long: "ferryctl drives ferry, the Open vSwitch controller, over its REST API,\n" +
			"and prepares a hypervisor's Open vSwitch for it (host join).",
		Args:                       cobra.ArbitraryArgs,
		SuggestionsMinimumDistance: suggestDistance,
		SilenceErrors:              true,
		SilenceUsage:               true,
		DisableFlagsInUseLine:      true,
		// Our own completion command, so that its help reads like ours.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &usageError{msg: "missing command"}
			}
			return &usageError{msg: fmt.Sprintf("unknown command %q%s", args[0], didYouMean(c.SuggestionsFor(args[0])))}
		},
	}
	// --version, as most commands have; `ferryctl version` also asks
	// the server.
	root.Version = version.Get().String()
	root.SetVersionTemplate("ferryctl {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&a.opts.server, "server", DefaultServer, "ferryd's REST API `URL` (env "+EnvServer+")")
	pf.StringVar(&a.opts.token, "token", "", "bearer `token` sent with every request (env "+EnvToken+")")
	pf.StringVarP(&a.opts.output, "output", "o", formatTable, "output `format`: "+strings.Join(formats, ", "))
	pf.DurationVar(&a.opts.timeout, "timeout", defaultTimeout, "give up after this `duration`, waits included (0: never)")
	_ = root.RegisterFlagCompletionFunc("output", fixed(formats...))
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return a.usageOf(c, "%s", flagError(c, err))
	})
	root.SetHelpFunc(func(c *cobra.Command, _ []string) { printHelp(c.OutOrStdout(), c) })
	root.SetHelpCommand(a.helpCmd())

	root.AddCommand(
		a.switchCmd(), a.portCmd(), a.chassisCmd(), a.gatewayCmd(), a.bindingCmd(), a.replicaCmd(),
		a.showCmd(), a.statusCmd(), a.waitCmd(), a.applyCmd(), a.diffCmd(), a.hostCmd(),
		a.traceCmd(), a.versionCmd(), a.completionCmd(), a.manCmd(),
	)
	return root
}

// noun returns a command that groups verbs (`ferryctl switch ...`). Run
// alone or with an unknown verb it is a usage error, with suggestions.
func noun(name, short string, verbs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:                        name,
		Short:                      short,
		Args:                       cobra.ArbitraryArgs,
		SuggestionsMinimumDistance: suggestDistance,
		DisableFlagsInUseLine:      true,
		RunE: func(c *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return &usageError{msg: name + ": missing subcommand", cmd: c}
			case args[0] == "help":
				printHelp(c.OutOrStdout(), c)
				return nil
			}
			return &usageError{msg: fmt.Sprintf("%s: unknown subcommand %q%s", name, args[0], didYouMean(c.SuggestionsFor(args[0]))), cmd: c}
		},
	}
	c.AddCommand(verbs...)
	return c
}

// leaf returns a command that runs. use is its usage line without
// "ferryctl NOUN": the leading upper-case words are the positional
// arguments, checked by setup, so that the usage line is also the
// specification. run gets the positional arguments.
func (a *app) leaf(use, short string, run func(pos []string) error) *cobra.Command {
	c := &cobra.Command{
		Use:                   use,
		Short:                 short,
		Args:                  cobra.ArbitraryArgs,
		DisableFlagsInUseLine: true,
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		if err := a.setup(c, args); err != nil {
			return err
		}
		err := run(args)
		if errors.Is(err, errPlanned) {
			return nil
		}
		return a.suggestObject(c, args, err)
	}
	return c
}

// positional returns the names of a command's positional arguments.
func positional(c *cobra.Command) []string {
	var names []string
	for _, f := range strings.Fields(c.Use)[1:] {
		if strings.HasPrefix(f, "-") || strings.HasPrefix(f, "[") {
			break
		}
		names = append(names, f)
	}
	return names
}

// setup checks the count of positional arguments against the usage line
// and the global flags' values, and sets up the client.
func (a *app) setup(c *cobra.Command, pos []string) error {
	a.cmd = c
	want := positional(c)
	switch {
	case len(pos) < len(want):
		return a.usage("missing %s", want[len(pos)])
	case len(pos) > len(want):
		return a.usage("unexpected argument %q", pos[len(want)])
	}
	for i, p := range pos {
		if p == "" {
			return a.usage("%s must not be empty", want[i])
		}
	}
	if !slices.Contains(formats, a.opts.output) {
		return a.usage("-o: %q is not a format: use %s", a.opts.output, orList(formats))
	}
	cl, err := a.newClient(c)
	if err != nil {
		return a.usage("--server: %v", err)
	}
	a.c = cl
	return nil
}

// newClient returns a client for the global flags, the environment
// filling in what they leave out.
func (a *app) newClient(c *cobra.Command) (*client, error) {
	server, token := a.opts.server, a.opts.token
	flags := c.Flags()
	if s := os.Getenv(EnvServer); s != "" && !flags.Changed("server") {
		server = s
	}
	if t := os.Getenv(EnvToken); t != "" && !flags.Changed("token") {
		token = t
	}
	return newClient(server, token, a.hc)
}

// require fails unless every named flag was given.
func (a *app) require(names ...string) error {
	for _, n := range names {
		if !a.cmd.Flags().Changed(n) {
			return a.usage("missing --%s", n)
		}
	}
	return nil
}

func (a *app) changed(name string) bool { return a.cmd.Flags().Changed(name) }

func (a *app) usage(format string, args ...any) error { return a.usageOf(a.cmd, format, args...) }

// usageOf is a usage error of c, prefixed with its name.
func (a *app) usageOf(c *cobra.Command, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if name := commandName(c); name != "" {
		msg = name + ": " + msg
	}
	return &usageError{msg: msg, cmd: c}
}

// commandName is "switch create" for ferryctl switch create; "" for
// ferryctl itself.
func commandName(c *cobra.Command) string {
	if c == nil || !c.HasParent() {
		return ""
	}
	return strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
}

// nounOf is the first word of a command's name: what `ferryctl help`
// takes.
func nounOf(c *cobra.Command) string {
	name, _, _ := strings.Cut(commandName(c), " ")
	if name == "help" {
		return ""
	}
	return name
}

// usageLine is the usage line of a command: its own for one that runs,
// its verbs for a noun.
func usageLine(c *cobra.Command) string {
	switch {
	case c == nil || !c.HasParent():
		return rootUse
	case c.Runnable() && !c.HasAvailableSubCommands():
		return c.UseLine()
	}
	var verbs []string
	for _, v := range c.Commands() {
		if v.IsAvailableCommand() {
			verbs = append(verbs, v.Name())
		}
	}
	return fmt.Sprintf("ferryctl %s %s ...", commandName(c), strings.Join(verbs, "|"))
}

// start returns the context bounding the whole command: --timeout.
func (a *app) start() (context.Context, context.CancelFunc) {
	if a.opts.timeout <= 0 {
		return context.WithCancel(a.ctx)
	}
	return context.WithTimeout(a.ctx, a.opts.timeout)
}

func (a *app) json() bool { return a.opts.output == formatJSON }

// machine reports whether the output is for programs (json, yaml): it
// carries the objects and nothing else.
func (a *app) machine() bool { return a.opts.output == formatJSON || a.opts.output == formatYAML }

func (a *app) wide() bool { return a.opts.output == formatWide }

// flagError rewrites pflag's errors in ferryctl's words: the flag named
// as it is typed, and a suggestion for a misspelt one.
func flagError(c *cobra.Command, err error) string {
	var (
		notExist *pflag.NotExistError
		invalid  *pflag.InvalidValueError
	)
	switch {
	case errors.As(err, &notExist) && notExist.GetSpecifiedShortnames() == "":
		return err.Error() + didYouMean(flagSuggestions(c, notExist.GetSpecifiedName()))
	case errors.As(err, &invalid):
		f := invalid.GetFlag()
		what := "invalid value"
		switch f.Value.Type() {
		case "int", "int64", "uint16", "uint32":
			what = "not a number"
		case "duration":
			what = "not a duration (such as 30s or 2m)"
		case "bool":
			what = "not true or false"
		}
		return fmt.Sprintf("--%s: %q is %s", f.Name, invalid.GetValue(), what)
	}
	return err.Error()
}

// flagSuggestions are the flags of c whose names are close to name.
func flagSuggestions(c *cobra.Command, name string) []string {
	var out []string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && (distance(name, f.Name) <= suggestDistance || strings.HasPrefix(f.Name, name)) {
			out = append(out, "--"+f.Name)
		}
	})
	return out
}

// didYouMean words suggestions as the end of an error message.
func didYouMean(suggestions []string) string {
	if len(suggestions) == 0 {
		return ""
	}
	return "; did you mean " + orList(suggestions) + "?"
}

// orList writes "a, b or c".
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// distance is the Levenshtein distance of a and b (cobra's is not
// exported).
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// helpCmd is `ferryctl help [COMMAND]`, which knows only nouns: what
// help prints is the noun's page.
func (a *app) helpCmd() *cobra.Command {
	return &cobra.Command{
		Use:                   "help [COMMAND]",
		Short:                 "list every command, or those of one noun",
		Args:                  cobra.ArbitraryArgs,
		DisableFlagsInUseLine: true,
		ValidArgsFunction: func(c *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, n := range c.Root().Commands() {
				if n.IsAvailableCommand() {
					names = append(names, n.Name())
				}
			}
			return filter(names, prefix), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			target := c.Root()
			if len(args) > 0 {
				t, rest, err := target.Find(args)
				if err != nil || t == target || len(rest) > 0 {
					return &usageError{msg: fmt.Sprintf("no help for %q%s", strings.Join(args, " "),
						didYouMean(target.SuggestionsFor(args[0]))), cmd: c}
				}
				target = t
			}
			printHelp(c.OutOrStdout(), target)
			return nil
		},
	}
}

// printHelp prints every command, or those of c's noun, and for a command
// that runs, its flags.
func printHelp(w io.Writer, c *cobra.Command) {
	root := c.Root()
	top := c
	for top.HasParent() && top.Parent() != root {
		top = top.Parent()
	}
	if top == root {
		fmt.Fprintln(w, root.Long)
		fmt.Fprintln(w)
		fmt.Fprintln(w, "usage: "+rootUse)
	} else {
		fmt.Fprintf(w, "usage: ferryctl [global flags] %s ...\n", top.Name())
	}
	for _, n := range root.Commands() {
		if !n.IsAvailableCommand() || (top != root && n != top) {
			continue
		}
		fmt.Fprintln(w)
		verbs := []*cobra.Command{n}
		if n.HasAvailableSubCommands() {
			verbs = n.Commands()
		}
		for _, v := range verbs {
			if !v.IsAvailableCommand() {
				continue
			}
			fmt.Fprintf(w, "  %s\n      %s\n", strings.TrimPrefix(v.UseLine(), "ferryctl "), v.Short)
			if len(v.Aliases) > 0 {
				fmt.Fprintf(w, "      (also: %s)\n", strings.Join(v.Aliases, ", "))
			}
		}
	}
	if c != top || (c.Runnable() && !c.HasAvailableSubCommands() && c != root) {
		if c.Long != "" {
			fmt.Fprintf(w, "\n%s\n", c.Long)
		}
		if fs := c.LocalNonPersistentFlags(); fs.HasAvailableFlags() {
			fmt.Fprintf(w, "\nFlags of %s:\n%s", commandName(c), fs.FlagUsages())
		}
	}
	fmt.Fprintf(w, "\nGlobal flags (accepted before the command and among its flags):\n%s", root.PersistentFlags().FlagUsages())
}
