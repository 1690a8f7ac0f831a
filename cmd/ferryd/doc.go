// Command ferryd is the ferry controller daemon: it serves the REST API,
// keeps the northbound database (its own ovsdb-server unless --nb names
// one), accepts OpenFlow connections from managed bridges and runs one
// reconcile loop per registered chassis.
//
// Flags turn into configuration and wiring here; all logic lives in the
// packages.
package main
