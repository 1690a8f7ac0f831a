package ovsdb

// Ownership marks on rows ferry creates in Open_vSwitch. ferry deletes or
// changes only rows that carry OwnerKey=OwnerValue.
const (
	OwnerKey      = "ferry/owner"
	OwnerValue    = "ferry"
	SwitchKey     = "ferry/switch"
	PortKey       = "ferry/port"
	RemoteKey     = "ferry/remote"
	GenerationKey = "ferry/generation"
)

// Owned reports whether a row's external_ids mark it as ferry's.
func Owned(externalIDs map[string]string) bool {
	return externalIDs[OwnerKey] == OwnerValue
}
