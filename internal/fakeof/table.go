package fakeof

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"

	"github.com/ferry-sdn/ferry/openflow"
)

// Table is a bridge's flow and group tables.
type Table struct {
	flows  map[uint8][]openflow.Flow
	groups map[uint32]openflow.GroupEntry
	hits   map[openflow.FlowRef]int
}

// New builds a table from flows and groups.
func New(flows []openflow.Flow, groups []openflow.GroupEntry) *Table {
	t := &Table{flows: make(map[uint8][]openflow.Flow), groups: make(map[uint32]openflow.GroupEntry),
		hits: make(map[openflow.FlowRef]int)}
	for _, f := range flows {
		t.flows[f.Table] = append(t.flows[f.Table], f)
	}
	for _, g := range groups {
		t.groups[g.ID] = g
	}
	return t
}

// Packet is the part of a frame and its metadata the pipeline looks at.
// Header fields a frame does not have stay zero: EthType says which of
// ARP, IP and ICMPv6 apply (as in OVS, ICMPType is the ICMPv6 type, and
// NDSLL/NDTLL are zero when the option is absent).
type Packet struct {
	InPort   uint32
	TunID    uint64
	Metadata uint64
	EthSrc   net.HardwareAddr
	EthDst   net.HardwareAddr
	EthType  uint16
	IPProto  uint8
	IPSrc    netip.Addr // IPv4 or IPv6 source
	IPDst    netip.Addr
	UDPSrc   uint16
	UDPDst   uint16
	ARPSPA   netip.Addr
	ARPSHA   net.HardwareAddr
	ICMPType uint8
	ICMPCode uint8
	NDTarget netip.Addr
	NDSLL    net.HardwareAddr
	NDTLL    net.HardwareAddr
}

// Emit is one copy of the frame leaving the bridge.
type Emit struct {
	Port  uint32
	TunID uint64
}

// Packets returns how many frames the flow ref matched, as n_packets
// would count them.
func (t *Table) Packets(ref openflow.FlowRef) int { return t.hits[ref] }

// maxDepth bounds goto_table and group nesting like OVS bounds resubmits.
const maxDepth = 64

// Process runs a frame through the pipeline from table 0. An error means
// the pipeline is broken (a missing group, a loop), never that the frame
// was dropped: a drop is an empty result.
func (t *Table) Process(p Packet) ([]Emit, error) {
	var out []Emit
	err := t.run(p, 0, 0, &out, nil)
	return out, err
}

// Path is what Trace records of a frame's way through the pipeline.
type Path struct {
	Emits []Emit
	// Steps are the flows it hit ("TABLE. FLOW"), and the groups it
	// went through, in order.
	Steps  []string
	Groups []uint32
	// Miss is the table in which no flow matched (-1: none): the frame
	// dropped there.
	Miss int
}

// Trace is Process that also records the flows and groups the frame hit,
// for a packet trace of a bridge (internal/trace).
func (t *Table) Trace(p Packet) (Path, error) {
	path := Path{Miss: -1}
	err := t.run(p, 0, 0, &path.Emits, &path)
	return path, err
}

func (t *Table) lookup(table uint8, p Packet) (openflow.Flow, bool) {
	var best openflow.Flow
	found := false
	for _, f := range t.flows[table] {
		if !matches(f.Match, p) {
			continue
		}
		if !found || f.Priority > best.Priority {
			best, found = f, true
		} else if f.Priority == best.Priority {
			// OpenFlow leaves overlapping equal-priority matches undefined;
			// ferry must never produce them.
			return openflow.Flow{}, false
		}
	}
	return best, found
}

func matches(m openflow.Match, p Packet) bool {
	if m.InPort != 0 && m.InPort != p.InPort {
		return false
	}
	if m.HasTunID && m.TunID != p.TunID {
		return false
	}
	if m.HasMetadata && m.Metadata != p.Metadata {
		return false
	}
	if m.EthSrc != nil && !bytes.Equal(m.EthSrc, p.EthSrc) || m.EthDst != nil && !bytes.Equal(m.EthDst, p.EthDst) {
		return false
	}
	if m.Proto == nil {
		return true
	}
	pm := m.Proto
	for _, f := range []struct{ want, have net.HardwareAddr }{{pm.ARPSHA, p.ARPSHA}, {pm.NDSLL, p.NDSLL}, {pm.NDTLL, p.NDTLL}} {
		if f.want != nil && !bytes.Equal(f.want, ll(f.have)) {
			return false
		}
	}
	switch {
	case pm.EthType != 0 && pm.EthType != p.EthType,
		pm.IPProto != 0 && pm.IPProto != p.IPProto,
		pm.IPSrc.IsValid() && pm.IPSrc != p.IPSrc,
		pm.IPDst.IsValid() && !pm.IPDst.Contains(p.IPDst),
		pm.UDPSrc != 0 && pm.UDPSrc != p.UDPSrc,
		pm.UDPDst != 0 && pm.UDPDst != p.UDPDst,
		pm.ARPSPA.IsValid() && pm.ARPSPA != p.ARPSPA,
		pm.HasICMPType && pm.ICMPType != p.ICMPType,
		pm.HasICMPCode && pm.ICMPCode != p.ICMPCode,
		pm.NDTarget.IsValid() && pm.NDTarget != p.NDTarget:
		return false
	}
	return true
}

// ll is a frame's Ethernet address field: absent reads as all zeros.
func ll(a net.HardwareAddr) net.HardwareAddr {
	if a == nil {
		return net.HardwareAddr{0, 0, 0, 0, 0, 0}
	}
	return a
}

func (t *Table) run(p Packet, table uint8, depth int, out *[]Emit, path *Path) error {
	if depth > maxDepth {
		return fmt.Errorf("fakeof: pipeline deeper than %d", maxDepth)
	}
	f, ok := t.lookup(table, p)
	if !ok {
		if path != nil {
			path.Miss = int(table)
		}
		return nil
	}
	t.hits[f.Ref()]++
	if path != nil {
		path.Steps = append(path.Steps, fmt.Sprintf("%d. %s", table, f))
	}
	if err := t.apply(&p, f.Actions, depth, out, path); err != nil {
		return err
	}
	if f.WriteMetadata != nil {
		p.Metadata = p.Metadata&^f.WriteMetadata.Mask | f.WriteMetadata.Value&f.WriteMetadata.Mask
	}
	if f.GotoTable != nil {
		if *f.GotoTable <= table {
			return fmt.Errorf("fakeof: goto_table:%d from table %d", *f.GotoTable, table)
		}
		return t.run(p, *f.GotoTable, depth+1, out, path)
	}
	return nil
}

func (t *Table) apply(p *Packet, acts []openflow.Action, depth int, out *[]Emit, path *Path) error {
	for _, a := range acts {
		switch a := a.(type) {
		case openflow.SetTunnelID:
			p.TunID = a.ID
		case openflow.Output:
			// OpenFlow never sends a frame back out of its ingress port
			// through a plain output action.
			if a.Port != p.InPort {
				*out = append(*out, Emit{Port: a.Port, TunID: p.TunID})
			}
		case openflow.Controller:
			*out = append(*out, Emit{Port: openflow.PortController, TunID: p.TunID})
		case openflow.Group:
			g, ok := t.groups[a.ID]
			if !ok {
				return fmt.Errorf("fakeof: group %d does not exist", a.ID)
			}
			if path != nil {
				path.Groups = append(path.Groups, a.ID)
				path.Steps = append(path.Steps, "   "+g.String())
			}
			for _, b := range g.Buckets {
				cp := *p
				if err := t.apply(&cp, b, depth+1, out, path); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("fakeof: unsupported action %v", a)
		}
	}
	return nil
}
