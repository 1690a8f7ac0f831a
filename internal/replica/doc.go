// Package replica lets several ferryd processes drive one estate: each
// registers itself in the northbound database, finds the others, and owns
// a share of the devices through OVSDB locks.
//
// Liveness is the database's, not a timer's. Every replica holds the lock
// "ferry/replica/ID" for as long as its session lasts and queues for the
// replica locks of every other replica it sees: when a replica's session
// ends (the process died, or was cut off from the cluster long enough for
// the server to drop it), its lock goes to one of the others, which
// deletes its row. The live replicas are the rows left.
//
// Ownership is the same mechanism per device. Every replica computes the
// same assignment (Assign) from the same rows and the same registered
// devices, queues for the locks of the devices assigned to it, and gives
// up the ones assigned elsewhere one at a time, so a hand-over releases
// before the new owner acquires and a joining replica does not make every
// device change hands at once. Disagreement while the views converge costs
// nothing: a lock has one holder. A replica owns a device once it holds
// the lock and has recorded the ownership (nbdb.TakeOwnership), which
// yields the epoch the device's OpenFlow master role is requested with;
// when the lock is lost, or the session with it, it owns nothing at once.
package replica
