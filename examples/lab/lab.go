package lab

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed lab.sh
var script []byte

// MgmtIP is ferryd's address on the management network (bridge mgmt0 in the
// management namespace).
const MgmtIP = "198.18.255.1"

// Hypervisor describes one emulated hypervisor of the lab.
type Hypervisor struct {
	Name      string // hv1, hv2, hv3; also its Open_vSwitch external_ids:system-id
	Namespace string // full namespace name, e.g. "fab12-hv1"
	Dir       string // OVS state: db.sock, conf.db, pidfiles, logs, BRIDGE.mgmt
	MgmtIP    string // on the management network
	TunnelIP  string // underlay address, on br-phy
	OVSDB     string // tcp:MgmtIP:6640 (ssl: WithTLS), reachable from the management namespace
}

var hypervisors = []struct{ name, mgmtIP, tunnelIP string }{
	{"hv1", "198.18.255.11", "198.18.1.11"}, // site A
	{"hv2", "198.18.255.12", "198.18.1.12"}, // site A
	{"hv3", "198.18.255.13", "198.18.2.13"}, // site B, behind the router
}

// Lab is one running instance of the namespace lab.
type Lab struct {
	Prefix string // namespace prefix: namespaces are Prefix + "-" + short name
	Dir    string // lab.sh's state directory

	script string     // path of the extracted lab.sh
	mu     sync.Mutex // held by teardown: a signal handler may race t.Cleanup
	down   bool
	tls    bool
}

// Up builds a fresh lab for t and tears it down in t.Cleanup.
func Up(t testing.TB, opts ...Option) *Lab {
	t.Helper()
	var probe Lab
	for _, o := range opts {
		o(&probe)
	}
	reason := unsupported()
	if reason == "" && probe.tls {
		reason = tlsUnsupported()
	}
	skipUnless(t, reason)
	prefix, dir := newPrefix()
	scriptDir, err := os.MkdirTemp(filepath.Dir(dir), "ferry-labsh-")
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	l := &Lab{
		Prefix: prefix,
		Dir:    dir,
		script: filepath.Join(scriptDir, "lab.sh"),
		tls:    probe.tls,
	}
	if err := os.WriteFile(l.script, script, 0o755); err != nil {
		os.RemoveAll(scriptDir)
		t.Fatalf("lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() && !l.down {
			l.dumpDiagnostics(t)
		}
		if err := l.teardown(); err != nil {
			t.Errorf("lab: down: %v", err)
		}
		os.RemoveAll(scriptDir)
	})
	start := time.Now()
	if out, err := l.run(2*time.Minute, "up"); err != nil {
		t.Fatalf("lab: up: %v\n%s", err, out)
	}
	t.Logf("lab: %s up in %v (state in %s)", prefix, time.Since(start).Round(time.Millisecond), l.Dir)
	return l
}

// Reserve is for a test that brings a lab up some other way than Up
// (`make lab`, as the README's quickstart does): it skips t when the lab
// cannot run here (fails it under FERRY_REQUIRE_LAB=1), and returns a
// fresh prefix to pass to lab.sh as LAB_PREFIX. Tearing that lab down is
// the caller's job.
func Reserve(t testing.TB) (prefix string) {
	t.Helper()
	skipUnless(t, unsupported())
	return randomPrefix()
}

// Env is the environment lab.sh and the OVS tools need: the process's,
// with the sbin directories on PATH.
func Env() []string { return labEnv() }

// skipUnless skips t, or fails it under FERRY_REQUIRE_LAB=1, when reason
// says why the lab cannot run.
func skipUnless(t testing.TB, reason string) {
	t.Helper()
	if reason == "" {
		return
	}
	if os.Getenv("FERRY_REQUIRE_LAB") == "1" {
		t.Fatalf("lab: FERRY_REQUIRE_LAB=1 but the lab cannot run: %s", reason)
	}
	t.Skipf("lab: skipping: %s (set FERRY_REQUIRE_LAB=1 to fail instead)", reason)
}

// newPrefix returns a random lab prefix and its state directory.
func newPrefix() (prefix, dir string) {
	prefix = randomPrefix()
	// Unix socket paths under the directory must stay below 108 bytes.
	base := os.TempDir()
	if len(base) > 40 {
		base = "/tmp"
	}
	return prefix, filepath.Join(base, "ferry-lab-"+prefix)
}

// Down tears the lab down now; the cleanup registered by Up then does nothing
// more. Tests call it to assert on what teardown leaves behind.
func (l *Lab) Down(t testing.TB) {
	t.Helper()
	if err := l.teardown(); err != nil {
		t.Fatalf("lab: down: %v", err)
	}
}

func (l *Lab) teardown() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return nil
	}
	out, err := l.run(time.Minute, "down")
	if err != nil {
		return fmt.Errorf("%w\n%s", err, out)
	}
	l.down = true
	return nil
}

// Namespace returns the full name of a lab namespace given its short name
// ("mgmt", "rtr", "hv1", a guest name). Full names pass through unchanged.
func (l *Lab) Namespace(short string) string {
	if strings.HasPrefix(short, l.Prefix+"-") {
		return short
	}
	return l.Prefix + "-" + short
}

// Hypervisors lists hv1, hv2 and hv3.
func (l *Lab) Hypervisors() []Hypervisor {
	hvs := make([]Hypervisor, 0, len(hypervisors))
	for _, h := range hypervisors {
		hvs = append(hvs, l.hypervisor(h.name, h.mgmtIP, h.tunnelIP))
	}
	return hvs
}

// Hypervisor returns the hypervisor called name (hv1, hv2 or hv3).
func (l *Lab) Hypervisor(name string) (Hypervisor, bool) {
	for _, h := range hypervisors {
		if h.name == name {
			return l.hypervisor(h.name, h.mgmtIP, h.tunnelIP), true
		}
	}
	return Hypervisor{}, false
}

func (l *Lab) hypervisor(name, mgmtIP, tunnelIP string) Hypervisor {
	return Hypervisor{
		Name:      name,
		Namespace: l.Namespace(name),
		Dir:       filepath.Join(l.Dir, name),
		MgmtIP:    mgmtIP,
		TunnelIP:  tunnelIP,
		OVSDB:     l.mgmtTarget(mgmtIP),
	}
}

// Guest creates a guest namespace named name whose eth0 (address cidr, MAC
// mac, MTU 1400) is plugged into br-int on hv as port "v-"+name, with the
// external_ids libvirt sets (iface-id=ifaceID, attached-mac, iface-status,
// vm-id). Names are at most 13 characters.
func (l *Lab) Guest(t testing.TB, hv, name, cidr, mac, ifaceID string) {
	t.Helper()
	if out, err := l.run(time.Minute, "guest", hv, name, cidr, mac, ifaceID); err != nil {
		t.Fatalf("lab: guest %s on %s: %v\n%s", name, hv, err, out)
	}
}

// XSGuest creates a XenServer-style guest: port "vif<domid>.0" on bridge
// (created with the userspace datapath if missing) carrying the external_ids
// xapi sets (xs-vif-uuid, xs-vm-uuid, xs-network-uuid, attached-mac,
// iface-status=active). With twin, an inactive "tap<domid>.0" twin with the
// same xs-vif-uuid is added too.
func (l *Lab) XSGuest(t testing.TB, hv, name, cidr, mac, bridge, vifUUID, networkUUID string, domid int, twin bool) {
	t.Helper()
	args := []string{"xsguest", hv, name, cidr, mac, bridge, vifUUID, networkUUID, fmt.Sprint(domid)}
	if twin {
		args = append(args, "twin")
	}
	if out, err := l.run(time.Minute, args...); err != nil {
		t.Fatalf("lab: xsguest %s on %s: %v\n%s", name, hv, err, out)
	}
}

// Migrate moves a guest's port to another hypervisor with the same
// external_ids, as a live migration does.
func (l *Lab) Migrate(t testing.TB, name, toHV string) {
	t.Helper()
	if out, err := l.run(time.Minute, "migrate", name, toHV); err != nil {
		t.Fatalf("lab: migrate %s to %s: %v\n%s", name, toHV, err, out)
	}
}

// RemoveGuest unplugs a guest and deletes its namespace.
func (l *Lab) RemoveGuest(t testing.TB, name string) {
	t.Helper()
	if out, err := l.run(time.Minute, "unguest", name); err != nil {
		t.Fatalf("lab: unguest %s: %v\n%s", name, err, out)
	}
}

// Exec runs a command inside a lab namespace and returns its combined output.
// In a hypervisor namespace ("hv1"...), the gateway ("gw1") and the ESXi
// host ("esx1") the command also gets that host's OVS environment, so ovs-*
// tools and vtep-ctl talk to its daemons.
func (l *Lab) Exec(t testing.TB, ns string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := l.command(ctx, ns, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("lab: %s in %s: %w", strings.Join(args, " "), l.Namespace(ns), err)
	}
	return string(out), nil
}

// Ping sends count pings (200 ms apart, 1 s timeout) from a guest and fails
// unless every one is answered.
func (l *Lab) Ping(t testing.TB, fromGuest, toIP string, count int) error {
	t.Helper()
	out, err := l.Exec(t, fromGuest, "ping", "-n", "-q", "-c", strconv.Itoa(count), "-W", "1", "-i", "0.2", toIP)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, strings.TrimSpace(out))
	}
	// ping exits 0 when any reply came back; every one must.
	if want := fmt.Sprintf(" %d received", count); !strings.Contains(out, want) {
		return fmt.Errorf("lab: ping %s from %s: lost replies\n%s", toIP, fromGuest, strings.TrimSpace(out))
	}
	return nil
}

// WaitPing retries a single ping from a guest until one is answered or the
// timeout expires; it returns the last failure. Use it to wait for a
// controller to realize a change.
func (l *Lab) WaitPing(t testing.TB, fromGuest, toIP string, timeout time.Duration) error {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := l.Ping(t, fromGuest, toIP, 1)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// OVS runs an OVS tool (ovs-vsctl, ovs-ofctl, ovs-appctl, vtep-ctl, ...)
// against the daemons of hypervisor hv (or "gw1", "esx1") and returns its output; it fails the test if the
// tool fails. For OpenFlow 1.5 pass "-O", "OpenFlow15" yourself.
func (l *Lab) OVS(t testing.TB, hv string, args ...string) string {
	t.Helper()
	out, err := l.Exec(t, hv, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// command builds an exec.Cmd running args in namespace ns.
func (l *Lab) command(ctx context.Context, ns string, args ...string) *exec.Cmd {
	full := append([]string{"netns", "exec", l.Namespace(ns)}, args...)
	if d, ok := l.ovsDir(ns); ok {
		env := []string{"env", "OVS_RUNDIR=" + d, "OVS_DBDIR=" + d, "OVS_LOGDIR=" + d, "OVS_SYSCONFDIR=" + d}
		full = append([]string{"netns", "exec", l.Namespace(ns)}, append(env, args...)...)
	}
	cmd := exec.CommandContext(ctx, "ip", full...)
	cmd.Env = labEnv()
	return cmd
}

// run runs a lab.sh subcommand for this lab.
func (l *Lab) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{l.script}, args...)...)
	tls := "0"
	if l.tls {
		tls = "1"
	}
	cmd.Env = append(labEnv(), "LAB_PREFIX="+l.Prefix, "LAB_DIR="+l.Dir, "LAB_TLS="+tls)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("lab.sh %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// labEnv is the process environment with the sbin directories on PATH, where
// Debian puts ovsdb-server, ovs-vswitchd, ip and ethtool.
func labEnv() []string {
	env := os.Environ()
	path := os.Getenv("PATH")
	for _, d := range []string{"/usr/local/sbin", "/usr/sbin", "/sbin"} {
		if !strings.Contains(":"+path+":", ":"+d+":") {
			path += ":" + d
		}
	}
	return append(env, "PATH="+path)
}

// unsupported says why the lab cannot run here, or "" if it can.
func unsupported() string {
	if runtime.GOOS != "linux" {
		return "the lab needs Linux network namespaces"
	}
	if os.Geteuid() != 0 {
		return "the lab needs root (network namespaces, veth, OVS userspace datapath)"
	}
	path := ""
	for _, kv := range labEnv() {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = p
		}
	}
	var missing []string
	for _, bin := range []string{"bash", "ip", "ethtool", "ping", "tcpdump", "ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ovs-appctl"} {
		if !onPath(bin, path) {
			missing = append(missing, bin)
		}
	}
	if len(missing) > 0 {
		return "missing " + strings.Join(missing, ", ") + " (run `make deps`)"
	}
	if _, err := os.Stat("/usr/share/openvswitch/vswitch.ovsschema"); err != nil {
		return "no /usr/share/openvswitch/vswitch.ovsschema (run `make deps`)"
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return "no /dev/net/tun (the userspace datapath needs tap devices)"
	}
	probe := randomPrefix() + "-probe"
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		return "ip netns add fails: " + strings.TrimSpace(string(out))
	}
	exec.Command("ip", "netns", "del", probe).Run()
	return ""
}

func onPath(bin, path string) bool {
	for _, d := range filepath.SplitList(path) {
		if fi, err := os.Stat(filepath.Join(d, bin)); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

// randomPrefix returns "f" and four base-36 characters: short enough for
// interface and socket names, random enough that concurrent labs (parallel
// test packages, a demo, a stray lab from an earlier run) never collide.
func randomPrefix() string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	for i := range b {
		b[i] = digits[int(b[i])%len(digits)]
	}
	return "f" + string(b)
}

// dumpDiagnostics writes the state a failed test's reader needs to the log:
// what each hypervisor's br-int looks like and what its vswitchd said.
func (l *Lab) dumpDiagnostics(t testing.TB) {
	t.Helper()
	for _, hv := range l.Hypervisors() {
		for _, args := range [][]string{
			{"ovs-vsctl", "--timeout=5", "show"},
			{"ovs-ofctl", "-O", "OpenFlow13,OpenFlow15", "--timeout=5", "dump-flows", "br-int"},
			{"ovs-ofctl", "-O", "OpenFlow13,OpenFlow15", "--timeout=5", "dump-groups", "br-int"},
			{"ovs-appctl", "--timeout=5", "ovs/route/show"},
			{"ovs-appctl", "--timeout=5", "tnl/arp/show"},
		} {
			out, err := l.Exec(t, hv.Name, args...)
			if err != nil {
				out += "\n(" + err.Error() + ")"
			}
			t.Logf("lab diagnostics: %s: %s\n%s", hv.Name, strings.Join(args, " "), out)
		}
		for _, f := range []string{"ovs-vswitchd.log", "ovsdb-server.log"} {
			t.Logf("lab diagnostics: %s: tail of %s\n%s", hv.Name, f, tail(filepath.Join(hv.Dir, f), 40))
		}
	}
	l.dumpGatewayDiagnostics(t)
}

// tail returns the last n lines of a file, or why it could not be read.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// errNotLinux is returned by the namespace dialer on other systems.
var errNotLinux = errors.New("lab: network namespaces need Linux")

// Daemons of an OVS host that KillDaemon and StartDaemon know.
const (
	OVSDBServer = "ovsdb-server"
	OVSVswitchd = "ovs-vswitchd"
)

// KillDaemon sends sig ("KILL", "TERM", ...) to an OVS host's ovsdb-server
// or ovs-vswitchd, found by its pidfile, and waits until it is gone.
func (l *Lab) KillDaemon(t testing.TB, host, daemon, sig string) {
	t.Helper()
	if out, err := l.run(time.Minute, "daemon", host, "kill", daemon, sig); err != nil {
		t.Fatalf("lab: kill %s on %s: %v\n%s", daemon, host, err, out)
	}
}

// StartDaemon starts a killed daemon again as Up did, on the same database.
// After ovs-vswitchd it restores br-phy's underlay address and route, which
// die with the userspace datapath.
func (l *Lab) StartDaemon(t testing.TB, host, daemon string) {
	t.Helper()
	if out, err := l.run(time.Minute, "daemon", host, "start", daemon); err != nil {
		t.Fatalf("lab: start %s on %s: %v\n%s", daemon, host, err, out)
	}
}

// Links of an OVS host that Cut and Heal know.
const (
	MgmtLink     = "mgmt" // to the management network (ferryd)
	UnderlayLink = "ul"   // to the router (tunnels)
)

// Cut modes: LinkDown sets the host's end down; LinkLoss keeps the link up
// and drops every frame both ways.
const (
	LinkDown = "down"
	LinkLoss = "loss"
)

// Cut cuts a host's management or underlay link until Heal.
func (l *Lab) Cut(t testing.TB, link, host, mode string) {
	t.Helper()
	if out, err := l.run(time.Minute, "cut", link, host, mode); err != nil {
		t.Fatalf("lab: cut %s of %s: %v\n%s", link, host, err, out)
	}
}

// Heal undoes Cut (either mode).
func (l *Lab) Heal(t testing.TB, link, host string) {
	t.Helper()
	if out, err := l.run(time.Minute, "heal", link, host); err != nil {
		t.Fatalf("lab: heal %s of %s: %v\n%s", link, host, err, out)
	}
}

// Teardown tears the lab down now, like Down, but reports rather than
// fails: for signal handlers and other paths outside the test goroutine.
func (l *Lab) Teardown() error { return l.teardown() }
