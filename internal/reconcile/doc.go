// Package reconcile runs one level-triggered loop per chassis. Triggers (a
// northbound change, a device cache event, an OpenFlow connection, a resync
// tick) only kick a capacity-1 channel; each pass recomputes the chassis'
// whole desired state from a snapshot (package realize) and commits only the
// difference, in this order: one OVSDB transaction creating and updating,
// one OpenFlow bundle, one OVSDB transaction deleting and recording the
// realized generation. A pass that changes nothing sends nothing.
//
// The package also answers realization status for the REST API and owns
// the reconcile metrics.
package reconcile
