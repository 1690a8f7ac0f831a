package reconcile

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// One device, one loop. A registration names a device by the spelling of
// its OVSDB target, and two spellings can reach one database
// (unix:/x/./db.sock, tcp:[::ffff:127.0.0.1]:P, a second address of the same
// host): two loops would then fight over one bridge. So each loop claims
// what identifies the device itself once it has read it: the Open_vSwitch
// row's UUID and the managed bridge's datapath ID for a chassis, the
// Physical_Switch row's UUID for a gateway. A loop that finds its device
// claimed by another registration holds back: it writes nothing, reports no
// VIFs and shows the conflict in its status.

// Kinds of registration.
const (
	kindChassis = "chassis"
	kindGateway = "gateway"
)

// holder is a registration holding claims: its kind ("chassis",
// "gateway"), name and rank. The older registration (lower rank: the
// northbound generation that created it, model.Chassis.Created, which a
// PATCH does not change) keeps the device, whichever loop connected
// first, so the outcome does not depend on start-up races.
type holder struct {
	kind, name string
	rank       int64
}

func (h holder) String() string { return h.kind + " " + fmt.Sprintf("%q", h.name) }

func (h holder) before(o holder) bool {
	if h.rank != o.rank {
		return h.rank < o.rank
	}
	if h.kind != o.kind {
		return h.kind < o.kind
	}
	return h.name < o.name
}

// claims maps each device identity to the registration holding it.
type claims struct {
	mu sync.Mutex
	by map[string]holder
	// held is what each registration holds, by kind+name.
	held map[string][]string
}

func newClaims() *claims {
	return &claims{by: map[string]holder{}, held: map[string][]string{}}
}

func (h holder) key() string { return h.kind + "/" + h.name }

// claim records that h's device has the given identities (an empty one is
// skipped), dropping what h claimed before and no longer has. It returns
// the registration h conflicts with and the identity they share, or a zero
// holder. Where h outranks the current holder, h takes the identity over
// and the displaced registration is returned in lost, so that its loop can
// be kicked to notice.
func (c *claims) claim(h holder, ids ...string) (conflict holder, shared string, lost []holder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids = slices.DeleteFunc(slices.Clone(ids), func(s string) bool { return s == "" })
	for _, id := range c.held[h.key()] {
		if !slices.Contains(ids, id) && c.by[id].key() == h.key() {
			delete(c.by, id)
		}
	}
	var mine []string
	for _, id := range ids {
		cur, ok := c.by[id]
		switch {
		case !ok || cur.key() == h.key():
			c.by[id] = h
			mine = append(mine, id)
		case h.before(cur):
			c.by[id] = h
			mine = append(mine, id)
			lost = append(lost, cur)
		case conflict.name == "":
			conflict, shared = cur, id
		}
	}
	if conflict.name != "" {
		// Held back: keep nothing, so that the older registration is
		// never blocked by a younger one's partial claim.
		for _, id := range mine {
			if c.by[id].key() == h.key() {
				delete(c.by, id)
			}
		}
		mine = nil
	}
	c.held[h.key()] = mine
	return conflict, shared, lost
}

// holds reports whether the registration kind/name holds any identity:
// false for one held back (or never connected).
func (c *claims) holds(kind, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held[holder{kind: kind, name: name}.key()]) > 0
}

// release drops every claim of the registration kind/name (deleted, or
// restarted with other settings); it reports whether it held any.
func (c *claims) release(kind, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := holder{kind: kind, name: name}.key()
	ids := c.held[key]
	for _, id := range ids {
		if c.by[id].key() == key {
			delete(c.by, id)
		}
	}
	delete(c.held, key)
	return len(ids) > 0
}

// conflictMessage is what a held-back registration shows.
func conflictMessage(other holder, shared string) string {
	what, value, _ := strings.Cut(shared, ":")
	return fmt.Sprintf("conflict: this is the device of %s (same %s %s); held back, nothing is written to it — delete one of the two registrations",
		other, identityNames[what], value)
}

var identityNames = map[string]string{
	"ovs":  "Open_vSwitch row",
	"dpid": "bridge datapath ID",
	"ps":   "Physical_Switch row",
}
