package ovstest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Schema paths of the Debian/Ubuntu openvswitch packages.
const (
	VswitchSchema = "/usr/share/openvswitch/vswitch.ovsschema"
	VtepSchema    = "/usr/share/openvswitch/vtep.ovsschema"
)

// Appctl targets.
const (
	Vswitchd    = "ovs-vswitchd"
	OvsdbServer = "ovsdb-server"
)

// startTimeout bounds how long a daemon may take to become ready; a loaded CI
// machine needs more than the usual few milliseconds.
const startTimeout = 15 * time.Second

var binaries = []string{"ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ovs-appctl"}

// SkipIfMissing skips the test when the OVS binaries or the vswitch schema are
// not installed. With FERRY_REQUIRE_OVS set it fails the test instead.
func SkipIfMissing(t testing.TB) {
	t.Helper()
	var missing []string
	for _, b := range binaries {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if _, err := os.Stat(VswitchSchema); err != nil {
		missing = append(missing, VswitchSchema)
	}
	if len(missing) == 0 {
		return
	}
	msg := "ovstest: Open vSwitch not installed (missing " + strings.Join(missing, ", ") +
		"); install openvswitch-switch to run this test"
	if os.Getenv("FERRY_REQUIRE_OVS") != "" {
		t.Fatal(msg + " (FERRY_REQUIRE_OVS is set)")
	}
	t.Skip(msg)
}

// Options selects what Start runs.
type Options struct {
	// Schemas replaces the default database list (VswitchSchema). Each schema
	// X.ovsschema is served from DIR/X.db ("vswitch" becomes conf.db, as in
	// a real installation).
	Schemas []string
	// ExtraSchemas are served in addition to Schemas, e.g. VtepSchema.
	ExtraSchemas []string
	// Remotes are extra ovsdb-server --remote arguments, e.g.
	// "ptcp:0:127.0.0.1"; use Remote to learn the port a ptcp:0 remote got.
	Remotes []string
	// OvsdbArgs are extra ovsdb-server arguments, e.g. --private-key=FILE
	// for a pssl: remote.
	OvsdbArgs []string
	// Vswitchd also runs ovs-vswitchd with the dummy datapath provider (use
	// datapath_type=dummy bridges and type=dummy interfaces).
	Vswitchd bool
}

// Instance is one running set of OVS daemons in its own directory.
type Instance struct {
	Dir    string // OVS_RUNDIR, OVS_DBDIR, OVS_LOGDIR and OVS_SYSCONFDIR
	DBSock string // unix socket of ovsdb-server
	// OfctlProtocols is what Ofctl passes to ovs-ofctl -O; empty means
	// OpenFlow15. A bridge's management socket speaks only the versions
	// of its protocols column.
	OfctlProtocols string

	opts     Options
	dbs      []string // database files, in ovsdb-server argument order
	vswitch  bool     // conf.db (Open_vSwitch) is served
	ovsdb    *process
	vswitchd *process
}

// Start runs the daemons Options asks for and registers their teardown with
// t.Cleanup. It skips the test if OVS is not installed.
func Start(t testing.TB, opts Options) *Instance {
	t.Helper()
	SkipIfMissing(t)
	dir, err := os.MkdirTemp("", "ovs")
	if err != nil {
		t.Fatalf("ovstest: %v", err)
	}
	i := &Instance{Dir: dir, DBSock: filepath.Join(dir, "db.sock"), opts: opts}
	t.Cleanup(func() { i.cleanup(t) })

	schemas := opts.Schemas
	if len(schemas) == 0 {
		schemas = []string{VswitchSchema}
	}
	for _, s := range append(append([]string(nil), schemas...), opts.ExtraSchemas...) {
		name := strings.TrimSuffix(filepath.Base(s), ".ovsschema")
		if name == "vswitch" {
			name = "conf"
			i.vswitch = true
		}
		db := filepath.Join(dir, name+".db")
		if out, err := i.Cmd("ovsdb-tool", "create", db, s).CombinedOutput(); err != nil {
			t.Fatalf("ovstest: ovsdb-tool create %s: %v: %s", s, err, out)
		}
		i.dbs = append(i.dbs, db)
	}
	if err := i.startOvsdb(); err != nil {
		t.Fatalf("ovstest: %v", err)
	}
	if i.vswitch {
		i.Vsctl(t, "--no-wait", "init")
	}
	if opts.Vswitchd {
		if !i.vswitch {
			t.Fatal("ovstest: Vswitchd needs the vswitch schema")
		}
		if err := i.StartVswitchd(); err != nil {
			t.Fatalf("ovstest: %v", err)
		}
	}
	return i
}

// Env returns the environment every OVS command of this instance runs with.
func (i *Instance) Env() []string {
	return append(os.Environ(),
		"OVS_RUNDIR="+i.Dir, "OVS_DBDIR="+i.Dir, "OVS_LOGDIR="+i.Dir, "OVS_SYSCONFDIR="+i.Dir)
}

// Cmd returns an unstarted command with the instance's environment.
func (i *Instance) Cmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env = i.Env()
	c.Dir = i.Dir
	return c
}

// Run runs an OVS command and returns its standard output; it fails the test
// if the command fails.
func (i *Instance) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := i.RunErr(name, args...)
	if err != nil {
		t.Fatalf("ovstest: %v", err)
	}
	return out
}

// RunErr runs an OVS command and returns its standard output, or an error
// carrying its standard error; for commands a test expects to fail.
func (i *Instance) RunErr(name string, args ...string) (string, error) {
	c := i.Cmd(name, args...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// DBRemote is the OVSDB connection string of the instance's unix socket.
func (i *Instance) DBRemote() string { return "unix:" + i.DBSock }

// Vsctl runs ovs-vsctl against the instance. Without ovs-vswitchd running it
// adds --no-wait, since nobody would ever acknowledge the change.
func (i *Instance) Vsctl(t testing.TB, args ...string) string {
	t.Helper()
	pre := []string{"--db=" + i.DBRemote(), "--timeout=10"}
	if i.vswitchd == nil || i.vswitchd.exited() {
		pre = append(pre, "--no-wait")
	}
	return i.Run(t, "ovs-vsctl", append(pre, args...)...)
}

// Ofctl runs ovs-ofctl -O OpenFlow15; a bridge name argument resolves to
// DIR/BRIDGE.mgmt.
func (i *Instance) Ofctl(t testing.TB, args ...string) string {
	t.Helper()
	protocols := i.OfctlProtocols
	if protocols == "" {
		protocols = "OpenFlow15"
	}
	return i.Run(t, "ovs-ofctl", append([]string{"-O", protocols}, args...)...)
}

// Appctl runs ovs-appctl -t target (Vswitchd or OvsdbServer) args.
func (i *Instance) Appctl(t testing.TB, target string, args ...string) string {
	t.Helper()
	return i.Run(t, "ovs-appctl", append([]string{"-t", target, "--timeout=10"}, args...)...)
}

// Remote returns the active connection string ("tcp:IP:PORT") for one of
// Options.Remotes, given exactly as there (e.g. "ptcp:0:127.0.0.1"); it waits
// for ovsdb-server to report the port it bound.
func (i *Instance) Remote(t testing.TB, remote string) string {
	t.Helper()
	proto, rest, ok := strings.Cut(remote, ":")
	if !ok || (proto != "ptcp" && proto != "pssl") {
		t.Fatalf("ovstest: %q is not a ptcp/pssl remote", remote)
	}
	port, host := rest, "127.0.0.1"
	if p, h, ok := strings.Cut(rest, ":"); ok {
		port, host = p, h
	}
	if port != "0" {
		return fmt.Sprintf("%s:%s:%s", proto[1:], host, port)
	}
	re := regexp.MustCompile(regexp.QuoteMeta(rest) + `: listening on port ([0-9]+)`)
	log := filepath.Join(i.Dir, "ovsdb-server.log")
	deadline := time.Now().Add(startTimeout)
	for {
		data, _ := os.ReadFile(log)
		if m := re.FindSubmatch(data); m != nil {
			p, _ := strconv.Atoi(string(m[1]))
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			return fmt.Sprintf("%s:%s:%d", proto[1:], host, p)
		}
		if time.Now().After(deadline) {
			t.Fatalf("ovstest: ovsdb-server did not report the port of %s", remote)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartVswitchd starts ovs-vswitchd (again, after StopVswitchd).
func (i *Instance) StartVswitchd() error {
	if i.vswitchd != nil && !i.vswitchd.exited() {
		return errors.New("ovstest: ovs-vswitchd already running")
	}
	p, err := i.start(Vswitchd, i.DBRemote(),
		"--enable-dummy=override", "--disable-system", "-vconsole:off",
		"--pidfile="+filepath.Join(i.Dir, Vswitchd+".pid"),
		"--log-file="+filepath.Join(i.Dir, Vswitchd+".log"))
	if err != nil {
		return err
	}
	i.vswitchd = p
	return nil
}

// VswitchdPID is the pid of the running ovs-vswitchd (0 if none), e.g. to
// SIGSTOP it and see a controller's liveness probe give up.
func (i *Instance) VswitchdPID() int {
	if i.vswitchd == nil || i.vswitchd.exited() {
		return 0
	}
	return i.vswitchd.cmd.Process.Pid
}

// OvsdbPID is the pid of the running ovsdb-server (0 if none), e.g. to
// SIGSTOP it as a hypervisor that froze.
func (i *Instance) OvsdbPID() int {
	if i.ovsdb == nil || i.ovsdb.exited() {
		return 0
	}
	return i.ovsdb.cmd.Process.Pid
}

// StopVswitchd stops ovs-vswitchd (SIGTERM, then SIGKILL). OpenFlow
// connections drop; flows are gone when it restarts, as on a real host.
func (i *Instance) StopVswitchd() {
	if i.vswitchd != nil {
		i.vswitchd.stop()
	}
}

// RestartOvsdb stops ovsdb-server and starts it again on the same database
// files. A ptcp:0 remote gets a new port; call Remote again.
func (i *Instance) RestartOvsdb() error {
	i.ovsdb.stop()
	// Keep the old log for failure dumps, but start a fresh one so Remote
	// finds the new port rather than the old.
	log := filepath.Join(i.Dir, OvsdbServer+".log")
	_ = os.Rename(log, log+"."+strconv.FormatInt(time.Now().UnixNano(), 10))
	return i.startOvsdb()
}

func (i *Instance) startOvsdb() error {
	args := append([]string(nil), i.dbs...)
	args = append(args, "--remote=punix:"+i.DBSock)
	if i.vswitch {
		// Lets tests point ovsdb-server at a manager (set-manager), as a
		// hypervisor would be pointed at ferry.
		args = append(args, "--remote=db:Open_vSwitch,Open_vSwitch,manager_options")
	}
	for _, r := range i.opts.Remotes {
		args = append(args, "--remote="+r)
	}
	args = append(args, i.opts.OvsdbArgs...)
	args = append(args, "-vconsole:off",
		"--pidfile="+filepath.Join(i.Dir, OvsdbServer+".pid"),
		"--log-file="+filepath.Join(i.Dir, OvsdbServer+".log"))
	p, err := i.start(OvsdbServer, args...)
	if err != nil {
		return err
	}
	i.ovsdb = p
	// ovsdb-server is usable once its socket accepts a connection; the
	// socket file may exist a little before that, so ask it something.
	deadline := time.Now().Add(startTimeout)
	for {
		_, err := i.RunErr("ovs-appctl", "-t", OvsdbServer, "--timeout=5", "version")
		if err == nil {
			if _, serr := os.Stat(i.DBSock); serr == nil {
				return nil
			}
		}
		if p.exited() {
			return fmt.Errorf("ovstest: ovsdb-server exited at start: %v; %s", p.err, i.tail(p.logFile, 20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ovstest: ovsdb-server not ready: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type process struct {
	name    string
	cmd     *exec.Cmd
	logFile string
	done    chan struct{}
	err     error
	once    sync.Once
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) stop() {
	p.once.Do(func() {
		if p.exited() {
			return
		}
		// A test may have stopped it with SIGSTOP.
		_ = p.cmd.Process.Signal(syscall.SIGCONT)
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// start runs a daemon as a child (not --detach) so that the test process owns
// and reaps it, and Pdeathsig kills it should the test binary die abruptly.
func (i *Instance) start(name string, args ...string) (*process, error) {
	stderr, err := os.Create(filepath.Join(i.Dir, name+".stderr"))
	if err != nil {
		return nil, err
	}
	c := i.Cmd(name, args...)
	c.Stdout, c.Stderr = stderr, stderr
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		stderr.Close()
		return nil, fmt.Errorf("ovstest: start %s: %w", name, err)
	}
	p := &process{name: name, cmd: c, logFile: filepath.Join(i.Dir, name+".log"), done: make(chan struct{})}
	go func() {
		p.err = c.Wait()
		stderr.Close()
		close(p.done)
	}()
	if name == Vswitchd {
		// Ready when its control socket answers.
		deadline := time.Now().Add(startTimeout)
		for {
			if _, err := i.RunErr("ovs-appctl", "-t", Vswitchd, "--timeout=5", "version"); err == nil {
				break
			}
			if p.exited() {
				return nil, fmt.Errorf("ovstest: ovs-vswitchd exited at start: %v; %s", p.err, i.tail(p.logFile, 20))
			}
			if time.Now().After(deadline) {
				p.stop()
				return nil, errors.New("ovstest: ovs-vswitchd not ready")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return p, nil
}

func (i *Instance) cleanup(t testing.TB) {
	if i.vswitchd != nil {
		i.vswitchd.stop()
	}
	if i.ovsdb != nil {
		i.ovsdb.stop()
	}
	if t.Failed() {
		logs, _ := filepath.Glob(filepath.Join(i.Dir, "*.log*"))
		errs, _ := filepath.Glob(filepath.Join(i.Dir, "*.stderr"))
		for _, f := range append(logs, errs...) {
			if tail := i.tail(f, 40); tail != "" {
				t.Logf("ovstest: last lines of %s:\n%s", filepath.Base(f), tail)
			}
		}
	}
	_ = os.RemoveAll(i.Dir)
}

func (i *Instance) tail(file string, n int) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for s.Scan() {
		lines = append(lines, s.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
