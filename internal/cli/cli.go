package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
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

// command is one `ferryctl NOUN VERB`. The positional arguments are the
// leading upper-case words of args, so the usage line is also the
// specification the parser checks against.
type command struct {
	noun, verb string
	args       string
	summary    string
	run        func(a *app, args []string) error
}

func (c *command) name() string { return strings.TrimSpace(c.noun + " " + c.verb) }

func (c *command) usage() string {
	return strings.TrimSpace("ferryctl " + c.name() + " " + c.args)
}

// positional returns the names of the command's positional arguments.
func (c *command) positional() []string {
	var names []string
	for _, f := range strings.Fields(c.args) {
		if strings.HasPrefix(f, "-") || strings.HasPrefix(f, "[") {
			break
		}
		names = append(names, f)
	}
	return names
}

var commands = []command{
	{"switch", "create", "NAME [--vni N] [--encap vxlan|gre] [--xenserver-networks UUID,...]", "create a logical switch (VNI allocated when absent)", switchCreate},
	{"switch", "set-networks", "NAME --xenserver-networks UUID,...", "replace the XenServer networks a switch adopts (empty: none)", switchSetNetworks},
	{"switch", "list", "", "list logical switches", switchList},
	{"switch", "show", "NAME", "show a switch and where it is realized", switchShow},
	{"switch", "delete", "NAME", "delete a switch and its ports", switchDelete},
	{"port", "create", "SWITCH NAME --iface-id ID [--mac MAC] [--port-security=false] [--ip ADDR]...", "create a logical port bound to the VIF with that iface-id (port security on with a MAC unless false; --ip: the only source addresses)", portCreate},
	{"port", "set", "SWITCH NAME [--port-security=true|false] [--ip ADDR]... [--mac MAC] [--iface-id ID]", "change a port's port security, addresses (--ip '': any), MAC (--mac '': attached-mac) or iface-id", portSet},
	{"port", "list", "SWITCH", "list a switch's ports and their bindings", portList},
	{"port", "show", "SWITCH NAME", "show a port and where it is bound", portShow},
	{"port", "delete", "SWITCH NAME", "delete a port", portDelete},
	{"chassis", "create", "NAME --ovsdb TARGET --tunnel-ip IP [--bridge B] [--kind kvm|xenserver|generic] [--encaps vxlan,gre] [--underlay-mtu N] [--datapath-type system|netdev] [--openflow-peers IP,...]", "register a hypervisor (--ovsdb passive: it dials ferry)", chassisCreate},
	{"chassis", "list", "", "list hypervisors", chassisList},
	{"chassis", "show", "NAME", "show a hypervisor's connections and realization", chassisShow},
	{"chassis", "delete", "NAME", "unregister a hypervisor (its configuration stays)", chassisDelete},
	{"gateway", "create", "NAME --ovsdb TARGET [--physical-switch PS]", "register a hardware VTEP gateway", gatewayCreate},
	{"gateway", "list", "", "list gateways", gatewayList},
	{"gateway", "show", "NAME", "show a gateway", gatewayShow},
	{"gateway", "delete", "NAME", "unregister a gateway", gatewayDelete},
	{"binding", "create", "SWITCH --gateway GW --port PORT --vlan N", "bind a gateway port's VLAN to a switch", bindingCreate},
	{"binding", "list", "SWITCH", "list a switch's VLAN bindings", bindingList},
	{"binding", "delete", "SWITCH GATEWAY PORT VLAN", "remove a VLAN binding", bindingDelete},
	{"host", "join", "[--name N] [--manager TARGET] [--bridge br-int] [--datapath-type system|netdev] [--controller TARGET] [--db unix:PATH] [--cert-request DIR] [--dry-run] [--register --tunnel-ip IP [--kind K] [--encaps vxlan,gre] [--underlay-mtu N] [--ovsdb TARGET]]", "run on a hypervisor: configure its Open vSwitch for ferry (and register it)", hostJoin},
	{"apply", "", "-f FILE", "make each switch in a JSON or YAML file (one or a list; ports, bindings) exactly what it says, one transaction per switch (-f -: stdin)", apply},
	{"status", "", "", "chassis and switches at a glance", status},
	{"wait", "", "SWITCH [--timeout 30s]", "block until SWITCH is realized on every chassis", wait},
}

const globalHelp = `Global flags (accepted before the command and among its flags):
  --server URL   ferryd's REST API (env FERRY_SERVER; default http://127.0.0.1:8470)
  --token T      sent as "Authorization: Bearer T" (env FERRY_TOKEN)
  -o FORMAT      table (default) or json: the server's JSON as received
  --timeout D    give up after D, waits included (default 30s)
`

// options are the global flags.
type options struct {
	server  string
	token   string
	output  string
	timeout time.Duration
}

// app is one invocation of ferryctl.
type app struct {
	ctx            context.Context
	stdout, stderr io.Writer
	opts           options
	cmd            *command     // the command being run, for its usage line
	c              *client      // set by parse
	hc             *http.Client // from Options; nil: a plain one
}

// usageError is a mistake on the command line: exit 2, with a usage line.
type usageError struct {
	msg   string
	usage string
}

func (e *usageError) Error() string { return e.msg }

// errHelp asks Run to print the help of the current noun and succeed.
var errHelp = errors.New("help requested")

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
	a := &app{ctx: ctx, stdout: stdout, stderr: stderr, hc: opts.HTTPClient, opts: options{
		server:  DefaultServer,
		token:   os.Getenv(EnvToken),
		output:  "table",
		timeout: defaultTimeout,
	}}
	if s := os.Getenv(EnvServer); s != "" {
		a.opts.server = s
	}
	err := a.run(args)
	var ue *usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, errHelp):
		noun := ""
		if a.cmd != nil {
			noun = a.cmd.noun
		}
		printHelp(stdout, noun)
		return ExitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ferryctl: %s\nusage: %s\n", ue.msg, ue.usage)
		if a.cmd == nil {
			fmt.Fprintln(stderr, "Run 'ferryctl help' for every command.")
		} else {
			fmt.Fprintf(stderr, "Run 'ferryctl help %s' for details.\n", a.cmd.noun)
		}
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "ferryctl: %v\n", err)
		return ExitError
	}
}

func (a *app) run(args []string) error {
	top := "ferryctl [global flags] COMMAND [flags] [ARGS]"
	fs := a.flags()
	// The flag package stops at the first non-flag: the noun.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return &usageError{msg: err.Error(), usage: top}
	}
	args = fs.Args()
	if len(args) == 0 {
		return &usageError{msg: "missing command", usage: top}
	}
	noun, args := args[0], args[1:]
	if noun == "help" {
		if len(args) > 0 {
			if !slices.ContainsFunc(commands, func(c command) bool { return c.noun == args[0] }) {
				return &usageError{msg: fmt.Sprintf("no help for %q", args[0]), usage: "ferryctl help [COMMAND]"}
			}
			a.cmd = &command{noun: args[0]}
		}
		return errHelp
	}
	var nounCmds []*command
	for i := range commands {
		if commands[i].noun == noun {
			nounCmds = append(nounCmds, &commands[i])
		}
	}
	switch {
	case len(nounCmds) == 0:
		return &usageError{msg: fmt.Sprintf("unknown command %q", noun), usage: top}
	case nounCmds[0].verb == "":
		a.cmd = nounCmds[0]
		return a.cmd.run(a, args)
	}
	a.cmd = &command{noun: noun}
	verbs := make([]string, len(nounCmds))
	for i, c := range nounCmds {
		verbs[i] = c.verb
	}
	nounUsage := fmt.Sprintf("ferryctl %s %s ...", noun, strings.Join(verbs, "|"))
	if len(args) == 0 {
		return &usageError{msg: noun + ": missing subcommand", usage: nounUsage}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		return errHelp
	}
	for _, c := range nounCmds {
		if c.verb == args[0] {
			a.cmd = c
			return c.run(a, args[1:])
		}
	}
	return &usageError{msg: fmt.Sprintf("%s: unknown subcommand %q", noun, args[0]), usage: nounUsage}
}

// flags returns a flag set holding the global flags, their defaults being
// what earlier parsing set.
func (a *app) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("ferryctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported by Run, with a usage line
	fs.StringVar(&a.opts.server, "server", a.opts.server, "")
	fs.StringVar(&a.opts.token, "token", a.opts.token, "")
	fs.StringVar(&a.opts.output, "o", a.opts.output, "")
	fs.StringVar(&a.opts.output, "output", a.opts.output, "")
	fs.DurationVar(&a.opts.timeout, "timeout", a.opts.timeout, "")
	return fs
}

// parse parses a command's flags and arguments, which may be mixed, checks
// the count of positional arguments against the usage line and the global
// flags' values, and sets up the client.
func (a *app) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos, tail []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, tail = args[:i], args[i+1:]
	}
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, a.usage("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	pos = append(pos, tail...)
	want := a.cmd.positional()
	switch {
	case len(pos) < len(want):
		return nil, a.usage("missing %s", want[len(pos)])
	case len(pos) > len(want):
		return nil, a.usage("unexpected argument %q", pos[len(want)])
	}
	for i, p := range pos {
		if p == "" {
			return nil, a.usage("%s must not be empty", want[i])
		}
	}
	if a.opts.output != "table" && a.opts.output != "json" {
		return nil, a.usage("-o: %q is not a format: use table or json", a.opts.output)
	}
	c, err := newClient(a.opts.server, a.opts.token, a.hc)
	if err != nil {
		return nil, a.usage("--server: %v", err)
	}
	a.c = c
	return pos, nil
}

// require fails unless every named flag was given.
func (a *app) require(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if !isSet(fs, n) {
			return a.usage("missing --%s", n)
		}
	}
	return nil
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func (a *app) usage(format string, args ...any) error {
	return &usageError{msg: a.cmd.name() + ": " + fmt.Sprintf(format, args...), usage: a.cmd.usage()}
}

// start returns the context bounding the whole command: --timeout.
func (a *app) start() (context.Context, context.CancelFunc) {
	if a.opts.timeout <= 0 {
		return context.WithCancel(a.ctx)
	}
	return context.WithTimeout(a.ctx, a.opts.timeout)
}

func (a *app) json() bool { return a.opts.output == "json" }

// printHelp prints every command, or those of one noun.
func printHelp(w io.Writer, noun string) {
	if noun == "" {
		fmt.Fprintln(w, "ferryctl drives ferry, the Open vSwitch controller, over its REST API,")
		fmt.Fprintln(w, "and prepares a hypervisor's Open vSwitch for it (host join).")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "usage: ferryctl [global flags] COMMAND [flags] [ARGS]")
	} else {
		fmt.Fprintf(w, "usage: ferryctl [global flags] %s ...\n", noun)
	}
	last := ""
	for _, c := range commands {
		if noun != "" && c.noun != noun {
			continue
		}
		if c.noun != last {
			fmt.Fprintln(w)
			last = c.noun
		}
		fmt.Fprintf(w, "  %s\n      %s\n", strings.TrimPrefix(c.usage(), "ferryctl "), c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprint(w, globalHelp)
}
