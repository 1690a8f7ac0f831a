package realize

import (
	"hash/fnv"
	"net"
	"slices"
	"sort"
	"strconv"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow"
)

// ChassisCache makes DesiredChassis incremental per switch: a chassis
// carrying 500 switches recomputes, after one port is added, the flows of
// that port's switch only. The result is the same as DesiredChassis on the
// same inputs (a test checks it on random change sequences); the cache only
// avoids the work. It is not safe for concurrent use: one per loop.
//
// A switch's flows on a chassis depend on the switch, the bindings of its
// ports, the configuration of the chassis involved, its gateways' views and
// the ofports of the tunnels it uses; all of that goes into its key.
type ChassisCache struct {
	chassis string
	entries map[string]*cacheEntry
	names   map[string]string // tunnel name memo
	buf     []byte            // key scratch space
	// Recomputed lists the switches the last Desired call recomputed; the
	// others' inputs (ports' bindings including interface names, gateway
	// views) are unchanged since the call before.
	Recomputed map[string]bool
}

type cacheEntry struct {
	key     uint64
	vni     uint32
	flows   []openflow.Flow
	refs    []openflow.FlowRef
	groups  []openflow.GroupEntry
	tunnels []Tunnel
}

// NewChassisCache returns an empty cache.
func NewChassisCache() *ChassisCache { return &ChassisCache{entries: make(map[string]*cacheEntry)} }

// Reset forgets everything, e.g. after a failed commit.
func (c *ChassisCache) Reset() { clear(c.entries) }

// Desired returns DesiredChassis(in), recomputing only switches whose inputs
// changed since the last call.
func (c *ChassisCache) Desired(in ChassisInputs) ChassisState {
	if c.chassis != in.Chassis.Name {
		c.chassis = in.Chassis.Name
		c.Reset()
	}
	// Forget switches the chassis no longer carries before reserving
	// their tunnels' ofports.
	carried := make(map[string]bool)
	for _, sw := range in.Snapshot.Switches {
		for _, p := range sw.Ports {
			if bd, ok := in.Bindings[PortKey{sw.Name, p.Name}]; ok && bd.Chassis == in.Chassis.Name {
				carried[sw.Name] = true
				break
			}
		}
	}
	for name := range c.entries {
		if !carried[name] {
			delete(c.entries, name)
		}
	}
	// Tunnels of cached switches count as allocated, so that a tunnel
	// created in an earlier pass and not yet seen in the bridge's cache
	// keeps its ofport and is never handed out twice.
	tunnelPorts := make(map[string]int, len(in.TunnelOFPorts))
	for k, v := range in.TunnelOFPorts {
		tunnelPorts[k] = v
	}
	used := make(map[int]bool, len(in.UsedOFPorts))
	for k := range in.UsedOFPorts {
		used[k] = true
	}
	for _, e := range c.entries {
		for _, t := range e.tunnels {
			if _, ok := tunnelPorts[t.Name]; !ok {
				tunnelPorts[t.Name] = t.OFPort
			}
			used[t.OFPort] = true
		}
	}

	keys := make(map[string]uint64)
	var changed []model.Switch
	c.Recomputed = make(map[string]bool)
	for _, sw := range in.Snapshot.Switches {
		k, carried := c.switchKey(in, sw, tunnelPorts)
		if !carried {
			continue
		}
		keys[sw.Name] = k
		if e := c.entries[sw.Name]; e == nil || e.key != k {
			changed = append(changed, sw)
			c.Recomputed[sw.Name] = true
		}
	}
	if len(changed) > 0 {
		part := *in.Snapshot
		part.Switches = changed
		pin := in
		pin.Snapshot, pin.TunnelOFPorts, pin.UsedOFPorts = &part, tunnelPorts, used
		st := DesiredChassis(pin)
		byVNI := make(map[uint32]*cacheEntry, len(changed))
		for _, sw := range changed {
			e := &cacheEntry{key: keys[sw.Name], vni: sw.VNI}
			c.entries[sw.Name] = e
			byVNI[sw.VNI] = e
		}
		for i, f := range st.Flows {
			if e := byVNI[flowVNI(f)]; e != nil {
				e.flows = append(e.flows, f)
				e.refs = append(e.refs, st.Refs[i])
			}
		}
		for _, g := range st.Groups {
			if e := byVNI[(g.ID-groupBase)/2]; e != nil {
				e.groups = append(e.groups, g)
			}
		}
		tunnelByName := make(map[string]Tunnel, len(st.Tunnels))
		for _, t := range st.Tunnels {
			tunnelByName[t.Name] = t
		}
		for _, sw := range changed {
			e := c.entries[sw.Name]
			for _, name := range c.switchTunnels(in, sw) {
				if t, ok := tunnelByName[name]; ok {
					e.tunnels = append(e.tunnels, t)
				}
			}
		}
	}

	st := ChassisState{Bridge: in.Chassis.Bridge, Controller: in.Controller, DatapathType: in.Chassis.DatapathType}
	if st.Bridge == "" {
		st.Bridge = model.DefaultBridge
	}
	drops := []openflow.Flow{
		{Table: openflow.TableClassify, Priority: openflow.PriorityDrop},
		{Table: openflow.TableL2, Priority: openflow.PriorityDrop},
	}
	total := len(drops)
	for _, e := range c.entries {
		total += len(e.flows)
	}
	st.Flows = make([]openflow.Flow, 0, total)
	st.Refs = make([]openflow.FlowRef, 0, total)
	st.Flows = append(st.Flows, drops...)
	for _, f := range drops {
		st.Refs = append(st.Refs, f.Ref())
	}
	names := make([]string, 0, len(c.entries))
	for name := range c.entries {
		names = append(names, name)
	}
	sort.Strings(names)
	tunnels := make(map[string]Tunnel)
	for _, name := range names {
		e := c.entries[name]
		st.Switches = append(st.Switches, name)
		st.Flows = append(st.Flows, e.flows...)
		st.Refs = append(st.Refs, e.refs...)
		st.Groups = append(st.Groups, e.groups...)
		for _, t := range e.tunnels {
			tunnels[t.Name] = t
		}
	}
	sort.Slice(st.Groups, func(i, j int) bool { return st.Groups[i].ID < st.Groups[j].ID })
	for _, t := range tunnels {
		st.Tunnels = append(st.Tunnels, t)
	}
	sort.Slice(st.Tunnels, func(i, j int) bool { return st.Tunnels[i].Name < st.Tunnels[j].Name })
	return st
}

// flowVNI is the switch a flow belongs to: its tun_id match, or the tun_id
// its classify action sets.
func flowVNI(f openflow.Flow) uint32 {
	if f.Match.HasTunID {
		return uint32(f.Match.TunID)
	}
	for _, a := range f.Actions {
		if s, ok := a.(openflow.SetTunnelID); ok {
			return uint32(s.ID)
		}
	}
	return 0
}

// switchTunnels names the tunnels a carried switch uses from this chassis.
func (c *ChassisCache) switchTunnels(in ChassisInputs, sw model.Switch) []string {
	var out []string
	var seen map[string]bool
	for _, p := range sw.Ports {
		b, ok := in.Bindings[PortKey{sw.Name, p.Name}]
		if !ok || b.Chassis == in.Chassis.Name {
			continue
		}
		if seen == nil {
			seen = make(map[string]bool, 16)
		}
		if seen[b.Chassis] {
			continue
		}
		seen[b.Chassis] = true
		if rc, ok := in.Snapshot.ChassisByName(b.Chassis); ok && rc.TunnelIP != nil {
			if encap := PairEncap(sw, in.Chassis, rc); encap != "" {
				out = append(out, c.tunnelName(encap, rc.TunnelIP))
			}
		}
	}
	for _, gv := range SwitchGateways(sw, in.Gateways) {
		if ip := net.ParseIP(gv.TunnelIP).To4(); ip != nil {
			out = append(out, c.tunnelName(model.EncapVXLAN, ip))
		}
	}
	return out
}

// tunnelName memoizes TunnelName: it runs for every switch and remote
// chassis on every pass.
func (c *ChassisCache) tunnelName(encap string, ip net.IP) string {
	k := encap + string(ip)
	if n, ok := c.names[k]; ok {
		return n
	}
	if c.names == nil {
		c.names = make(map[string]string)
	}
	n := TunnelName(encap, ip)
	c.names[k] = n
	return n
}

// switchKey hashes every input of a switch's flows on this chassis; it
// reports false when the chassis does not carry the switch. A 64-bit FNV
// hash of the inputs stands in for them: computing it must stay far cheaper
// than the flows it saves.
func (c *ChassisCache) switchKey(in ChassisInputs, sw model.Switch, tunnelPorts map[string]int) (uint64, bool) {
	b := c.buf[:0]
	num := func(v uint64) { b = strconv.AppendUint(b, v, 10); b = append(b, ',') }
	str := func(s string) { b = append(b, s...); b = append(b, 0) }
	str(sw.Name)
	num(uint64(sw.VNI))
	str(sw.Encap)
	carried := false
	var chassis []string
	for _, p := range sw.Ports {
		bd, ok := in.Bindings[PortKey{sw.Name, p.Name}]
		if !ok {
			continue
		}
		if bd.Chassis == in.Chassis.Name {
			carried = true
		}
		if !slices.Contains(chassis, bd.Chassis) {
			chassis = append(chassis, bd.Chassis)
		}
		str(p.Name)
		str(bd.Chassis)
		str(bd.Interface)
		num(uint64(bd.OFPort))
		b = append(b, bd.MAC...)
		b = append(b, 0)
	}
	if !carried {
		c.buf = b
		return 0, false
	}
	sort.Strings(chassis)
	for _, name := range chassis {
		if ch, ok := in.Snapshot.ChassisByName(name); ok {
			str(ch.Name)
			b = append(b, ch.TunnelIP...)
			for _, e := range ch.Encaps {
				str(e)
			}
		}
	}
	for _, gv := range SwitchGateways(sw, in.Gateways) {
		str(gv.Name)
		str(gv.TunnelIP)
		if gv.SourceNode {
			b = append(b, 1)
		}
		for _, m := range gv.LocalMACs[sw.Name] {
			b = append(b, m...)
		}
		b = append(b, 0)
	}
	str(Replicator(sw, in.Bindings))
	for _, name := range c.switchTunnels(in, sw) {
		str(name)
		num(uint64(tunnelPorts[name]))
	}
	c.buf = b
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64(), true
}
