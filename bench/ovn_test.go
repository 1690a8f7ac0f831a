package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOVN drives OVN (ovn-northd, NB/SB ovsdb-server, one ovn-controller
// per dummy hypervisor) through a tiny workload with the System methods
// the harness uses, and checks the outcome against the real daemons: every
// port bound to the chassis of its own hypervisor, flows on every bridge,
// a latency sample, a port whose VIF does not exist never counted as
// bound, and a kill -9 restart after which every bridge has its flows.
func TestOVN(t *testing.T) {
	if testing.Short() {
		t.Skip("starts OVS and OVN daemons (about 10 s)")
	}
	if missing := MissingOVS(); len(missing) > 0 {
		t.Skip("Open vSwitch not installed (missing " + strings.Join(missing, ", ") + ")")
	}
	if missing := MissingOVN(); len(missing) > 0 {
		t.Skip("OVN not installed (missing " + strings.Join(missing, ", ") + "): run bench/ovn_deps.sh as root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// t.TempDir() makes socket paths too long.
	dir, err := os.MkdirTemp("", "ovnb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var stop cleanups
	t.Cleanup(stop.run)

	p := Profile{Hypervisors: 2, Switches: 2, Ports: 4, LatencySamples: 2, BulkSwitches: 1}
	w := NewWorkload(p)
	hvs, err := startHypervisors(ctx, dir, p.Hypervisors, &stop, false)
	if err != nil {
		t.Fatal(err)
	}
	vifs := w.VIFs(p.Hypervisors)
	for i, hv := range hvs {
		if _, err := hv.Vsctl(ctx, "add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=dummy"); err != nil {
			t.Fatal(err)
		}
		if err := hv.AddVIFs(ctx, vifs[i]); err != nil {
			t.Fatal(err)
		}
	}
	cdir := filepath.Join(dir, "control")
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	o := &OVN{Dir: cdir, Logf: t.Logf}
	t.Logf("version: %s", o.Version(ctx))
	err = o.Start(ctx, hvs)
	stop.add(o.Stop)
	if err != nil {
		t.Fatalf("%v\n%s", err, o.LogTail(20))
	}
	if got := len(o.Processes()); got != 3+p.Hypervisors {
		t.Errorf("%d processes, want ovn-northd, 2 ovsdb-servers and %d ovn-controllers: %v", got, p.Hypervisors, o.Processes())
	}

	// Step 1.
	for _, sw := range w.Switches {
		if err := o.CreateSwitch(ctx, sw); err != nil {
			t.Fatal(err)
		}
		for _, port := range sw.Ports {
			if err := o.CreatePort(ctx, sw.Name, port); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := o.CreatePort(ctx, "no-such-switch", Port{IfaceID: "orphan", MAC: "02:00:00:00:00:01"}); err == nil {
		t.Error("a port on a switch that does not exist was created")
	}
	// The bulk step's one-transaction switch.
	if err := o.CreateSwitchWithPorts(ctx, w.Bulk[0]); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	err = o.WaitAll(wctx, append(slices.Clone(w.Switches), w.Bulk...))
	wcancel()
	if err != nil {
		t.Fatalf("not realized: %v\n%s", err, o.LogTail(20))
	}
	checkBindings(t, o, hvs, w.Switches)
	flows, _, err := countFlows(ctx, hvs)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range flows {
		if f < 50 {
			t.Errorf("%s: %d flows on br-int; OVN installs far more for two switches", hvs[i].Name, f)
		}
	}
	c, err := o.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("step 1: flows %v, counters %+v", flows, c)
	checkTLVCopy(ctx, t, hvs[0])
	if c.FlowMods < int64(flows[0]+flows[1]) {
		t.Errorf("%d OpenFlow messages counted for %d flows", c.FlowMods, flows[0]+flows[1])
	}
	if c.OVSDBWrites <= 0 {
		t.Errorf("%d ovn-controller transactions counted; it writes tunnels and ovn-installed", c.OVSDBWrites)
	}

	// Step 2: a latency sample, then a port whose VIF exists nowhere:
	// hv_cfg catches up, but it must never count as bound.
	for _, lp := range w.Latency {
		sw := &w.Switches[lp.Switch]
		sw.Ports = append(sw.Ports, lp.Port)
		t0 := time.Now()
		if err := o.CreatePort(ctx, sw.Name, lp.Port); err != nil {
			t.Fatal(err)
		}
		sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
		err := o.WaitSwitch(sctx, *sw)
		scancel()
		if err != nil {
			t.Fatalf("latency sample %s: %v", lp.Port.IfaceID, err)
		}
		t.Logf("latency sample %s on %s: %v", lp.Port.IfaceID, sw.Name, time.Since(t0))
	}
	checkBindings(t, o, hvs, w.Switches)
	ghost := w.Switches[0]
	ghost.Ports = append(append([]Port(nil), ghost.Ports...), Port{IfaceID: "bench-ghost", MAC: "02:be:ff:ff:ff:ff"})
	if err := o.CreatePort(ctx, ghost.Name, ghost.Ports[len(ghost.Ports)-1]); err != nil {
		t.Fatal(err)
	}
	gctx, gcancel := context.WithTimeout(ctx, 2*time.Second)
	err = o.WaitSwitch(gctx, ghost)
	gcancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitSwitch with a port no hypervisor has: %v, want a timeout", err)
	}
	if o.hvCfg() < o.lastCfg {
		t.Errorf("hv_cfg %d did not reach %d", o.hvCfg(), o.lastCfg)
	}
	// The harness's steps 1-3 would not have it; take it out again.
	if _, err := o.run(ctx, "ovn-nbctl", "--db=unix:"+o.nbSock, "lsp-del", "bench-ghost"); err != nil {
		t.Fatal(err)
	}

	// Step 3.
	if err := o.WaitAll(ctx, w.Switches); err != nil {
		t.Fatal(err)
	}
	before, _, err := countFlows(ctx, hvs)
	if err != nil {
		t.Fatal(err)
	}
	oldPids := o.Processes()
	if err := o.Crash(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(o.Processes()); got != 2 {
		t.Errorf("after Crash %d processes run, want the two ovsdb-servers", got)
	}
	t0 := time.Now()
	if err := o.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, time.Minute)
	err = o.WaitInStep(rctx)
	rcancel()
	if err != nil {
		t.Fatalf("not in step after the restart: %v\n%s", err, o.LogTail(20))
	}
	t.Logf("restart: in step after %v", time.Since(t0))
	for i, np := range o.Processes() {
		if np.Pid == oldPids[i].Pid && np.Name != "NB ovsdb-server" && np.Name != "SB ovsdb-server" {
			t.Errorf("%s still has pid %d after the restart", np.Name, np.Pid)
		}
	}
	after, _, err := countFlows(ctx, hvs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range after {
		if after[i] != before[i] {
			t.Errorf("%s: %d flows after the restart, %d before", hvs[i].Name, after[i], before[i])
		}
	}
	checkBindings(t, o, hvs, w.Switches)
	c, err = o.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restart: counters %+v", c)
	// ovn-controller clears br-int when it connects and installs every
	// flow again (ovn-ofctrl-wait-before-clear is 0 by default).
	if c.FlowMods < int64(after[0]+after[1]) {
		t.Errorf("%d OpenFlow messages after the restart for %d flows re-installed", c.FlowMods, after[0]+after[1])
	}
}

// checkTLVCopy fills a fresh bridge with br-int's flows as the harness's
// ceiling step does: only with br-int's TLV map copied does it take them.
func checkTLVCopy(ctx context.Context, t *testing.T, hv *Hypervisor) {
	t.Helper()
	const br = "br-tlv"
	if _, err := hv.Vsctl(ctx, "add-br", br, "--", "set", "bridge", br, "datapath_type=dummy", "fail_mode=secure"); err != nil {
		t.Fatal(err)
	}
	defer hv.Vsctl(context.WithoutCancel(ctx), "--if-exists", "del-br", br)
	dump, err := hv.Ofctl(ctx, "dump-flows", "--no-stats", "br-int")
	if err != nil {
		t.Fatal(err)
	}
	flows := ofctlLines(dump)
	file := filepath.Join(hv.Dir, "tlv-flows.txt")
	if err := os.WriteFile(file, []byte(strings.Join(flows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := hv.Ofctl(ctx, "--bundle", "add-flows", br, file); err == nil {
		t.Error("OVN's flows went onto a bridge without a TLV map; CopyTLVMap would be needless")
	}
	if err := CopyTLVMap(ctx, hv, "br-int", br); err != nil {
		t.Fatal(err)
	}
	if _, err := hv.Ofctl(ctx, "--bundle", "add-flows", br, file); err != nil {
		t.Fatalf("with br-int's TLV map: %.300v", err)
	}
	if n, _, err := hv.FlowCount(ctx, br); err != nil || n != len(flows) {
		t.Errorf("%s has %d flows (%v), want %d", br, n, err, len(flows))
	}
}

// checkBindings asserts that every port is bound, in the southbound
// database, to the chassis of the hypervisor its VIF is on.
func checkBindings(t *testing.T, o *OVN, hvs []*Hypervisor, sws []Switch) {
	t.Helper()
	names := map[string]string{}
	for uuid, m := range o.sb.Cache().Table("Chassis").RowsShallow() {
		names[uuid] = m.(*ovnChassis).Name
	}
	for _, sw := range sws {
		for _, p := range sw.Ports {
			_, m, err := o.sb.Cache().Table("Port_Binding").RowByModel(&ovnPortBinding{LogicalPort: p.IfaceID})
			if err != nil || m == nil {
				t.Errorf("%s: no Port_Binding (%v)", p.IfaceID, err)
				continue
			}
			pb := m.(*ovnPortBinding)
			if pb.Chassis == nil || names[*pb.Chassis] != hvs[p.Hypervisor].Name {
				t.Errorf("%s: bound to %v, want %s", p.IfaceID, pb.Chassis, hvs[p.Hypervisor].Name)
			}
			if pb.Up == nil || !*pb.Up {
				t.Errorf("%s: not up", p.IfaceID)
			}
		}
	}
}

func TestCountTransactions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "conf.db")
	rec := func(comment string) string {
		body := `{"_date":1,"Open_vSwitch":{}}`
		if comment != "" {
			body = `{"_date":1,"_comment":"` + comment + `","Open_vSwitch":{}}`
		}
		return "OVSDB JSON " + strconv.Itoa(len(body)+1) + " 0123456789abcdef0123456789abcdef01234567\n" + body + "\n"
	}
	if err := os.WriteFile(path, []byte(rec("ovs-vsctl: init")), 0o644); err != nil {
		t.Fatal(err)
	}
	from, err := statDB(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Two of ovn-controller's, one of another client, one without a
	// comment (ovs-vswitchd), and a record still being written.
	f.WriteString(rec(`ovn-controller\novn-controller: modifying OVS tunnels 'hv01'`) + rec("ovn-controller") +
		rec("ovs-vsctl: ovs-vsctl add-port") + rec("") + "OVSDB JSON 100 0123")
	f.Close()
	if n, err := countTransactions(path, from, "ovn-controller"); err != nil || n != 2 {
		t.Errorf("countTransactions = %d, %v; want 2", n, err)
	}
	// Compacted: the file was replaced.
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(rec("")+rec("")+rec("")+rec("")+rec("")), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := countTransactions(path, from, "ovn-controller"); err != nil || n != Unknown {
		t.Errorf("after compaction: %d, %v; want Unknown", n, err)
	}
}

func TestProcCounter(t *testing.T) {
	var c procCounter
	c.reset(map[string]procReading{"a": {pid: 10, n: 100}, "b": {pid: 20, n: 5}})
	c.add("a", procReading{pid: 10, n: 130}) // +30
	c.add("b", procReading{pid: 21, n: 7})   // restarted: +7
	c.add("c", procReading{pid: 30, n: 4})   // new: +4
	c.add("a", procReading{pid: 0, n: 0})    // not running: nothing
	if c.total != 41 {
		t.Errorf("total %d, want 41", c.total)
	}
	c.add("b", procReading{pid: 21, n: 9}) // +2
	if c.total != 43 {
		t.Errorf("total %d, want 43", c.total)
	}
}
