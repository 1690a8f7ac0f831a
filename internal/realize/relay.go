package realize

import (
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow"
)

// Pair is two tunnel endpoints (chassis or gateway names), A before B.
type Pair struct{ A, B string }

// PairOf returns the pair of x and y in canonical order.
func PairOf(x, y string) Pair {
	if y < x {
		x, y = y, x
	}
	return Pair{x, y}
}

// Other returns the end of the pair that is not name.
func (p Pair) Other(name string) string {
	if p.A == name {
		return p.B
	}
	return p.A
}

// Has reports whether name is an end of the pair.
func (p Pair) Has(name string) bool { return p.A == name || p.B == name }

// Relays says which relay chassis carries the traffic of each pair of
// endpoints whose direct tunnel is down. The controller decides it from
// what BFD reports (an input, like the gateways' views): the realization
// only follows it.
type Relays map[Pair]string

// switchRelays keeps the relayed pairs whose both ends are endpoints of a
// switch (its carriers and its gateways with a known tunnel IP), and
// whose relay is neither end.
func switchRelays(carriers []string, gateways []GatewayView, relays Relays) map[Pair]string {
	if len(relays) == 0 {
		return nil
	}
	isEndpoint := func(name string) bool {
		if _, ok := slices.BinarySearch(carriers, name); ok {
			return true
		}
		return slices.ContainsFunc(gateways, func(g GatewayView) bool { return g.Name == name })
	}
	var out map[Pair]string
	for p, r := range relays {
		if r == "" || p.Has(r) || !isEndpoint(p.A) || !isEndpoint(p.B) {
			continue
		}
		if out == nil {
			out = make(map[Pair]string)
		}
		out[p] = r
	}
	return out
}

// relayKeyOf sums up a switch's relayed pairs, to notice when they change.
func relayKeyOf(relayed map[Pair]string) string {
	if len(relayed) == 0 {
		return ""
	}
	keys := make([]string, 0, len(relayed))
	for p, r := range relayed {
		keys = append(keys, p.A+"\x00"+p.B+"\x00"+r)
	}
	sort.Strings(keys)
	return strings.Join(keys, "\x01")
}

// RelayOf returns the relay the traffic between endpoints a and b of the
// switch goes through, or "" when it goes direct.
func (sv *SwitchView) RelayOf(a, b string) string { return sv.Relayed[PairOf(a, b)] }

// Relays returns the relays the switch uses, sorted.
func (sv *SwitchView) Relays() []string {
	return slices.Compact(slices.Sorted(maps.Values(sv.Relayed)))
}

// Serves reports whether chassis has a part in the switch: it carries it,
// or relays for some of its pairs.
func (sv *SwitchView) Serves(chassis string) bool {
	if sv.Carries(chassis) {
		return true
	}
	for _, r := range sv.Relayed {
		if r == chassis {
			return true
		}
	}
	return false
}

// relayedPeers returns, for endpoint self, the peers it reaches through a
// relay, with the relay.
func (sv *SwitchView) relayedPeers(self string) map[string]string {
	var out map[string]string
	for p, r := range sv.Relayed {
		if !p.Has(self) {
			continue
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[p.Other(self)] = r
	}
	return out
}

// relayedFor returns, for relay self, each endpoint it forwards from and
// the endpoints it forwards that one's frames to (sorted).
func (sv *SwitchView) relayedFor(self string) map[string][]string {
	var out map[string][]string
	for p, r := range sv.Relayed {
		if r != self {
			continue
		}
		if out == nil {
			out = make(map[string][]string)
		}
		out[p.A] = append(out[p.A], p.B)
		out[p.B] = append(out[p.B], p.A)
	}
	for _, to := range out {
		sort.Strings(to)
	}
	return out
}

// relayTunnels are the tunnels a chassis keeps whether or not a switch
// needs them, so that BFD always knows whether a relay is reachable: a
// relay has one to every other chassis, every other chassis one to every
// relay, one per encapsulation both ends support. Sorted by name.
func relayTunnels(self model.Chassis, all []model.Chassis) []hypervisor.Tunnel {
	if self.TunnelIP == nil {
		return nil
	}
	var out []hypervisor.Tunnel
	for _, rc := range all {
		if rc.Name == self.Name || rc.TunnelIP == nil || !self.Relay && !rc.Relay {
			continue
		}
		for _, e := range []string{model.EncapVXLAN, model.EncapGRE} {
			if !slices.Contains(self.Encaps, e) || !slices.Contains(rc.Encaps, e) {
				continue
			}
			name := openflow.TunnelName(e, rc.TunnelIP)
			if name == "" {
				continue
			}
			out = append(out, hypervisor.Tunnel{Name: name, Type: e, Remote: rc.Name,
				RemoteIP: rc.TunnelIP.String(), LocalIP: self.TunnelIP.String()})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
