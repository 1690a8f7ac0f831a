package trace

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/ferry-sdn/ferry/internal/fakeof"
	"github.com/ferry-sdn/ferry/openflow"
)

// Result is what one bridge does with a packet, from ofproto/trace or the
// simulator.
type Result struct {
	// Outputs are the OpenFlow ports the packet leaves by, in order, each
	// once (output to the ingress port is skipped, as OpenFlow does).
	Outputs []uint32
	// Groups are the groups it went through.
	Groups []uint32
	// Steps are the flows it hit, one line each.
	Steps []string
	// Reason says why it was dropped, when Outputs is empty.
	Reason string
}

// Simulate runs p through flows (one bridge's table, every table) and
// groups with the behavioural model of internal/fakeof, which the
// pipeline's own tests use: the real view of a bridge whose unixctl
// socket ferry cannot reach, on the flows it knows are installed.
func Simulate(flows []openflow.Flow, groups []openflow.GroupEntry, p Packet) Result {
	fp := fakeof.Packet{InPort: p.InPort, TunID: p.TunID, EthSrc: p.EthSrc, EthDst: p.EthDst, EthType: p.EthType,
		IPSrc: p.IPSrc, IPDst: p.IPDst}
	if p.EthType == openflow.EthARP {
		fp.IPSrc, fp.IPDst = netip.Addr{}, netip.Addr{}
		fp.ARPSPA, fp.ARPSHA = p.IPSrc, p.EthSrc
	}
	path, err := fakeof.New(flows, groups).Trace(fp)
	r := Result{Groups: path.Groups, Steps: path.Steps}
	for _, e := range path.Emits {
		if !slices.Contains(r.Outputs, e.Port) {
			r.Outputs = append(r.Outputs, e.Port)
		}
	}
	switch {
	case err != nil:
		r.Reason = err.Error()
	case len(r.Outputs) > 0:
	case path.Miss >= 0:
		r.Reason = fmt.Sprintf("table %d: no flow matches (table miss)", path.Miss)
		r.Steps = append(r.Steps, fmt.Sprintf("%d. no match: drop", path.Miss))
	case len(path.Steps) > 0:
		r.Reason = "dropped after " + path.Steps[len(path.Steps)-1]
	default:
		r.Reason = "dropped"
	}
	return r
}
