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

func TestParseTarget(t *testing.T) {
	good := []struct {
		in     string
		want   Target
		active bool
		str    string // canonical form if it differs from in
	}{
		{in: "tcp:192.0.2.1:6640", want: Target{Scheme: TCP, Host: "192.0.2.1", Port: 6640}, active: true},
		{in: "ssl:192.0.2.1:6640", want: Target{Scheme: SSL, Host: "192.0.2.1", Port: 6640}, active: true},
		{in: "tcp:[::1]:6640", want: Target{Scheme: TCP, Host: "::1", Port: 6640}, active: true},
		{in: "ssl:[2001:db8::1]:1", want: Target{Scheme: SSL, Host: "2001:db8::1", Port: 1}, active: true},
		{in: "tcp:ovsdb.example.net:6641", want: Target{Scheme: TCP, Host: "ovsdb.example.net", Port: 6641}, active: true},
		{in: "tcp:localhost:65535", want: Target{Scheme: TCP, Host: "localhost", Port: 65535}, active: true},
		{in: "unix:/run/ferry/nb.sock", want: Target{Scheme: Unix, Path: "/run/ferry/nb.sock"}, active: true},
		{in: "unix:db.sock", want: Target{Scheme: Unix, Path: "db.sock"}, active: true},
		{in: "ptcp:6653", want: Target{Scheme: PTCP, Port: 6653}},
		{in: "ptcp:0", want: Target{Scheme: PTCP, Port: 0}},
		{in: "ptcp:6653:127.0.0.1", want: Target{Scheme: PTCP, Host: "127.0.0.1", Port: 6653}},
		{in: "ptcp:6653:[::1]", want: Target{Scheme: PTCP, Host: "::1", Port: 6653}},
		{in: "ptcp:6653:::", want: Target{Scheme: PTCP, Host: "::", Port: 6653}, str: "ptcp:6653:[::]"},
		{in: "pssl:6640:0.0.0.0", want: Target{Scheme: PSSL, Host: "0.0.0.0", Port: 6640}},
		{in: "punix:/run/ferry/of.sock", want: Target{Scheme: PUnix, Path: "/run/ferry/of.sock"}},
	}
	for _, tc := range good {
		got, err := ParseTarget(tc.in)
		if err != nil {
			t.Errorf("ParseTarget(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseTarget(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if got.Active() != tc.active {
			t.Errorf("ParseTarget(%q).Active() = %v", tc.in, got.Active())
		}
		str := tc.str
		if str == "" {
			str = tc.in
		}
		if got.String() != str {
			t.Errorf("ParseTarget(%q).String() = %q, want %q", tc.in, got.String(), str)
		}
		if again, err := ParseTarget(got.String()); err != nil || again != got {
			t.Errorf("round trip of %q: %+v, %v", tc.in, again, err)
		}
	}

	bad := []struct{ in, msg string }{
		{"", `ovsdb: empty target`},
		{"tcp:1.2.3.4", `ovsdb: target "tcp:1.2.3.4": missing port`},
		{"tcp:1.2.3.4:", `ovsdb: target "tcp:1.2.3.4:": missing port`},
		{"tcp:", `missing address and port`},
		{"tcp::6640", `missing address`},
		{"tcp:1.2.3.999:6640", `bad IP address "1.2.3.999"`},
		{"tcp:1.2.3:6640", `bad IP address "1.2.3"`},
		{"tcp:bad_host:6640", `bad host name "bad_host"`},
		{"tcp:-x.example:6640", `bad host name`},
		{"tcp:1.2.3.4:0", `port 0 out of range 1-65535`},
		{"tcp:1.2.3.4:65536", `port 65536 out of range 1-65535`},
		{"tcp:1.2.3.4:66x", `bad port "66x"`},
		{"tcp:1.2.3.4:-1", `bad port "-1"`},
		{"tcp:::1:6640", `IPv6 address must be in brackets`},
		{"tcp:[::1:6640", `missing ] after IPv6 address`},
		{"tcp:[::1]", `missing port`},
		{"tcp:[::1]6640", `unexpected "6640" after IPv6 address`},
		{"tcp:[1.2.3.4]:6640", `bad IPv6 address "1.2.3.4"`},
		{"ssl:[zz::1]:6640", `bad IPv6 address "zz::1"`},
		{"ptcp:", `missing port`},
		{"ptcp:70000", `port 70000 out of range 0-65535`},
		{"ptcp:6653:", `missing IP address after port`},
		{"ptcp:6653:example.net", `bad IP address "example.net"`},
		{"ptcp:6653:[1.2.3.4]", `bad IP address "[1.2.3.4]"`},
		{"ptcp:6653:[::1", `missing ] after IPv6 address`},
		{"unix:", `missing socket path`},
		{"punix:", `missing socket path`},
		{"unix:/" + strings.Repeat("x", 107), `more than the 107 a unix socket address holds`},
		{"udp:1.2.3.4:6640", `ovsdb: target "udp:1.2.3.4:6640": unknown method "udp"`},
		{"1.2.3.4", `missing method`},
	}
	for _, tc := range bad {
		_, err := ParseTarget(tc.in)
		if err == nil {
			t.Errorf("ParseTarget(%q) succeeded, want error containing %q", tc.in, tc.msg)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("ParseTarget(%q) = %q, want it to contain %q", tc.in, err, tc.msg)
		}
		if !strings.HasPrefix(err.Error(), "ovsdb: ") {
			t.Errorf("ParseTarget(%q) error %q lacks the package prefix", tc.in, err)
		}
	}
}

func TestParseActivePassive(t *testing.T) {
	if _, err := ParseActive("ptcp:6640"); err == nil || !strings.Contains(err.Error(), "passive target") {
		t.Errorf("ParseActive(ptcp) = %v", err)
	}
	if _, err := ParsePassive("tcp:127.0.0.1:6640"); err == nil || !strings.Contains(err.Error(), "active target") {
		t.Errorf("ParsePassive(tcp) = %v", err)
	}
	if _, err := ParseActive("unix:/x"); err != nil {
		t.Error(err)
	}
	if _, err := ParsePassive("punix:/x"); err != nil {
		t.Error(err)
	}
}

func TestParseTargets(t *testing.T) {
	ts, err := ParseTargets("tcp:192.0.2.1:6641, tcp:[2001:db8::2]:6641,unix:/x")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tcp:192.0.2.1:6641", "tcp:[2001:db8::2]:6641", "unix:/x"}
	if len(ts) != len(want) {
		t.Fatalf("got %v", ts)
	}
	for i := range ts {
		if ts[i].String() != want[i] {
			t.Errorf("target %d = %s, want %s", i, ts[i], want[i])
		}
	}
	for _, in := range []string{"", "tcp:1.2.3.4:1,", "tcp:1.2.3.4:1,,tcp:1.2.3.5:1", "tcp:1.2.3.4:1,tcp:1.2.3.5"} {
		if _, err := ParseTargets(in); err == nil {
			t.Errorf("ParseTargets(%q) succeeded", in)
		}
	}
	if _, err := ParseActiveTargets("tcp:1.2.3.4:1,ptcp:1"); err == nil {
		t.Error("ParseActiveTargets accepted a passive target")
	}
}

func TestTargetText(t *testing.T) {
	var tg Target
	if err := tg.UnmarshalText([]byte("ssl:[::1]:6640")); err != nil {
		t.Fatal(err)
	}
	b, _ := tg.MarshalText()
	if string(b) != "ssl:[::1]:6640" {
		t.Errorf("MarshalText = %s", b)
	}
	if err := tg.UnmarshalText([]byte("ssl:[::1]")); err == nil {
		t.Error("UnmarshalText accepted a target without port")
	}
}

func TestEndpoint(t *testing.T) {
	wd, _ := os.Getwd()
	for _, tc := range []struct{ in, want string }{
		{"tcp:192.0.2.1:6640", "tcp:192.0.2.1:6640"},
		{"ssl:[::1]:6640", "ssl:[::1]:6640"},
		{"unix:/run/x.sock", "unix:/run/x.sock"},
		{"unix:x.sock", "unix:" + filepath.Join(wd, "x.sock")},
	} {
		tg, err := ParseTarget(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tg.Endpoint()
		if err != nil || got != tc.want {
			t.Errorf("Endpoint(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"ptcp:1", "unix:/tmp/a?b", "unix:/tmp/a%41"} {
		tg, err := ParseTarget(in)
		if err != nil {
			t.Fatal(err)
		}
		if ep, err := tg.Endpoint(); err == nil {
			t.Errorf("Endpoint(%s) = %q, want an error", in, ep)
		}
	}
}

func TestNetworkAddress(t *testing.T) {
	for _, tc := range []struct{ in, network, addr string }{
		{"ptcp:6653", "tcp4", "0.0.0.0:6653"},
		{"ptcp:6653:127.0.0.1", "tcp4", "127.0.0.1:6653"},
		{"ptcp:6653:[::]", "tcp", "[::]:6653"},
		{"tcp:[::1]:1", "tcp", "[::1]:1"},
		{"tcp:example.net:1", "tcp", "example.net:1"},
		{"punix:/x", "unix", "/x"},
	} {
		tg, err := ParseTarget(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if tg.Network() != tc.network || tg.Address() != tc.addr {
			t.Errorf("%s: Network/Address = %s %s, want %s %s", tc.in, tg.Network(), tg.Address(), tc.network, tc.addr)
		}
	}
}

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
