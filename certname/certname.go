package certname

import (
	"crypto/x509"
	"slices"
	"strings"
)

// Of returns the names a certificate gives its holder: the subject common
// name, then the DNS names, each once.
func Of(c *x509.Certificate) []string {
	var names []string
	if cn := strings.TrimSpace(c.Subject.CommonName); cn != "" {
		names = append(names, cn)
	}
	for _, n := range c.DNSNames {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}

// Matches reports whether a certificate name designates name: equal to it,
// or ovs-pki's default form "NAME id:UUID" (ovs-pki makes the common name
// unique that way unless given -u).
func Matches(certName, name string) bool {
	if name == "" {
		return false
	}
	rest, ok := strings.CutPrefix(certName, name)
	return ok && (rest == "" || strings.HasPrefix(rest, " id:"))
}

// Any reports whether one of the certificate names designates one of the
// names.
func Any(certNames []string, names ...string) bool {
	for _, c := range certNames {
		for _, n := range names {
			if Matches(c, n) {
				return true
			}
		}
	}
	return false
}
