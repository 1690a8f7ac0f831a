package ovsdb

// Keys ferry writes into the external_ids of the Open_vSwitch rows it
// creates. Rows without OwnerKey=OwnerValue belong to someone else (the
// hypervisor's toolstack, an operator) and ferry never changes or deletes
// them.
const (
	// OwnerKey marks a row as created by ferry.
	OwnerKey   = "ferry/owner"
	OwnerValue = "ferry"
	// SwitchKey names the logical switch a row was created for.
	SwitchKey = "ferry/switch"
	// PortKey names the logical port a row was created for.
	PortKey = "ferry/port"
	// RemoteKey names the remote chassis or VTEP a tunnel port leads to.
	RemoteKey = "ferry/remote"
	// GenerationKey records, on a bridge, the flow cookie generation ferry
	// last programmed, so that a restarted ferry recognises its own flows.
	GenerationKey = "ferry/generation"
)

// Owned reports whether a row with these external_ids was created by ferry.
func Owned(externalIDs map[string]string) bool {
	return externalIDs[OwnerKey] == OwnerValue
}
