package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Schema paths of the Debian openvswitch packages.
const (
	VswitchSchema = "/usr/share/openvswitch/vswitch.ovsschema"
	VtepSchema    = "/usr/share/openvswitch/vtep.ovsschema"
)

// startTimeout bounds how long an OVS daemon may take to answer; 16 of them
// starting at once on two cores need more than the usual milliseconds.
const startTimeout = 30 * time.Second

// OVS is one set of OVS daemons in its own directory: an ovsdb-server and,
// for hypervisors, ovs-vswitchd with the dummy datapath provider.
type OVS struct {
	Name   string
	Dir    string // OVS_RUNDIR, OVS_DBDIR, OVS_LOGDIR, OVS_SYSCONFDIR
	DBSock string

	// NetnsIP, when set, runs ovs-vswitchd in a network namespace of
	// its own with this address on its loopback (the probe step's
	// underlay, probes.go).
	NetnsIP string

	dbs      []string
	vswitch  bool
	ovsdb    *Proc
	vswitchd *Proc
}

// MissingOVS lists the OVS binaries and schemas that are not installed.
func MissingOVS() []string {
	var missing []string
	for _, b := range []string{"ovsdb-tool", "ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ovs-appctl", "vtep-ctl"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	for _, s := range []string{VswitchSchema, VtepSchema} {
		if _, err := os.Stat(s); err != nil {
			missing = append(missing, s)
		}
	}
	return missing
}

// StartOVS creates the databases for schemas in dir (vswitch.ovsschema
// becomes conf.db, as installed) and starts ovsdb-server on unix:DIR/db.sock
// and, with vswitchd, ovs-vswitchd --enable-dummy=override.
func StartOVS(ctx context.Context, name, dir string, schemas []string, vswitchd bool) (*OVS, error) {
	o := &OVS{Name: name, Dir: dir, DBSock: filepath.Join(dir, "db.sock")}
	for _, s := range schemas {
		base := strings.TrimSuffix(filepath.Base(s), ".ovsschema")
		if base == "vswitch" {
			base = "conf"
			o.vswitch = true
		}
		db := filepath.Join(dir, base+".db")
		if _, err := o.Run(ctx, "ovsdb-tool", "create", db, s); err != nil {
			return nil, err
		}
		o.dbs = append(o.dbs, db)
	}
	args := append([]string(nil), o.dbs...)
	args = append(args, "--remote=punix:"+o.DBSock, "-vconsole:off",
		"--pidfile="+filepath.Join(dir, "ovsdb-server.pid"),
		"--log-file="+filepath.Join(dir, "ovsdb-server.log"))
	p, err := StartProc(name+"/ovsdb-server", dir, o.Env(), filepath.Join(dir, "ovsdb-server.stderr"), "ovsdb-server", args...)
	if err != nil {
		return nil, err
	}
	o.ovsdb = p
	if err := o.waitAppctl(ctx, "ovsdb-server", p); err != nil {
		o.Stop()
		return nil, err
	}
	if o.vswitch {
		if _, err := o.Vsctl(ctx, "--no-wait", "init"); err != nil {
			o.Stop()
			return nil, err
		}
	}
	if vswitchd {
		if err := o.StartVswitchd(ctx); err != nil {
			o.Stop()
			return nil, err
		}
	}
	return o, nil
}

// StartVswitchd starts ovs-vswitchd (again).
func (o *OVS) StartVswitchd(ctx context.Context) error {
	if o.vswitchd != nil && !o.vswitchd.Exited() {
		return errors.New("bench: ovs-vswitchd already running")
	}
	bin, args := "ovs-vswitchd", []string{"unix:" + o.DBSock, "--enable-dummy=override", "--disable-system", "-vconsole:off",
		"--pidfile=" + filepath.Join(o.Dir, "ovs-vswitchd.pid"),
		"--log-file=" + filepath.Join(o.Dir, "ovs-vswitchd.log")}
	if o.NetnsIP != "" {
		// OVS 3.1 routes a tunnel with local_ip (ferry sets it) only
		// when a kernel route marks that address local, so the
		// daemon gets an unnamed namespace (gone with the process;
		// nothing to clean up, invisible to `ip netns`) with the
		// address on its loopback. Plain --enable-dummy: with
		// =override the dummy datapath does not do native tunnels.
		// Its OVSDB socket is a unix one, which crosses namespaces;
		// OpenFlow to ferryd's loopback listener needs a relay
		// (netns.go).
		args[1] = "--enable-dummy"
		args = append([]string{"-n", "sh", "-c",
			`ip link set lo up && ip addr add "$0"/32 dev lo && exec ovs-vswitchd "$@"`, o.NetnsIP}, args...)
		bin = "unshare"
	}
	p, err := StartProc(o.Name+"/ovs-vswitchd", o.Dir, o.Env(), filepath.Join(o.Dir, "ovs-vswitchd.stderr"), bin, args...)
	if err != nil {
		return err
	}
	o.vswitchd = p
	return o.waitAppctl(ctx, "ovs-vswitchd", p)
}

// StopVswitchd stops ovs-vswitchd; its flows are gone when it starts again.
func (o *OVS) StopVswitchd() {
	if o.vswitchd != nil {
		o.vswitchd.Stop(10 * time.Second)
	}
}

// VswitchdPid is the pid of ovs-vswitchd, 0 if none runs.
func (o *OVS) VswitchdPid() int {
	if o.vswitchd == nil || o.vswitchd.Exited() {
		return 0
	}
	return o.vswitchd.Pid()
}

func (o *OVS) waitAppctl(ctx context.Context, target string, p *Proc) error {
	deadline := time.Now().Add(startTimeout)
	for {
		_, err := o.Run(ctx, "ovs-appctl", "-t", target, "--timeout=5", "version")
		if err == nil {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("bench: %s exited at start: %s", p.Name, tailFile(filepath.Join(o.Dir, target+".log"), 10))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("bench: %s not ready: %v", p.Name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Env is the environment every OVS tool of this instance runs with.
func (o *OVS) Env() []string {
	return append(os.Environ(),
		"OVS_RUNDIR="+o.Dir, "OVS_DBDIR="+o.Dir, "OVS_LOGDIR="+o.Dir, "OVS_SYSCONFDIR="+o.Dir)
}

// DB is the OVSDB target of the instance's unix socket.
func (o *OVS) DB() string { return "unix:" + o.DBSock }

// Run runs an OVS tool with the instance's environment and returns its
// standard output; an error carries its standard error.
func (o *OVS) Run(ctx context.Context, bin string, args ...string) (string, error) {
	c := exec.CommandContext(ctx, bin, args...)
	c.Env, c.Dir = o.Env(), o.Dir
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		a := strings.Join(args, " ")
		if len(a) > 200 {
			a = a[:200] + "..."
		}
		return stdout.String(), fmt.Errorf("bench: %s %s: %v: %s", bin, a, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Vsctl runs ovs-vsctl against the instance.
func (o *OVS) Vsctl(ctx context.Context, args ...string) (string, error) {
	return o.Run(ctx, "ovs-vsctl", append([]string{"--db=" + o.DB(), "--timeout=300"}, args...)...)
}

// Ofctl runs ovs-ofctl -O OpenFlow15; a bridge name resolves to DIR/BRIDGE.mgmt.
func (o *OVS) Ofctl(ctx context.Context, args ...string) (string, error) {
	return o.Run(ctx, "ovs-ofctl", append([]string{"-O", "OpenFlow15", "--timeout=120"}, args...)...)
}

// Stop stops the daemons (SIGTERM, then SIGKILL) and removes nothing: the
// caller owns Dir.
func (o *OVS) Stop() {
	if o.vswitchd != nil {
		o.vswitchd.Stop(10 * time.Second)
	}
	if o.ovsdb != nil {
		o.ovsdb.Stop(10 * time.Second)
	}
}

// Pids lists the running daemons' pids.
func (o *OVS) Pids() []int {
	var out []int
	for _, p := range []*Proc{o.ovsdb, o.vswitchd} {
		if p != nil && !p.Exited() {
			out = append(out, p.Pid())
		}
	}
	return out
}

// Hypervisor is an emulated hypervisor: OVS daemons with the dummy datapath,
// br-int made by its operator, and VIFs as a hypervisor's virtualization
// layer would plug them.
type Hypervisor struct {
	*OVS
	TunnelIP string
	Bridge   string
}

// VIF is a VM interface on a hypervisor: a dummy Interface on br-int with
// the external_ids libvirt sets.
type VIF struct {
	Name    string
	IfaceID string
	MAC     string
}

// vifBatch bounds the clauses of one ovs-vsctl transaction: large enough to
// be fast, small enough for the argument list.
const vifBatch = 800

// AddVIFs plugs vifs into br-int, vifBatch per ovs-vsctl transaction, and
// waits for ovs-vswitchd to give them ofports.
func (h *Hypervisor) AddVIFs(ctx context.Context, vifs []VIF) error {
	for len(vifs) > 0 {
		n := min(len(vifs), vifBatch)
		var args []string
		for _, v := range vifs[:n] {
			args = append(args, "--", "add-port", h.Bridge, v.Name, "--", "set", "Interface", v.Name, "type=dummy",
				"external_ids:iface-id="+v.IfaceID, "external_ids:attached-mac="+v.MAC, "external_ids:iface-status=active")
		}
		if _, err := h.Vsctl(ctx, args...); err != nil {
			return err
		}
		vifs = vifs[n:]
	}
	return nil
}

// FlowCount returns the number of flows and groups on a bridge, read with
// ovs-ofctl (not from the control plane, so that every system is counted
// the same way).
func (h *Hypervisor) FlowCount(ctx context.Context, bridge string) (flows, groups int, err error) {
	out, err := h.Ofctl(ctx, "dump-aggregate", bridge)
	if err != nil {
		return 0, 0, err
	}
	i := strings.Index(out, "flow_count=")
	if i < 0 {
		return 0, 0, fmt.Errorf("bench: dump-aggregate %s: no flow_count in %q", bridge, out)
	}
	if _, err := fmt.Sscanf(out[i:], "flow_count=%d", &flows); err != nil {
		return 0, 0, fmt.Errorf("bench: dump-aggregate %s: %q: %w", bridge, out, err)
	}
	out, err = h.Ofctl(ctx, "dump-groups", bridge)
	if err != nil {
		return 0, 0, err
	}
	return flows, strings.Count(out, "group_id="), nil
}
