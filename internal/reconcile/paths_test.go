package reconcile

import (
	"net"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
)

type fixedNB struct{ snap *model.Snapshot }

func (n fixedNB) Snapshot() *model.Snapshot { return n.snap }

// pathsFixture is a controller with three chassis (hv2 a relay) and a
// gateway, whose tunnels' BFD states the test sets, on a clock it moves.
type pathsFixture struct {
	c   *Controller
	now time.Time
}

func newPathsFixture(t *testing.T) *pathsFixture {
	snap := &model.Snapshot{Generation: 1, Gateways: []model.Gateway{{Name: "gw1"}}}
	for i, name := range []string{"hv1", "hv2", "hv3"} {
		snap.Chassis = append(snap.Chassis, model.Chassis{Name: name, TunnelIP: net.IPv4(198, 18, 1, byte(11+i)).To4(),
			Encaps: []string{"vxlan"}, Relay: name == "hv2"})
	}
	f := &pathsFixture{c: New(Config{Northbound: fixedNB{snap}, Logger: testLogger(t)}), now: time.Unix(1000, 0)}
	f.c.paths.clock = func() time.Time { return f.now }
	for _, ch := range snap.Chassis {
		f.c.loops[ch.Name] = &chassisDevice{c: f.c, chassis: ch, tunnels: map[string]string{}}
	}
	return f
}

// set gives the tunnel a-b (both ends' view) a BFD state, which paths
// hears of at once (as a pass that observes a BFD change tells it).
func (f *pathsFixture) set(a, b, state string) {
	for _, p := range [][2]string{{a, b}, {b, a}} {
		if h := f.c.loops[p[0]]; h != nil {
			h.tunnels[p[1]] = state
		}
	}
	f.c.updatePaths()
}

// after moves the clock by d and lets paths decide again, as a hold's
// timer or the next BFD change would.
func (f *pathsFixture) after(d time.Duration) realize.Relays {
	f.now = f.now.Add(d)
	f.c.updatePaths()
	return f.c.relays()
}

// TestPathDecisions: a pair goes through the relay only once its direct
// tunnel stayed down for the hold, only through a relay both ends reach,
// and back only once the direct tunnel stayed up for its hold.
func TestPathDecisions(t *testing.T) {
	f := newPathsFixture(t)
	for _, p := range [][2]string{{"hv1", "hv2"}, {"hv1", "hv3"}, {"hv2", "hv3"}} {
		f.set(p[0], p[1], TunnelUp)
	}
	hv13 := realize.PairOf("hv1", "hv3")
	if r := f.after(time.Second); len(r) != 0 {
		t.Fatalf("all up, relays %v", r)
	}
	f.set("hv1", "hv3", TunnelDown)
	if r := f.after(500 * time.Millisecond); len(r) != 0 {
		t.Errorf("relayed before the hold: %v", r)
	}
	if r := f.after(600 * time.Millisecond); r[hv13] != "hv2" {
		t.Errorf("down for 1.1 s, relays %v, want hv1-hv3 via hv2", r)
	}
	// Flapping back up for less than the hold keeps the relay.
	f.set("hv1", "hv3", TunnelUp)
	if r := f.after(time.Second); r[hv13] != "hv2" {
		t.Errorf("up for 1 s, relays %v: back too early", r)
	}
	if r := f.after(1100 * time.Millisecond); len(r) != 0 {
		t.Errorf("up for 2.1 s, relays %v, want direct", r)
	}
	// No relay reaches both ends: no relay.
	f.set("hv1", "hv3", TunnelDown)
	f.set("hv2", "hv3", TunnelDown)
	if r := f.after(2 * time.Second); len(r) != 0 {
		t.Errorf("the relay cannot reach hv3, relays %v", r)
	}
	// A relay is never one end of its own pair.
	f.set("hv2", "hv3", TunnelUp)
	f.set("hv1", "hv2", TunnelDown)
	if r := f.after(2 * time.Second); r[realize.PairOf("hv1", "hv2")] != "" {
		t.Errorf("hv1-hv2 relayed via %q", r[realize.PairOf("hv1", "hv2")])
	}
}

// TestPathDecisionsGateway: a pair with a VTEP waits longer, and a relay
// whose tunnel to the VTEP stays down past its grace is passed over.
func TestPathDecisionsGateway(t *testing.T) {
	f := newPathsFixture(t)
	f.set("hv1", "hv2", TunnelUp)
	f.set("hv1", "gw1", TunnelUp)
	f.set("hv2", "gw1", TunnelUp)
	pair := realize.PairOf("hv1", "gw1")
	f.after(time.Second)
	f.set("hv1", "gw1", TunnelDown)
	if r := f.after(2 * time.Second); len(r) != 0 {
		t.Errorf("a VTEP pair relayed after 2 s: %v", r)
	}
	if r := f.after(1100 * time.Millisecond); r[pair] != "hv2" {
		t.Fatalf("down 3.1 s, relays %v, want hv1-gw1 via hv2", r)
	}
	// The relay's leg to the VTEP goes down: kept during the grace, then
	// passed over.
	f.set("hv2", "gw1", TunnelDown)
	if r := f.after(2 * time.Second); r[pair] != "hv2" {
		t.Errorf("relay dropped within its grace: %v", r)
	}
	if r := f.after(4 * time.Second); len(r) != 0 {
		t.Errorf("relay kept with its VTEP leg down past the grace: %v", r)
	}
}
