package reconcile

import (
	"cmp"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
)

// Path timing. A pair goes through a relay once BFD has said its direct
// tunnel is down for relayAfter (relayAfterNew while the tunnel was never
// seen up: a tunnel that is coming up reports down and init for a second
// or two); it returns to the direct path only once that has been up for
// pathReturnHold, so that a flapping link does not move traffic back and
// forth with every BFD packet. A pair with a VTEP waits relayAfterGateway:
// ovs-vtep restarts BFD on its tunnels whenever it reconfigures them, so
// its side reports a short "down" on changes elsewhere. A relay whose
// tunnel to a VTEP is still down relayLegGrace after it started relaying
// is not tried again for that pair for relayRefusedHold: a VTEP builds its
// tunnel to the relay only once told to use it, so until then BFD cannot
// vouch for that leg.
const (
	relayAfter        = 1 * time.Second
	relayAfterGateway = 3 * time.Second
	relayAfterNew     = 5 * time.Second
	pathReturnHold    = 2 * time.Second
	relayLegGrace     = 5 * time.Second
	relayRefusedHold  = 10 * time.Second
)

// paths is the controller's choice of path for every pair of endpoints
// whose direct tunnel is down: an estate input like the gateways' views,
// computed from what BFD reports on both ends.
type paths struct {
	mu        sync.Mutex
	relays    realize.Relays
	downSince map[realize.Pair]time.Time // pairs whose direct tunnel is down, since
	upSince   map[realize.Pair]time.Time // relayed pairs whose direct tunnel is up again
	since     map[realize.Pair]time.Time // relayed pairs, since
	seenUp    map[realize.Pair]bool      // pairs whose direct tunnel was up once
	refused   map[relayTry]time.Time     // relays found unreachable while in use
	timer     *time.Timer                // re-decides when a hold ends
	clock     func() time.Time           // nil: time.Now (tests set it)
	reported  []string                   // the relays the metrics show
	ver       atomic.Uint64              // bumped whenever relays changes
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
	if c.paths.clock != nil {
		now = c.paths.clock()
	}
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
		p.upSince, p.downSince = make(map[realize.Pair]time.Time), make(map[realize.Pair]time.Time)
		p.seenUp, p.refused = make(map[realize.Pair]bool), make(map[relayTry]time.Time)
		p.since = make(map[realize.Pair]time.Time)
	}
	next := realize.Relays{}
	var wait time.Duration
	later := func(d time.Duration) {
		if d > 0 && (wait == 0 || d < wait) {
			wait = d
		}
	}
	pairs := c.observedPairs(p.relays)
	for pair := range p.downSince {
		if !slices.Contains(pairs, pair) {
			delete(p.downSince, pair)
		}
	}
	for _, pair := range pairs {
		state := c.pairOf(pair, isGateway)
		if state == TunnelUp {
			p.seenUp[pair] = true
		}
		if state != TunnelDown {
			delete(p.downSince, pair)
		} else if _, ok := p.downSince[pair]; !ok {
			p.downSince[pair] = now
		}
		cur, relayed := p.relays[pair]
		if len(relayChassis) == 0 {
			continue
		}
		if state != TunnelDown && relayed {
			// Back only once it stayed up for the hold.
			since, ok := p.upSince[pair]
			if state != TunnelUp {
				delete(p.upSince, pair)
			} else if !ok {
				p.upSince[pair], since = now, now
			}
			if left := pathReturnHold - now.Sub(since); state != TunnelUp || left > 0 {
				if state == TunnelUp {
					later(left)
				}
				next[pair] = cur
			}
			continue
		}
		delete(p.upSince, pair)
		if state != TunnelDown {
			continue
		}
		if relayed {
			ok, legDown := c.relayReaches(cur, pair, isGateway)
			if in := now.Sub(p.since[pair]); ok || legDown && in < relayLegGrace {
				if !ok {
					later(relayLegGrace - in)
				}
				next[pair] = cur
				continue
			}
			if legDown {
				p.refused[relayTry{pair, cur}] = now
			}
		} else {
			hold := relayAfter
			switch {
			case !p.seenUp[pair]:
				hold = relayAfterNew
			case isGateway[pair.A] || isGateway[pair.B]:
				hold = relayAfterGateway
			}
			if left := hold - now.Sub(p.downSince[pair]); left > 0 {
				later(left)
				continue
			}
		}
		for _, r := range relayChassis {
			if at, ok := p.refused[relayTry{pair, r}]; ok && now.Sub(at) < relayRefusedHold {
				later(relayRefusedHold - now.Sub(at))
				continue
			}
			if ok, _ := c.relayReaches(r, pair, isGateway); ok && !pair.Has(r) {
				next[pair] = r
				break
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
	if maps.Equal(next, p.relays) && slices.Equal(relayChassis, p.reported) {
		return
	}
	changes := 0
	for pair := range p.since {
		if _, ok := next[pair]; !ok {
			delete(p.since, pair)
		}
	}
	for pair, r := range next {
		if p.relays[pair] != r {
			p.since[pair] = now
			changes++
			c.log.Info("pair relayed: direct tunnel down", "a", pair.A, "b", pair.B, "relay", r)
		}
	}
	for pair := range p.relays {
		if _, ok := next[pair]; !ok {
			changes++
			c.log.Info("pair back to its direct path", "a", pair.A, "b", pair.B)
		}
	}
	c.cfg.Metrics.setRelays(relayChassis, next, changes)
	p.reported = relayChassis
	if maps.Equal(next, p.relays) {
		return
	}
	p.relays = next
	p.ver.Add(1)
	c.Kick()
}

// observedPairs lists the pairs of endpoints some device reports a tunnel
// state between (up or down), and the pairs relayed now.
func (c *Controller) observedPairs(relayed realize.Relays) []realize.Pair {
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
			if st != TunnelUnknown {
				seen[realize.PairOf(h.chassis.Name, remote)] = true
			}
		}
		h.mu.Unlock()
	}
	for _, g := range gws {
		for ip, st := range g.currentView().TunnelStates {
			if name, ok := byIP[ip]; ok && st != TunnelUnknown {
				seen[realize.PairOf(name, g.gw.Name)] = true
			}
		}
	}
	out := make([]realize.Pair, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b realize.Pair) int { return cmp.Or(cmp.Compare(a.A, b.A), cmp.Compare(a.B, b.B)) })
	return out
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
// ends are up (towards a VTEP: not known down, see relayRefusedHold), and
// whether a leg towards a VTEP is known down.
func (c *Controller) relayReaches(r string, pair realize.Pair, isGateway map[string]bool) (ok, gatewayDown bool) {
	if c.loop(r) == nil {
		return false, false
	}
	ok = true
	for _, end := range []string{pair.A, pair.B} {
		st := c.pairState(r, end, isGateway[end])
		switch {
		case isGateway[end] && st == TunnelDown:
			ok, gatewayDown = false, true
		case !isGateway[end] && st != TunnelUp:
			ok = false
		}
	}
	return ok, gatewayDown
}

// pathOf describes how a switch's traffic between a and b goes.
func pathOf(sv *realize.SwitchView, a, b string) string {
	if r := sv.RelayOf(a, b); r != "" {
		return model.PathRelayedVia + r
	}
	return model.PathDirect
}
