// Package nbdb is ferry's northbound store: the logical switches, logical
// ports and chassis an operator asked for, kept in an OVSDB database with
// ferry's own schema (ovsdb/nb/nb.ovsschema) and read from libovsdb's cache.
//
// The database, not this process, is the source of truth, so that a second
// ferryd, ovsdb-client or a restarted ferryd all see the same state. Uniqueness
// lives in the schema's indexes (switch name, VNI, port name per switch,
// iface_id, chassis name); DB checks the cache first only to name the
// offending field in its error, and maps an index violation that slips
// through a race to ErrConflict as well.
//
// Every mutation is one transaction that also bumps NB_Global.generation and
// stamps the changed switch (or chassis) with the new generation. The
// transaction starts with a wait on the generation DB read from its cache
// (optimistic concurrency): if anyone else committed in between, the wait
// fails, nothing is applied, and DB retries on fresher data. After a commit,
// DB waits until its own cache shows the new generation, so a Snapshot taken
// right after a successful call includes the change (read-after-write for the
// REST API). Devices report the generation they realized, which is how
// realization becomes visible.
//
// A write reads only the rows it touches, through the cache's indexes
// (switch name and VNI, port [switch, name] and iface_id, ...), so its cost
// does not grow with the estate; a free VNI is found from a hint kept at or
// below the lowest free one. ferry never updates a port or binding row in
// place: a changed port is a new row, so that a switch's reference set says
// exactly which of its ports changed. Bulk writes are one transaction each:
// CreatePorts (all or none) and ApplySwitch (a whole switch, its ports and
// bindings; no transaction at all when nothing differs).
//
// A fresh database gets its NB_Global row (with the fixed GlobalUUID) from
// the first write, in a transaction of its own guarded so that racing
// ferryds create exactly one.
//
// Snapshot returns an immutable, sorted model.Snapshot. The libovsdb cache
// applies an update table by table, so Snapshot reads NB_Global before and
// after the other tables around the cache's own lock (read.go: a sequence
// lock) and retries until it sees one generation and rows no newer than it.
// It builds each snapshot from the previous one: switches whose row the
// cache did not replace keep their model.Switch (Ports slice and all), so a
// build costs O(switches + ports of changed switches). While the client has
// no cache, Snapshot returns the last state the client had, never an empty
// one. Notify registers a callback for every cache change (the reconciler's
// kick).
//
// Package nbdbtest serves the database to tests, from libovsdb's in-memory
// server or a real ovsdb-server.
package nbdb
