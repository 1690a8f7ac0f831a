package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-sdn/ferry/rest/api"
)

// `ferryctl show` is `ovn-nbctl show` for ferry: every switch with its
// ports and where each is bound, its tunnels and gateways, then the
// chassis and the gateways with their bindings, as one indented tree.

// topology is what show reads: the objects of the API, and the ports and
// bindings of each switch.
type topology struct {
	Switches []api.Switch             `json:"switches"`
	Ports    map[string][]portView    `json:"ports"`    // by switch
	Bindings map[string][]api.Binding `json:"bindings"` // by switch
	Chassis  []api.Chassis            `json:"chassis"`
	Gateways []api.Gateway            `json:"gateways"`
}

func (a *app) showCmd() *cobra.Command {
	return a.leaf("show", "the whole network as a tree: switches, ports and where they are bound, tunnels, chassis, gateways",
		func([]string) error {
			t, err := a.topology()
			if err != nil {
				return err
			}
			if a.machine() {
				out, err := json.MarshalIndent(t, "", "  ")
				if err != nil {
					return err
				}
				return a.write(append(out, '\n'))
			}
			return t.print(a.stdout)
		})
}

func (a *app) topology() (*topology, error) {
	t := &topology{Ports: map[string][]portView{}, Bindings: map[string][]api.Binding{}}
	get := func(p string, v any) error {
		data, err := a.call(http.MethodGet, p, nil)
		if err != nil {
			return err
		}
		return decode(data, v)
	}
	if err := get("/v1/switches", &t.Switches); err != nil {
		return nil, err
	}
	if err := get("/v1/chassis", &t.Chassis); err != nil {
		return nil, err
	}
	// A server without the gateway API has neither gateways nor bindings.
	gatewayAPI := true
	if err := get("/v1/gateways", &t.Gateways); isStatus(err, http.StatusNotFound) {
		gatewayAPI = false
	} else if err != nil {
		return nil, err
	}
	if t.Gateways == nil {
		t.Gateways = []api.Gateway{}
	}
	for _, sw := range t.Switches {
		var ports []portView
		if err := get(path("v1", "switches", sw.Name, "ports"), &ports); err != nil {
			return nil, err
		}
		t.Ports[sw.Name] = ports
		if !gatewayAPI {
			continue
		}
		var bs []api.Binding
		if err := get(path("v1", "switches", sw.Name, "bindings"), &bs); err != nil {
			return nil, err
		}
		t.Bindings[sw.Name] = bs
	}
	return t, nil
}

// tree writes indented lines.
type tree struct {
	w   io.Writer
	err error
}

func (t *tree) line(depth int, format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, "%s%s\n", strings.Repeat("    ", depth), fmt.Sprintf(format, args...))
	}
}

func (top *topology) print(w io.Writer) error {
	t := &tree{w: w}
	if len(top.Switches)+len(top.Chassis)+len(top.Gateways) == 0 {
		t.line(0, "No switches, chassis or gateways.")
		return t.err
	}
	for _, sw := range top.Switches {
		t.line(0, "switch %s (VNI %d, %s)", sw.Name, sw.VNI, sw.Encap)
		st := sw.Status
		t.line(1, "realized: %s at generation %d, guest MTU %s", realized(st), sw.Generation, mtu(st.MTU))
		for _, pv := range top.Ports[sw.Name] {
			p := pv.port()
			t.line(1, "port %s (iface-id %s)", p.Name, p.IfaceID)
			switch {
			case p.Status.Bound:
				t.line(2, "bound: %s %s, ofport %s, MAC %s, port security %s",
					p.Status.Chassis, p.Status.Interface, ofport(p.Status), portMAC(p), portSecurity(p))
			case pv.Status.Reason != "":
				t.line(2, "unbound: %s", pv.Status.Reason)
			default:
				t.line(2, "unbound")
			}
		}
		for _, tn := range st.Tunnels {
			encap, state := tn.Encap, tn.State
			if encap == "" {
				encap, state = "no common encapsulation", "down"
			}
			if tn.Relay != "" {
				t.line(1, "tunnel %s <-> %s: %s, %s, relayed via %s", tn.A, tn.B, encap, orUnknown(state), tn.Relay)
				continue
			}
			t.line(1, "tunnel %s <-> %s: %s, %s", tn.A, tn.B, encap, orUnknown(state))
		}
		bindings := map[string][]api.Binding{}
		for _, b := range top.Bindings[sw.Name] {
			bindings[b.Gateway] = append(bindings[b.Gateway], b)
		}
		for _, g := range st.Gateways {
			mode := g.ReplicationMode
			if g.Replicator != "" {
				mode += " via " + g.Replicator
			}
			t.line(1, "gateway %s (%s): realized %s, %d %s", g.Name, orUnknown(mode), yesNo(g.Realized), g.LocalMACs, plural(g.LocalMACs, "local MAC"))
			for _, b := range bindings[g.Name] {
				t.line(2, "binding: port %s VLAN %d", b.Port, b.VLAN)
			}
			delete(bindings, g.Name)
		}
		for gw, bs := range sortedMap(bindings) { // not (yet) in the status
			t.line(1, "gateway %s: not realized", gw)
			for _, b := range bs {
				t.line(2, "binding: port %s VLAN %d", b.Port, b.VLAN)
			}
		}
	}
	for _, ch := range top.Chassis {
		st := ch.Status
		t.line(0, "chassis %s (%s, tunnel IP %s, %s)", ch.Name, ch.Kind, ch.TunnelIP, strings.Join(ch.Encaps, ","))
		t.line(1, "ovsdb: %s, %s", ch.OVSDB, connectedWord(st.OVSDBConnected))
		t.line(1, "bridge %s: openflow %s, %d flows, %d groups, realized generation %d",
			ch.Bridge, connectedWord(st.OpenFlowConnected), st.Flows, st.Groups, st.RealizedGeneration)
		if st.Conflict != "" {
			t.line(1, "held back: %s", st.Conflict)
		}
		if st.LastError != "" {
			t.line(1, "last error: %s", st.LastError)
		}
	}
	for _, g := range top.Gateways {
		st := g.Status
		t.line(0, "gateway %s (physical switch %s, tunnel IP %s)", g.Name,
			dash(firstNonEmpty(g.PhysicalSwitch, st.PhysicalSwitch)), dash(strings.Join(st.TunnelIPs, ",")))
		t.line(1, "ovsdb: %s, %s", g.OVSDB, connectedWord(st.Connected))
		if len(st.Faults) > 0 {
			t.line(1, "faults: %s", strings.Join(st.Faults, ", "))
		}
		if st.Conflict != "" {
			t.line(1, "held back: %s", st.Conflict)
		}
		if st.LastError != "" {
			t.line(1, "last error: %s", st.LastError)
		}
		byPort := map[string][]api.Binding{}
		for _, sw := range top.Switches {
			for _, b := range top.Bindings[sw.Name] {
				if b.Gateway == g.Name {
					byPort[b.Port] = append(byPort[b.Port], b)
				}
			}
		}
		for _, p := range st.Ports {
			t.line(1, "port %s%s", p.Name, faultSuffix(p.Faults))
			for _, b := range byPort[p.Name] {
				t.line(2, "VLAN %d -> switch %s", b.VLAN, b.Switch)
			}
			delete(byPort, p.Name)
		}
		for port, bs := range sortedMap(byPort) {
			t.line(1, "port %s (not on the gateway)", port)
			for _, b := range bs {
				t.line(2, "VLAN %d -> switch %s", b.VLAN, b.Switch)
			}
		}
	}
	return t.err
}

func faultSuffix(faults []string) string {
	if len(faults) == 0 {
		return ""
	}
	return " (faults: " + strings.Join(faults, ", ") + ")"
}

func connectedWord(b bool) string {
	if b {
		return "connected"
	}
	return "not connected"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// sortedMap yields a map's entries in the order of their keys.
func sortedMap[V any](m map[string]V) iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !yield(k, m[k]) {
				return
			}
		}
	}
}
