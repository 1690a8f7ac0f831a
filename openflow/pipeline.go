package openflow

// The pipeline, declared in one place (docs/pipeline.md explains it).
const (
	// TableClassify maps the ingress port to a logical switch (tun_id) and a
	// direction mark in metadata; everything else drops.
	TableClassify uint8 = 0
	// TableL2 forwards on (tun_id, dl_dst), and floods through groups.
	TableL2 uint8 = 10
)

// Metadata marks written by TableClassify; TableL2 matches them for split
// horizon (a frame from a tunnel never goes back into a tunnel).
const (
	MetaFromLocal  uint64 = 1
	MetaFromTunnel uint64 = 2
	// MetaFromReplicated marks BUM from a VTEP that cannot replicate
	// (service_node mode) arriving at the hypervisor chosen to flood it.
	MetaFromReplicated uint64 = 3
)

// Priorities.
const (
	PriorityDrop  uint16 = 0
	PriorityFlood uint16 = 50
	PriorityExact uint16 = 100
)

// FirstTunnelOFPort is the lowest ofport_request ferry pins for ports it
// creates, far above what hypervisors allocate to VIFs.
const FirstTunnelOFPort = 32768
