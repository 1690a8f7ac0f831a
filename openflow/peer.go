package openflow

import (
	"crypto/tls"
	"net"
	"net/netip"

	"github.com/ferry-sdn/ferry/certname"
)

// Peer is what the server knows of the other end of a connection once its
// handshake is done: where it comes from and, over TLS, what its verified
// certificate names. A switch claims a datapath ID in its features reply;
// nothing in OpenFlow proves the claim, so whoever binds a datapath to a
// device decides from Peer whether the claimant is that device.
type Peer struct {
	// Addr is the remote IP address (IPv4-mapped IPv6 addresses unmapped);
	// invalid for a unix-socket peer.
	Addr netip.Addr
	// Unix is set for a peer on a unix socket: a process on ferryd's host.
	Unix bool
	// TLS is set when the connection is TLS; the listener's tls.Config
	// (ferryd's requires a certificate signed by --ca-cert) verified the
	// certificate's chain before the handshake finished.
	TLS bool
	// Names are the certificate's subject common name and DNS names, as
	// ovs-pki writes them ("hv1", or "hv1 id:UUID" without -u).
	Names []string
}

// String is the peer for logs and status: its address, and with TLS the
// name its certificate gives.
func (p Peer) String() string {
	s := p.Addr.String()
	if p.Unix {
		s = "unix socket"
	}
	if p.TLS && len(p.Names) > 0 {
		s += " (certificate " + p.Names[0] + ")"
	}
	return s
}

// Key identifies the peer's host, for rate-limiting what its retries log.
func (p Peer) key() string {
	if p.Unix {
		return "unix"
	}
	return p.Addr.String()
}

// peerOf reads conn's peer; for TLS, after the TLS handshake.
func peerOf(conn net.Conn) Peer {
	var p Peer
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		p.TLS = true
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			p.Names = certname.Of(certs[0])
		}
		raw = tc.NetConn()
	}
	switch a := raw.RemoteAddr().(type) {
	case *net.TCPAddr:
		// A zone (fe80::1%eth0) says where the peer is, not who it is.
		p.Addr = a.AddrPort().Addr().Unmap().WithZone("")
	case *net.UnixAddr:
		p.Unix = true
	default:
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			p.Addr = ap.Addr().Unmap()
		}
	}
	return p
}
