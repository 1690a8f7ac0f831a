package reconcile

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
)

// Path timing. A pair goes through a relay as soon as BFD says its direct
// tunnel is down; it returns to the direct path only once that has been up
// for pathReturnHold, so that a flapping link does not move traffic back
// and forth with every BFD packet. A relay whose tunnel to one end of a
// pair turned out down while it relayed is not tried again for that pair
// for relayRefusedHold: a VTEP builds its tunnel to the relay only once it
// is told to use it, so until then BFD cannot vouch for that leg.
const (
	pathReturnHold   = 2 * time.Second
	relayRefusedHold = 30 * time.Second
)

// paths is the controller's choice of path for every pair of endpoints
// whose direct tunnel is down: an estate input like the gateways' views,
// computed from what BFD reports on both ends.
type paths struct {
	mu      sync.Mutex
	relays  realize.Relays
	upSince map[realize.Pair]time.Time // relayed pairs whose direct tunnel is up again
	refused map[relayTry]time.Time     // relays found unreachable while in use
	timer   *time.Timer                // re-decides when a hold ends
	ver     atomic.Uint64              // bumped whenever relays changes
}

type relayTry struct {
	pair  realize.Pair
	relay string
}

// relays returns the current choice (shared: never modified in place).
func (c *Controller) relays() realize.Relays {
	c.paths.mu.Lock()
	defer c.paths.mu.Unlock()
	return c.paths.relays
}

// updatePaths decides again which pairs go through which relay, from the
// tunnels' states as the devices last reported them, and kicks a new
// estate when that changed.
func (c *Controller) updatePaths() {
	now := time.Now()
	snap := c.cfg.Northbound.Snapshot()
	var relayChassis []string
	for _, ch := range snap.Chassis {
		if ch.Relay {
			relayChassis = append(relayChassis, ch.Name)
		}
	}
	isGateway := make(map[string]bool, len(snap.Gateways))
	for _, gw := range snap.Gateways {
		isGateway[gw.Name] = true
	}
	p := &c.paths
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.upSince == nil {
		p.upSince, p.refused = make(map[realize.Pair]time.Time), make(map[relayTry]time.Time)
	}
	next := realize.Relays{}
	var wait time.Duration
	if len(relayChassis) > 0 {
		for _, pair := range c.downPairs(isGateway, p.relays) {
			state := c.pairOf(pair, isGateway)
			cur, relayed := p.relays[pair]
			if state != TunnelDown && relayed {
				// Back only once it stayed up for the hold.
				since, ok := p.upSince[pair]
				if state != TunnelUp {
					delete(p.upSince, pair)
				} else if !ok {
					p.upSince[pair], since = now, now
				}
				if left := pathReturnHold - now.Sub(since); state != TunnelUp || left > 0 {
					if state == TunnelUp && (wait == 0 || left < wait) {
						wait = left
					}
					next[pair] = cur
				}
				continue
			}
			delete(p.upSince, pair)
			if state != TunnelDown {
				continue
			}
			if relayed && !c.relayReaches(cur, pair, isGateway) {
				p.refused[relayTry{pair, cur}] = now
				relayed = false
			}
			if relayed {
				next[pair] = cur
				continue
			}
			for _, r := range relayChassis {
				if at, ok := p.refused[relayTry{pair, r}]; ok && now.Sub(at) < relayRefusedHold {
					continue
				}
				if !pair.Has(r) && c.relayReaches(r, pair, isGateway) {
					next[pair] = r
					break
				}
			}
		}
	}
	for k, at := range p.refused {
		if now.Sub(at) >= relayRefusedHold {
			delete(p.refused, k)
		}
	}
	if wait > 0 {
		if p.timer != nil {
			p.timer.Stop()
		}
		p.timer = time.AfterFunc(wait, c.Kick)
	}
	if len(next) == 0 {
		next = nil
	}
	if maps.Equal(next, p.relays) {
		return
	}
	for pair, r := range next {
		if p.relays[pair] != r {
			c.log.Info("pair relayed: direct tunnel down", "a", pair.A, "b", pair.B, "relay", r)
		}
	}
	for pair := range p.relays {
		if _, ok := next[pair]; !ok {
			c.log.Info("pair back to its direct path", "a", pair.A, "b", pair.B)
		}
	}
	p.relays = next
	p.ver.Add(1)
	c.Kick()
}

// downPairs lists the pairs of endpoints some device reports a down
// tunnel between, and the pairs relayed now.
func (c *Controller) downPairs(isGateway map[string]bool, relayed realize.Relays) []realize.Pair {
	c.mu.Lock()
	loops := make([]*chassisDevice, 0, len(c.loops))
	for _, h := range c.loops {
		loops = append(loops, h)
	}
	gws := make([]*gatewayDevice, 0, len(c.gateways))
	for _, g := range c.gateways {
		gws = append(gws, g)
	}
	c.mu.Unlock()
	seen := make(map[realize.Pair]bool)
	for p := range relayed {
		seen[p] = true
	}
	byIP := make(map[string]string, len(loops))
	for _, h := range loops {
		if h.chassis.TunnelIP != nil {
			byIP[h.chassis.TunnelIP.String()] = h.chassis.Name
		}
		h.mu.Lock()
		for remote, st := range h.tunnels {
			if st == TunnelDown {
				seen[realize.PairOf(h.chassis.Name, remote)] = true
			}
		}
		h.mu.Unlock()
	}
	for _, g := range gws {
		for ip, st := range g.currentView().TunnelStates {
			if name, ok := byIP[ip]; ok && st == TunnelDown {
				seen[realize.PairOf(name, g.gw.Name)] = true
			}
		}
	}
	out := make([]realize.Pair, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b realize.Pair) int {
		if a.A != b.A {
			return compare(a.A, b.A)
		}
		return compare(a.B, b.B)
	})
	return out
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pairOf is pairState for a pair in canonical order, chassis first.
func (c *Controller) pairOf(p realize.Pair, isGateway map[string]bool) string {
	a, b := p.A, p.B
	if isGateway[a] {
		a, b = b, a
	}
	if isGateway[a] {
		// Two gateways: each reports its own tunnels only by IP, and
		// nothing tells ferry whether they reach each other.
		return TunnelUnknown
	}
	return c.pairState(a, b, isGateway[b])
}

// relayReaches reports whether relay r can carry pair: its tunnels to both
// ends are up (towards a VTEP: not known down, see relayRefusedHold).
func (c *Controller) relayReaches(r string, pair realize.Pair, isGateway map[string]bool) bool {
	if c.loop(r) == nil {
		return false
	}
	for _, end := range []string{pair.A, pair.B} {
		st := c.pairState(r, end, isGateway[end])
		if isGateway[end] && st == TunnelDown || !isGateway[end] && st != TunnelUp {
			return false
		}
	}
	return true
}

// pathOf describes how a switch's traffic between a and b goes.
func pathOf(sv *realize.SwitchView, a, b string) string {
	if r := sv.RelayOf(a, b); r != "" {
		return model.PathRelayedVia + r
	}
	return model.PathDirect
}
