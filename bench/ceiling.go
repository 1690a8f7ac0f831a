package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ceilingBridge is the fresh bridge ovs-ofctl fills.
const ceilingBridge = "br-ceil"

// bundleCeiling dumps hv's br-int (flows without statistics, groups) and
// times ovs-ofctl --bundle add-groups, then add-flows, of exactly that
// content on a fresh bridge of the same ovs-vswitchd: what the switch
// accepts at best, parsing included, for the table ferry built.
func bundleCeiling(ctx context.Context, hv *Hypervisor, dir string) (*Ceiling, error) {
	flowsOut, err := hv.Ofctl(ctx, "dump-flows", "--no-stats", hv.Bridge)
	if err != nil {
		return nil, err
	}
	groupsOut, err := hv.Ofctl(ctx, "dump-groups", hv.Bridge)
	if err != nil {
		return nil, err
	}
	flows, groups := ofctlLines(flowsOut), ofctlLines(groupsOut)
	ff, gf := filepath.Join(dir, hv.Name+"-flows.txt"), filepath.Join(dir, hv.Name+"-groups.txt")
	if err := os.WriteFile(ff, []byte(strings.Join(flows, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	defer os.Remove(ff)
	if err := os.WriteFile(gf, []byte(strings.Join(groups, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	defer os.Remove(gf)

	if _, err := hv.Vsctl(ctx, "add-br", ceilingBridge, "--", "set", "bridge", ceilingBridge,
		"datapath_type=dummy", "fail_mode=secure", "protocols=OpenFlow10,OpenFlow13,OpenFlow15"); err != nil {
		return nil, err
	}
	defer hv.Vsctl(context.WithoutCancel(ctx), "--if-exists", "del-br", ceilingBridge)
	// OVN's flows use tun_metadata0, which a bridge accepts only with
	// br-int's Geneve TLV map.
	if err := CopyTLVMap(ctx, hv, hv.Bridge, ceilingBridge); err != nil {
		return nil, err
	}

	c := &Ceiling{Hypervisor: hv.Name, Flows: len(flows), Groups: len(groups)}
	var run CeilingRun
	if len(groups) > 0 {
		t0 := time.Now()
		if _, err := hv.Ofctl(ctx, "--bundle", "add-groups", ceilingBridge, gf); err != nil {
			return nil, err
		}
		run.GroupTime = time.Since(t0)
	}
	t0 := time.Now()
	if _, err := hv.Ofctl(ctx, "--bundle", "add-flows", ceilingBridge, ff); err != nil {
		return nil, err
	}
	run.FlowTime = time.Since(t0)
	c.Runs = []CeilingRun{run}
	nf, ng, err := hv.FlowCount(ctx, ceilingBridge)
	if err != nil {
		return nil, err
	}
	if nf != len(flows) || ng != len(groups) {
		return nil, fmt.Errorf("bench: %s has %d flows and %d groups after the bundle, want %d and %d", ceilingBridge, nf, ng, len(flows), len(groups))
	}
	return c, nil
}

// ofctlLines keeps the flow or group lines of ovs-ofctl dump output,
// dropping reply headers.
func ofctlLines(out string) []string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "OFPST_") || strings.HasPrefix(l, "NXST_") {
			continue
		}
		keep = append(keep, l)
	}
	return keep
}
