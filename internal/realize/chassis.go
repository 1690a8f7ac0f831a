package realize

import (
	"maps"
	"net"
	"slices"
	"sort"
	"strings"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow"
)

// ChassisInputs is everything DesiredChassis needs.
type ChassisInputs struct {
	Snapshot *model.Snapshot
	Bindings Bindings
	Chassis  model.Chassis
	// Controller is the OpenFlow target the bridge must dial (--advertise).
	Controller string
	// PeerControllers are the other ferryd replicas' targets: the bridge
	// dials every replica, and the one owning the chassis is its master.
	PeerControllers []string
	// TunnelOFPorts holds the ofport (or ofport_request) of tunnel ports that
	// already exist on the bridge, by port name.
	TunnelOFPorts map[string]int
	// UsedOFPorts holds every ofport and ofport_request in use on the bridge.
	UsedOFPorts map[int]bool
	// Gateways are the VTEPs as last observed, by name.
	Gateways map[string]GatewayView
	// Relays are the pairs of endpoints whose traffic goes through a
	// relay.
	Relays Relays
}

// GatewayView is what ferry has observed of a VTEP: the inputs other
// devices' desired state depends on.
type GatewayView struct {
	Name     string
	TunnelIP string // "" until observed
	// SourceNode: the VTEP replicates BUM itself (no
	// unsupported_source_node_replication fault).
	SourceNode bool
	// LocalMACs are the MACs it learned (Ucast_Macs_Local), by switch.
	LocalMACs map[string][]net.HardwareAddr
	// TunnelStates is the VTEP's BFD view of its tunnels, by remote
	// tunnel IP.
	TunnelStates map[string]string
}

// SwitchGateways returns the gateways with a binding on sw whose tunnel IP
// is known, sorted by name.
func SwitchGateways(sw model.Switch, views map[string]GatewayView) []GatewayView {
	var out []GatewayView
	for _, b := range sw.Bindings {
		v, ok := views[b.Gateway]
		if !ok || v.TunnelIP == "" || slices.ContainsFunc(out, func(o GatewayView) bool { return o.Name == v.Name }) {
			continue
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ChassisState is the complete desired state of one chassis' managed
// bridge, as DesiredChassis computes it from scratch.
type ChassisState struct {
	hypervisor.Config
	Flows    []openflow.Flow
	Refs     []openflow.FlowRef // Flows' references, same order
	Groups   []openflow.GroupEntry
	Switches []string // switches this chassis carries, sorted
}

// PairEncap picks the encapsulation two chassis use for a switch: the
// switch's own when both support it, otherwise the first one both support
// (VXLAN before GRE). It returns "" when they share none.
func PairEncap(sw model.Switch, a, b model.Chassis) string {
	if slices.Contains(a.Encaps, sw.Encap) && slices.Contains(b.Encaps, sw.Encap) {
		return sw.Encap
	}
	for _, e := range []string{model.EncapVXLAN, model.EncapGRE} {
		if slices.Contains(a.Encaps, e) && slices.Contains(b.Encaps, e) {
			return e
		}
	}
	return ""
}

func bridgeConfig(ch model.Chassis, controller string, peers []string) hypervisor.Config {
	c := hypervisor.Config{Bridge: ch.Bridge, DatapathType: ch.DatapathType, OpenFlow: ch.OpenFlow}
	for _, t := range append([]string{controller}, peers...) {
		if t != "" && !slices.Contains(c.Controllers, t) {
			c.Controllers = append(c.Controllers, t)
		}
	}
	slices.Sort(c.Controllers)
	if c.Bridge == "" {
		c.Bridge = model.DefaultBridge
	}
	return c
}

// peers is what a switch's desired state on one chassis reads of the
// others: the registered chassis and the gateways' views.
type peers struct {
	chassis  func(name string) (model.Chassis, bool)
	gateways map[string]GatewayView
}

// switchTunnels returns the tunnels chassis self needs for a switch it
// serves, in the order of the flood group's buckets. A carrier gets one
// per remote carrier it shares an encapsulation with (by name), then one
// per gateway of the switch whose tunnel IP is known (by name), then one
// per relay it reaches some of them through that is not among those (by
// name). A relay that does not carry the switch gets one per endpoint it
// forwards for. OFPort is left 0.
func switchTunnels(sv *SwitchView, self model.Chassis, ps peers) []hypervisor.Tunnel {
	if self.TunnelIP == nil {
		return nil
	}
	var out []hypervisor.Tunnel
	local := self.TunnelIP.String()
	has := func(name string) bool {
		return slices.ContainsFunc(out, func(t hypervisor.Tunnel) bool { return t.Remote == name })
	}
	toChassis := func(name string) {
		rc, ok := ps.chassis(name)
		if !ok || rc.TunnelIP == nil || has(name) {
			return
		}
		encap := PairEncap(sv.Switch, self, rc)
		if encap == "" {
			return
		}
		out = append(out, hypervisor.Tunnel{Name: openflow.TunnelName(encap, rc.TunnelIP), Type: encap, Remote: rc.Name,
			RemoteIP: rc.TunnelIP.String(), LocalIP: local})
	}
	// VTEP gateways with bindings on the switch: always VXLAN
	// (hardware_vtep knows only vxlan_over_ipv4).
	toGateway := func(gv GatewayView) {
		ip := net.ParseIP(gv.TunnelIP).To4()
		if ip == nil || has(gv.Name) {
			return
		}
		out = append(out, hypervisor.Tunnel{Name: openflow.TunnelName(model.EncapVXLAN, ip), Type: model.EncapVXLAN, Remote: gv.Name,
			RemoteIP: ip.String(), LocalIP: local})
	}
	gateways := SwitchGateways(sv.Switch, ps.gateways)
	if !sv.Carries(self.Name) {
		for _, name := range slices.Sorted(maps.Keys(sv.relayedFor(self.Name))) {
			if i := slices.IndexFunc(gateways, func(g GatewayView) bool { return g.Name == name }); i >= 0 {
				toGateway(gateways[i])
			} else {
				toChassis(name)
			}
		}
		return out
	}
	for _, name := range sv.Carriers {
		if name != self.Name {
			toChassis(name)
		}
	}
	for _, gv := range gateways {
		toGateway(gv)
	}
	for _, r := range slices.Compact(slices.Sorted(maps.Values(sv.relayedPeers(self.Name)))) {
		toChassis(r)
	}
	return out
}

// unitFlows is one switch's part of a chassis' desired flow table.
type unitFlows struct {
	flows  []openflow.Flow
	refs   []openflow.FlowRef // same order
	groups []openflow.GroupEntry
}

// desiredSwitch computes the flows and groups of one switch on a chassis
// that carries it, from the flow builders. tunnels are switchTunnels'
// answer with their ofports resolved.
func desiredSwitch(sv *SwitchView, self model.Chassis, ps peers, tunnels []hypervisor.Tunnel) unitFlows {
	vni := uint64(sv.VNI)
	type localPort struct {
		port model.Port
		Binding
	}
	var local []localPort
	remote := make(map[string][]Binding, len(sv.Carriers))
	for _, p := range sv.Ports {
		b, ok := sv.Bound[p.Name]
		if !ok {
			continue
		}
		if b.Chassis == self.Name {
			local = append(local, localPort{p, b})
		} else {
			remote[b.Chassis] = append(remote[b.Chassis], b)
		}
	}
	sort.Slice(local, func(i, j int) bool { return local[i].OFPort < local[j].OFPort })
	flows := make([]openflow.Flow, 0, 3*len(local)+2*len(sv.Bound)+6)
	localPorts := make([]uint32, 0, len(local))
	secured, withIPs := false, false
	for _, b := range local {
		localPorts = append(localPorts, b.OFPort)
		on := b.port.Secured(b.MAC)
		flows = append(flows, vifClassify(vni, b.OFPort, on))
		if on {
			secured = true
			withIPs = withIPs || len(b.port.IPs) > 0 && b.MAC != nil
			flows = append(flows, portSecurity(b.OFPort, b.MAC, b.port.IPs)...)
		}
		if b.MAC != nil {
			flows = append(flows, localMAC(vni, b.MAC, b.OFPort))
		}
	}
	if secured {
		flows = append(flows, switchSecurity(vni, withIPs)...)
	}
	carrier := sv.Carries(self.Name)
	// An endpoint's MACs: its bound ports' on a chassis, what it learned
	// on a gateway.
	macsOf := func(name string) [][]byte {
		var out [][]byte
		if bs, ok := remote[name]; ok {
			for _, b := range bs {
				if b.MAC != nil {
					out = append(out, b.MAC)
				}
			}
			return out
		}
		for _, m := range ps.gateways[name].LocalMACs[sv.Name] {
			out = append(out, m)
		}
		return out
	}
	portOf := make(map[string]uint32, len(tunnels))
	for _, t := range tunnels {
		portOf[t.Remote] = uint32(t.OFPort)
	}
	via := sv.relayedPeers(self.Name)    // peer → relay, for pairs with self
	forwards := sv.relayedFor(self.Name) // source → endpoints, as relay
	marks := make(map[string]uint64, len(tunnels))
	floodPorts := make([]uint32, 0, len(tunnels))
	replicated := false
	for _, t := range tunnels {
		port := uint32(t.OFPort)
		_, isCarrier := remote[t.Remote]
		gv, isGateway := ps.gateways[t.Remote]
		isGateway = isGateway && !isCarrier
		// A VTEP that cannot replicate sends BUM to one hypervisor,
		// which floods it on like a local frame (output to the VTEP's own
		// tunnel, the ingress port, is suppressed by OpenFlow).
		mark := openflow.MetaFromTunnel
		switch {
		case isGateway && !gv.SourceNode && sv.Replicator() == self.Name:
			mark, replicated = openflow.MetaFromReplicated, true
		case forwards[t.Remote] != nil:
			mark = openflow.MetaFromRelayed
		}
		marks[t.Remote] = mark
		// A peer reached through a relay gets its MACs and its flood
		// copy through the relay's tunnel, and what still arrives on the
		// direct one is dropped (a VTEP keeps flooding there, see
		// desiredGateway): the port stays, so that BFD sees the path come
		// back.
		r, relayed := via[t.Remote]
		if !relayed {
			flows = append(flows, tunnelClassify(vni, port, mark))
		}
		if !carrier {
			continue
		}
		out := port
		if relayed {
			out = portOf[r]
		} else {
			floodPorts = append(floodPorts, port)
		}
		if isCarrier || isGateway {
			for _, m := range macsOf(t.Remote) {
				flows = append(flows, remoteMAC(vni, m, out)...)
			}
		}
	}
	fromLocal, fromTunnel := openflow.FloodGroups(sv.VNI)
	// As a relay: frames from an endpoint go on to the endpoints it cannot
	// reach, by MAC or flooded, and to the local VIFs.
	for _, src := range slices.Sorted(maps.Keys(forwards)) {
		in, ok := portOf[src]
		if !ok {
			continue
		}
		var outs []openflow.Action
		if carrier {
			outs = append(outs, openflow.Group{ID: fromTunnel})
		}
		for _, dst := range forwards[src] {
			p, ok := portOf[dst]
			if !ok {
				continue
			}
			outs = append(outs, openflow.Output{Port: p})
			for _, m := range macsOf(dst) {
				flows = append(flows, relayedMAC(vni, marks[src], in, m, p))
			}
		}
		if marks[src] == openflow.MetaFromRelayed {
			flows = append(flows, relayedFlood(vni, in, outs))
		}
	}
	if !carrier {
		flows = dedupMatches(flows)
		return unitFlows{flows: flows, refs: SortFlows(flows)}
	}
	if replicated {
		flows = append(flows, floodFlow(vni, openflow.MetaFromReplicated, fromLocal))
	}
	flows = append(flows,
		floodFlow(vni, openflow.MetaFromLocal, fromLocal),
		floodFlow(vni, openflow.MetaFromTunnel, fromTunnel))
	flows = dedupMatches(flows)
	return unitFlows{flows: flows, refs: SortFlows(flows), groups: floodGroups(sv.VNI, localPorts, floodPorts)}
}

// dedupMatches keeps the first of flows with the same table, priority and
// match: two ports claiming one MAC in a switch would otherwise give two
// flows OVS holds as one.
func dedupMatches(flows []openflow.Flow) []openflow.Flow {
	type matchKey struct {
		table    uint8
		priority uint16
		m        openflow.MatchKey
	}
	seen := make(map[matchKey]bool, len(flows))
	out := flows[:0]
	for _, f := range flows {
		key := matchKey{f.Table, f.Priority, f.Match.Key()}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, f)
	}
	return out
}

// allocatePorts gives every tunnel in names (sorted) an ofport: the one it
// has on the bridge (or in ports, which the caller fills with tunnels it
// created and may not have observed yet), else the lowest free number
// from openflow.FirstTunnelOFPort up, in name order (deterministic).
func allocatePorts(names []string, ports map[string]int, used map[int]bool) {
	next := openflow.FirstTunnelOFPort
	for _, name := range names {
		if p := ports[name]; p > 0 {
			continue
		}
		for used[next] {
			next++
		}
		ports[name] = next
		used[next] = true
	}
}

// DesiredChassis computes the complete desired state of a chassis' bridge
// from scratch: the reference the incremental Bridge is checked against.
func DesiredChassis(in ChassisInputs) ChassisState {
	st := ChassisState{Config: bridgeConfig(in.Chassis, in.Controller, in.PeerControllers)}
	ps := peers{chassis: in.Snapshot.ChassisByName, gateways: in.Gateways}
	views := viewsOf(in.Snapshot, in.Bindings, in.Gateways, in.Relays)
	type carried struct {
		sv      *SwitchView
		tunnels []hypervisor.Tunnel
	}
	var units []carried
	byName := make(map[string]hypervisor.Tunnel)
	for _, sw := range in.Snapshot.Switches {
		sv := views[sw.Name]
		if !sv.Serves(in.Chassis.Name) {
			continue
		}
		ts := switchTunnels(sv, in.Chassis, ps)
		units = append(units, carried{sv, ts})
		for _, t := range ts {
			byName[t.Name] = t
		}
	}
	// Relays' tunnels are there whether a switch uses them or not.
	for _, t := range relayTunnels(in.Chassis, in.Snapshot.Chassis) {
		if _, ok := byName[t.Name]; !ok {
			byName[t.Name] = t
		}
	}
	ports := make(map[string]int, len(byName))
	used := make(map[int]bool, len(in.UsedOFPorts))
	for p := range in.UsedOFPorts {
		used[p] = true
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
		if p := in.TunnelOFPorts[name]; p > 0 {
			ports[name] = p
		}
	}
	sort.Strings(names)
	allocatePorts(names, ports, used)
	for _, name := range names {
		t := byName[name]
		t.OFPort = ports[name]
		st.Tunnels = append(st.Tunnels, t)
	}
	st.Flows = bridgeFlows()
	for _, u := range units {
		for i := range u.tunnels {
			u.tunnels[i].OFPort = ports[u.tunnels[i].Name]
		}
		uf := desiredSwitch(u.sv, in.Chassis, ps, u.tunnels)
		st.Switches = append(st.Switches, u.sv.Name)
		st.Flows = append(st.Flows, uf.flows...)
		st.Groups = append(st.Groups, uf.groups...)
	}
	st.Refs = SortFlows(st.Flows)
	sort.Slice(st.Groups, func(i, j int) bool { return st.Groups[i].ID < st.Groups[j].ID })
	return st
}

// SortFlows orders flows as ovs-ofctl --sort would show them per table:
// table, then descending priority, then text. It returns the flows'
// references in the same order, computed from the text it renders anyway.
func SortFlows(fs []openflow.Flow) []openflow.FlowRef {
	// Sort indices, not flows: swapping the structs themselves dominated
	// the cost of a pass at 10,000 ports.
	texts := make([]string, len(fs))
	idx := make([]int32, len(fs))
	for i := range fs {
		texts[i] = fs[i].String()
		idx[i] = int32(i)
	}
	slices.SortStableFunc(idx, func(a, b int32) int {
		fa, fb := &fs[a], &fs[b]
		if fa.Table != fb.Table {
			return int(fa.Table) - int(fb.Table)
		}
		if fa.Priority != fb.Priority {
			return int(fb.Priority) - int(fa.Priority)
		}
		return strings.Compare(texts[a], texts[b])
	})
	sorted := make([]openflow.Flow, len(fs))
	refs := make([]openflow.FlowRef, len(fs))
	for i, k := range idx {
		sorted[i] = fs[k]
		refs[i] = openflow.FlowRef{Table: fs[k].Table, Cookie: openflow.CookieOf(texts[k])}
	}
	copy(fs, sorted)
	return refs
}
