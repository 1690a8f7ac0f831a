package soak

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// faultKind is one kind of fault the soak injects.
type faultKind string

const (
	ferrydKill   faultKind = "ferryd-kill"   // SIGKILL, restarted with the same flags and state
	ferrydTerm   faultKind = "ferryd-term"   // SIGTERM (clean stop), restarted
	vswitchdKill faultKind = "vswitchd-kill" // a hypervisor's ovs-vswitchd, SIGKILL, restarted
	ovsdbKill    faultKind = "ovsdb-kill"    // a hypervisor's ovsdb-server, SIGKILL, restarted
	nbKill       faultKind = "nb-kill"       // ferryd's own northbound ovsdb-server, SIGKILL; ferryd restarts it
	mgmtCut      faultKind = "mgmt-cut"      // a hypervisor's management link, down or 100 % loss
	underlayCut  faultKind = "underlay-cut"  // a hypervisor's underlay link, down or 100 % loss
)

var faultKinds = []faultKind{ferrydKill, ferrydTerm, vswitchdKill, ovsdbKill, nbKill, mgmtCut, underlayCut}

// dataPlane says whether a fault may drop the guests' packets: on its
// host only. The others touch the control plane alone, and ferry must
// keep forwarding through them (fail_mode=secure, flows left in place).
//
// A killed ovsdb-server counts as a data-plane fault in this lab: with the
// userspace datapath, veth ports are polled by ovs-vswitchd's main thread,
// which stalls for a second or two when its database goes away; the
// tunnels' BFD sessions then expire ("Control Detection Time Expired" in
// ovs-vswitchd.log) and the host's guests lose 2–7 s of traffic until BFD
// is up again. That is OVS on the userspace datapath, not ferry (which
// sends nothing while the database is gone); a kernel datapath forwards on.
func (k faultKind) dataPlane() bool {
	return k == vswitchdKill || k == underlayCut || k == ovsdbKill
}

// onHost says whether the fault hits one hypervisor.
func (k faultKind) onHost() bool {
	return k == vswitchdKill || k == ovsdbKill || k == mgmtCut || k == underlayCut
}

// fault is one drawn fault and, once run, what happened.
type fault struct {
	n    int
	kind faultKind
	host string        // hv1..hv3 for faults on a host
	mode string        // link cuts: lab.LinkDown or lab.LinkLoss
	hold time.Duration // how long the fault lasts before it is healed

	injected time.Time
	healed   time.Time // the repair done (for nb-kill: ferryd's northbound back)
	inStep   time.Duration
}

func (f fault) String() string {
	s := fmt.Sprintf("#%d %s", f.n, f.kind)
	if f.host != "" {
		s += " " + f.host
	}
	if f.mode != "" {
		s += " (" + f.mode + ")"
	}
	if f.hold > 0 {
		s += fmt.Sprintf(" for %v", f.hold.Round(time.Millisecond))
	}
	return s
}

// holds bounds how long each kind of fault lasts: link cuts 0.1–30 s in
// the long run (log-uniform, so that short and long cuts are both common),
// 0.1–2 s in the quick one; a dead daemon or ferryd stays dead up to 3 s
// (1 s quick) before it is started again.
func holdRange(k faultKind, long bool) (lo, hi time.Duration) {
	switch {
	case k == nbKill:
		return 0, 0 // ferryd restarts it at once
	case k == mgmtCut || k == underlayCut:
		if long {
			return 100 * time.Millisecond, 30 * time.Second
		}
		return 100 * time.Millisecond, 2 * time.Second
	case long:
		return 0, 3 * time.Second
	default:
		return 0, time.Second
	}
}

// drawFault draws fault n from r: the same seed draws the same faults.
func drawFault(r *rand.Rand, n int, hosts []string, long bool) fault {
	f := fault{n: n, kind: faultKinds[r.IntN(len(faultKinds))]}
	if f.kind.onHost() {
		f.host = hosts[r.IntN(len(hosts))]
	}
	if f.kind == mgmtCut || f.kind == underlayCut {
		f.mode = []string{"down", "loss"}[r.IntN(2)]
	}
	lo, hi := holdRange(f.kind, long)
	switch {
	case hi == 0:
	case lo == 0:
		f.hold = time.Duration(r.Int64N(int64(hi)))
	default: // log-uniform
		x := math.Log(float64(lo)) + r.Float64()*(math.Log(float64(hi))-math.Log(float64(lo)))
		f.hold = time.Duration(math.Exp(x))
	}
	return f
}
