// Package lab runs ferry's namespace lab — three Open vSwitch hypervisors on
// two routed underlay sites plus a management network — for end-to-end tests.
//
// The topology is built by lab.sh (embedded in this package, so tests in any
// directory can use it): every hypervisor is a network namespace with its own
// ovsdb-server and ovs-vswitchd (userspace datapath), br-phy carrying the
// underlay address and an empty br-int for ferry to manage. Guests are
// namespaces whose eth0 is plugged into br-int with the external_ids libvirt
// sets. Every address is in 198.18.0.0/15 and lives inside namespaces the
// lab created.
//
// Up skips the test unless it runs as root on Linux with OVS, iproute2 and
// network namespaces available; set FERRY_REQUIRE_LAB=1 (CI does) to turn
// that skip into a failure so a broken install cannot pass silently. Each
// lab gets a fresh random prefix, so labs never collide with each other, with
// the demo, or with a lab left over from an earlier session. Teardown is
// registered with t.Cleanup and runs on every exit path; when the test
// failed, the lab first writes OVS state (bridges, flows, groups, tunnel
// routes, daemon log tails) to the test log.
//
// UpGateway adds a VTEP gateway site for ferry's hardware_vtep support: a
// gateway namespace whose ovsdb-server serves hardware_vtep next to
// Open_vSwitch and runs ovs-vtep, OVS's software VTEP, for the physical
// switch vtep0; bare-metal servers (BareMetal) cabled to its port p0; and an
// ESXi-like host whose vSwitch trunks VLANs to its port p1, with VMs on
// access ports (ESXiVM). VTEPCtl drives the VTEP database by hand, as an NVC
// would.
//
// Up(t, WithTLS()) builds the lab TLS-only (lab.sh with LAB_TLS=1): ovs-pki
// makes a PKI in Dir/pki, every OVS host's ovsdb-server listens on pssl:
// instead of ptcp: and its ovs-vswitchd has the host's certificate for ssl:
// controllers. FerrydTLS gives ferryd's flags, HostTLS a host's files, and
// RogueTLS a switch certificate from another CA that ferry must refuse.
//
// ferryd runs inside the management namespace (StartFerryd); tests in the
// root namespace reach its REST API through HTTPClient, whose dialer opens
// sockets inside that namespace.
package lab
