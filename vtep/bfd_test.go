package vtep

import (
	"testing"

	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

func TestBFDOnHypervisorTunnels(t *testing.T) {
	f := &fixture{}
	ps := f.ps("ps1", "p0")
	local, hv, other := f.loc("198.18.0.10"), f.loc("198.18.1.11"), f.loc("198.18.9.9")
	for _, remote := range []string{hv, other} {
		u := f.id()
		f.Tunnels = append(f.Tunnels, hwvtep.Tunnel{UUID: u, Local: local, Remote: remote,
			BFDParams: map[string]string{"check_tnl_key": "false"}, BFDStatus: map[string]string{"state": "down"}})
		ps.Tunnels = append(ps.Tunnels, u)
	}
	ops, err := Ops(f.observed(), Desired{BFD: []string{"198.18.1.11"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != 1 || ops[0].Table != hwvtep.TunnelTable || ops[0].Op != "mutate" {
		t.Fatalf("ops %+v, want one mutate of the tunnel to 198.18.1.11", ops)
	}
	// Once set, nothing to do; the foreign tunnel is never touched.
	for k, v := range BFDParams {
		f.Tunnels[0].BFDParams[k] = v
	}
	f.Tunnels[0].BFDStatus["state"] = "up"
	if ops, _ := Ops(f.observed(), Desired{BFD: []string{"198.18.1.11"}}); len(ops) != 0 {
		t.Fatalf("second pass: %+v", ops)
	}
	st := f.observed().TunnelStates("ps1")
	if st["198.18.1.11"] != "up" || st["198.18.9.9"] != "down" {
		t.Fatalf("tunnel states %v", st)
	}
}
