package cli

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/ovstest"
	"github.com/ferry-sdn/ferry/rest/api"
)

// host starts a real ovsdb-server and ovs-vswitchd (dummy datapath) for
// host join to configure.
type host struct {
	t *testing.T
	i *ovstest.Instance
}

func newHost(t *testing.T) *host {
	t.Helper()
	t.Setenv(EnvServer, "http://127.0.0.1:1") // only --register may reach a server
	t.Setenv(EnvToken, "")
	return &host{t: t, i: ovstest.Start(t, ovstest.Options{Vswitchd: true})}
}

// join runs `ferryctl host join --db THIS ARGS...`.
func (h *host) join(args ...string) (code int, stdout, stderr string) {
	return run(append([]string{"host", "join", "--db", h.i.DBRemote()}, args...)...)
}

func (h *host) mustJoin(args ...string) string {
	h.t.Helper()
	code, out, errs := h.join(args...)
	if code != ExitOK || errs != "" {
		h.t.Fatalf("host join %s: exit %d, stderr %q, stdout:\n%s", strings.Join(args, " "), code, errs, out)
	}
	return out
}

// get reads one column with ovs-vsctl, behind ferryctl's back.
func (h *host) get(args ...string) string {
	h.t.Helper()
	return strings.TrimSpace(h.i.Vsctl(h.t, args...))
}

func (h *host) systemID() string {
	return strings.Trim(h.get("--if-exists", "get", "Open_vSwitch", ".", "external_ids:system-id"), `"`)
}

func (h *host) managers() []string { return lines(h.get("get-manager")) }
func (h *host) bridges() []string  { return lines(h.get("list-br")) }

// sock returns a socket path in the instance's short directory.
func (h *host) sock(name string) string { return filepath.Join(h.i.Dir, name) }

// waitDial waits for something to listen on a unix socket: ovsdb-server
// on a punix: manager.
func waitDial(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitAccept waits for a connection on l: OVS dialing an active manager or
// controller target.
func waitAccept(t *testing.T, l net.Listener, who string) {
	t.Helper()
	l.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("%s never connected to %s: %v", who, l.Addr(), err)
	}
	c.Close()
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestHostJoin(t *testing.T) {
	h := newHost(t)
	mgr := "punix:" + h.sock("mgr.sock")
	ofc := listen(t) // stands in for ferry's OpenFlow listener
	ctl := "tcp:" + ofc.Addr().String()
	args := []string{"--name", "hv1", "--manager", mgr, "--datapath-type", "netdev", "--controller", ctl}
	db := "--db=" + h.i.DBRemote()
	changes := []string{
		"system-id: hv1 (was unset)",
		"    ovs-vsctl " + db + " set Open_vSwitch . external_ids:system-id=hv1",
		"bridge br-int: created, datapath_type netdev",
		"    ovs-vsctl " + db + " --may-exist add-br br-int -- set Bridge br-int datapath_type=netdev",
		"controller of br-int: " + ctl + " (was none)",
		"    ovs-vsctl " + db + " set-controller br-int " + ctl,
		"manager: " + mgr + " added",
		"    ovs-vsctl " + db + " set-manager " + mgr,
	}

	// A dry run prints the commands and changes nothing.
	out := h.mustJoin(append(args, "--dry-run")...)
	want := "dry run: nothing is changed; these commands would run\n" + strings.Join(changes, "\n") +
		"\nhost hv1: 4 changes to make (dry run)\n"
	if out != want {
		t.Errorf("dry run printed\n%s\nwant\n%s", out, want)
	}
	if id, brs, ms := h.systemID(), h.bridges(), h.managers(); id != "" || brs != nil || ms != nil {
		t.Fatalf("the dry run changed OVS: system-id %q, bridges %q, managers %q", id, brs, ms)
	}

	out = h.mustJoin(args...)
	if want := strings.Join(changes, "\n") + "\nhost hv1: 4 changes made\n"; out != want {
		t.Errorf("host join printed\n%s\nwant\n%s", out, want)
	}
	if id := h.systemID(); id != "hv1" {
		t.Errorf("system-id %q, want hv1", id)
	}
	if brs := h.bridges(); !slices.Equal(brs, []string{"br-int"}) {
		t.Errorf("bridges %q, want br-int", brs)
	}
	if dp := h.get("get", "Bridge", "br-int", "datapath_type"); dp != "netdev" {
		t.Errorf("datapath_type %s, want netdev", dp)
	}
	if ms := h.managers(); !slices.Equal(ms, []string{mgr}) {
		t.Errorf("managers %q, want %s", ms, mgr)
	}
	// The settings took effect: ovsdb-server listens where ferry would
	// dial, ovs-vswitchd dials the controller.
	waitDial(t, h.sock("mgr.sock"))
	waitAccept(t, ofc, "ovs-vswitchd (controller)")

	// Again: nothing to do, and it says so.
	out = h.mustJoin(args...)
	want = "system-id: hv1 (unchanged)\n" +
		"bridge br-int: exists, datapath_type netdev (unchanged)\n" +
		"controller of br-int: " + ctl + " (unchanged)\n" +
		"manager: " + mgr + " (unchanged)\n" +
		"host hv1: nothing to change\n"
	if out != want {
		t.Errorf("second run printed\n%s\nwant\n%s", out, want)
	}
	var rep joinReport
	if err := json.Unmarshal([]byte(h.mustJoin(append(args, "-o", "json")...)), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 0 || rep.SystemID != "hv1" || rep.DatapathType != "netdev" || !slices.Equal(rep.Managers, []string{mgr}) {
		t.Errorf("third run -o json: %+v", rep)
	}

	// Without flags it keeps everything, the system-id included.
	if out := h.mustJoin(); !strings.HasSuffix(out, "host hv1: nothing to change\n") {
		t.Errorf("host join without flags:\n%s", out)
	}
}

// TestHostJoinKeeps: another tool's manager stays, an existing system-id
// stays unless --name says otherwise, an existing bridge changes datapath
// only when asked, and a bridge created without --datapath-type goes
// through go-openvswitch's AddBridge.
func TestHostJoinKeeps(t *testing.T) {
	h := newHost(t)
	h.i.Vsctl(t, "set", "Open_vSwitch", ".", "external_ids:system-id=xen-7")
	other := "ptcp:0:127.0.0.1"
	h.i.Vsctl(t, "set-manager", other)
	mgr := "punix:" + h.sock("mgr.sock")
	db := "--db=" + h.i.DBRemote()

	out := h.mustJoin("--manager", mgr, "--bridge", "xapi1")
	want := "system-id: xen-7 (unchanged)\n" +
		"bridge xapi1: created, datapath_type system\n" +
		"    ovs-vsctl " + db + " --may-exist add-br xapi1\n" +
		"manager: " + mgr + " added (kept " + other + ")\n" +
		"    ovs-vsctl " + db + " set-manager " + other + " " + mgr + "\n" +
		"host xen-7: 2 changes made\n"
	if out != want {
		t.Errorf("host join printed\n%s\nwant\n%s", out, want)
	}
	if ms := h.managers(); !slices.Equal(ms, []string{other, mgr}) {
		t.Errorf("managers %q, want both", ms)
	}
	waitDial(t, h.sock("mgr.sock"))

	out = h.mustJoin("--bridge", "xapi1", "--datapath-type", "netdev", "--name", "xen-8")
	want = "system-id: xen-8 (was xen-7)\n" +
		"    ovs-vsctl " + db + " set Open_vSwitch . external_ids:system-id=xen-8\n" +
		"bridge xapi1: datapath_type netdev (was system)\n" +
		"    ovs-vsctl " + db + " set Bridge xapi1 datapath_type=netdev\n" +
		"host xen-8: 2 changes made\n"
	if out != want {
		t.Errorf("host join printed\n%s\nwant\n%s", out, want)
	}
	if dp := h.get("get", "Bridge", "xapi1", "datapath_type"); dp != "netdev" {
		t.Errorf("datapath_type %s, want netdev", dp)
	}
	// --datapath-type system on a netdev bridge changes it back; the
	// default datapath ("") counts as system.
	h.mustJoin("--bridge", "xapi1", "--datapath-type", "system")
	if out := h.mustJoin("--bridge", "xapi1", "--datapath-type", "system"); !strings.Contains(out, "nothing to change") {
		t.Errorf("host join printed\n%s", out)
	}
}

func TestHostJoinDefaultName(t *testing.T) {
	hn, err := os.Hostname()
	if err != nil {
		t.Skip(err)
	}
	short, _, _ := strings.Cut(hn, ".")
	if checkChassisName(short) != nil {
		t.Skipf("hostname %q is not a chassis name", hn)
	}
	h := newHost(t)
	h.mustJoin()
	if id := h.systemID(); id != short {
		t.Errorf("system-id %q, want the hostname %q", id, short)
	}
}

func TestHostJoinRegister(t *testing.T) {
	f := newFixture(t)
	h := newHost(t)
	mgr := "punix:" + h.sock("mgr.sock")
	args := []string{"--server", f.url, "--name", "hv1", "--manager", mgr, "--datapath-type", "netdev",
		"--register", "--tunnel-ip", "198.18.1.11", "--encaps", "vxlan"}
	target := "unix:" + h.sock("mgr.sock")

	out := h.mustJoin(append(args, "--dry-run")...)
	body := `{"name":"hv1","ovsdb":"` + target + `","tunnel_ip":"198.18.1.11","bridge":"br-int","encaps":["vxlan"],"datapath_type":"netdev"}`
	wantLines(t, out,
		"chassis hv1: registered at "+f.url+": OVSDB "+target+", tunnel IP 198.18.1.11, bridge br-int",
		"POST "+f.url+"/v1/chassis '"+body+"'",
		"host hv1: 4 changes to make (dry run)")
	if n := len(f.b.Snapshot().Chassis); n != 0 || slices.Contains(f.requests(), "POST /v1/chassis") {
		t.Fatalf("the dry run registered the chassis: %d chassis, requests %q", n, f.requests())
	}

	out = h.mustJoin(args...)
	wantLines(t, out, "host hv1: 4 changes made")
	chs := f.b.Snapshot().Chassis
	if len(chs) != 1 {
		t.Fatalf("%d chassis registered, want 1", len(chs))
	}
	ch := chs[0]
	if ch.Name != "hv1" || ch.OVSDB != target || ch.TunnelIP.String() != "198.18.1.11" || ch.Bridge != "br-int" ||
		ch.DatapathType != "netdev" || !slices.Equal(ch.Encaps, []string{"vxlan"}) {
		t.Errorf("registered %+v", ch)
	}
	waitDial(t, h.sock("mgr.sock")) // ferry could dial what was registered

	before := len(f.requests())
	out = h.mustJoin(args...)
	wantLines(t, out, "chassis hv1: registered at "+f.url+" (unchanged)", "host hv1: nothing to change")
	if again := f.requests()[before:]; slices.Contains(again, "POST /v1/chassis") {
		t.Errorf("second run sent %q", again)
	}

	// A registration that differs is refused before anything changes on
	// the host.
	code, out, errs := h.join("--server", f.url, "--bridge", "br-new", "--register", "--tunnel-ip", "198.18.1.12")
	wantErr := "ferryctl: host join: chassis hv1 is registered with a different tunnel_ip (registered 198.18.1.11, wanted 198.18.1.12), " +
		"bridge (registered br-int, wanted br-new); nothing was changed: unregister it first (ferryctl chassis delete hv1)\n"
	if code != ExitError || errs != wantErr || out != "" {
		t.Errorf("conflicting registration: exit %d, stdout %q, stderr\n%s\nwant\n%s", code, out, errs, wantErr)
	}
	if slices.Contains(h.bridges(), "br-new") {
		t.Error("a refused registration created the bridge")
	}
}

// TestHostJoinPassive: a host whose manager dials ferry registers as
// "passive", under its system-id.
func TestHostJoinPassive(t *testing.T) {
	f := newFixture(t)
	h := newHost(t)
	ferry := listen(t) // stands in for ferryd --ovsdb-listen
	mgr := "tcp:" + ferry.Addr().String()
	var rep joinReport
	out := h.mustJoin("--server", f.url, "--name", "xen1", "--manager", mgr, "--register", "--tunnel-ip", "198.18.2.13",
		"--kind", "xenserver", "-o", "json")
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	var ch api.Chassis
	if err := json.Unmarshal(rep.Chassis, &ch); err != nil || rep.OVSDB != "passive" || len(rep.Changes) != 4 || ch.OVSDB != "passive" {
		t.Errorf("-o json (%v):\n%s", err, out)
	}
	// Registered before the host dials, so that ferry does not refuse it.
	if len(rep.Changes) == 4 && (!strings.HasPrefix(rep.Changes[2].Change, "chassis xen1: registered") ||
		!strings.HasPrefix(rep.Changes[3].Change, "manager: "+mgr+" added")) {
		t.Errorf("passive host: changes in the wrong order: %q, then %q", rep.Changes[2].Change, rep.Changes[3].Change)
	}
	if chs := f.b.Snapshot().Chassis; len(chs) != 1 || chs[0].OVSDB != "passive" || chs[0].Kind != "xenserver" || chs[0].Name != "xen1" {
		t.Errorf("registered %+v", chs)
	}
	waitAccept(t, ferry, "ovsdb-server (manager)")
}

func TestHostJoinErrors(t *testing.T) {
	h := newHost(t)
	for _, tc := range []struct {
		args []string
		code int
		msg  string // first line of stderr
	}{
		{[]string{"--datapath-type", "dummy"}, ExitUsage, `ferryctl: host join: --datapath-type: "dummy": use system or netdev`},
		{[]string{"--manager", "6640"}, ExitUsage, `ferryctl: host join: --manager: target "6640": missing method (tcp:, ssl:, unix:, ptcp:, pssl: or punix:)`},
		{[]string{"--name", "a b"}, ExitUsage, `ferryctl: host join: --name: "a b": use only letters, digits, '.', '_' and '-', not first '-' or '.'`},
		{[]string{"--bridge", "br-much-too-long"}, ExitUsage, `ferryctl: host join: --bridge: "br-much-too-long" is not a bridge name (up to 15 letters, digits, '.', '_', '-')`},
		{[]string{"--tunnel-ip", "198.18.1.11"}, ExitUsage, "ferryctl: host join: --tunnel-ip is only used with --register"},
		{[]string{"--register"}, ExitUsage, "ferryctl: host join: missing --tunnel-ip"},
		{[]string{"--register", "--tunnel-ip", "::1"}, ExitUsage, `ferryctl: host join: --tunnel-ip: "::1" is not an IPv4 address`},
		{[]string{"--register", "--tunnel-ip", "198.18.1.11", "--kind", "esxi"}, ExitUsage, `ferryctl: host join: --kind: "esxi": use kvm, xenserver or generic`},
		{[]string{"unexpected"}, ExitUsage, `ferryctl: host join: unexpected argument "unexpected"`},
		// Found before anything changes: ferry cannot tell which address
		// of a wildcard listener to dial.
		{[]string{"--name", "hv1", "--manager", "ptcp:6640", "--register", "--tunnel-ip", "198.18.1.11"}, ExitError,
			"ferryctl: host join: --register: manager ptcp:6640 listens on every address: give --ovsdb tcp:MGMT_IP:6640 (the address ferry dials)"},
		{[]string{"--register", "--tunnel-ip", "198.18.1.11"}, ExitError,
			"ferryctl: host join: --register: no manager is set, so ferry cannot reach OVSDB: give --manager (or --ovsdb)"},
	} {
		code, out, errs := h.join(tc.args...)
		first, _, _ := strings.Cut(errs, "\n")
		if code != tc.code || first != tc.msg || out != "" {
			t.Errorf("host join %s: exit %d, stdout %q, stderr\n%s\nwant exit %d and\n%s", strings.Join(tc.args, " "), code, out, errs, tc.code, tc.msg)
		}
	}
	if id, brs, ms := h.systemID(), h.bridges(), h.managers(); id != "" || brs != nil || ms != nil {
		t.Errorf("failed joins changed OVS: system-id %q, bridges %q, managers %q", id, brs, ms)
	}

	// No OVSDB there.
	code, _, errs := run("host", "join", "--db", "unix:"+h.sock("nothing.sock"))
	if code != ExitError || !strings.HasPrefix(errs, "ferryctl: host join: reading the local Open vSwitch: ovs-vsctl --db=unix:"+h.sock("nothing.sock")) ||
		!strings.Contains(errs, "database connection failed") {
		t.Errorf("missing database: exit %d, stderr %q", code, errs)
	}
}

func (f *fixture) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reqs)
}
