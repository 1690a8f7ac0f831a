package trace

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ferry-sdn/ferry/internal/model"
)

// RealHop turns a bridge's Result into the real view's hop for the
// logical hop lh: the same device and ingress, with the outputs named by
// ports (what an OpenFlow port number is on that bridge; unknown numbers
// are listed by number). source is "ofproto/trace" or "simulated".
func RealHop(lh model.TraceHop, r Result, ports map[uint32]model.TraceOutput, source string) model.TraceHop {
	h := model.TraceHop{Device: lh.Device, Kind: lh.Kind, Bridge: lh.Bridge, InPort: lh.InPort, InOFPort: lh.InOFPort,
		Source: source, Steps: r.Steps, Outputs: []model.TraceOutput{}}
	for _, p := range r.Outputs {
		out, ok := ports[p]
		if !ok {
			out = model.TraceOutput{Kind: "port"}
		}
		out.OFPort = p
		h.Outputs = append(h.Outputs, out)
	}
	switch {
	case len(h.Outputs) == 0:
		h.Verdict, h.Reason = model.TraceDrop, r.Reason
	case len(r.Groups) > 0 || len(h.Outputs) > 1:
		h.Verdict = model.TraceFlood
		h.Note = "flood group " + groupList(r.Groups)
	default:
		h.Verdict = model.TraceUnicast
	}
	return h
}

// Compare says, hop by hop, where the real view departs from the logical
// one: a different verdict (unicast, flood, drop) or different outputs.
// Hops the real view could not see (Source "unavailable") are skipped.
func Compare(logical, real model.TraceView) []string {
	out := []string{}
	for i, lh := range logical.Hops {
		if i >= len(real.Hops) {
			break
		}
		rh := real.Hops[i]
		if rh.Source == "unavailable" || rh.Device != lh.Device {
			continue
		}
		if lh.Verdict != rh.Verdict || !slices.Equal(outputs(lh, false), outputs(rh, false)) {
			out = append(out, fmt.Sprintf("hop %d (%s %s): logical: %s; real: %s", i+1, lh.Kind, lh.Device, describe(lh), describe(rh)))
		}
	}
	return out
}

// describe puts a hop's verdict and outputs in a sentence, e.g. "unicast
// to tunnel fvxc6120202 (ofport 32769) to gw1 198.18.2.2 vni 5001".
func describe(h model.TraceHop) string {
	if h.Verdict == model.TraceDrop {
		return "drop"
	}
	outs := outputs(h, true)
	s := "output to "
	if h.Verdict == model.TraceFlood {
		s = "flooded to "
		if strings.HasPrefix(h.Note, "flood group ") {
			s = "flooded through " + strings.TrimPrefix(h.Note, "flood ") + " to "
		}
	}
	return s + strings.Join(outs, ", ")
}

// outputs are a hop's outputs named, sorted.
func outputs(h model.TraceHop, verbose bool) []string {
	var outs []string
	for _, o := range h.Outputs {
		outs = append(outs, describeOutput(o, verbose))
	}
	slices.Sort(outs)
	return outs
}

// describeOutput names an output by what both views know of it (verbose:
// with the tunnel's far end, for people).
func describeOutput(o model.TraceOutput, verbose bool) string {
	switch o.Kind {
	case "tunnel":
		s := "tunnel " + o.Port
		if verbose && o.Remote != "" {
			s += " to " + o.Remote
		}
		return s
	case "vif":
		return "vif " + o.Port
	case "physical":
		vlan := "untagged"
		if o.VLAN != nil && *o.VLAN != 0 {
			vlan = "vlan " + strconv.Itoa(int(*o.VLAN))
		}
		return "port " + o.Port + " " + vlan
	}
	return "ofport " + strconv.FormatUint(uint64(o.OFPort), 10)
}

func groupList(ids []uint32) string {
	var s []string
	for _, id := range ids {
		s = append(s, fmt.Sprintf("0x%x", id))
	}
	return strings.Join(s, ",")
}
