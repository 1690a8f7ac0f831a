package rows

// Keys ferry writes into the external_ids of the Open_vSwitch rows it
// creates. Rows without OwnerKey=OwnerValue belong to someone else (the
// hypervisor's toolstack, an operator) and ferry never changes or deletes
// them.
const (
	// OwnerKey marks a row as created by ferry.
	OwnerKey   = "ferry/owner"
	OwnerValue = "ferry"
	// RemoteKey names the remote chassis or VTEP a tunnel port leads to.
	RemoteKey = "ferry/remote"
	// GenerationKey records, on a bridge, the northbound generation of the
	// last pass that changed it. Flows are recognised by their cookies
	// (content identities, see openflow.Flow.Cookie), not by this key; it
	// tells an operator how current a bridge is.
	GenerationKey = "ferry/generation"
)

// Owned reports whether a row with these external_ids was created by ferry.
func Owned(externalIDs map[string]string) bool {
	return externalIDs[OwnerKey] == OwnerValue
}
