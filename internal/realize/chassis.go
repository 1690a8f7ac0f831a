package realize

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"

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
	// TunnelOFPorts holds the ofport (or ofport_request) of tunnel ports that
	// already exist on the bridge, by port name.
	TunnelOFPorts map[string]int
	// UsedOFPorts holds every ofport and ofport_request in use on the bridge.
	UsedOFPorts map[int]bool
	// Gateways are the VTEPs as last observed, by name.
	Gateways map[string]GatewayView
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

// Replicator is the hypervisor that re-floods BUM for a switch's gateways
// that cannot replicate themselves (service_node mode): the first carrier
// by name, so every device agrees without coordination.
func Replicator(sw model.Switch, b Bindings) string {
	if c := b.Carriers(sw); len(c) > 0 {
		return c[0]
	}
	return ""
}

// Tunnel is a tunnel port ferry wants on a chassis: one per remote chassis
// and encapsulation, with key=flow so that one port serves every switch.
type Tunnel struct {
	Name     string
	Type     string // model.EncapVXLAN or model.EncapGRE
	Remote   string // remote chassis name
	RemoteIP string
	LocalIP  string
	OFPort   int // existing ofport, or the ofport_request to pin
}

// ChassisState is the desired state of one chassis' managed bridge.
type ChassisState struct {
	Bridge       string
	DatapathType string // for a bridge ferry creates
	Controller   string
	Tunnels      []Tunnel // sorted by Name
	Flows        []openflow.Flow
	Refs         []openflow.FlowRef // Flows' references, same order
	Groups       []openflow.GroupEntry
	Switches     []string // switches this chassis carries, sorted
}

// TunnelName names the tunnel port towards remote IP ip: a short prefix
// per encapsulation and the address in hex, so the name is stable, unique
// per bridge and within the 15 characters network device names allow.
func TunnelName(encap string, ip net.IP) string {
	prefix := "fvx"
	if encap == model.EncapGRE {
		prefix = "fgr"
	}
	v4 := ip.To4()
	if v4 == nil {
		return ""
	}
	return fmt.Sprintf("%s%08x", prefix, binary.BigEndian.Uint32(v4))
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

// Groups have no cookie, so ownership is by ID: ferry's group IDs have the
// top bit set (0x80000000 + 2·VNI [+1]), a range operators' own groups are
// unlikely to use, and ferry never touches a group outside it.
const (
	groupBase = 0x80000000
	groupMax  = groupBase + 2*16777215 + 1
)

// FloodGroups returns the IDs of a switch's two flood groups: one for frames
// from local VIFs (local VIFs and every remote chassis), one for frames from
// tunnels (local VIFs only: split horizon).
func FloodGroups(vni uint32) (fromLocal, fromTunnel uint32) {
	return groupBase + vni*2, groupBase + vni*2 + 1
}

// IsFerryGroup reports whether a group ID is in the range ferry allocates.
func IsFerryGroup(id uint32) bool { return id >= groupBase+2 && id <= groupMax }

// DesiredChassis computes the complete desired state of a chassis' bridge.
func DesiredChassis(in ChassisInputs) ChassisState {
	st := ChassisState{Bridge: in.Chassis.Bridge, Controller: in.Controller, DatapathType: in.Chassis.DatapathType}
	if st.Bridge == "" {
		st.Bridge = model.DefaultBridge
	}
	used := make(map[int]bool, len(in.UsedOFPorts))
	for p := range in.UsedOFPorts {
		used[p] = true
	}
	tunnels := make(map[string]*Tunnel)
	tunnelFor := func(encap string, remote model.Chassis) *Tunnel {
		name := TunnelName(encap, remote.TunnelIP)
		if t, ok := tunnels[name]; ok {
			return t
		}
		t := &Tunnel{
			Name:     name,
			Type:     encap,
			Remote:   remote.Name,
			RemoteIP: remote.TunnelIP.String(),
			LocalIP:  in.Chassis.TunnelIP.String(),
		}
		tunnels[name] = t
		return t
	}

	type pending struct {
		flow   openflow.Flow
		tunnel *Tunnel // output or in_port, resolved after ofport allocation
		inPort bool
	}
	// Every port of the snapshot can yield up to two flows here; sizing
	// the slice once avoids regrowing it thousands of times at scale.
	nports := 0
	for _, sw := range in.Snapshot.Switches {
		nports += len(sw.Ports)
	}
	flows := make([]pending, 0, 2*nports+16)
	var groups []openflow.GroupEntry
	type groupTunnels struct {
		idx     int
		tunnels []*Tunnel
	}
	var floodTunnels []groupTunnels

	goto10 := openflow.TableL2
	for _, sw := range in.Snapshot.Switches {
		var local []Binding
		remote := make(map[string][]Binding) // chassis → bindings
		for _, p := range sw.Ports {
			b, ok := in.Bindings[PortKey{sw.Name, p.Name}]
			if !ok {
				continue
			}
			if b.Chassis == in.Chassis.Name {
				local = append(local, b)
			} else {
				remote[b.Chassis] = append(remote[b.Chassis], b)
			}
		}
		if len(local) == 0 {
			continue
		}
		st.Switches = append(st.Switches, sw.Name)
		vni := uint64(sw.VNI)
		sort.Slice(local, func(i, j int) bool { return local[i].OFPort < local[j].OFPort })

		for _, b := range local {
			flows = append(flows, pending{flow: openflow.Flow{
				Table: openflow.TableClassify, Priority: openflow.PriorityExact,
				Match:         openflow.Match{InPort: b.OFPort},
				Actions:       []openflow.Action{openflow.SetTunnelID{ID: vni}},
				WriteMetadata: &openflow.Metadata{Value: openflow.MetaFromLocal, Mask: ^uint64(0)},
				GotoTable:     &goto10,
			}})
			if b.MAC != nil {
				flows = append(flows, pending{flow: openflow.Flow{
					Table: openflow.TableL2, Priority: openflow.PriorityExact,
					Match:   openflow.Match{HasTunID: true, TunID: vni, EthDst: b.MAC},
					Actions: []openflow.Action{openflow.Output{Port: b.OFPort}},
				}})
			}
		}

		var remoteNames []string
		for name := range remote {
			remoteNames = append(remoteNames, name)
		}
		sort.Strings(remoteNames)
		var swTunnels []*Tunnel
		for _, name := range remoteNames {
			rc, ok := in.Snapshot.ChassisByName(name)
			if !ok || rc.TunnelIP == nil || in.Chassis.TunnelIP == nil {
				continue
			}
			encap := PairEncap(sw, in.Chassis, rc)
			if encap == "" {
				continue
			}
			t := tunnelFor(encap, rc)
			swTunnels = append(swTunnels, t)
			flows = append(flows, pending{tunnel: t, inPort: true, flow: openflow.Flow{
				Table: openflow.TableClassify, Priority: openflow.PriorityExact,
				Match:         openflow.Match{HasTunID: true, TunID: vni},
				WriteMetadata: &openflow.Metadata{Value: openflow.MetaFromTunnel, Mask: ^uint64(0)},
				GotoTable:     &goto10,
			}})
			for _, b := range remote[name] {
				if b.MAC == nil {
					continue
				}
				flows = append(flows, pending{tunnel: t, flow: openflow.Flow{
					Table: openflow.TableL2, Priority: openflow.PriorityExact,
					Match: openflow.Match{HasTunID: true, TunID: vni,
						HasMetadata: true, Metadata: openflow.MetaFromLocal, EthDst: b.MAC},
				}})
				// A frame from a tunnel for a MAC that lives on another
				// chassis was misdirected: drop it rather than flood it to
				// local VIFs (and never send it back into a tunnel).
				flows = append(flows, pending{flow: openflow.Flow{
					Table: openflow.TableL2, Priority: openflow.PriorityExact,
					Match: openflow.Match{HasTunID: true, TunID: vni,
						HasMetadata: true, Metadata: openflow.MetaFromTunnel, EthDst: b.MAC},
				}})
			}
		}

		// VTEP gateways with bindings on the switch: always VXLAN
		// (hardware_vtep knows only vxlan_over_ipv4).
		for _, gv := range SwitchGateways(sw, in.Gateways) {
			ip := net.ParseIP(gv.TunnelIP)
			if ip == nil || ip.To4() == nil || in.Chassis.TunnelIP == nil {
				continue
			}
			t := tunnelFor(model.EncapVXLAN, model.Chassis{Name: gv.Name, TunnelIP: ip.To4()})
			swTunnels = append(swTunnels, t)
			// A VTEP that cannot replicate sends BUM to one hypervisor,
			// which floods it on like a local frame (output to the VTEP's
			// own tunnel, the ingress port, is suppressed by OpenFlow).
			mark := openflow.MetaFromTunnel
			if !gv.SourceNode && Replicator(sw, in.Bindings) == in.Chassis.Name {
				mark = openflow.MetaFromReplicated
			}
			flows = append(flows, pending{tunnel: t, inPort: true, flow: openflow.Flow{
				Table: openflow.TableClassify, Priority: openflow.PriorityExact,
				Match:         openflow.Match{HasTunID: true, TunID: vni},
				WriteMetadata: &openflow.Metadata{Value: mark, Mask: ^uint64(0)},
				GotoTable:     &goto10,
			}})
			for _, m := range gv.LocalMACs[sw.Name] {
				flows = append(flows,
					pending{tunnel: t, flow: openflow.Flow{
						Table: openflow.TableL2, Priority: openflow.PriorityExact,
						Match: openflow.Match{HasTunID: true, TunID: vni,
							HasMetadata: true, Metadata: openflow.MetaFromLocal, EthDst: m},
					}},
					pending{flow: openflow.Flow{
						Table: openflow.TableL2, Priority: openflow.PriorityExact,
						Match: openflow.Match{HasTunID: true, TunID: vni,
							HasMetadata: true, Metadata: openflow.MetaFromTunnel, EthDst: m},
					}})
			}
			if mark == openflow.MetaFromReplicated {
				fl, _ := FloodGroups(sw.VNI)
				flows = append(flows, pending{flow: openflow.Flow{
					Table: openflow.TableL2, Priority: openflow.PriorityFlood,
					Match:   openflow.Match{HasTunID: true, TunID: vni, HasMetadata: true, Metadata: openflow.MetaFromReplicated},
					Actions: []openflow.Action{openflow.Group{ID: fl}},
				}})
			}
		}

		fromLocal, fromTunnel := FloodGroups(sw.VNI)
		var localBuckets [][]openflow.Action
		for _, b := range local {
			localBuckets = append(localBuckets, []openflow.Action{openflow.Output{Port: b.OFPort}})
		}
		groups = append(groups, openflow.GroupEntry{ID: fromLocal, Buckets: slices.Clone(localBuckets)})
		floodTunnels = append(floodTunnels, groupTunnels{idx: len(groups) - 1, tunnels: swTunnels})
		groups = append(groups, openflow.GroupEntry{ID: fromTunnel, Buckets: localBuckets})
		flows = append(flows,
			pending{flow: openflow.Flow{
				Table: openflow.TableL2, Priority: openflow.PriorityFlood,
				Match:   openflow.Match{HasTunID: true, TunID: vni, HasMetadata: true, Metadata: openflow.MetaFromLocal},
				Actions: []openflow.Action{openflow.Group{ID: fromLocal}},
			}},
			pending{flow: openflow.Flow{
				Table: openflow.TableL2, Priority: openflow.PriorityFlood,
				Match:   openflow.Match{HasTunID: true, TunID: vni, HasMetadata: true, Metadata: openflow.MetaFromTunnel},
				Actions: []openflow.Action{openflow.Group{ID: fromTunnel}},
			}})
	}

	// Pin ofports: existing tunnels keep theirs, new ones take the lowest
	// free number from FirstTunnelOFPort up, in name order (deterministic).
	names := make([]string, 0, len(tunnels))
	for name := range tunnels {
		names = append(names, name)
	}
	sort.Strings(names)
	next := openflow.FirstTunnelOFPort
	for _, name := range names {
		t := tunnels[name]
		if p := in.TunnelOFPorts[name]; p > 0 {
			t.OFPort = p
			continue
		}
		for used[next] {
			next++
		}
		t.OFPort = next
		used[next] = true
	}
	for _, name := range names {
		st.Tunnels = append(st.Tunnels, *tunnels[name])
	}

	for _, gt := range floodTunnels {
		for _, t := range gt.tunnels {
			groups[gt.idx].Buckets = append(groups[gt.idx].Buckets, []openflow.Action{openflow.Output{Port: uint32(t.OFPort)}})
		}
	}

	// Table-miss drops, declared rather than implied, so that dump-flows
	// shows the whole pipeline.
	out := make([]openflow.Flow, 0, len(flows)+2)
	out = append(out, []openflow.Flow{
		{Table: openflow.TableClassify, Priority: openflow.PriorityDrop},
		{Table: openflow.TableL2, Priority: openflow.PriorityDrop},
	}...)
	type matchKey struct {
		table    uint8
		priority uint16
		inPort   uint32
		hasTun   bool
		tun      uint64
		hasMeta  bool
		meta     uint64
		ethDst   string
	}
	seen := make(map[matchKey]bool, len(flows))
	for _, p := range flows {
		f := p.flow
		if p.tunnel != nil {
			if p.inPort {
				f.Match.InPort = uint32(p.tunnel.OFPort)
			} else {
				f.Actions = []openflow.Action{openflow.Output{Port: uint32(p.tunnel.OFPort)}}
			}
		}
		// Two ports claiming one MAC in a switch would give two flows with
		// one match; the first (ports sorted by name) wins.
		key := matchKey{f.Table, f.Priority, f.Match.InPort, f.Match.HasTunID, f.Match.TunID,
			f.Match.HasMetadata, f.Match.Metadata, string(f.Match.EthDst)}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, f)
	}
	st.Refs = SortFlows(out)
	st.Flows = out
	sort.Slice(groups, func(i, j int) bool { return groups[i].ID < groups[j].ID })
	st.Groups = groups
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
