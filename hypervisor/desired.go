package hypervisor

import "net"

// Config is what ferry wants in a chassis' Open_vSwitch database: its
// managed bridge, the controllers it dials (one per ferryd replica, sorted)
// and ferry's tunnel ports.
type Config struct {
	Bridge       string
	DatapathType string // for a bridge ferry creates
	Controllers  []string
	Tunnels      []Tunnel // sorted by Name
	// OpenFlow is the chassis' openflow option (OpenFlow*, "" for
	// auto): whether ferry may rewrite the bridge's protocols; see
	// Protocols.
	OpenFlow string
}

// Tunnel is a tunnel port ferry wants on a chassis: one per remote device
// and encapsulation, with key=flow so that one port serves every switch.
type Tunnel struct {
	Name     string
	Type     string // vxlan or gre
	Remote   string // remote chassis or gateway name
	RemoteIP string
	LocalIP  string
	OFPort   int // existing ofport, or the ofport_request to pin
}

// VIF is a guest interface observed on a chassis' managed bridge.
type VIF struct {
	Name string
	// IfaceID is external_ids:iface-id (libvirt, OpenStack), or
	// xs-vif-uuid on a XenServer VIF.
	IfaceID string
	// Network is a XenServer VIF's xs-network-uuid.
	Network string
	MAC     net.HardwareAddr
	Active  bool // external_ids:iface-status is "active" (or absent)
	OFPort  int  // <= 0: not (yet) usable
}
