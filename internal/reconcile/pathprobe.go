package reconcile

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/openflow"
)

// Packets is what a Session may also do: inject frames, and hand over the
// frames ferry's flows punt (the data-plane probes).
type Packets interface {
	PacketOut(ctx context.Context, p openflow.PacketOut) error
	PacketIns() <-chan openflow.PacketIn
}

// Data-plane probes. Every interval, for every ordered pair of chassis
// that share a switch (both ends driven by this replica, both bridges
// connected), ferry injects one probe frame on the sender with a
// packet-out: into the L2 lookup of one of the switches the pair shares,
// addressed to a MAC bound on the receiver, so it takes the unicast flow
// and tunnel a VM's frame would, through a relay if the pair is relayed.
// The receiver's probe flow punts it back. One probe per pair per
// interval, whatever the number of shared switches: the switch rotates,
// switches changed since their last verification first. While a pair's
// path MTU is not known, each interval also sends one frame of the size
// under test (a binary search between 576 and the configured underlay
// MTU, the tunnel outer header carrying DF).
const (
	probeWindow = 10 // probes a pair's loss is computed over
	probeMagic  = "FERRYPRB"
	probeHeader = 14 + len(probeMagic) + 8
	minProbeMTU = 576 // the smallest underlay MTU the search tries
	// A known path MTU is confirmed (and one byte more tried) every
	// mtuRecheck intervals: a link that shrank or grew back is found
	// within that, at one large frame per pair per period.
	mtuRecheck       = 10
	pathProbeTimeout = time.Second // at most; else the interval
)

// dirPair is an ordered pair of chassis: probes go From → To.
type dirPair struct{ From, To string }

type pendingProbe struct {
	pair    dirPair
	gateway string // a probe sent through this VTEP (hairpin), not a pair's
	sw      string
	version uint64 // the switch's version when sent
	vni     uint32
	mtu     int // underlay size under test; 0: a reachability probe
	sent    time.Time
}

// pairResult is what the probes of one direction found.
type pairResult struct {
	window   [probeWindow]int8 // 1 received, 0 lost
	n, next  int
	rtt      time.Duration
	lastOK   bool
	mtu      mtuSearch
	verified map[string]uint64 // switch → version a probe crossed at
}

func (r *pairResult) record(ok bool) {
	v := int8(0)
	if ok {
		v = 1
	}
	r.window[r.next] = v
	r.next = (r.next + 1) % probeWindow
	if r.n < probeWindow {
		r.n++
	}
	r.lastOK = ok
}

func (r *pairResult) loss() float64 {
	if r.n == 0 {
		return 0
	}
	lost := 0
	for i := 0; i < r.n; i++ {
		if r.window[i] == 0 {
			lost++
		}
	}
	return float64(lost) / float64(r.n)
}

// mtuSearch is a binary search for the largest underlay packet that
// crosses: lo crosses (0: nothing known), hi does not (max+1: nothing
// failed).
type mtuSearch struct {
	max, lo, hi int
	checked     time.Time     // when lo was last confirmed
	recheck     time.Duration // how often
}

func (m *mtuSearch) reset(max int, recheck time.Duration) {
	*m = mtuSearch{max: max, hi: max + 1, recheck: recheck}
}

// next is the size to try, 0 when none is due.
func (m *mtuSearch) next(now time.Time) int {
	switch {
	case m.max == 0:
		return 0
	case m.lo == 0 && m.hi == m.max+1:
		return m.max // the common case: one probe says it all
	case m.hi-m.lo > 1:
		if m.lo == 0 {
			return max(minProbeMTU, (minProbeMTU+m.hi)/2)
		}
		return (m.lo + m.hi) / 2
	case now.Sub(m.checked) >= m.recheck:
		if m.hi <= m.max {
			return m.hi // has the path grown back?
		}
		return m.lo
	}
	return 0
}

func (m *mtuSearch) result(size int, ok bool, now time.Time) {
	switch {
	case ok && size > m.lo:
		m.lo, m.checked = size, now
		if m.hi <= size {
			m.hi = m.max + 1
		}
	case ok:
		m.checked = now
	case size < m.hi:
		m.hi = size
		if m.lo >= size {
			m.lo = 0 // it shrank: search again
		}
	}
}

// known is the path MTU once the search has converged.
func (m *mtuSearch) known() int {
	if m.lo > 0 && m.hi-m.lo <= 1 {
		return m.lo
	}
	return 0
}

// pathProber sends and matches the probes.
type pathProber struct {
	c        *Controller
	interval time.Duration
	perTick  int // probes a sender sends per interval at most

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]*pendingProbe
	results map[dirPair]*pairResult
	turn    map[dirPair]int // rotates the switch probed
	readers map[<-chan openflow.PacketIn]bool
	// gwVerified holds, per gateway, the switches a probe crossed it for
	// and at which version; gwTurn rotates the switch probed.
	gwVerified map[string]map[string]uint64
	gwTurn     map[string]int
	// roundLost counts the losses found since the last report.
	roundLost int
	// The pairs' shared switches, for the estate and probers they were
	// computed from: most rounds see the same ones.
	sharedSeq  uint64
	sharedKey  string
	sharedPair map[dirPair][]string
}

// shared is sharedSwitches, computed again only when the estate or the
// set of probers changed.
func (p *pathProber) shared(e *realize.Estate, senders map[string]prober) map[dirPair][]string {
	names := make([]string, 0, len(senders))
	for name := range senders {
		names = append(names, name)
	}
	slices.Sort(names)
	key := strings.Join(names, "\x00")
	if p.sharedPair != nil && p.sharedSeq == e.Seq && p.sharedKey == key {
		return p.sharedPair
	}
	p.sharedSeq, p.sharedKey, p.sharedPair = e.Seq, key, sharedSwitches(e, senders)
	p.mu.Lock()
	p.forgetDeleted(e)
	p.mu.Unlock()
	return p.sharedPair
}

// forgetDeleted drops what probes verified of switches that are gone, so
// that the records stay as large as the estate.
func (p *pathProber) forgetDeleted(e *realize.Estate) {
	for _, r := range p.results {
		for sw := range r.verified {
			if e.Switches[sw] == nil {
				delete(r.verified, sw)
			}
		}
	}
	for gw, v := range p.gwVerified {
		for sw := range v {
			if e.Switches[sw] == nil {
				delete(v, sw)
			}
		}
		if _, ok := e.GatewaySwitches[gw]; !ok {
			delete(p.gwVerified, gw)
			delete(p.gwTurn, gw)
		}
	}
}

func newPathProber(c *Controller, interval time.Duration, rate int) *pathProber {
	per := int(float64(rate) * interval.Seconds())
	return &pathProber{c: c, interval: interval, perTick: max(1, per),
		pending: make(map[uint64]*pendingProbe), results: make(map[dirPair]*pairResult),
		turn: make(map[dirPair]int), readers: make(map[<-chan openflow.PacketIn]bool),
		gwVerified: make(map[string]map[string]uint64), gwTurn: make(map[string]int)}
}

func (p *pathProber) run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.tick(ctx, now)
		}
	}
}

// prober is one chassis whose bridge can send and receive probes.
type prober struct {
	name string
	pk   Packets
	ch   model.Chassis
	h    *chassisDevice
}

// tunnelTo is the ofport of the prober's tunnel to remote, as committed.
func (pr prober) tunnelTo(remote, encap string) (uint32, bool) {
	pr.h.brMu.RLock()
	defer pr.h.brMu.RUnlock()
	if pr.h.br == nil {
		return 0, false
	}
	return pr.h.br.TunnelTo(remote, encap)
}

// probers returns the chassis this replica drives whose bridge session
// can carry probes, by name, and starts reading each one's packet-ins.
func (p *pathProber) probers(ctx context.Context) map[string]prober {
	p.c.mu.Lock()
	loops := make([]*chassisDevice, 0, len(p.c.loops))
	for _, h := range p.c.loops {
		loops = append(loops, h)
	}
	p.c.mu.Unlock()
	out := make(map[string]prober, len(loops))
	for _, h := range loops {
		if _, mine := p.c.owns(chassisDeviceName(h.chassis.Name)); !mine {
			continue
		}
		h.brMu.RLock()
		sess := h.session
		h.brMu.RUnlock()
		pk, ok := sess.(Packets)
		if !ok {
			continue
		}
		out[h.chassis.Name] = prober{h.chassis.Name, pk, h.chassis, h}
		ch := pk.PacketIns()
		p.mu.Lock()
		if !p.readers[ch] {
			p.readers[ch] = true
			go p.read(ctx, h.chassis.Name, ch)
		}
		p.mu.Unlock()
	}
	return out
}

// read matches one bridge's packet-ins with the probes sent to it.
func (p *pathProber) read(ctx context.Context, receiver string, ch <-chan openflow.PacketIn) {
	defer func() {
		p.mu.Lock()
		delete(p.readers, ch)
		p.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case pi, ok := <-ch:
			if !ok {
				return
			}
			p.received(receiver, pi, time.Now())
		}
	}
}

// probeID returns the probe a frame carries; ok is false for anything
// else (a guest's frame of the same type, garbage).
func probeID(frame []byte) (id uint64, ok bool) {
	if len(frame) < probeHeader || !bytes.Equal(frame[6:12], openflow.ProbeMAC) ||
		binary.BigEndian.Uint16(frame[12:14]) != openflow.EthProbe || string(frame[14:14+len(probeMagic)]) != probeMagic {
		return 0, false
	}
	return binary.BigEndian.Uint64(frame[14+len(probeMagic):]), true
}

// probeFrame builds a probe of size bytes (at least the header) to dst.
func probeFrame(dst net.HardwareAddr, id uint64, size int) []byte {
	f := make([]byte, max(size, probeHeader))
	copy(f[0:6], dst)
	copy(f[6:12], openflow.ProbeMAC)
	binary.BigEndian.PutUint16(f[12:14], openflow.EthProbe)
	copy(f[14:], probeMagic)
	binary.BigEndian.PutUint64(f[14+len(probeMagic):], id)
	return f
}

func (p *pathProber) received(receiver string, pi openflow.PacketIn, now time.Time) {
	id, ok := probeID(pi.Data)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	pr := p.pending[id]
	if pr == nil || pr.pair.To != receiver || !pi.HasTunID || pi.TunID != uint64(pr.vni) {
		return
	}
	delete(p.pending, id)
	if pr.gateway != "" {
		v := p.gwVerified[pr.gateway]
		if v == nil {
			v = make(map[string]uint64)
			p.gwVerified[pr.gateway] = v
		}
		v[pr.sw] = max(v[pr.sw], pr.version)
		return
	}
	r := p.result(pr.pair)
	if pr.mtu > 0 {
		r.mtu.result(pr.mtu, true, now)
		return
	}
	r.record(true)
	r.rtt = now.Sub(pr.sent)
	p.c.cfg.Metrics.probeRTTObserved(r.rtt)
	if r.verified == nil {
		r.verified = make(map[string]uint64)
	}
	if pr.version > r.verified[pr.sw] {
		r.verified[pr.sw] = pr.version
	}
}

func (p *pathProber) result(d dirPair) *pairResult {
	r := p.results[d]
	if r == nil {
		r = &pairResult{}
		p.results[d] = r
	}
	return r
}

// expire counts the probes that did not come back in time as lost. An MTU
// probe's loss counts only when the same pair's reachability probe of
// that round came back: a lost frame is not a small path.
func (p *pathProber) expire(now time.Time) {
	timeout := min(p.interval, pathProbeTimeout)
	var mtu []*pendingProbe
	for id, pr := range p.pending {
		if now.Sub(pr.sent) < timeout {
			continue
		}
		delete(p.pending, id)
		if pr.gateway != "" {
			// Not verified (any more): the VTEP did not forward it.
			if v := p.gwVerified[pr.gateway]; v != nil && v[pr.sw] <= pr.version {
				delete(v, pr.sw)
			}
			continue
		}
		if pr.mtu > 0 {
			mtu = append(mtu, pr)
			continue
		}
		p.roundLost++
		p.result(pr.pair).record(false)
	}
	for _, pr := range mtu {
		if r := p.result(pr.pair); r.lastOK {
			r.mtu.result(pr.mtu, false, now)
		}
	}
}

func (p *pathProber) tick(ctx context.Context, now time.Time) {
	p.mu.Lock()
	p.expire(now)
	p.mu.Unlock()
	senders := p.probers(ctx)
	sent := 0
	defer func() { p.report(sent) }()
	if len(senders) < 2 {
		return
	}
	e := p.c.estate()
	shared := p.shared(e, senders)
	var outs []queuedProbe
	budget := make(map[string]int, len(senders))
	p.mu.Lock()
	for d := range p.results {
		if _, ok := shared[d]; !ok {
			delete(p.results, d) // no longer a pair
			delete(p.turn, d)
		}
	}
	for d, sws := range shared {
		if budget[d.From] >= p.perTick {
			continue
		}
		sv, dst := p.pick(e, d, sws)
		if sv == nil {
			continue
		}
		r := p.result(d)
		from, to := senders[d.From].ch, senders[d.To].ch
		if m := min(from.MTU(), to.MTU()); r.mtu.max != m {
			r.mtu.reset(m, mtuRecheck*p.interval)
		}
		encap := realize.PairEncap(sv.Switch, from, to)
		if relay := sv.RelayOf(d.From, d.To); relay != "" {
			if rc, ok := e.Chassis(relay); ok {
				encap = realize.PairEncap(sv.Switch, from, rc)
			}
		}
		sizes := []int{0}
		if size := r.mtu.next(now); size > 0 && r.lastOK {
			sizes = append(sizes, size)
		}
		for _, size := range sizes {
			p.seq++
			pr := &pendingProbe{pair: d, sw: sv.Name, version: sv.Version, vni: sv.VNI, mtu: size, sent: now}
			p.pending[p.seq] = pr
			frame := probeHeader
			if size > 0 {
				// The inner frame whose tunnel packet is size bytes.
				frame = size - model.Overhead(encap) + 14
			}
			outs = append(outs, queuedProbe{senders[d.From].pk, openflow.PacketOut{InPort: openflow.PortController,
				Actions: []openflow.Action{openflow.SetTunnelID{ID: uint64(sv.VNI)}, openflow.Output{Port: openflow.PortTable}},
				Data:    probeFrame(dst, p.seq, frame)}})
		}
		budget[d.From]++
	}
	for gw, sws := range e.GatewaySwitches {
		if o, ok := p.hairpin(e, gw, sws, senders, now); ok {
			outs = append(outs, o)
		}
	}
	p.mu.Unlock()
	sent = len(outs)
	for _, o := range outs {
		// A failed send is a lost probe: it expires like one.
		_ = o.pk.PacketOut(ctx, o.msg)
	}
}

// queuedProbe is a probe built under the lock, sent after it.
type queuedProbe struct {
	pk  Packets
	msg openflow.PacketOut
}

// hairpin builds this round's probe through gateway gw: sent by one
// carrier of a switch straight into its tunnel to the VTEP, addressed to a
// MAC bound on another carrier, which the VTEP must forward there from
// its Ucast_Macs_Remote. It crosses the VTEP's data plane for the switch
// (ovs-vtep programs it after its database). A switch needs two carriers
// whose pairs with the VTEP are direct; the switch probed rotates,
// unverified ones first.
func (p *pathProber) hairpin(e *realize.Estate, gw string, sws []string, senders map[string]prober, now time.Time) (queuedProbe, bool) {
	start := p.gwTurn[gw]
	type cand struct {
		sv       *realize.SwitchView
		from, to prober
		mac      net.HardwareAddr
		port     uint32
	}
	var fallback *cand
	for i := range sws {
		sv := e.Switches[sws[(start+i)%len(sws)]]
		if sv == nil {
			continue
		}
		var c *cand
		for _, a := range sv.Carriers {
			from, ok := senders[a]
			if !ok || sv.RelayOf(a, gw) != "" {
				continue
			}
			port, ok := from.tunnelTo(gw, model.EncapVXLAN)
			if !ok {
				continue
			}
			for _, b := range sv.Carriers {
				to, ok := senders[b]
				if !ok || b == a || sv.RelayOf(b, gw) != "" {
					continue
				}
				if mac := macOn(sv, b); mac != nil {
					c = &cand{sv, from, to, mac, port}
					break
				}
			}
			if c != nil {
				break
			}
		}
		if c == nil {
			continue
		}
		if p.gwVerified[gw][sv.Name] < sv.Version {
			fallback = c
			p.gwTurn[gw] = (start + i + 1) % len(sws)
			break
		}
		if fallback == nil {
			fallback = c
			p.gwTurn[gw] = (start + i + 1) % len(sws)
		}
	}
	if fallback == nil {
		return queuedProbe{}, false
	}
	c := fallback
	p.seq++
	p.pending[p.seq] = &pendingProbe{pair: dirPair{c.from.name, c.to.name}, gateway: gw, sw: c.sv.Name,
		version: c.sv.Version, vni: c.sv.VNI, sent: now}
	return queuedProbe{c.from.pk, openflow.PacketOut{InPort: openflow.PortController,
		Actions: []openflow.Action{openflow.SetTunnelID{ID: uint64(c.sv.VNI)}, openflow.Output{Port: c.port}},
		Data:    probeFrame(c.mac, p.seq, probeHeader)}}, true
}

// gatewayVerified reports whether a probe crossed gateway gw for the
// switch at version or later.
func (p *pathProber) gatewayVerified(gw, sw string, version uint64) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gwVerified[gw][sw] >= version && version > 0
}

// pick chooses the switch a pair's probe crosses this round (one not
// verified at its current version first, else the next in turn) and the
// receiver's MAC to address it to.
func (p *pathProber) pick(e *realize.Estate, d dirPair, sws []string) (*realize.SwitchView, net.HardwareAddr) {
	r := p.results[d]
	start := p.turn[d]
	var fallback *realize.SwitchView
	var fallbackMAC net.HardwareAddr
	for i := range sws {
		sv := e.Switches[sws[(start+i)%len(sws)]]
		if sv == nil {
			continue
		}
		mac := macOn(sv, d.To)
		if mac == nil {
			continue
		}
		if r == nil || r.verified[sv.Name] < sv.Version {
			p.turn[d] = (start + i + 1) % len(sws)
			return sv, mac
		}
		if fallback == nil {
			fallback, fallbackMAC = sv, mac
			p.turn[d] = (start + i + 1) % len(sws)
		}
	}
	return fallback, fallbackMAC
}

// macOn is a MAC bound on chassis in the switch (the smallest, so that
// probes of a pair keep to one).
func macOn(sv *realize.SwitchView, chassis string) net.HardwareAddr {
	var best net.HardwareAddr
	for _, b := range sv.Bound {
		if b.Chassis == chassis && b.MAC != nil && (best == nil || bytes.Compare(b.MAC, best) < 0) {
			best = b.MAC
		}
	}
	return best
}

// sharedSwitches lists, per ordered pair of probers, the switches both
// carry (sorted by name).
func sharedSwitches(e *realize.Estate, senders map[string]prober) map[dirPair][]string {
	out := make(map[dirPair][]string)
	for _, sw := range e.Snapshot.Switches {
		sv := e.Switches[sw.Name]
		if sv == nil || len(sv.Carriers) < 2 {
			continue
		}
		for _, a := range sv.Carriers {
			if _, ok := senders[a]; !ok {
				continue
			}
			for _, b := range sv.Carriers {
				if _, ok := senders[b]; !ok || a == b {
					continue
				}
				d := dirPair{a, b}
				out[d] = append(out[d], sw.Name)
			}
		}
	}
	return out
}

// report hands a round's figures to the metrics: the pairs by state,
// each unordered pair once.
func (p *pathProber) report(sent int) {
	if p.c.cfg.Metrics == nil {
		return
	}
	p.mu.Lock()
	states := make(map[string]int)
	mtuLow := 0
	for d := range p.results {
		if d.From > d.To {
			if _, both := p.results[dirPair{d.To, d.From}]; both {
				continue
			}
		}
		pp := p.pairProbeLocked(d.From, d.To)
		if pp == nil {
			states[model.ProbeUnknown]++
			continue
		}
		states[pp.State]++
		if pp.MTUBelowUnderlay {
			mtuLow++
		}
	}
	lost := p.roundLost
	p.roundLost = 0
	p.mu.Unlock()
	p.c.cfg.Metrics.probeRound(sent, lost, states, mtuLow)
}

// pairProbe combines both directions of a pair for status; nil when
// neither was probed.
func (p *pathProber) pairProbe(a, b string) *model.PairProbe {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pairProbeLocked(a, b)
}

func (p *pathProber) pairProbeLocked(a, b string) *model.PairProbe {
	out := &model.PairProbe{}
	probed, unprobed, failing := 0, false, false
	mtu, configured := 0, 0
	for _, r := range []*pairResult{p.results[dirPair{a, b}], p.results[dirPair{b, a}]} {
		if r == nil || r.n == 0 {
			unprobed = true
			continue
		}
		probed++
		failing = failing || !r.lastOK
		out.Loss = max(out.Loss, r.loss())
		out.RTTMillis = max(out.RTTMillis, float64(r.rtt.Microseconds())/1000)
		if k := r.mtu.known(); k > 0 && (mtu == 0 || k < mtu) {
			mtu = k
		}
		configured = r.mtu.max // the pair's configured underlay MTU
	}
	switch {
	case probed == 0:
		return nil
	case failing:
		out.State = model.ProbeFailing
	case unprobed:
		out.State = model.ProbeUnknown
	default:
		out.State = model.ProbeOK
	}
	out.PathMTU = mtu
	out.MTUBelowUnderlay = mtu > 0 && mtu < configured
	return out
}

// verified reports whether probes crossed the switch at version (or
// later) in both directions between a and b, and the last probe each way
// came back.
func (p *pathProber) verified(sw string, version uint64, a, b string) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range []dirPair{{a, b}, {b, a}} {
		r := p.results[d]
		if r == nil || !r.lastOK || r.verified[sw] < version {
			return false
		}
	}
	return true
}
