package ovsdb

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// echo accepts one connection on l and echoes one line.
func echo(t *testing.T, l net.Listener) {
	t.Helper()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		c.Write(buf[:n])
	}()
}

func roundTrip(t *testing.T, passive Target, active Target, serverTLS, clientTLS *tls.Config) {
	t.Helper()
	l, err := passive.Listen(serverTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	echo(t, l)
	if active.Scheme == TCP || active.Scheme == SSL {
		active.Port = l.Addr().(*net.TCPAddr).Port
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := active.Dial(ctx, clientTLS)
	if err != nil {
		t.Fatalf("dial %s: %v", active, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

func TestListenDial(t *testing.T) {
	dir := shortTempDir(t)
	roundTrip(t, Target{Scheme: PTCP, Host: "127.0.0.1"}, Target{Scheme: TCP, Host: "127.0.0.1"}, nil, nil)

	sock := filepath.Join(dir, "s.sock")
	roundTrip(t, Target{Scheme: PUnix, Path: sock}, Target{Scheme: Unix, Path: sock}, nil, nil)

	// A socket file left by a dead listener is replaced...
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	roundTrip(t, Target{Scheme: PUnix, Path: sock}, Target{Scheme: Unix, Path: sock}, nil, nil)
	// ...one with a live listener is not.
	live, err := Target{Scheme: PUnix, Path: sock}.Listen(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if l, err := (Target{Scheme: PUnix, Path: sock}).Listen(nil); err == nil {
		l.Close()
		t.Error("Listen took over a socket with a live listener")
	}

	if _, err := (Target{Scheme: TCP, Host: "127.0.0.1", Port: 1}).Listen(nil); err == nil {
		t.Error("Listen on an active target succeeded")
	}
	if _, err := (Target{Scheme: PTCP, Port: 1}).Dial(context.Background(), nil); err == nil {
		t.Error("Dial of a passive target succeeded")
	}
	if _, err := (Target{Scheme: PSSL, Host: "127.0.0.1"}).Listen(nil); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("pssl without TLS config: %v", err)
	}
	if _, err := (Target{Scheme: SSL, Host: "127.0.0.1", Port: 1}).Dial(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("ssl without TLS config: %v", err)
	}
}

// TestTLS checks that certificates as ovs-pki makes them (a CA, leaf
// certificates naming a switch rather than an address) work both ways, and
// that a certificate from another CA is refused.
func TestTLS(t *testing.T) {
	ca, caKey := newCA(t, "ferry test CA")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	server := PeerTLSConfig(newLeaf(t, ca, caKey, "controller"), pool)
	client := PeerTLSConfig(newLeaf(t, ca, caKey, "hv1 id:1234"), pool)
	roundTrip(t, Target{Scheme: PSSL, Host: "127.0.0.1"}, Target{Scheme: SSL, Host: "127.0.0.1"}, server, client)

	// Files, as an operator passes them.
	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	leaf := newLeaf(t, ca, caKey, "hv2")
	writePEM(t, filepath.Join(dir, "cert.pem"), "CERTIFICATE", leaf.Certificate[0])
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	writePEM(t, filepath.Join(dir, "key.pem"), "PRIVATE KEY", keyDER)
	fromFiles, err := LoadTLSConfig(filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, Target{Scheme: PSSL, Host: "127.0.0.1"}, Target{Scheme: SSL, Host: "127.0.0.1"}, server, fromFiles)

	other, otherKey := newCA(t, "someone else")
	stranger := PeerTLSConfig(newLeaf(t, other, otherKey, "intruder"), pool)
	l, err := Target{Scheme: PSSL, Host: "127.0.0.1"}.Listen(server)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Target{Scheme: SSL, Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port}.Dial(ctx, stranger)
	if err == nil {
		// TLS 1.3: the client learns of the rejection on first read.
		c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Error("a certificate from another CA was accepted")
	}
}

func newCA(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

// newLeaf makes a certificate without SANs or extended key usage, like
// ovs-pki's.
func newLeaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pemEncode(f, typ, der); err != nil {
		t.Fatal(err)
	}
}
