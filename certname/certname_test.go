package certname

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"slices"
	"testing"
)

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		cert, name string
		want       bool
	}{
		{"hv1", "hv1", true},
		{"hv1 id:3f2a8c1e-0000-4000-8000-000000000001", "hv1", true},
		{"hv10", "hv1", false},
		{"hv1x id:1", "hv1", false},
		{"hv1 id", "hv1", false},
		{"xhv1", "hv1", false},
		{"", "", false},
		{"hv1", "", false},
	} {
		if got := Matches(c.cert, c.name); got != c.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", c.cert, c.name, got, c.want)
		}
	}
	if !Any([]string{"other", "hv1 id:x"}, "hv9", "hv1") || Any([]string{"hv2"}, "hv1") || Any(nil, "hv1") {
		t.Error("Any")
	}
}

func TestOf(t *testing.T) {
	c := &x509.Certificate{Subject: pkix.Name{CommonName: "hv1 id:1"}, DNSNames: []string{"hv1 id:1", "hv1.example", ""}}
	if got := Of(c); !slices.Equal(got, []string{"hv1 id:1", "hv1.example"}) {
		t.Errorf("Of = %q", got)
	}
}
