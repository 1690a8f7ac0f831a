// Package ovsdb is ferry's OVSDB plumbing: how to name, reach, serve and
// write to OVSDB databases. It knows nothing of logical switches.
//
// # Targets
//
// A Target is a connection method in OVS syntax, used for OVSDB and OpenFlow
// alike: active tcp:IP:PORT, ssl:IP:PORT, unix:PATH, which ferry dials, and
// passive ptcp:PORT[:IP], pssl:PORT[:IP], punix:PATH, on which ferry listens.
// IPv6 addresses are bracketed as OVS writes them (tcp:[::1]:6640,
// ptcp:6640:[::1]); a comma-separated list names the members of a clustered
// database (ParseTargets). Parse errors name the problem:
//
//	ovsdb: target "tcp:192.0.2.1": missing port
//
// Targets live in the leaf package ovsdb/target (standard library only),
// which clients such as ferryctl use without linking libovsdb; the names
// here (Target, ParseTarget, ...) are aliases of it.
//
// LoadTLSConfig builds a TLS configuration that authenticates peers the way
// OVS's SSL does (CA-signed certificates on both sides, no host name check),
// for ssl: and pssl: targets.
//
// # Connections
//
// A Conn keeps one libovsdb client connected to a database for as long as
// ferry needs it: it retries a database that is down with backoff forever
// (a hypervisor being down is normal), monitors the tables of a model into
// libovsdb's cache, and reconnects and re-monitors after the connection
// drops or the server restarts. It kicks a capacity-one channel (and an
// optional callback) on connect, disconnect and every cache change, which is
// all a level-triggered reconcile loop needs.
//
// # Hosts that dial in
//
// Hosts behind NAT and XenServer pools with a pool-wide controller open the
// OVSDB connection themselves (ovs-vsctl set-manager tcp:FERRY:6640), and
// libovsdb can only dial. A Passive listens for them (ferryd
// --ovsdb-listen), identifies each host over its connection
// (IdentifyBySystemID, IdentifyByPhysicalSwitch), refuses the ones that are
// not registered, and relays each accepted one to a unix socket whose
// Endpoint an ordinary Conn dials. Until a Conn attaches, the Passive
// answers the host's echo probes itself.
//
// # Locks
//
// A Locks holds OVSDB locks (RFC 7047 §4.1.8–4.1.10: lock, steal,
// unlock; locked and stolen notifications) on one dedicated session, for
// any number of names (ferry locks one per device on the northbound
// database, so that one replica owns each device). libovsdb has no client
// for them. The caller says which names it wants (Want, SetWanted,
// Release; Acquire waits, Steal takes over) and the client converges:
// every wanted name is requested on every new session. Held is false from
// the moment the session is known gone; the LockLost event says so, and
// the caller must stop writing to the device at once (fencing by OpenFlow
// role covers the gap until it has). Lock names are OVSDB ids (a letter
// or underscore, then letters, digits, underscores): LockName makes one of
// a device name.
//
// How ovsdb-server arbitrates, from its source (ovsdb/server.c,
// jsonrpc-server.c, lib/ovsdb-cs.c in Open vSwitch) and tests here:
//
//   - Locks live in the memory of one ovsdb-server process (struct
//     ovsdb_server), per JSON-RPC session; they are not written to the
//     database nor replicated through Raft. Two clients connected to two
//     members of a cluster could both hold "the same" lock. So every
//     client of a clustered database must take its locks on the same
//     server: the leader. Locks monitors _Server's Database table (the
//     leader and connected columns, as libovsdb's leader-only mode and
//     OVS's own ovsdb-cs, the library of ovn-northd, do) and uses a
//     session only while its server is the connected leader of
//     LocksConfig.Database; when the row says otherwise (the leader
//     stepped down, left or lost the cluster) the session is dropped,
//     its locks lost, and the next target tried. A relay (OVS 2.16) is
//     refused: it would arbitrate locks alone.
//   - A lock is released when its session ends: unlock, the connection
//     closing, or the server's inactivity probe (ovsdb-server drops a
//     client silent for two of its probe intervals, 5 s by default, so
//     about 10 s; with the probe disabled, never). Locks probes with echo
//     every ProbeInterval and gives up after ProbeInterval+ProbeTimeout
//     of silence (3.5 s by default), before the server can have handed
//     the lock to another client, and answers the server's echo probes so
//     an idle session is not dropped.
//   - After a reconnection nothing is held: the server forgot the old
//     session. ovsdb-cs resends its lock request on every new session;
//     Locks does the same for every wanted name, once the leader check
//     has passed (ovsdb-cs sends it before, so it may be granted briefly
//     by a follower).
//   - lock queues the session behind the owner (reply {"locked":false},
//     then a locked notification); steal makes it the owner at once and
//     the owner gets stolen. A victim that had used lock stays queued; one
//     that had stolen is dropped from the queue. The server refuses a
//     second lock or steal for a name without an unlock between them, so
//     after stolen Locks sends unlock and lock (queued again, whichever
//     way it got the lock) if the name is still wanted, and Steal of a
//     name it waits for sends unlock first.
//   - A leader change is no instant hand-over: the old leader steps down
//     only after an election timeout without a majority (1 s by default),
//     and its clients see that through _Server or their probes. During
//     that window a client on the old leader and one on the new leader
//     may both believe they hold a lock; ferry's OpenFlow role generation
//     (issue 10, item 4) is what fences a device then.
//
// # Transactions
//
// Functions elsewhere build operations (…Ops) and never commit them; the
// loops that commit call Transact, which checks the results. Its errors tell
// why ovsdb-server refused a transaction: IsConstraintViolation (for
// example a duplicate name: HTTP 409), IsWaitFailed (a wait operation's
// precondition no longer held: re-read and retry), IsNotFound (an ExistsOps
// precondition, or a cache lookup) and IsReferentialIntegrityViolation.
//
// # Ownership
//
// Rows ferry creates in a hypervisor's Open_vSwitch database carry
// external_ids OwnerKey=OwnerValue (and SwitchKey, PortKey, RemoteKey where
// useful); ferry changes and deletes only rows for which Owned is true.
//
// # The northbound server
//
// RunServer runs ferryd's own ovsdb-server for the northbound database
// (schema in package nb) as a child process in a data directory: it creates
// the database on first start, converts it when ferry's schema has grown,
// stops a server left over by a crashed ferryd, and serves it on
// unix:DATADIR/nb.sock.
//
// The generated models live in the subpackages nb (ferry's northbound
// schema) and vswitch (Open_vSwitch); `go generate ./ovsdb/...` regenerates
// them and hack/verify-generated.sh checks that they are up to date.
package ovsdb
