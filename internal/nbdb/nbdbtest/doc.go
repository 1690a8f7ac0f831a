// Package nbdbtest serves ferry's northbound database to tests: from
// libovsdb's in-memory server (fast, no binaries needed) or from a real
// ovsdb-server child process (the behaviour production sees: maxRows,
// garbage collection and index checks as OVS implements them).
package nbdbtest
