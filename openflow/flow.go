package openflow

import (
	"fmt"
	"hash/fnv"
	"net"
	"strings"
)

// Match is the subset of OpenFlow 1.5 OXM fields ferry's pipeline uses.
// Zero values mean "wildcarded"; the Has* flags exist because 0 is a valid
// tunnel ID and metadata value.
type Match struct {
	InPort      uint32 // 0: any
	HasTunID    bool
	TunID       uint64
	HasMetadata bool
	Metadata    uint64
	EthDst      net.HardwareAddr // nil: any
}

// String renders the match the way ovs-ofctl dump-flows prints it.
func (m Match) String() string {
	// Field order and number format follow ovs-ofctl's output.
	var parts []string
	if m.HasTunID {
		parts = append(parts, "tun_id="+ovsHex(m.TunID))
	}
	if m.HasMetadata {
		parts = append(parts, "metadata="+ovsHex(m.Metadata))
	}
	if m.InPort != 0 {
		parts = append(parts, fmt.Sprintf("in_port=%d", m.InPort))
	}
	if m.EthDst != nil {
		parts = append(parts, "dl_dst="+m.EthDst.String())
	}
	return strings.Join(parts, ",")
}

// Action is one OpenFlow action inside an apply-actions instruction or a
// group bucket.
type Action interface {
	String() string
	isAction()
}

// Output sends the packet to an OpenFlow port.
type Output struct{ Port uint32 }

// Group hands the packet to a group.
type Group struct{ ID uint32 }

// SetTunnelID sets the tunnel ID (VNI / GRE key) metadata field.
type SetTunnelID struct{ ID uint64 }

func (a Output) String() string      { return fmt.Sprintf("output:%d", a.Port) }
func (a Group) String() string       { return fmt.Sprintf("group:%d", a.ID) }
func (a SetTunnelID) String() string { return "set_field:" + ovsHex(a.ID) + "->tun_id" }

// ovsHex formats a number the way OVS prints it: 0 is "0", anything else
// is 0x-prefixed hex.
func ovsHex(v uint64) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("%#x", v)
}
func (Output) isAction()      {}
func (Group) isAction()       {}
func (SetTunnelID) isAction() {}

// Flow is one desired flow entry. Actions go into an apply-actions
// instruction; WriteMetadata and GotoTable are the optional instructions that
// follow it. A flow with no actions and no goto drops.
type Flow struct {
	Table         uint8
	Priority      uint16
	Match         Match
	Actions       []Action
	WriteMetadata *Metadata
	GotoTable     *uint8
}

// Metadata is the operand of a write_metadata instruction.
type Metadata struct{ Value, Mask uint64 }

// String renders the flow in ovs-ofctl dump-flows syntax (without cookie and
// counters). It is the flow's identity: two flows are equal iff their strings
// are, and the cookie is derived from it.
func (f Flow) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table=%d, priority=%d", f.Table, f.Priority)
	if m := f.Match.String(); m != "" {
		b.WriteString("," + m)
	}
	b.WriteString(" actions=")
	var acts []string
	for _, a := range f.Actions {
		acts = append(acts, a.String())
	}
	if f.WriteMetadata != nil {
		if f.WriteMetadata.Mask == ^uint64(0) {
			acts = append(acts, "write_metadata:"+ovsHex(f.WriteMetadata.Value))
		} else {
			acts = append(acts, "write_metadata:"+ovsHex(f.WriteMetadata.Value)+"/"+ovsHex(f.WriteMetadata.Mask))
		}
	}
	if f.GotoTable != nil {
		acts = append(acts, fmt.Sprintf("goto_table:%d", *f.GotoTable))
	}
	if len(acts) == 0 {
		b.WriteString("drop")
	} else {
		b.WriteString(strings.Join(acts, ","))
	}
	return b.String()
}

// CookieMarker occupies the top 16 bits of every cookie ferry writes, so that
// a flow dump tells ferry's flows from anybody else's.
const (
	CookieMarker     uint64 = 0xfe77 << 48
	CookieMarkerMask uint64 = 0xffff << 48
)

// Cookie is the flow's identity on the wire: the marker plus 48 bits of a
// hash of its String. Because identity is content, a restarted ferry that
// dumps the table knows exactly which desired flows are already installed
// and sends nothing for them; a changed flow is a delete of the old cookie
// plus an add of the new one in the same bundle.
func (f Flow) Cookie() uint64 { return CookieOf(f.String()) }

// CookieOf is Cookie for a flow whose String the caller already has.
func CookieOf(text string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(text))
	return CookieMarker | h.Sum64()&^CookieMarkerMask
}

// IsFerryCookie reports whether a dumped cookie is one ferry wrote.
func IsFerryCookie(c uint64) bool { return c&CookieMarkerMask == CookieMarker }

// GroupEntry is one desired OpenFlow group of type "all" (head-end
// replication): every bucket gets a copy of the packet.
type GroupEntry struct {
	ID      uint32
	Buckets [][]Action
}

// String renders the group in ovs-ofctl dump-groups syntax, minus bucket IDs.
func (g GroupEntry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "group_id=%d,type=all", g.ID)
	for _, bucket := range g.Buckets {
		var acts []string
		for _, a := range bucket {
			acts = append(acts, a.String())
		}
		b.WriteString(",bucket=actions=" + strings.Join(acts, ","))
	}
	return b.String()
}
