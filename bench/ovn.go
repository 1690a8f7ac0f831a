package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// Schema paths of the Debian ovn-common package.
const (
	OVNNBSchema = "/usr/share/ovn/ovn-nb.ovsschema"
	OVNSBSchema = "/usr/share/ovn/ovn-sb.ovsschema"
)

func init() {
	Register("ovn", func(env *Env) (System, error) {
		return &OVN{Dir: env.Dir, Logf: env.Logf}, nil
	})
}

// MissingOVN lists the OVN binaries and schemas that are not installed
// (bench/ovn_deps.sh installs them).
func MissingOVN() []string {
	var missing []string
	for _, b := range []string{"ovn-northd", "ovn-controller", "ovn-nbctl", "ovn-sbctl", "ovn-appctl", "ovsdb-server", "ovsdb-tool"} {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	for _, s := range []string{OVNNBSchema, OVNSBSchema} {
		if _, err := os.Stat(s); err != nil {
			missing = append(missing, s)
		}
	}
	return missing
}

// OVN is OVN as installed from Debian (ovn-central, ovn-host) as a
// System: NB and SB ovsdb-servers and ovn-northd in Dir, and on every
// hypervisor one ovn-controller pointed at the SB database, its chassis
// named after the hypervisor, geneve to the hypervisor's tunnel IP. Ports
// bind by name: the logical switch port is called after the VIF's iface-id.
//
// The harness talks to the NB database as a CMS does: over OVSDB, here with
// libovsdb, one transaction per switch and per port, as `ovn-nbctl
// --wait=hv lsp-add SW PORT -- lsp-set-addresses PORT MAC` would send it
// (insert, add to the switch, nb_cfg += 1). An in-process client keeps the
// per-call cost of ovn-nbctl (a process and a replica of the NB tables it
// needs, at 10,000 ports most of the call) out of the figures, as an
// in-process REST client does for ferry. Done is OVN's own notion, the one
// `ovn-nbctl --wait=hv` waits for: NB_Global.hv_cfg (every chassis has
// installed the flows of that nb_cfg), plus every port's Port_Binding
// claimed by a chassis and up (set by ovn-controller once the port's flows
// are installed).
type OVN struct {
	// Dir holds the NB/SB databases, sockets and logs of ovn-northd.
	Dir string
	// Logf reports progress (nil: silent).
	Logf func(format string, args ...any)
	// SpareNorthd makes Crash kill the ovn-controllers only; by default
	// it kills ovn-northd as well (the databases, OVN's state, live on).
	SpareNorthd bool

	hvs            []*Hypervisor
	nbSock, sbSock string
	nbdb, sbdb     *Proc
	northd         *Proc
	ctrls          []*Proc
	nb, sb         client.Client
	nbGlobal       string // NB_Global's _uuid
	change         notifier

	mu      sync.Mutex
	lastCfg int // highest nb_cfg a create committed

	cmu        sync.Mutex
	flowMods   procCounter // ovs-vswitchd's, one key per hypervisor
	passes     procCounter // ovn-northd's and the ovn-controllers' runs
	confdb     []dbPos     // per hypervisor: conf.db when it last started
	crashFlows []int       // flows per bridge when Crash ran

	restarted time.Time     // when Restart ran
	sbCPU0    time.Duration // SB ovsdb-server's CPU time then
}

// The columns of the NB and SB tables the harness reads, as libovsdb
// models (a subset of the schema's columns is a valid model).
type ovnNBGlobal struct {
	UUID  string `ovsdb:"_uuid"`
	NbCfg int    `ovsdb:"nb_cfg"`
	SbCfg int    `ovsdb:"sb_cfg"`
	HvCfg int    `ovsdb:"hv_cfg"`
}

type ovnChassis struct {
	UUID string `ovsdb:"_uuid"`
	Name string `ovsdb:"name"`
}

// Datapath and TunnelKey are there because libovsdb's cache keeps the
// schema's indexes, (datapath, tunnel_key) among them, and refuses rows
// whose model lacks an index's columns.
type ovnPortBinding struct {
	UUID        string  `ovsdb:"_uuid"`
	Datapath    string  `ovsdb:"datapath"`
	TunnelKey   int     `ovsdb:"tunnel_key"`
	LogicalPort string  `ovsdb:"logical_port"`
	Chassis     *string `ovsdb:"chassis"`
	Up          *bool   `ovsdb:"up"`
}

// procCounter sums counters of processes that restart: a key's counter
// is read with its process's pid, and a new pid counts from zero.
type procCounter struct {
	total int64 // since reset
	last  map[string]procReading
}

type procReading struct {
	pid int
	n   int64
}

// reset makes the readings given the new zero.
func (c *procCounter) reset(readings map[string]procReading) {
	c.total, c.last = 0, readings
}

// add accounts for a new reading of key; a pid of 0 (not running) adds
// nothing.
func (c *procCounter) add(key string, r procReading) {
	if r.pid == 0 {
		return
	}
	prev, ok := c.last[key]
	switch {
	case ok && prev.pid == r.pid && r.n >= prev.n:
		c.total += r.n - prev.n
	default:
		// Started since: its count began at zero.
		c.total += r.n
	}
	if c.last == nil {
		c.last = map[string]procReading{}
	}
	c.last[key] = r
}

// dbPos is where a hypervisor's conf.db ended when the control plane
// started: the transactions after it are the ones counted.
type dbPos struct {
	ino  uint64
	size int64
}

// notifier wakes waiters when a monitored table changes.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) fire() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// Name implements System.
func (o *OVN) Name() string { return "ovn" }

// Version implements System.
func (o *OVN) Version(ctx context.Context) string {
	v := firstLine(ctx, "ovn-nbctl", "--version")
	if v == "" {
		return "OVN not installed"
	}
	if out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", "ovn-central").Output(); err == nil {
		v += " (Debian ovn-central " + strings.TrimSpace(string(out)) + ")"
	}
	return v + ": ovn-northd, NB/SB ovsdb-server, one ovn-controller per hypervisor, geneve"
}

func (o *OVN) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// centralEnv points every OVS/OVN default path at Dir.
func (o *OVN) centralEnv() []string {
	env := os.Environ()
	for _, k := range []string{"OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR", "OVN_RUNDIR", "OVN_DBDIR", "OVN_LOGDIR", "OVN_SYSCONFDIR"} {
		env = append(env, k+"="+o.Dir)
	}
	return env
}

// controllerEnv is the hypervisor's environment (ovn-controller finds
// br-int.mgmt in OVS_RUNDIR) with OVN's paths in the same directory.
func controllerEnv(hv *Hypervisor) []string {
	env := hv.Env()
	for _, k := range []string{"OVN_RUNDIR", "OVN_DBDIR", "OVN_LOGDIR", "OVN_SYSCONFDIR"} {
		env = append(env, k+"="+hv.Dir)
	}
	return env
}

func (o *OVN) run(ctx context.Context, bin string, args ...string) (string, error) {
	c := exec.CommandContext(ctx, bin, args...)
	c.Env, c.Dir = o.centralEnv(), o.Dir
	out, err := c.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("bench: %s %s: %v: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Start implements System.
func (o *OVN) Start(ctx context.Context, hvs []*Hypervisor) error {
	if missing := MissingOVN(); len(missing) > 0 {
		return fmt.Errorf("bench: OVN not installed (missing %s): run bench/ovn_deps.sh as root", strings.Join(missing, ", "))
	}
	o.hvs = hvs
	o.nbSock, o.sbSock = filepath.Join(o.Dir, "nb.sock"), filepath.Join(o.Dir, "sb.sock")
	for _, db := range []struct{ name, schema string }{{"nb", OVNNBSchema}, {"sb", OVNSBSchema}} {
		if _, err := o.run(ctx, "ovsdb-tool", "create", filepath.Join(o.Dir, db.name+".db"), db.schema); err != nil {
			return err
		}
	}
	var err error
	if o.nbdb, err = o.startDB(ctx, "nb"); err != nil {
		return err
	}
	if o.sbdb, err = o.startDB(ctx, "sb"); err != nil {
		return err
	}
	if _, err := o.run(ctx, "ovn-nbctl", "--db=unix:"+o.nbSock, "init"); err != nil {
		return err
	}
	if _, err := o.run(ctx, "ovn-sbctl", "--db=unix:"+o.sbSock, "init"); err != nil {
		return err
	}
	if err := o.startNorthd(); err != nil {
		return err
	}
	if err := o.connect(ctx); err != nil {
		return err
	}

	// The counters start now, before any ovn-controller runs.
	o.confdb = make([]dbPos, len(hvs))
	o.ctrls = make([]*Proc, len(hvs))
	if err := o.resetCounters(ctx); err != nil {
		return err
	}
	if err := forEach(ctx, len(hvs), 4, func(ctx context.Context, i int) error {
		hv := hvs[i]
		if _, err := hv.Vsctl(ctx, "set", "Open_vSwitch", ".",
			"external_ids:system-id="+hv.Name,
			"external_ids:ovn-remote=unix:"+o.sbSock,
			"external_ids:ovn-encap-type=geneve",
			"external_ids:ovn-encap-ip="+hv.TunnelIP,
			"external_ids:ovn-bridge="+hv.Bridge,
			"external_ids:ovn-bridge-datapath-type=dummy"); err != nil {
			return err
		}
		return o.startController(i)
	}); err != nil {
		return err
	}

	// Every chassis registered, then every chassis caught up with the NB
	// database (its base flows installed on br-int).
	want := make(map[string]bool, len(hvs))
	for _, hv := range hvs {
		want[hv.Name] = true
	}
	if err := o.waitFor(ctx, 0, func() (bool, error) {
		n := 0
		for _, m := range o.sb.Cache().Table("Chassis").RowsShallow() {
			if want[m.(*ovnChassis).Name] {
				n++
			}
		}
		return n == len(hvs), nil
	}); err != nil {
		return fmt.Errorf("bench: waiting for %d OVN chassis: %w", len(hvs), err)
	}
	cfg, err := o.sync(ctx)
	if err != nil {
		return err
	}
	return o.waitFor(ctx, 0, func() (bool, error) { return o.hvCfg() >= cfg, nil })
}

// startDB starts the ovsdb-server of the nb or sb database and waits for
// its socket.
func (o *OVN) startDB(ctx context.Context, name string) (*Proc, error) {
	sock := filepath.Join(o.Dir, name+".sock")
	p, err := StartProc(name+" ovsdb-server", o.Dir, o.centralEnv(), filepath.Join(o.Dir, name+".stderr"), "ovsdb-server",
		filepath.Join(o.Dir, name+".db"), "--remote=punix:"+sock, "-vconsole:off",
		"--pidfile="+filepath.Join(o.Dir, name+".pid"), "--log-file="+filepath.Join(o.Dir, name+".log"),
		"--unixctl="+filepath.Join(o.Dir, name+".ctl"))
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(startTimeout)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return p, nil
		}
		if p.Exited() {
			return nil, fmt.Errorf("bench: %s exited at start: %s", p.Name, tailFile(filepath.Join(o.Dir, name+".log"), 10))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.Stop(5 * time.Second)
			return nil, fmt.Errorf("bench: %s not ready", p.Name)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (o *OVN) startNorthd() error {
	p, err := StartProc("ovn-northd", o.Dir, o.centralEnv(), filepath.Join(o.Dir, "ovn-northd.stderr"), "ovn-northd",
		"--ovnnb-db=unix:"+o.nbSock, "--ovnsb-db=unix:"+o.sbSock, "-vconsole:off",
		"--pidfile="+filepath.Join(o.Dir, "ovn-northd.pid"), "--log-file="+filepath.Join(o.Dir, "ovn-northd.log"),
		"--unixctl="+filepath.Join(o.Dir, "ovn-northd.ctl"))
	if err != nil {
		return err
	}
	o.northd = p
	return nil
}

func (o *OVN) startController(i int) error {
	hv := o.hvs[i]
	p, err := StartProc(hv.Name+"/ovn-controller", hv.Dir, controllerEnv(hv), filepath.Join(hv.Dir, "ovn-controller.stderr"),
		"ovn-controller", hv.DB(), "-vconsole:off",
		"--pidfile="+filepath.Join(hv.Dir, "ovn-controller.pid"), "--log-file="+filepath.Join(hv.Dir, "ovn-controller.log"))
	if err != nil {
		return err
	}
	o.ctrls[i] = p
	return nil
}

// connect opens the harness's own NB and SB clients: NB_Global (nb_cfg,
// hv_cfg), and in the SB every Chassis and Port_Binding.
func (o *OVN) connect(ctx context.Context) error {
	nbModel, err := model.NewClientDBModel("OVN_Northbound", map[string]model.Model{"NB_Global": &ovnNBGlobal{}})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	sbModel, err := model.NewClientDBModel("OVN_Southbound", map[string]model.Model{
		"Chassis": &ovnChassis{}, "Port_Binding": &ovnPortBinding{}})
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	discard := logr.Discard()
	// Only the model's columns: libovsdb monitors every column of the
	// schema otherwise, and drops updates to columns the model lacks.
	g, ch, pb := &ovnNBGlobal{}, &ovnChassis{}, &ovnPortBinding{}
	nbTables := []client.MonitorOption{client.WithTable(g, &g.NbCfg, &g.SbCfg, &g.HvCfg)}
	sbTables := []client.MonitorOption{client.WithTable(ch, &ch.Name), client.WithTable(pb, &pb.Datapath, &pb.TunnelKey, &pb.LogicalPort, &pb.Chassis, &pb.Up)}
	open := func(m model.ClientDBModel, sock string, tables []client.MonitorOption) (client.Client, error) {
		c, err := client.NewOVSDBClient(m, client.WithEndpoint("unix:"+sock), client.WithLogger(&discard))
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		if err := c.Connect(ctx); err != nil {
			return nil, fmt.Errorf("bench: connect %s: %w", sock, err)
		}
		c.Cache().AddEventHandler(&cache.EventHandlerFuncs{
			AddFunc:    func(string, model.Model) { o.change.fire() },
			UpdateFunc: func(string, model.Model, model.Model) { o.change.fire() },
			DeleteFunc: func(string, model.Model) { o.change.fire() },
		})
		if _, err := c.Monitor(ctx, c.NewMonitor(tables...)); err != nil {
			c.Close()
			return nil, fmt.Errorf("bench: monitor %s: %w", sock, err)
		}
		return c, nil
	}
	if o.nb, err = open(nbModel, o.nbSock, nbTables); err != nil {
		return err
	}
	if o.sb, err = open(sbModel, o.sbSock, sbTables); err != nil {
		return err
	}
	for uuid := range o.nb.Cache().Table("NB_Global").RowsShallow() {
		o.nbGlobal = uuid
	}
	if o.nbGlobal == "" {
		return errors.New("bench: no NB_Global row after ovn-nbctl init")
	}
	return nil
}

// Stop implements System: ovn-controllers, ovn-northd, then the databases.
func (o *OVN) Stop() {
	for _, c := range []client.Client{o.nb, o.sb} {
		if c != nil {
			c.Close()
		}
	}
	var wg sync.WaitGroup
	for _, p := range o.ctrls {
		if p != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.Stop(10 * time.Second)
			}()
		}
	}
	wg.Wait()
	for _, p := range []*Proc{o.northd, o.sbdb, o.nbdb} {
		if p != nil {
			p.Stop(10 * time.Second)
		}
	}
}

// alive returns an error when a daemon that should run has exited.
func (o *OVN) alive() error {
	check := func(p *Proc, log string) error {
		if p != nil && p.Exited() {
			return fmt.Errorf("bench: %s exited: %s", p.Name, tailFile(log, 10))
		}
		return nil
	}
	if err := check(o.nbdb, filepath.Join(o.Dir, "nb.log")); err != nil {
		return err
	}
	if err := check(o.sbdb, filepath.Join(o.Dir, "sb.log")); err != nil {
		return err
	}
	if err := check(o.northd, filepath.Join(o.Dir, "ovn-northd.log")); err != nil {
		return err
	}
	for i, p := range o.ctrls {
		if err := check(p, filepath.Join(o.hvs[i].Dir, "ovn-controller.log")); err != nil {
			return err
		}
	}
	return nil
}

// waitFor calls cond whenever a monitored table changed (and at least
// every 100 ms), no more often than every, until it holds, a daemon died
// or ctx ends.
func (o *OVN) waitFor(ctx context.Context, every time.Duration, cond func() (bool, error)) error {
	for {
		ch := o.change.wait()
		t0 := time.Now()
		if err := o.alive(); err != nil {
			return err
		}
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-ch:
		case <-t.C:
		}
		t.Stop()
		if d := every - time.Since(t0); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
	}
}

func (o *OVN) hvCfg() int {
	m := o.nb.Cache().Table("NB_Global").Row(o.nbGlobal)
	if m == nil {
		return -1
	}
	return m.(*ovnNBGlobal).HvCfg
}

// transact sends ops; an error result (of an operation or of the
// transaction's constraints) is an error.
func (o *OVN) transact(ctx context.Context, ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	res, err := o.nb.Transact(ctx, ops...)
	if err != nil {
		return nil, fmt.Errorf("bench: NB transaction: %w", err)
	}
	for i, r := range res {
		if r.Error != "" {
			what := "commit"
			if i < len(ops) {
				what = ops[i].Op + " " + ops[i].Table
			}
			return nil, fmt.Errorf("bench: NB transaction: %s: %s: %s", what, r.Error, r.Details)
		}
	}
	if len(res) < len(ops) {
		return nil, fmt.Errorf("bench: NB transaction: %d results for %d operations", len(res), len(ops))
	}
	return res, nil
}

// cfgOps bump NB_Global.nb_cfg and read it back: what ovn-nbctl --wait
// adds to a transaction (as a mutation, so that concurrent writers do not
// conflict).
func (o *OVN) cfgOps() []ovsdb.Operation {
	where := []ovsdb.Condition{{Column: "_uuid", Function: ovsdb.ConditionEqual, Value: ovsdb.UUID{GoUUID: o.nbGlobal}}}
	return []ovsdb.Operation{
		{Op: ovsdb.OperationMutate, Table: "NB_Global", Where: where,
			Mutations: []ovsdb.Mutation{{Column: "nb_cfg", Mutator: ovsdb.MutateOperationAdd, Value: 1}}},
		{Op: ovsdb.OperationSelect, Table: "NB_Global", Where: where, Columns: []string{"nb_cfg"}},
	}
}

// cfgResult reads the nb_cfg that cfgOps' select returned and remembers
// the highest.
func (o *OVN) cfgResult(r ovsdb.OperationResult) (int, error) {
	if len(r.Rows) != 1 {
		return 0, fmt.Errorf("bench: NB_Global: %d rows", len(r.Rows))
	}
	var cfg int
	switch v := r.Rows[0]["nb_cfg"].(type) {
	case float64:
		cfg = int(v)
	case int:
		cfg = v
	default:
		return 0, fmt.Errorf("bench: NB_Global nb_cfg: %T", v)
	}
	o.mu.Lock()
	o.lastCfg = max(o.lastCfg, cfg)
	o.mu.Unlock()
	return cfg, nil
}

// sync is `ovn-nbctl --wait=hv sync` without the wait: it bumps nb_cfg and
// returns the value hv_cfg must reach.
func (o *OVN) sync(ctx context.Context) (int, error) {
	res, err := o.transact(ctx, o.cfgOps()...)
	if err != nil {
		return 0, err
	}
	return o.cfgResult(res[1])
}

// CreateSwitch implements System: ovn-nbctl ls-add. OVN picks the tunnel
// key itself; the workload's VNI is not used.
func (o *OVN) CreateSwitch(ctx context.Context, sw Switch) error {
	_, err := o.transact(ctx, ovsdb.Operation{Op: ovsdb.OperationInsert, Table: "Logical_Switch",
		Row: ovsdb.Row{"name": sw.Name}})
	return err
}

// CreatePort implements System: the transaction of `ovn-nbctl --wait=hv
// lsp-add SW IFACE-ID -- lsp-set-addresses IFACE-ID MAC`; it returns once
// committed, and WaitSwitch does the waiting.
func (o *OVN) CreatePort(ctx context.Context, sw string, p Port) error {
	ops := []ovsdb.Operation{
		{Op: ovsdb.OperationInsert, Table: "Logical_Switch_Port", UUIDName: "lsp",
			Row: ovsdb.Row{"name": p.IfaceID, "addresses": ovsdb.OvsSet{GoSet: []any{p.MAC}}}},
		{Op: ovsdb.OperationMutate, Table: "Logical_Switch",
			Where: []ovsdb.Condition{{Column: "name", Function: ovsdb.ConditionEqual, Value: sw}},
			Mutations: []ovsdb.Mutation{{Column: "ports", Mutator: ovsdb.MutateOperationInsert,
				Value: ovsdb.OvsSet{GoSet: []any{ovsdb.UUID{GoUUID: "lsp"}}}}}},
	}
	ops = append(ops, o.cfgOps()...)
	res, err := o.transact(ctx, ops...)
	if err != nil {
		return err
	}
	if res[1].Count != 1 {
		// The unreferenced port was garbage-collected with the commit.
		return fmt.Errorf("bench: no logical switch %s", sw)
	}
	_, err = o.cfgResult(res[3])
	return err
}

// CreateSwitchWithPorts implements BulkCreator: ls-add and every lsp-add
// (with lsp-set-addresses) in one transaction, as one ovn-nbctl command
// line chaining them with "--" sends.
func (o *OVN) CreateSwitchWithPorts(ctx context.Context, sw Switch) error {
	var ops []ovsdb.Operation
	refs := make([]any, 0, len(sw.Ports))
	for i, p := range sw.Ports {
		name := fmt.Sprintf("lsp%d", i)
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationInsert, Table: "Logical_Switch_Port", UUIDName: name,
			Row: ovsdb.Row{"name": p.IfaceID, "addresses": ovsdb.OvsSet{GoSet: []any{p.MAC}}}})
		refs = append(refs, ovsdb.UUID{GoUUID: name})
	}
	ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationInsert, Table: "Logical_Switch",
		Row: ovsdb.Row{"name": sw.Name, "ports": ovsdb.OvsSet{GoSet: refs}}})
	ops = append(ops, o.cfgOps()...)
	res, err := o.transact(ctx, ops...)
	if err != nil {
		return err
	}
	_, err = o.cfgResult(res[len(ops)-1])
	return err
}

// bound reports whether every port is claimed by a chassis and up.
func (o *OVN) bound(ports []Port) bool {
	t := o.sb.Cache().Table("Port_Binding")
	for _, p := range ports {
		_, m, err := t.RowByModel(&ovnPortBinding{LogicalPort: p.IfaceID})
		if err != nil || m == nil {
			return false
		}
		pb := m.(*ovnPortBinding)
		if pb.Chassis == nil || pb.Up == nil || !*pb.Up {
			return false
		}
	}
	return true
}

// allBound reports whether every Port_Binding is claimed and up.
func (o *OVN) allBound() bool {
	for _, m := range o.sb.Cache().Table("Port_Binding").RowsShallow() {
		pb := m.(*ovnPortBinding)
		if pb.Chassis == nil || pb.Up == nil || !*pb.Up {
			return false
		}
	}
	return true
}

// WaitAll implements System: `ovn-nbctl --wait=hv sync`, and every port
// bound and up.
func (o *OVN) WaitAll(ctx context.Context, sws []Switch) error {
	cfg, err := o.sync(ctx)
	if err != nil {
		return err
	}
	var ports []Port
	for _, sw := range sws {
		ports = append(ports, sw.Ports...)
	}
	t0 := time.Now()
	self0, _ := ProcUsage(os.Getpid())
	err = o.waitFor(ctx, 20*time.Millisecond, func() (bool, error) {
		return o.hvCfg() >= cfg && o.bound(ports), nil
	})
	// The harness shares the cores with OVN: say what its own client
	// cost while OVN worked.
	if self, uerr := ProcUsage(os.Getpid()); uerr == nil && time.Since(t0) > time.Second {
		o.logf("ovn: waited %v for %d ports; the harness process used %v of CPU meanwhile",
			time.Since(t0).Round(time.Millisecond), len(ports), (self.CPU - self0.CPU).Round(time.Millisecond))
	}
	return err
}

// WaitSwitch implements System: hv_cfg has reached the nb_cfg of the last
// create (what ovn-nbctl --wait=hv lsp-add waits for), and every port of
// sw is bound and up.
func (o *OVN) WaitSwitch(ctx context.Context, sw Switch) error {
	o.mu.Lock()
	cfg := o.lastCfg
	o.mu.Unlock()
	return o.waitFor(ctx, 0, func() (bool, error) {
		return o.hvCfg() >= cfg && o.bound(sw.Ports), nil
	})
}

// Crash implements System: SIGKILL to every ovn-controller and, unless
// SpareNorthd, to ovn-northd. It first counts the flows on every bridge,
// which WaitInStep waits to see again.
func (o *OVN) Crash(ctx context.Context) error {
	flows, _, err := countFlows(ctx, o.hvs)
	if err != nil {
		return err
	}
	o.crashFlows = flows
	var wg sync.WaitGroup
	for _, p := range o.ctrls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Kill()
		}()
	}
	if !o.SpareNorthd {
		o.northd.Kill()
	}
	wg.Wait()
	// What the restarted control plane sends is counted from here.
	return o.resetCounters(ctx)
}

// Restart implements System: the killed daemons again, same arguments.
func (o *OVN) Restart(ctx context.Context) error {
	o.restarted = time.Now()
	if u, err := ProcUsage(o.sbdb.Pid()); err == nil {
		o.sbCPU0 = u.CPU
	}
	if o.northd.Exited() {
		if err := o.startNorthd(); err != nil {
			return err
		}
	}
	for i, p := range o.ctrls {
		if p.Exited() {
			if err := o.startController(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// WaitInStep implements System: `ovn-nbctl --wait=hv sync` returns (every
// restarted ovn-controller has installed the flows of the new nb_cfg),
// every port is still bound and up, and every bridge has at least the
// flows it had before the crash. The last check guards against a
// controller that reports nb_cfg before its flows are back; the progress
// log says whether it ever mattered.
func (o *OVN) WaitInStep(ctx context.Context) error {
	cfg, err := o.sync(ctx)
	if err != nil {
		return err
	}
	if err := o.waitFor(ctx, 0, func() (bool, error) { return o.hvCfg() >= cfg && o.allBound(), nil }); err != nil {
		return err
	}
	tcfg := time.Since(o.restarted)
	back := func() bool {
		flows, _, err := countFlows(ctx, o.hvs)
		if err != nil {
			return false
		}
		for i := range flows {
			if flows[i] < o.crashFlows[i] {
				return false
			}
		}
		return true
	}
	if back() {
		o.logf("ovn: hv_cfg caught up %v after the restart, every bridge had its flows back by then; %s",
			tcfg.Round(time.Millisecond), o.catchUpCPU())
		return nil
	}
	err = poll(ctx, 10*time.Millisecond, func() (bool, error) { return back(), o.alive() })
	o.logf("ovn: hv_cfg caught up %v after the restart, but flows were back only after %v; %s", tcfg.Round(time.Millisecond),
		time.Since(o.restarted).Round(time.Millisecond), o.catchUpCPU())
	return err
}

// catchUpCPU describes the CPU time the restarted daemons and the SB
// ovsdb-server used since Restart. All chassis share this machine's cores
// here; on real hypervisors each ovn-controller has its own, so the
// per-controller figure bounds what one chassis would take.
func (o *OVN) catchUpCPU() string {
	var sum, most time.Duration
	n := 0
	for _, p := range o.ctrls {
		if u, err := ProcUsage(p.Pid()); err == nil {
			sum += u.CPU
			most = max(most, u.CPU)
			n++
		}
	}
	s := "CPU time since the restart:"
	if n > 0 {
		s += fmt.Sprintf(" ovn-controller mean %v, max %v (%d of them, %v together);", (sum / time.Duration(n)).Round(time.Millisecond),
			most.Round(time.Millisecond), n, sum.Round(time.Millisecond))
	}
	if u, err := ProcUsage(o.northd.Pid()); err == nil {
		s += fmt.Sprintf(" ovn-northd %v;", u.CPU.Round(time.Millisecond))
	}
	if u, err := ProcUsage(o.sbdb.Pid()); err == nil {
		s += fmt.Sprintf(" SB ovsdb-server %v", (u.CPU - o.sbCPU0).Round(time.Millisecond))
	}
	return s
}

// vswitchdCounter reads ovs-vswitchd's ofproto_recv_openflow.
func vswitchdCounter(ctx context.Context, hv *Hypervisor) (int64, error) {
	out, err := hv.Run(ctx, "ovs-appctl", "-t", "ovs-vswitchd", "--timeout=30", "coverage/read-counter", "ofproto_recv_openflow")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bench: coverage/read-counter on %s: %q", hv.Name, out)
	}
	return n, nil
}

func confDB(hv *Hypervisor) string { return filepath.Join(hv.Dir, "conf.db") }

func statDB(path string) (dbPos, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return dbPos{}, fmt.Errorf("bench: %w", err)
	}
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return dbPos{ino: ino, size: fi.Size()}, nil
}

// ofReadings reads ovs-vswitchd's ofproto_recv_openflow on every
// hypervisor.
func (o *OVN) ofReadings(ctx context.Context) (map[string]procReading, error) {
	out := map[string]procReading{}
	for _, hv := range o.hvs {
		pid := hv.VswitchdPid()
		if pid == 0 {
			continue
		}
		n, err := vswitchdCounter(ctx, hv)
		if err != nil {
			return nil, err
		}
		out[hv.Name] = procReading{pid, n}
	}
	return out, nil
}

// stopwatchSamples is the number of samples of an OVN daemon's stopwatch.
func stopwatchSamples(ctx context.Context, env []string, target, name string) (int64, error) {
	c := exec.CommandContext(ctx, "ovn-appctl", "-t", target, "--timeout=30", "stopwatch/show", name)
	c.Env = env
	b, err := c.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("bench: ovn-appctl -t %s stopwatch/show %s: %v: %s", target, name, err, strings.TrimSpace(string(b)))
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "Total samples:"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	// No sample yet: OVS prints no statistics for an empty stopwatch.
	return 0, nil
}

// passReadings reads how many times ovn-northd ran its engine (stopwatch
// ovnnb_db_run) and every ovn-controller computed flows (stopwatch
// flow-generation).
func (o *OVN) passReadings(ctx context.Context) (map[string]procReading, error) {
	out := map[string]procReading{}
	if o.northd != nil && !o.northd.Exited() {
		n, err := stopwatchSamples(ctx, o.centralEnv(), filepath.Join(o.Dir, "ovn-northd.ctl"), "ovnnb_db_run")
		if err != nil {
			return nil, err
		}
		out["ovn-northd"] = procReading{o.northd.Pid(), n}
	}
	for i, p := range o.ctrls {
		if p == nil || p.Exited() {
			continue
		}
		// ovn-controller has no --unixctl: ovn-appctl finds its socket
		// from the pidfile in OVN_RUNDIR.
		n, err := stopwatchSamples(ctx, controllerEnv(o.hvs[i]), "ovn-controller", "flow-generation")
		if err != nil {
			return nil, err
		}
		out[o.hvs[i].Name] = procReading{p.Pid(), n}
	}
	return out, nil
}

// resetCounters starts counting from now.
func (o *OVN) resetCounters(ctx context.Context) error {
	o.cmu.Lock()
	defer o.cmu.Unlock()
	of, err := o.ofReadings(ctx)
	if err != nil {
		return err
	}
	passes, err := o.passReadings(ctx)
	if err != nil {
		return err
	}
	o.flowMods.reset(of)
	o.passes.reset(passes)
	for i, hv := range o.hvs {
		if o.confdb[i], err = statDB(confDB(hv)); err != nil {
			return err
		}
	}
	return nil
}

// Counters implements System.
//
// FlowMods: OVN does not count the flow_mods ovn-controller sends (it
// packs many into one write; its vconn_sent counts writes). ovs-vswitchd
// does, exactly, in its "N flow_mods in the last S s" log lines, but only
// 10 s after the first and then at most once a minute. So this is the sum
// over hypervisors of ovs-vswitchd's coverage counter
// ofproto_recv_openflow since the control plane started: every OpenFlow
// message ovs-vswitchd handled, i.e. the flow_mods plus a few dozen
// barriers, feature and configuration requests per chassis (an upper
// bound). The harness's own ovs-ofctl calls count too; none run between
// Start and the end of step 1 or between Restart and step 3's read.
//
// OVSDBWrites: the transactions ovn-controller committed to the
// hypervisors' databases since the control plane started, counted from
// the transaction log in each conf.db (ovn-controller marks its
// transactions with the comment "ovn-controller"); Unknown if
// ovsdb-server compacted a conf.db meanwhile.
//
// Passes: ovn-northd's engine runs (samples of its stopwatch
// ovnnb_db_run) plus every ovn-controller's flow computations (samples of
// its stopwatch flow-generation).
//
// Bundles and BundleTime: Unknown (ovn-controller 23.03 sends plain
// flow_mods, not OpenFlow bundles).
func (o *OVN) Counters(ctx context.Context) (Counters, error) {
	o.cmu.Lock()
	defer o.cmu.Unlock()
	c := Counters{Bundles: Unknown, BundleTime: Unknown}
	of, err := o.ofReadings(ctx)
	if err != nil {
		return Counters{}, err
	}
	for k, r := range of {
		o.flowMods.add(k, r)
	}
	passes, err := o.passReadings(ctx)
	if err != nil {
		return Counters{}, err
	}
	for k, r := range passes {
		o.passes.add(k, r)
	}
	c.FlowMods, c.Passes = o.flowMods.total, o.passes.total
	for i, hv := range o.hvs {
		n, err := countTransactions(confDB(hv), o.confdb[i], "ovn-controller")
		if err != nil {
			return Counters{}, err
		}
		if n == Unknown {
			c.OVSDBWrites = Unknown
			break
		}
		c.OVSDBWrites += n
	}
	return c, nil
}

// countTransactions counts the records of an OVSDB standalone log after
// from whose _comment starts with prefix; Unknown when the file was
// compacted (replaced or shorter) since.
func countTransactions(path string, from dbPos, prefix string) (int64, error) {
	now, err := statDB(path)
	if err != nil {
		return 0, err
	}
	if now.ino != from.ino || now.size < from.size {
		return Unknown, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(from.size, io.SeekStart); err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	r := bufio.NewReaderSize(f, 1<<20)
	var n int64
	for {
		// A record: "OVSDB JSON <length> <sha1>\n" and length bytes of
		// JSON. A record being written may be cut short: stop there.
		hdr, err := r.ReadString('\n')
		if err != nil {
			return n, nil
		}
		var length int
		var sum string
		if _, err := fmt.Sscanf(hdr, "OVSDB JSON %d %s", &length, &sum); err != nil {
			return 0, fmt.Errorf("bench: %s: unexpected record header %q", path, strings.TrimSpace(hdr))
		}
		data := make([]byte, length)
		if _, err := io.ReadFull(r, data); err != nil {
			return n, nil
		}
		var rec struct {
			Comment string `json:"_comment"`
		}
		if err := json.Unmarshal(data, &rec); err == nil && strings.HasPrefix(rec.Comment, prefix) {
			n++
		}
	}
}

// Processes implements System: ovn-northd, every ovn-controller (one per
// hypervisor, same name), the NB and SB ovsdb-servers.
func (o *OVN) Processes() []NamedPid {
	var out []NamedPid
	add := func(name string, p *Proc) {
		if p != nil && !p.Exited() {
			out = append(out, NamedPid{name, p.Pid()})
		}
	}
	add("ovn-northd", o.northd)
	for _, p := range o.ctrls {
		add("ovn-controller", p)
	}
	add("NB ovsdb-server", o.nbdb)
	add("SB ovsdb-server", o.sbdb)
	return out
}

// Diagnose implements Diagnoser: the size of the southbound database and
// how long ovn-northd and one ovn-controller take per run.
func (o *OVN) Diagnose(ctx context.Context, sws []Switch) []Diagnostic {
	var out []Diagnostic
	for _, t := range []string{"Logical_Flow", "Port_Binding", "Datapath_Binding"} {
		res, err := o.sb.Transact(ctx, ovsdb.Operation{Op: ovsdb.OperationSelect, Table: t, Columns: []string{"_uuid"}})
		if err != nil || len(res) == 0 {
			continue
		}
		out = append(out, Diagnostic{"SB " + t + " rows", num(int64(len(res[0].Rows)))})
	}
	stopwatch := func(env []string, target, name string) string {
		c := exec.CommandContext(ctx, "ovn-appctl", "-t", target, "stopwatch/show", name)
		c.Env = env
		b, err := c.CombinedOutput()
		if err != nil {
			return fmt.Sprintf("%v: %s", err, strings.TrimSpace(string(b)))
		}
		// Keep the number of samples, the maximum and the long-term
		// average.
		var parts []string
		for _, l := range strings.Split(string(b), "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "Total samples") || strings.HasPrefix(l, "Maximum") || strings.HasPrefix(l, "Long term average") {
				parts = append(parts, l)
			}
		}
		return strings.Join(parts, ", ")
	}
	out = append(out, Diagnostic{"ovn-northd stopwatch ovnnb_db_run",
		stopwatch(o.centralEnv(), filepath.Join(o.Dir, "ovn-northd.ctl"), "ovnnb_db_run")})
	if len(o.hvs) > 0 {
		// ovn-controller has no --unixctl: ovn-appctl finds its socket
		// from the pidfile in OVN_RUNDIR.
		env := controllerEnv(o.hvs[0])
		for _, name := range []string{"flow-generation", "flow-installation"} {
			out = append(out, Diagnostic{o.hvs[0].Name + " ovn-controller stopwatch " + name, stopwatch(env, "ovn-controller", name)})
		}
	}
	return out
}

// LogTail returns the end of ovn-northd's and the first ovn-controller's
// logs, for failure reports.
func (o *OVN) LogTail(n int) string {
	s := "ovn-northd:\n" + tailFile(filepath.Join(o.Dir, "ovn-northd.log"), n)
	if len(o.hvs) > 0 {
		s += "\n" + o.hvs[0].Name + " ovn-controller:\n" + tailFile(filepath.Join(o.hvs[0].Dir, "ovn-controller.log"), n)
	}
	return s
}

// CopyTLVMap gives bridge to the tunnel-metadata TLV mappings of bridge
// from (ovs-ofctl dump-tlv-map, add-tlv-map). OVN's flows match and set
// tun_metadata0, which a bridge accepts only once it maps a Geneve option
// to that field: ovn-controller maps it on br-int, so a fresh bridge that
// is to take br-int's flows (the harness's ceiling) needs the same map.
func CopyTLVMap(ctx context.Context, hv *Hypervisor, from, to string) error {
	out, err := hv.Ofctl(ctx, "dump-tlv-map", from)
	if err != nil {
		return err
	}
	var maps []string
	table := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && strings.HasPrefix(f[0], "---") {
			table = true
			continue
		}
		if !table || len(f) != 4 {
			continue
		}
		maps = append(maps, fmt.Sprintf("{class=%s,type=%s,len=%s}->%s", f[0], f[1], f[2], f[3]))
	}
	if len(maps) == 0 {
		return nil
	}
	_, err = hv.Ofctl(ctx, "add-tlv-map", to, strings.Join(maps, ","))
	return err
}
