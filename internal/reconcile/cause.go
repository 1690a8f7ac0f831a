package reconcile

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
)

// cause says in an operator's words why a device could not be reached:
// "connection refused", "TLS handshake failed: its certificate is signed
// by an unknown authority (…)". The raw error ("dial tcp 198.18.255.99:6640:
// connect: connection refused") names Go's layers, not the fault; the
// operator needs to know whether to start ovsdb-server, fix a route or a
// certificate. Unknown errors come back as they are, so nothing is lost.
func cause(err error) string {
	if err == nil {
		return ""
	}
	if why := tlsCause(err); why != "" {
		return why
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (nothing listens there: is ovsdb-server running with that remote?)"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable (no route to that address)"
	case errors.Is(err, syscall.ENOENT):
		return "no such socket"
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return "permission denied"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the device"
	case isTimeout(err):
		return "timed out (no answer: a firewall, a wrong address or a host that is down)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the device closed the connection without answering (if it listens on pssl:, use ssl:)"
	}
	return strings.TrimPrefix(err.Error(), "ovsdb: ")
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// tlsCause names what went wrong in a TLS handshake, "" if err is not a
// TLS failure.
func tlsCause(err error) string {
	const failed = "TLS handshake failed: "
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var record tls.RecordHeaderError
	var op *net.OpError
	switch {
	case errors.As(err, &unknown):
		return failed + fmt.Sprintf("its certificate%s is signed by an unknown authority (not ferryd's --ca-cert)", subject(unknown.Cert))
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return failed + fmt.Sprintf("its certificate%s has expired or is not yet valid (%s)", subject(invalid.Cert), invalid.Detail)
		}
		return failed + "its certificate is not valid: " + invalid.Error()
	case errors.As(err, &host):
		return failed + "its certificate is for another host: " + host.Error()
	case errors.As(err, &record):
		return failed + "the device does not speak TLS (is its remote ptcp: rather than pssl:? then use tcp:)"
	case errors.As(err, &op) && op.Op == "remote error":
		// The device sent an alert: its side of the handshake refused.
		alert := op.Err.Error()
		if certAlert(alert) {
			return failed + "the device refused ferryd's certificate (" + alert + "): is ferryd's certificate signed by the CA in the device's --ca-cert?"
		}
		return failed + "the device refused the handshake (" + alert + ")"
	case strings.Contains(err.Error(), "peer presented no certificate"),
		strings.Contains(err.Error(), "didn't provide a certificate"):
		return failed + "the peer sent no certificate"
	case strings.Contains(err.Error(), "tls: "):
		return failed + strings.TrimPrefix(err.Error()[strings.Index(err.Error(), "tls: "):], "tls: ")
	}
	return ""
}

// certAlert reports whether a TLS alert's text is about a certificate.
func certAlert(alert string) bool {
	for _, s := range []string{"certificate", "unknown certificate authority", "access denied"} {
		if strings.Contains(alert, s) {
			return true
		}
	}
	return false
}

// subject is ` "CN"` for a certificate with a common name.
func subject(c *x509.Certificate) string {
	if c == nil || c.Subject.CommonName == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", c.Subject.CommonName)
}
