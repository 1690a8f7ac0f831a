package main

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
)

// A host dialling --ovsdb-listen over pssl: is taken for the chassis or
// gateway it claims only if its certificate names it.
func TestCertVouches(t *testing.T) {
	state := func(cn string, dns ...string) *tls.ConnectionState {
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}}}
	}
	for _, c := range []struct {
		st    *tls.ConnectionState
		names []string
		ok    bool
	}{
		{nil, []string{"hv1"}, true}, // plain text
		{state("hv1"), []string{"hv1"}, true},
		{state("hv1 id:3f2a8c1e-0000-4000-8000-000000000001"), []string{"hv1"}, true},
		{state("other", "tor1"), []string{"gw1", "tor1"}, true},
		{state("hv2 id:1"), []string{"hv1"}, false},
		{state(""), []string{"hv1"}, false},
	} {
		err := certVouches(c.st, "chassis", c.names...)
		if (err == nil) != c.ok {
			t.Errorf("certificate %+v for %v: %v, want ok=%v", c.st, c.names, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), `claims to be chassis "hv1", but its certificate gives`) {
			t.Errorf("error %q does not say what was claimed and what the certificate gives", err)
		}
	}
}
