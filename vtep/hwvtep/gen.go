package hwvtep

// The schema is the one shipped by the installed Open vSwitch package
// (openvswitch-vtep / openvswitch-common, OVS 3.1 from Debian).
//go:generate go tool modelgen -p hwvtep -o . /usr/share/openvswitch/vtep.ovsschema
