package lab

import (
	"os"
	"strings"
	"testing"
)

// TestTLSLab checks the lab's TLS mode against the real daemons: each
// hypervisor's OVSDB answers over TLS to ferryd's identity, refuses a
// certificate from the rogue CA, and no longer speaks plain TCP; its
// ovs-vswitchd has its own identity for ssl: controllers.
func TestTLSLab(t *testing.T) {
	l := Up(t, WithTLS())
	if !l.TLS() {
		t.Fatal("TLS() = false")
	}
	for _, f := range [][]string{l.FerrydTLS().Args(), l.HostTLS("hv1").Args(), l.RogueTLS().Args()} {
		for i := 1; i < len(f); i += 2 {
			if _, err := os.Stat(f[i]); err != nil {
				t.Fatalf("PKI file: %v", err)
			}
		}
	}
	hv2, _ := l.Hypervisor("hv2")
	if hv2.OVSDB != "ssl:198.18.255.12:6640" {
		t.Fatalf("hv2.OVSDB = %q, want ssl:198.18.255.12:6640", hv2.OVSDB)
	}
	vsctl := func(id TLSFiles, db string) (string, error) {
		args := append([]string{"ovs-vsctl", "--timeout=3", "--db=" + db}, id.Args()...)
		return l.Exec(t, "mgmt", append(args, "get", "Open_vSwitch", ".", "external_ids:system-id")...)
	}
	if out, err := vsctl(l.FerrydTLS(), hv2.OVSDB); err != nil || strings.TrimSpace(out) != `hv2` {
		t.Fatalf("ferryd's identity over %s: %q %v", hv2.OVSDB, out, err)
	}
	rogue := l.RogueTLS()
	rogue.CACert = l.FerrydTLS().CACert // the rogue is refused, not the rogue refusing
	if out, err := vsctl(rogue, hv2.OVSDB); err == nil {
		t.Fatalf("a certificate from the rogue CA was accepted: %q", out)
	}
	if out, err := l.Exec(t, "mgmt", "ovs-vsctl", "--timeout=3", "--db=tcp:198.18.255.12:6640", "show"); err == nil {
		t.Fatalf("plain TCP still answers on 6640: %q", out)
	}
	ssl := l.OVS(t, "hv2", "ovs-vsctl", "get-ssl")
	if !strings.Contains(ssl, "hv2-cert.pem") || !strings.Contains(ssl, "controllerca") {
		t.Fatalf("hv2's ovs-vswitchd SSL config:\n%s", ssl)
	}
}
