// Package e2e holds the end-to-end tests: a real ferryd in the namespace lab
// (examples/lab) programming real Open vSwitch instances over OVSDB and
// OpenFlow, with guests pinging each other over VXLAN across a routed
// underlay. They need root and OVS; they skip with a reason otherwise (and
// fail instead under FERRY_REQUIRE_LAB=1, as CI runs them).
package e2e
