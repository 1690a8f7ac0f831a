// Package rows builds the values and conditions of raw OVSDB operations
// (UUIDSet, StringMap, WhereUUID, NamedUUID, ...) and holds the marks ferry
// puts on the rows it owns (OwnerKey, Owned, ...). It needs no OVSDB
// client: the hypervisor and VTEP sides build their operations with it
// without one, so that desired state and its operations stay pure, and
// only the reconcile loops send them.
package rows
