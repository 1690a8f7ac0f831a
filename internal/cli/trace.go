package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/ferry-sdn/ferry/internal/model"
)

// traceCmd asks where a frame goes (GET /v1/trace) and prints the logical
// view, the real view and where they disagree. A reader may run it.
func (a *app) traceCmd() *cobra.Command {
	var sw, from, dst, src, ethType, ipSrc, ipDst string
	var vlan int
	c := a.leaf("trace --switch S --from PORT --dst-mac MAC [--src-mac MAC] [--vlan N] [--ethertype arp|ip|ipv6] [--ip-src IP] [--ip-dst IP]",
		"where a frame entering a switch at a port goes: the logical view (desired state), the real one (ofproto/trace or a simulation on the installed flows; the VTEP's tables), and where they disagree",
		func([]string) error {
			q := url.Values{}
			for k, v := range map[string]string{"switch": sw, "from": from, "dst_mac": dst, "src_mac": src,
				"ethertype": ethType, "ip_src": ipSrc, "ip_dst": ipDst} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if vlan != 0 {
				q.Set("vlan", strconv.Itoa(vlan))
			}
			switch {
			case sw == "":
				return a.usage("missing --switch")
			case from == "":
				return a.usage("missing --from")
			case dst == "":
				return a.usage("missing --dst-mac")
			}
			data, err := a.call(http.MethodGet, "/v1/trace?"+q.Encode(), nil)
			if noRoute(err) {
				return errors.New("this ferryd cannot trace frames (no GET /v1/trace): it is older than this ferryctl")
			}
			if err != nil {
				return err
			}
			return emit(a, data, func(tr model.Trace) error {
				t := &tree{w: a.stdout}
				t.line(0, "frame %s", tr.Frame)
				t.line(0, "enters switch %s (VNI %d) at port %s", tr.Switch, tr.VNI, tr.From)
				for _, v := range []struct {
					name string
					view model.TraceView
				}{{"logical", tr.Logical}, {"real", tr.Real}} {
					t.line(0, "")
					t.line(0, "%s: %s", v.name, v.view.Verdict)
					for i, h := range v.view.Hops {
						printHop(t, i+1, h)
					}
				}
				t.line(0, "")
				if len(tr.Disagreements) == 0 {
					t.line(0, "the views agree")
				} else {
					t.line(0, "disagreements:")
					for _, d := range tr.Disagreements {
						t.line(1, "%s", d)
					}
				}
				return t.err
			})
		})
	f := c.Flags()
	f.StringVar(&sw, "switch", "", "the `SWITCH` (required)")
	f.StringVar(&from, "from", "", "the logical `PORT` the frame enters by (required)")
	f.StringVar(&dst, "dst-mac", "", "the destination `MAC` (required; ff:ff:ff:ff:ff:ff for a broadcast)")
	f.StringVar(&src, "src-mac", "", "the source `MAC` (default: the port's)")
	f.IntVar(&vlan, "vlan", 0, "an 802.1Q `TAG` on the frame (0: untagged)")
	f.StringVar(&ethType, "ethertype", "", "arp, ip, ipv6 or a `NUMBER` (default: ARP for a broadcast without addresses, else IP)")
	f.StringVar(&ipSrc, "ip-src", "", "the source `ADDRESS` (default: the port's, when it lists ips)")
	f.StringVar(&ipDst, "ip-dst", "", "the destination `ADDRESS`")
	_ = c.RegisterFlagCompletionFunc("switch", a.completeFlag(switchArg, ""))
	return c
}

func printHop(t *tree, n int, h model.TraceHop) {
	where := h.Kind + " " + h.Device
	if h.Device == "" {
		where = "nowhere"
	}
	if h.Bridge != "" {
		where += " (" + h.Bridge + ")"
	}
	in := h.InPort
	if h.InOFPort != 0 {
		in += fmt.Sprintf(" [ofport %d]", h.InOFPort)
	}
	head := fmt.Sprintf("%d. %s", n, where)
	if in != "" {
		head += ", in " + in
	}
	head += ": " + h.Verdict
	if h.Source != "" {
		head += " (" + h.Source + ")"
	}
	t.line(1, "%s", head)
	if h.Reason != "" {
		t.line(2, "%s", h.Reason)
	}
	for _, o := range h.Outputs {
		t.line(2, "-> %s", outputText(o))
	}
	if h.Note != "" {
		t.line(2, "note: %s", h.Note)
	}
	for _, s := range h.Steps {
		t.line(2, "| %s", s)
	}
}

func outputText(o model.TraceOutput) string {
	var s string
	switch o.Kind {
	case "vif":
		s = "vif " + o.Port
		if o.LogicalPort != "" {
			s += " (port " + o.LogicalPort + ")"
		}
	case "tunnel":
		s = "tunnel " + o.Port
		if o.Remote != "" {
			s += " to " + o.Remote
		}
		if o.RemoteIP != "" {
			s += " " + o.RemoteIP
		}
		if o.Encap != "" {
			s += fmt.Sprintf(" (%s, vni %d)", o.Encap, o.VNI)
		}
		if o.LogicalPort != "" {
			s += " for " + o.LogicalPort
		}
	case "physical":
		s = "port " + o.Port
		if o.VLAN != nil && *o.VLAN != 0 {
			s += fmt.Sprintf(" vlan %d", *o.VLAN)
		} else {
			s += " untagged"
		}
		if o.LogicalPort != "" {
			s += " for " + o.LogicalPort
		}
	default:
		s = "ofport"
	}
	if o.OFPort != 0 && o.Kind != "physical" {
		s += fmt.Sprintf(" [ofport %d]", o.OFPort)
	}
	return s
}
