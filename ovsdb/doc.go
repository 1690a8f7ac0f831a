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
