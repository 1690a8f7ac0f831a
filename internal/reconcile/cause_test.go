package reconcile

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/ovn-kubernetes/libovsdb/client"
)

// dialErr is what net.Dialer returns for a failed connect.
func dialErr(errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: errno}}
}

// handshakeErr is what ovsdb.PeerTLSConfig's VerifyConnection returns
// through tls.Dialer for a certificate that fails verification.
func handshakeErr(err error) error { return fmt.Errorf("ovsdb: peer certificate: %w", err) }

// remoteAlert is what a TLS connection returns when the peer sent an
// alert (crypto/tls's unexported alert type; any error with its text will
// do).
func remoteAlert(text string) error {
	return &net.OpError{Op: "remote error", Err: errors.New(text)}
}

func TestCause(t *testing.T) {
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "rogue"}}
	cases := []struct {
		name string
		err  error
		want string // a substring of the cause
	}{
		{"refused", dialErr(syscall.ECONNREFUSED), "connection refused"},
		{"no route", dialErr(syscall.EHOSTUNREACH), "no route to host"},
		{"net unreachable", dialErr(syscall.ENETUNREACH), "network unreachable"},
		{"no socket", &net.OpError{Op: "dial", Net: "unix", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ENOENT}}, "no such socket"},
		{"permission", dialErr(syscall.EACCES), "permission denied"},
		{"reset", dialErr(syscall.ECONNRESET), "connection reset"},
		{"dial timeout", &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, "timed out"},
		{"context deadline", fmt.Errorf("dial: %w", context.DeadlineExceeded), "timed out"},
		{"eof", io.EOF, "closed the connection without answering"},
		{"unknown CA", handshakeErr(x509.UnknownAuthorityError{Cert: cert}), `its certificate ("rogue") is signed by an unknown authority`},
		{"unknown CA via verification error", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, "signed by an unknown authority"},
		{"expired", handshakeErr(x509.CertificateInvalidError{Cert: cert, Reason: x509.Expired, Detail: "current time is after 2026-01-01"}), `its certificate ("rogue") has expired`},
		{"not a CA", handshakeErr(x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}), "its certificate is not valid"},
		{"name mismatch", handshakeErr(x509.HostnameError{Certificate: &x509.Certificate{DNSNames: []string{"hv1"}}, Host: "hv2"}), "for another host"},
		{"not TLS", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "does not speak TLS"},
		{"they refused ours", remoteAlert("tls: unknown certificate authority"), "the device refused ferryd's certificate (tls: unknown certificate authority)"},
		{"they want one", remoteAlert("tls: certificate required"), "refused ferryd's certificate"},
		{"other alert", remoteAlert("tls: protocol version not supported"), "the device refused the handshake (tls: protocol version not supported)"},
		{"no certificate", errors.New("ovsdb: peer presented no certificate"), "the peer sent no certificate"},
		{"client sent none", errors.New("tls: client didn't provide a certificate"), "the peer sent no certificate"},
		{"other", errors.New("ovsdb: something else"), "something else"},
	}
	for _, c := range cases {
		got := cause(c.err)
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: cause(%v) = %q, want it to contain %q", c.name, c.err, got, c.want)
		}
		if strings.HasPrefix(got, "ovsdb: ") || strings.Contains(got, "dial tcp") {
			t.Errorf("%s: cause %q names Go's layers", c.name, got)
		}
	}
	if cause(nil) != "" {
		t.Error("cause(nil) is not empty")
	}
}

// reasonDevice is a disconnected Device that knows why.
type reasonDevice struct{ err error }

func (d reasonDevice) Client() client.Client { return nil }
func (d reasonDevice) Close()                {}
func (d reasonDevice) Reason() error         { return d.err }

func TestNotConnected(t *testing.T) {
	cases := []struct {
		target string
		err    error
		want   string
	}{
		{"tcp:198.18.255.99:6640", dialErr(syscall.ECONNREFUSED), "ovsdb tcp:198.18.255.99:6640: connection refused"},
		{"tcp:198.18.255.99:6640", nil, "ovsdb tcp:198.18.255.99:6640: not connected (retrying)"},
		{"ssl:198.18.255.99:6640", handshakeErr(x509.UnknownAuthorityError{}), "ovsdb ssl:198.18.255.99:6640: TLS handshake failed: its certificate is signed by an unknown authority"},
		{"passive", nil, "ovsdb passive: no host with external_ids:system-id hv1 has dialed in to ferryd's --ovsdb-listen (retrying)"},
		{"passive", &net.OpError{Op: "dial", Net: "unix", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ENOENT}}, "no host with external_ids:system-id hv1 has dialed in"},
	}
	for _, c := range cases {
		got := notConnected(c.target, reasonDevice{c.err}, "external_ids:system-id hv1").Error()
		if !strings.Contains(got, c.want) || !strings.HasSuffix(got, "(retrying)") {
			t.Errorf("notConnected(%s, %v) = %q, want it to contain %q and end in (retrying)", c.target, c.err, got, c.want)
		}
	}
}
