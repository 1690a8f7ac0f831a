package reconcile

import (
	"sync"
	"sync/atomic"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
)

// bindView is the northbound snapshot expanded with adopted XenServer VIFs,
// and the bindings of every port: what all loops and every status query
// derive from. Computing it is O(ports); caching it per (generation, VIF
// version) makes an NB change cost one Bind instead of one per device, and
// a status listing of every switch cost one instead of one per switch.
type bindView struct {
	gen      int64
	vifsVer  uint64
	snap     *model.Snapshot // expanded
	bindings realize.Bindings
	vifs     map[string][]realize.Interface
}

type bindCache struct {
	vifsVer atomic.Uint64 // bumped whenever any chassis' VIFs change
	mu      sync.Mutex
	cur     *bindView
}

// view returns the bindings for snap (already read by the caller), from
// the cache when nothing changed since.
func (c *Controller) bindingsFor(snap *model.Snapshot) *bindView {
	ver := c.binds.vifsVer.Load()
	c.binds.mu.Lock()
	cur := c.binds.cur
	c.binds.mu.Unlock()
	if cur != nil && cur.gen == snap.Generation && cur.vifsVer == ver {
		return cur
	}
	vifs := c.observedVIFs()
	exp := realize.ExpandNetworks(snap, vifs)
	v := &bindView{gen: snap.Generation, vifsVer: ver, snap: exp, bindings: realize.Bind(exp, vifs), vifs: vifs}
	c.binds.mu.Lock()
	if c.binds.cur == nil || c.binds.cur.gen < v.gen || c.binds.cur.gen == v.gen && c.binds.cur.vifsVer <= v.vifsVer {
		c.binds.cur = v
	}
	c.binds.mu.Unlock()
	return v
}

// statusView returns a cached view at least as new as minGen, reading the
// northbound only when the cache is older.
func (c *Controller) statusView(minGen int64) *bindView {
	ver := c.binds.vifsVer.Load()
	c.binds.mu.Lock()
	cur := c.binds.cur
	c.binds.mu.Unlock()
	if cur != nil && cur.gen >= minGen && cur.vifsVer == ver {
		return cur
	}
	return c.bindingsFor(c.cfg.Northbound.Snapshot())
}
