package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as ferryd: run with FERRYD_TEST_MAIN=1, it is
// main() with the arguments it was given.
func TestMain(m *testing.M) {
	if os.Getenv("FERRYD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// ferryd is one ferryd process started by a test.
type ferryd struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  strings.Builder
	done chan struct{}
	err  error
}

func (f *ferryd) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.Write(p)
}

func (f *ferryd) output() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.String()
}

func startFerryd(t *testing.T, args ...string) *ferryd {
	t.Helper()
	f := &ferryd{done: make(chan struct{})}
	f.cmd = exec.Command(os.Args[0], args...)
	f.cmd.Env = append(os.Environ(), "FERRYD_TEST_MAIN=1")
	f.cmd.Stdout, f.cmd.Stderr = f, f
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		f.err = f.cmd.Wait()
		close(f.done)
	}()
	t.Cleanup(func() {
		f.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.done:
		case <-time.After(10 * time.Second):
			f.cmd.Process.Kill()
			<-f.done
		}
		if t.Failed() {
			t.Logf("ferryd output:\n%s", f.output())
		}
	})
	return f
}

// exit waits for a ferryd that is expected to fail at start.
func (f *ferryd) exit(t *testing.T) (int, string) {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("ferryd did not exit:\n%s", f.output())
	}
	var ee *exec.ExitError
	if !errors.As(f.err, &ee) {
		return 0, f.output()
	}
	return ee.ExitCode(), f.output()
}

var runningRE = regexp.MustCompile(`msg="ferryd running" api=(https?)://(\S+)`)

// waitRunning returns the API's scheme and address once ferryd is up.
func (f *ferryd) waitRunning(t *testing.T) (scheme, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := runningRE.FindStringSubmatch(f.output()); m != nil {
			return m[1], m[2]
		}
		select {
		case <-f.done:
			t.Fatalf("ferryd exited: %v\n%s", f.err, f.output())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("ferryd not running within 20s:\n%s", f.output())
	return "", ""
}

// shortTemp is a temporary directory short enough for unix sockets.
func shortTemp(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "fd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func needOVSDB(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"ovsdb-server", "ovsdb-tool"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("no %s: ferryd runs its own northbound database", bin)
		}
	}
}

// TestStartErrors: misconfigured security fails at start, with the flag
// named, before anything is started.
func TestStartErrors(t *testing.T) {
	dir := shortTemp(t)
	pki := newPKI(t, dir, "ferry")
	key, cert := pki.issue(t, "ferryd")
	badTokens := filepath.Join(dir, "bad-tokens")
	os.WriteFile(badTokens, []byte("# tokens\nsecret-0123456789abcdef superuser\n"), 0o600)
	base := []string{"--api", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--openflow", "pssl:0:127.0.0.1"}, "--openflow pssl:0:127.0.0.1: TLS needs --private-key, --certificate and --ca-cert"},
		{[]string{"--openflow", "ptcp:16653:127.0.0.1", "--advertise", "tcp:127.0.0.1:16653", "--nb", "ssl:127.0.0.1:2"}, "--nb ssl:127.0.0.1:2: TLS needs"},
		{[]string{"--openflow", "punix:" + dir + "/of.sock", "--ovsdb-listen", "pssl:0:127.0.0.1"}, "--ovsdb-listen pssl:0:127.0.0.1: TLS needs"},
		{[]string{"--openflow", "punix:" + dir + "/of.sock", "--nb", "tcp:127.0.0.1:1,ssl:127.0.0.1:2"}, "--nb ssl:127.0.0.1:2: TLS needs"},
		{[]string{"--openflow", "punix:" + dir + "/of.sock", "--private-key", key}, "missing --ca-cert, --certificate"},
		{[]string{"--openflow", "punix:" + dir + "/of.sock", "--private-key", key, "--certificate", cert, "--ca-cert", filepath.Join(dir, "nope.pem")}, "load CA certificate"},
		{[]string{"--openflow", "punix:" + dir + "/of.sock", "--private-key", cert, "--certificate", cert, "--ca-cert", pki.caFile}, "load certificate"},
		{[]string{"--openflow", "punix:" + dir + "/of.sock", "--api-cert", cert}, "missing --api-key"},
		{[]string{"--openflow", "punix:" + dir + "/of.sock", "--api-ca", pki.caFile}, "--api-ca (client certificates) needs --api-cert"},
		{[]string{"--openflow", "punix:" + dir + "/of.sock", "--metrics-auth"}, "--metrics-auth needs --api-tokens"},
		{[]string{"--openflow", "punix:" + dir + "/of.sock", "--api-tokens", badTokens}, "--api-tokens: rest: " + badTokens + ": line 2: unknown role"},
	} {
		f := startFerryd(t, append(base, c.args...)...)
		code, out := f.exit(t)
		if code != 1 || !strings.Contains(out, c.want) {
			t.Errorf("ferryd %q: exit %d, want 1 with %q:\n%s", c.args, code, c.want, out)
		}
		if strings.Contains(out, "0123456789abcdef") {
			t.Errorf("a token reached the log:\n%s", out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("a failed start created the data directory: the check came too late")
	}
}

// TestPlaintextWarnings: plain TCP is allowed when asked for, but logged
// when it leaves the machine; loopback is quiet.
func TestPlaintextWarnings(t *testing.T) {
	needOVSDB(t)
	dir := shortTemp(t)
	f := startFerryd(t, "--api", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--openflow", "ptcp:0", "--advertise", "tcp:192.0.2.1:6653", "--ovsdb-listen", "ptcp:0:127.0.0.1")
	scheme, addr := f.waitRunning(t)
	if scheme != "http" {
		t.Fatalf("API scheme %s", scheme)
	}
	out := f.output()
	if !strings.Contains(out, `level=WARN msg="plain-text OpenFlow listener on a non-loopback address`) {
		t.Errorf("no warning for ptcp:0 (every address):\n%s", out)
	}
	if strings.Contains(out, "plain-text OVSDB listener") {
		t.Errorf("a warning for a loopback listener:\n%s", out)
	}
	if strings.Contains(out, "REST API in plain HTTP") {
		t.Errorf("a warning for a loopback API:\n%s", out)
	}
	// A chassis reached over plain TCP is warned about when its loop dials;
	// ssl: is refused while ferryd has no TLS configuration.
	post := func(body string) (int, string) {
		resp, err := http.Post("http://"+addr+"/v1/chassis", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(`{"name":"hv9","ovsdb":"ssl:192.0.2.9:6640","tunnel_ip":"192.0.2.9"}`); code != 400 || !strings.Contains(body, "no TLS configuration") {
		t.Fatalf("ssl: chassis without TLS: %d %s", code, body)
	}
	if code, body := post(`{"name":"hv9","ovsdb":"tcp:192.0.2.9:6640","tunnel_ip":"192.0.2.9"}`); code != 201 {
		t.Fatalf("tcp: chassis: %d %s", code, body)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(f.output(), `msg="plain-text OVSDB connection on a non-loopback address`) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning for the tcp: chassis:\n%s", f.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(f.output(), "chassis=hv9 ovsdb=tcp:192.0.2.9:6640") {
		t.Errorf("the warning does not name the chassis:\n%s", f.output())
	}
}

// TestHTTPSAndTokens runs ferryd with every security flag and checks, over
// real sockets: HTTPS with a required client certificate, bearer tokens
// and their roles, /metrics protection, reload on SIGHUP, and the pssl:
// OpenFlow listener refusing a switch certificate from another CA.
func TestHTTPSAndTokens(t *testing.T) {
	needOVSDB(t)
	dir := shortTemp(t)
	peers := newPKI(t, dir, "switches")   // signs OVS hosts; ferryd trusts it
	api := newPKI(t, dir, "api")          // signs the API's and its clients' certificates
	rogue := newPKI(t, dir, "rogue")      // signs nothing ferryd should accept
	ctlCA := newPKI(t, dir, "controller") // signs ferryd's peer certificate
	fKey, fCert := ctlCA.issue(t, "ferryd")
	apiKey, apiCert := api.issue(t, "ferryd-api", "127.0.0.1")
	tokens := filepath.Join(dir, "tokens")
	const admin, reader = "admin-token-0123456789", "reader-token-0123456789"
	if err := os.WriteFile(tokens, []byte(admin+" admin\n"+reader+" reader\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ofPort := freePort(t)
	f := startFerryd(t, "--api", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--openflow", fmt.Sprintf("pssl:%d:127.0.0.1", ofPort),
		"--private-key", fKey, "--certificate", fCert, "--ca-cert", peers.caFile,
		"--api-cert", apiCert, "--api-key", apiKey, "--api-ca", api.caFile,
		"--api-tokens", tokens, "--metrics-auth")
	scheme, addr := f.waitRunning(t)
	if scheme != "https" {
		t.Fatalf("API scheme %s, want https", scheme)
	}
	if !strings.Contains(f.output(), "advertise=ssl:127.0.0.1:") {
		t.Errorf("--advertise not derived as ssl: from pssl:\n%s", f.output())
	}

	client := func(id *pkiDir) *http.Client {
		cfg := &tls.Config{RootCAs: api.pool}
		if id != nil {
			k, c := id.issue(t, "operator")
			pair, err := tls.LoadX509KeyPair(c, k)
			if err != nil {
				t.Fatal(err)
			}
			cfg.GetClientCertificate = always(pair)
		}
		return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	operator := client(api)
	do := func(c *http.Client, method, path, token, body string) (int, http.Header, string, error) {
		req, _ := http.NewRequest(method, "https://"+addr+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, nil, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b), nil
	}
	want := func(c *http.Client, method, path, token, body string, code int) http.Header {
		t.Helper()
		got, h, b, err := do(c, method, path, token, body)
		if err != nil || got != code {
			t.Fatalf("%s %s: %d %v %s, want %d", method, path, got, err, b, code)
		}
		return h
	}

	// The certificate: a client without one, or with one from another
	// CA, does not get through the handshake.
	for name, c := range map[string]*http.Client{"no client certificate": client(nil), "rogue client certificate": client(rogue)} {
		if code, _, _, err := do(c, "GET", "/healthz", "", ""); err == nil {
			t.Errorf("%s: answered %d, want a failed handshake", name, code)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// Plain HTTP is not served.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the HTTPS port")
		}
	}

	// The tokens.
	want(operator, "GET", "/healthz", "", "", 200)
	if h := want(operator, "GET", "/v1/switches", "", "", 401); !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("401 WWW-Authenticate %q", h.Get("WWW-Authenticate"))
	}
	want(operator, "GET", "/v1/switches", "wrong-token-0123456789", "", 401)
	want(operator, "GET", "/metrics", "", "", 401)
	want(operator, "GET", "/metrics", reader, "", 200)
	want(operator, "POST", "/v1/switches", reader, `{"name":"blue"}`, 403)
	want(operator, "POST", "/v1/switches", admin, `{"name":"blue"}`, 201)
	want(operator, "GET", "/v1/switches/blue", reader, "", 200)
	// TLS is configured, so an ssl: chassis is accepted.
	want(operator, "POST", "/v1/chassis", admin, `{"name":"hv1","ovsdb":"ssl:127.0.0.1:1","tunnel_ip":"192.0.2.1"}`, 201)

	// SIGHUP reloads the tokens file; a broken file keeps the old tokens.
	const fresh = "fresh-token-0123456789"
	os.WriteFile(tokens, []byte(fresh+" reader\n"), 0o600)
	f.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { c, _, _, _ := do(operator, "GET", "/v1/switches", admin, ""); return c == 401 }, "old admin token refused after SIGHUP")
	want(operator, "GET", "/v1/switches", fresh, "", 200)
	os.WriteFile(tokens, []byte(fresh+" king\n"), 0o600)
	f.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(f.output(), "keeping the previous tokens") }, "reload failure logged")
	want(operator, "GET", "/v1/switches", fresh, "", 200)

	// The OpenFlow listener: a switch with a certificate from the peers'
	// CA gets OpenFlow's hello; one from another CA is cut off in the
	// handshake.
	ofAddr := fmt.Sprintf("127.0.0.1:%d", ofPort)
	if err := openflowHello(ofAddr, peers.clientTLS(t, "hv1", ctlCA)); err != nil {
		t.Errorf("switch with a certificate from the CA: %v", err)
	}
	if err := openflowHello(ofAddr, rogue.clientTLS(t, "hv1", ctlCA)); err == nil {
		t.Error("switch with a rogue certificate got OpenFlow's hello")
	} else {
		t.Logf("rogue switch: %v", err)
	}
	if err := openflowHello(ofAddr, ctlCA.clientTLS(t, "hv1", ctlCA)); err == nil {
		t.Error("switch with a certificate from ferryd's own CA (not --ca-cert) got OpenFlow's hello")
	}
	// And ferryd checks the switch's side too: a switch trusting another CA
	// refuses ferryd.
	if err := openflowHello(ofAddr, peers.clientTLS(t, "hv1", rogue)); err == nil {
		t.Error("a switch that does not trust ferryd's CA completed the handshake")
	}

	out := f.output()
	for _, tok := range []string{admin, reader, fresh, "wrong-token"} {
		if strings.Contains(out, tok) {
			t.Fatalf("a token reached the log:\n%s", out)
		}
	}
}

// openflowHello opens a TLS connection and reads the first OpenFlow
// header: version byte and type 0 (hello).
func openflowHello(addr string, cfg *tls.Config) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(bufio.NewReader(c), hdr); err != nil {
		return err
	}
	if hdr[1] != 0 {
		return fmt.Errorf("first message type %d, want hello", hdr[1])
	}
	return nil
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// pkiDir is a test CA writing PEM files into a directory.
type pkiDir struct {
	dir    string
	name   string
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	caFile string
	pool   *x509.CertPool
	serial int64
}

func newPKI(t *testing.T, dir, name string) *pkiDir {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name + " CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &pkiDir{dir: dir, name: name, cert: cert, key: key, caFile: filepath.Join(dir, name+"-ca.pem"), pool: x509.NewCertPool(), serial: 1}
	p.pool.AddCert(cert)
	writePEM(t, p.caFile, "CERTIFICATE", der)
	return p
}

// issue writes a key and a certificate for cn, usable by clients and
// servers, and returns their paths. Like ovs-pki's, the certificate names
// no host unless ips are given.
func (p *pkiDir) issue(t *testing.T, cn string, ips ...string) (keyFile, certFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, ip := range ips {
		tpl.IPAddresses = append(tpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(p.dir, fmt.Sprintf("%s-%s-%d", p.name, cn, p.serial))
	writePEM(t, base+"-key.pem", "PRIVATE KEY", kder)
	writePEM(t, base+"-cert.pem", "CERTIFICATE", der)
	return base + "-key.pem", base + "-cert.pem"
}

// clientTLS is a switch's configuration: a certificate from p, trusting
// the CA that signed ferryd's certificate (verified by chain only, as OVS
// does).
func (p *pkiDir) clientTLS(t *testing.T, cn string, trust *pkiDir) *tls.Config {
	t.Helper()
	k, c := p.issue(t, cn)
	pair, err := tls.LoadX509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		GetClientCertificate: always(pair),
		InsecureSkipVerify:   true, // host names are not checked; the chain is, below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			cert, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			_, err = cert.Verify(x509.VerifyOptions{Roots: trust.pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			return err
		},
	}
}

// always presents pair: Go's client would otherwise send no certificate at
// all when the server asks for another CA's, and the test must show the
// server refusing the wrong certificate, not a missing one.
func always(pair tls.Certificate) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
