// Package ovstest runs real Open vSwitch daemons for tests, without root and
// without touching the machine's own OVS.
//
// Start creates a short directory under /tmp (unix socket paths must stay
// under 108 bytes), creates one database file per schema, and runs
// ovsdb-server — and, if asked, ovs-vswitchd --enable-dummy=override
// --disable-system — as children of the test process with OVS_RUNDIR,
// OVS_DBDIR, OVS_LOGDIR and OVS_SYSCONFDIR pointing at that directory. Every
// ovs-* command an Instance runs gets the same environment, so `ovs-ofctl
// br0` finds DIR/br0.mgmt and `ovs-appctl -t ovs-vswitchd` finds the right
// daemon even when other OVS instances run on the machine.
//
// Processes are stopped by pid (never by name) in t.Cleanup, and the
// directory is removed afterwards. When the test failed, the tail of every
// daemon log is written to the test log first.
//
// Tests that need OVS call Start (which skips the test when the binaries are
// missing) or SkipIfMissing. Set FERRY_REQUIRE_OVS=1 (as CI should) to turn
// that skip into a failure, so a broken install cannot pass silently.
package ovstest
