// Package realize computes what a device should hold and how to get it
// there. Everything here is pure: functions take the northbound snapshot and
// the observed device state as arguments and return data (desired state,
// OVSDB operations, OpenFlow changes). No I/O, no clock, no goroutines; the
// reconcile package commits what these functions return.
//
// The flow of one pass for a chassis:
//
//	Bind(snapshot, observed interfaces of every chassis) → Bindings
//	DesiredChassis(inputs)                                → ChassisState
//	CreateOps / DeleteOps(observed bridge, desired)       → OVSDB operations
//	DiffFlows(installed, desired)                         → openflow.Changes
package realize
