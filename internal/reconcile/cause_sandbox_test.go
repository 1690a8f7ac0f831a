package reconcile

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/ovstest"
	"github.com/ferry-sdn/ferry/ovsdb"
)

// testCA is a certificate authority for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	file string // its certificate, PEM
}

func newTestCA(t *testing.T, dir, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, file: filepath.Join(dir, cn+"-cacert.pem")}
	writePEM(t, ca.file, "CERTIFICATE", der)
	return ca
}

// leaf issues a certificate for cn valid until notAfter and writes it and
// its key as DIR/cn-cert.pem and DIR/cn-privkey.pem.
func (ca *testCA) leaf(t *testing.T, dir, cn string, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, cn+"-cert.pem"), filepath.Join(dir, cn+"-privkey.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A chassis reached over ssl: says what is wrong with the TLS handshake,
// against real ovsdb-servers: one whose certificate comes from a CA
// ferryd does not trust, one with an expired certificate, and one that
// does not trust ferryd's certificate. A chassis pointing at a closed
// port on loopback says the connection is refused.
func TestSandboxChassisLastErrorNamesCause(t *testing.T) {
	ovstest.SkipIfMissing(t)
	dir := t.TempDir()
	good := newTestCA(t, dir, "good-ca")
	rogue := newTestCA(t, dir, "rogue-ca")
	ferryCert, ferryKey := good.leaf(t, dir, "ferryd", time.Now().Add(24*time.Hour))
	ferryTLS, err := ovsdb.LoadTLSConfig(ferryKey, ferryCert, good.file)
	if err != nil {
		t.Fatal(err)
	}

	// server starts an ovsdb-server on pssl: with a certificate of ca (for
	// cn, until notAfter), trusting clients of trusts; it returns the
	// ssl: target.
	server := func(cn string, ca *testCA, notAfter time.Time, trusts *testCA) string {
		cert, key := ca.leaf(t, dir, cn, notAfter)
		inst := ovstest.Start(t, ovstest.Options{Remotes: []string{"pssl:0:127.0.0.1"},
			OvsdbArgs: []string{"--private-key=" + key, "--certificate=" + cert, "--ca-cert=" + trusts.file}})
		return inst.Remote(t, "pssl:0:127.0.0.1")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "tcp:" + ln.Addr().String()
	ln.Close() // nothing listens there now

	cases := []struct {
		name, target, want string
	}{
		{"refused", closed, "ovsdb " + closed + ": connection refused"},
		{"rogue", server("rogue", rogue, time.Now().Add(24*time.Hour), good),
			`TLS handshake failed: its certificate ("rogue") is signed by an unknown authority`},
		{"expired", server("stale", good, time.Now().Add(-time.Hour), good),
			`TLS handshake failed: its certificate ("stale") has expired`},
		{"distrusts", server("picky", good, time.Now().Add(24*time.Hour), rogue),
			"TLS handshake failed: the device refused ferryd's certificate"},
	}
	s := newSandboxTLS(t, ovstest.Options{Vswitchd: true}, ferryTLS, "hv1")
	s.update(func(n *model.Snapshot) {
		n.Chassis = slices.Clone(n.Chassis)
		for i, c := range cases {
			n.Chassis = append(n.Chassis, model.Chassis{Name: c.name, OVSDB: c.target, Bridge: "br-int", Kind: model.KindKVM,
				TunnelIP: net.IPv4(198, 18, 1, byte(100+i)).To4(), Encaps: []string{"vxlan"}, Generation: n.Generation + 1})
		}
		slices.SortFunc(n.Chassis, func(a, b model.Chassis) int { return strings.Compare(a.Name, b.Name) })
		// Gateways go through the same words.
		n.Gateways = []model.Gateway{{Name: "gw-refused", OVSDB: cases[0].target, Generation: n.Generation + 1},
			{Name: "gw-rogue", OVSDB: cases[1].target, Generation: n.Generation + 1}}
	})
	for _, c := range cases {
		deadline := time.Now().Add(15 * time.Second)
		for st := s.ctl.Chassis(c.name); !strings.Contains(st.LastError, c.want); st = s.ctl.Chassis(c.name) {
			if time.Now().After(deadline) {
				t.Errorf("%s (%s): last_error %q, want it to contain %q", c.name, c.target, st.LastError, c.want)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		st := s.ctl.Chassis(c.name)
		if !strings.HasPrefix(st.LastError, "ovsdb "+c.target+": ") || !strings.HasSuffix(st.LastError, " (retrying)") {
			t.Errorf("%s: last_error %q does not read \"ovsdb TARGET: CAUSE (retrying)\"", c.name, st.LastError)
		}
		t.Logf("%s: %s", c.name, st.LastError)
	}
	for i, gw := range []string{"gw-refused", "gw-rogue"} {
		prefix, want := "ovsdb "+cases[i].target+": ", cases[i].want
		deadline := time.Now().Add(15 * time.Second)
		for st := s.ctl.Gateway(gw); !strings.HasPrefix(st.LastError, prefix) || !strings.Contains(st.LastError, want); st = s.ctl.Gateway(gw) {
			if time.Now().After(deadline) {
				t.Errorf("gateway %s: last_error %q, want %q… containing %q", gw, st.LastError, prefix, want)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
