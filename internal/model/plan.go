package model

// Plan is what a write would change on the devices (a dry run): computed
// from the northbound state the write would make, against what each device
// holds now, by the same code a reconcile pass runs.
type Plan struct {
	// Generation is the northbound generation the write would make; the
	// current one when it changes nothing.
	Generation int64 `json:"generation"`
	// Switches are the switches whose desired state changes: their
	// status would change (realized goes false until the devices
	// concerned are in step again).
	Switches []string `json:"switches"`
	// Devices are the devices with something to change or to say, by
	// kind and name.
	Devices []DevicePlan `json:"devices"`
	// Unchanged counts the devices with nothing to change.
	Unchanged int `json:"unchanged"`
}

// DevicePlan is what one pass of one device would send.
type DevicePlan struct {
	Kind string `json:"kind"` // "chassis" or "gateway"
	Name string `json:"name"`
	// Exact is true when the plan is diffed against what the device
	// holds now; false when ferry cannot know that here (not connected,
	// not yet dumped, owned by another replica) and the plan is what a
	// from-scratch pass would install.
	Exact bool   `json:"exact"`
	Note  string `json:"note,omitempty"`
	// Recomputed are the switches the pass would recompute on the device.
	Recomputed []string `json:"recomputed,omitempty"`
	// OVSDB lists the operations the pass would transact, one line each.
	OVSDB []string `json:"ovsdb"`
	// Flows are the OpenFlow changes (chassis only).
	Flows *FlowChanges `json:"flows,omitempty"`
}

// FlowChanges are one bundle's contents, in ovs-ofctl syntax: flows as
// dump-flows prints them (without cookie and counters), groups as
// dump-groups does.
type FlowChanges struct {
	FlowMods     int      `json:"flow_mods"`
	GroupMods    int      `json:"group_mods"`
	AddFlows     []string `json:"add_flows"`
	DeleteFlows  []string `json:"delete_flows"`
	AddGroups    []string `json:"add_groups"`
	ModifyGroups []string `json:"modify_groups"`
	DeleteGroups []string `json:"delete_groups"`
}

// Empty reports whether the plan changes nothing on the device.
func (d DevicePlan) Empty() bool {
	return len(d.OVSDB) == 0 && (d.Flows == nil || d.Flows.FlowMods+d.Flows.GroupMods == 0)
}
