package reconcile

import (
	"net"
	"net/netip"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow"
)

func TestChassisPeers(t *testing.T) {
	addr := netip.MustParseAddr
	tcp := model.Chassis{Name: "hv1", OVSDB: "tcp:198.18.255.11:6640", TunnelIP: net.IPv4(198, 18, 1, 11),
		OpenFlowPeers: []netip.Addr{addr("198.18.9.1")}}
	local := model.Chassis{Name: "hv2", OVSDB: "unix:/run/openvswitch/db.sock", TunnelIP: net.IPv4(198, 18, 1, 12)}
	passive := model.Chassis{Name: "xen1", OVSDB: model.PassiveOVSDB, TunnelIP: net.IPv4(198, 18, 2, 21)}
	plain := func(a string) openflow.Peer { return openflow.Peer{Addr: addr(a)} }
	cert := func(names ...string) openflow.Peer {
		return openflow.Peer{Addr: addr("198.18.255.99"), TLS: true, Names: names}
	}
	for _, c := range []struct {
		name     string
		ch       model.Chassis
		systemID string
		dialedIn string
		peer     openflow.Peer
		reason   string // "" = accepted
	}{
		{"OVSDB host", tcp, "", "", plain("198.18.255.11"), ""},
		{"tunnel IP", tcp, "", "", plain("198.18.1.11"), ""},
		{"openflow_peers", tcp, "", "", plain("198.18.9.1"), ""},
		{"IPv4-mapped OVSDB host", tcp, "", "", openflow.Peer{Addr: addr("::ffff:198.18.255.11").Unmap()}, ""},
		{"another host", tcp, "", "", plain("198.18.255.12"), openflow.RefusedAddress},
		{"loopback for a remote chassis", tcp, "", "", plain("127.0.0.1"), openflow.RefusedAddress},
		{"unix socket for a remote chassis", tcp, "", "", openflow.Peer{Unix: true}, openflow.RefusedAddress},
		{"loopback for a local chassis", local, "", "", plain("127.0.0.1"), ""},
		{"unix socket for a local chassis", local, "", "", openflow.Peer{Unix: true}, ""},
		{"another host for a local chassis", local, "", "", plain("198.18.255.13"), openflow.RefusedAddress},
		{"where a passive chassis dialed in from", passive, "", "198.18.255.21", plain("198.18.255.21"), ""},
		{"passive chassis not dialed in", passive, "", "", plain("198.18.255.21"), openflow.RefusedAddress},
		{"certificate with the name", tcp, "", "", cert("hv1"), ""},
		{"ovs-pki certificate", tcp, "", "", cert("hv1 id:3f2a8c1e-0000-4000-8000-000000000001"), ""},
		{"certificate with the system-id", tcp, "host-17", "", cert("other", "host-17"), ""},
		{"certificate of another chassis", tcp, "host-17", "", cert("hv2 id:3f2a8c1e-0000-4000-8000-000000000002"), openflow.RefusedCertificate},
		{"certificate with a longer name", tcp, "", "", cert("hv10"), openflow.RefusedCertificate},
		{"certificate without names", tcp, "", "", cert(), openflow.RefusedCertificate},
		// With TLS the certificate decides, wherever the peer is.
		{"known address, wrong certificate", tcp, "", "", openflow.Peer{Addr: addr("198.18.255.11"), TLS: true, Names: []string{"hv2"}}, openflow.RefusedCertificate},
	} {
		var dialedIn netip.Addr
		if c.dialedIn != "" {
			dialedIn = addr(c.dialedIn)
		}
		reason, why := peersOf(c.ch, c.systemID, dialedIn).authorize(c.peer)
		if reason != c.reason {
			t.Errorf("%s: %s → reason %q (%s), want %q", c.name, c.peer, reason, why, c.reason)
		}
		if (reason == "") != (why == "") {
			t.Errorf("%s: reason %q with explanation %q", c.name, reason, why)
		}
	}
}
