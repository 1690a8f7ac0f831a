package target

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
)

// EndpointKey names the socket an active target reaches, whatever its
// spelling: tcp: and ssl: to one address and port are one socket
// (tcp:[::ffff:127.0.0.1]:6640 and ssl:127.0.0.1:6640 alike), host names
// are case-insensitive, and unix: paths are cleaned (unix:/x/./db.sock is
// unix:/x/db.sock). Two registrations with one key would drive one device
// twice. It cannot see through DNS or a second address of the same host;
// ferry's device identity check covers those once connected.
func (t Target) EndpointKey() string {
	switch t.Scheme {
	case TCP, SSL:
		host := strings.ToLower(strings.TrimSuffix(t.Host, "."))
		if a, err := netip.ParseAddr(host); err == nil {
			host = a.Unmap().WithZone("").String()
		}
		return "inet:" + host + ":" + strconv.Itoa(t.Port)
	case Unix:
		p, err := filepath.Abs(t.Path)
		if err != nil {
			p = filepath.Clean(t.Path)
		}
		return "unix:" + p
	}
	return t.String()
}

// SharedEndpoint returns a target of the comma-separated list a that
// reaches the same socket as one of list b, or "" when none does (or
// either does not parse).
func SharedEndpoint(a, b string) string {
	ta, err := ParseList(a)
	if err != nil {
		return ""
	}
	tb, err := ParseList(b)
	if err != nil {
		return ""
	}
	for _, x := range ta {
		for _, y := range tb {
			if x.EndpointKey() == y.EndpointKey() {
				return x.String()
			}
		}
	}
	return ""
}
