package bench

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/vtep"
	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

// VTEPResult is step 4: one logical switch with many remote MACs pushed to
// a hardware_vtep database the way a gateway pass does it.
type VTEPResult struct {
	MACs      int
	Locators  int           // distinct remote tunnel IPs
	Ops       int           // operations in the transaction
	Build     time.Duration // Observe + Ops
	Commit    time.Duration // Transact: sent to answered
	Converged time.Duration // commit start to the cache showing it (next Ops empty)
	SecondOps int           // operations a second pass computed (must be 0)
	Rows      int           // Ucast_Macs_Remote rows in the database afterwards
	Err       string
}

// vtepRemotes is how many hypervisors the remote MACs live behind.
const vtepRemotes = 16

func (r *runner) runVTEP(ctx context.Context, dir string) *VTEPResult {
	res := &VTEPResult{MACs: r.opts.Profile.VTEPMACs, Locators: vtepRemotes}
	if err := r.vtepStep(ctx, dir, res); err != nil {
		res.Err = err.Error()
		r.logf("step 4 failed: %v", err)
	}
	return res
}

func (r *runner) vtepStep(ctx context.Context, dir string, res *VTEPResult) error {
	if res.MACs <= 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	r.logf("step 4: %d remote MACs to one hardware_vtep database", res.MACs)
	o, err := StartOVS(ctx, "vtep", dir, []string{VtepSchema}, false)
	if err != nil {
		return err
	}
	defer o.Stop()
	if _, err := o.Run(ctx, "vtep-ctl", "--db="+o.DB(), "add-ps", "ps0", "--", "add-port", "ps0", "p0",
		"--", "set", "Physical_Switch", "ps0", "tunnel_ips=198.18.3.1"); err != nil {
		return err
	}
	target, err := ovsdb.ParseActive(o.DB())
	if err != nil {
		return err
	}
	m, err := hwvtep.FullDatabaseModel()
	if err != nil {
		return err
	}
	// What ferryd's gateway dialer monitors.
	conn, err := ovsdb.NewConn(ovsdb.ConnConfig{Targets: []ovsdb.Target{target}, Model: m, Tables: vtep.Tables()})
	if err != nil {
		return err
	}
	defer conn.Close()
	select {
	case <-conn.Ready():
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second):
		return fmt.Errorf("bench: no connection to the VTEP database")
	}
	cli := conn.Client()
	want := vtepDesired(res.MACs)

	// The first pass: observe the cache, compute, commit.
	t0 := time.Now()
	obs, err := vtep.Observe(ctx, cli.Cache())
	if err != nil {
		return err
	}
	ops, err := vtep.Ops(obs, want)
	if err != nil {
		return err
	}
	res.Build, res.Ops = time.Since(t0), len(ops)
	t1 := time.Now()
	if _, err := ovsdb.Transact(ctx, cli, ops...); err != nil {
		return fmt.Errorf("bench: VTEP transaction: %w", err)
	}
	res.Commit = time.Since(t1)

	// The next pass must find nothing to do once the cache has the
	// update ovsdb-server sends after the commit.
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err = poll(wctx, 5*time.Millisecond, func() (bool, error) {
		obs, err := vtep.Observe(wctx, cli.Cache())
		if err != nil {
			return false, err
		}
		again, err := vtep.Ops(obs, want)
		if err != nil {
			return false, err
		}
		res.SecondOps = len(again)
		return len(again) == 0, nil
	})
	res.Converged = time.Since(t1)
	if err != nil {
		return fmt.Errorf("bench: a second pass still has %d operations after %v: %w", res.SecondOps, res.Converged.Round(time.Millisecond), err)
	}
	var rows []hwvtep.UcastMacsRemote
	if err := cli.List(ctx, &rows); err != nil {
		return err
	}
	res.Rows = len(rows)
	if res.Rows != res.MACs {
		return fmt.Errorf("bench: %d Ucast_Macs_Remote rows, want %d", res.Rows, res.MACs)
	}
	r.logf("step 4: %d operations built in %v, committed in %v, next pass empty after %v", res.Ops,
		res.Build.Round(time.Millisecond), res.Commit.Round(time.Millisecond), res.Converged.Round(time.Millisecond))
	return nil
}

// vtepDesired is one switch bound untagged on p0 with n remote MACs spread
// over vtepRemotes hypervisors, all of which are in its flood list.
func vtepDesired(n int) vtep.Desired {
	sw := vtep.Switch{Name: "bench", VNI: 5000, ReplicationMode: vtep.SourceNode,
		Bindings: []vtep.PortVLAN{{Port: "p0", VLAN: 0}}}
	for i := 0; i < vtepRemotes; i++ {
		sw.Flood = append(sw.Flood, remoteIP(i))
	}
	for i := 0; i < n; i++ {
		sw.RemoteMACs = append(sw.RemoteMACs, vtep.RemoteMAC{
			MAC: fmt.Sprintf("02:f7:%02x:%02x:%02x:%02x", byte(i>>24), byte(i>>16), byte(i>>8), byte(i)),
			IP:  remoteIP(i % vtepRemotes),
		})
	}
	return vtep.Desired{PhysicalSwitch: "ps0", Switches: []vtep.Switch{sw}}
}

func remoteIP(i int) string { return fmt.Sprintf("198.18.1.%d", i+1) }
