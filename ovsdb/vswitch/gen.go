package vswitch

// The schema is the one shipped by the installed Open vSwitch package (OVS 3.1
// from Debian, see DESIGN.md); it is an interface definition we read, not copy.
//go:generate go tool modelgen -p vswitch -o . /usr/share/openvswitch/vswitch.ovsschema
