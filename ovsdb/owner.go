package ovsdb

import "github.com/ferry-sdn/ferry/ovsdb/rows"

// The ownership marks, for callers that use package ovsdb's plumbing; they
// are defined in package rows, which needs no client.
const (
	OwnerKey      = rows.OwnerKey
	OwnerValue    = rows.OwnerValue
	RemoteKey     = rows.RemoteKey
	GenerationKey = rows.GenerationKey
)

// Owned reports whether a row with these external_ids was created by ferry.
func Owned(externalIDs map[string]string) bool { return rows.Owned(externalIDs) }
