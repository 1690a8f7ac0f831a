package reconcile

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/ferry-sdn/ferry/certname"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow"
	"github.com/ferry-sdn/ferry/ovsdb"
)

// Who may be a chassis' bridge. A bridge's OpenFlow connection claims a
// datapath ID, and anyone who can reach ferry's listener can claim any:
// ferry would send that peer the chassis' flows and take its dumps for the
// bridge's tables (the CVE-2018-1000155 class). So the chassis loop binds
// the session for its bridge's datapath only to a peer that is the
// chassis:
//
//   - over TLS, one whose certificate (already verified against --ca-cert)
//     names the chassis or its Open_vSwitch system-id, in its common name
//     or a DNS name: exactly, or in ovs-pki's "NAME id:UUID" form;
//   - in plain text, one whose address the chassis is known by: its OVSDB
//     target's host, its tunnel IP, its openflow_peers, the address a
//     passive chassis dialed in from; and, for a chassis reached on a unix:
//     socket (on ferryd's host), a loopback address or a unix socket.
//
// The check runs whenever the loop looks its session up, so a bridge that
// reconnects right after ferryd starts is bound on the chassis' first
// pass, and a session that the chassis' current addresses no longer cover
// is dropped.

// chassisPeers is what identifies a chassis' bridge to the OpenFlow
// server.
type chassisPeers struct {
	name, systemID string
	addrs          []netip.Addr
	local          bool // reached on a unix socket: its bridge is on ferryd's host
}

// peersOf collects the identities of chassis ch, whose database says
// systemID and, when passive, dialed in from dialedIn.
func peersOf(ch model.Chassis, systemID string, dialedIn netip.Addr) chassisPeers {
	p := chassisPeers{name: ch.Name, systemID: systemID}
	add := func(a netip.Addr) {
		if a = a.Unmap(); a.IsValid() && !slices.Contains(p.addrs, a) {
			p.addrs = append(p.addrs, a)
		}
	}
	if ch.OVSDB != model.PassiveOVSDB {
		targets, _ := ovsdb.ParseActiveTargets(ch.OVSDB)
		for _, t := range targets {
			if t.Scheme == ovsdb.Unix {
				p.local = true
			} else if a, err := netip.ParseAddr(t.Host); err == nil {
				add(a)
			}
		}
	}
	add(dialedIn)
	if a, ok := netip.AddrFromSlice(ch.TunnelIP); ok {
		add(a)
	}
	for _, a := range ch.OpenFlowPeers {
		add(a)
	}
	return p
}

// authorize is the openflow.Authorize of the chassis' datapath.
func (c chassisPeers) authorize(p openflow.Peer) (reason, why string) {
	if p.TLS {
		if certname.Any(p.Names, c.name, c.systemID) {
			return "", ""
		}
		names := "no name"
		if len(p.Names) > 0 {
			names = fmt.Sprintf("%q", p.Names[0])
		}
		want := fmt.Sprintf("%q", c.name)
		if c.systemID != "" && c.systemID != c.name {
			want += fmt.Sprintf(" or its system-id %q", c.systemID)
		}
		return openflow.RefusedCertificate, fmt.Sprintf("%s claims the datapath of chassis %s, but its certificate gives %s, not %s",
			p, c.name, names, want)
	}
	switch {
	case p.Unix && c.local, p.Addr.IsLoopback() && c.local, slices.Contains(c.addrs, p.Addr):
		return "", ""
	}
	return openflow.RefusedAddress, fmt.Sprintf("%s claims the datapath of chassis %s, which is known by %s only (add the address to the chassis' openflow_peers, or use TLS)",
		p, c.name, c.known())
}

// known lists the addresses a plain-text peer of the chassis may have.
func (c chassisPeers) known() string {
	var l []string
	if c.local {
		l = append(l, "loopback")
	}
	for _, a := range c.addrs {
		l = append(l, a.String())
	}
	if len(l) == 0 {
		return "no address"
	}
	return strings.Join(l, ", ")
}

// refusalStatus is a refusal as the chassis status shows it.
func refusalStatus(r openflow.Refusal) *model.OpenFlowRefusal {
	return &model.OpenFlowRefusal{Peer: r.Peer, Reason: r.Reason, Detail: r.Detail, At: r.At, Count: r.Count}
}
