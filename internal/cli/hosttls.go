package cli

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ferry-sdn/ferry/certname"
)

// With TLS, ferry binds a bridge's OpenFlow connection to a chassis only if
// the certificate names it (package certname): its common name or a DNS
// name must be the chassis name (the system-id host join sets), exactly or
// in ovs-pki's "NAME id:UUID" form. host join checks the certificate the host already
// uses, and --cert-request DIR writes a key and a certificate request that
// name it, for the operator's CA to sign.

// certificateNames returns the common name and DNS names of a PEM
// certificate or certificate request.
func certificateNames(data []byte) ([]string, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	switch block.Type {
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		return certname.Of(c), nil
	case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
		r, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			return nil, err
		}
		return certname.Of(&x509.Certificate{Subject: r.Subject, DNSNames: r.DNSNames}), nil
	}
	return nil, fmt.Errorf("a PEM %q, not a certificate", block.Type)
}

// certCheckStep says whether the certificate ovs-vswitchd presents (set-ssl)
// names the chassis; nil when the host has none configured.
func certCheckStep(path, name string) *step {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return &step{what: fmt.Sprintf("TLS: cannot read the certificate %s (%v): ferry accepts this bridge's ssl: OpenFlow connection only if it names %s", path, err, name)}
	}
	names, err := certificateNames(data)
	if err != nil {
		return &step{what: fmt.Sprintf("TLS: %s: %v", path, err)}
	}
	if certname.Any(names, name) {
		return &step{what: fmt.Sprintf("TLS: certificate %s names %s (unchanged)", path, name)}
	}
	got := "no name"
	if len(names) > 0 {
		got = fmt.Sprintf("%q", names[0])
	}
	return &step{what: fmt.Sprintf("TLS: WARNING: certificate %s gives %s, not %s: ferry will refuse this bridge's ssl: OpenFlow connection (--cert-request DIR writes a request naming %s)",
		path, got, name, name)}
}

// certRequestStep writes DIR/NAME-privkey.pem (mode 0600, RSA 2048, as
// ovs-pki makes them) and DIR/NAME-req.pem, a request with common name and
// DNS name NAME, unless a request naming NAME is there already.
func certRequestStep(rec *recorder, dir, name string) (step, error) {
	key := filepath.Join(dir, name+"-privkey.pem")
	req := filepath.Join(dir, name+"-req.pem")
	next := fmt.Sprintf("sign it with your switch CA (ovs-pki sign %s switch makes %s), then: ovs-vsctl set-ssl %s %s CONTROLLER-CA.pem",
		filepath.Join(dir, name), filepath.Join(dir, name+"-cert.pem"), key, filepath.Join(dir, name+"-cert.pem"))
	if data, err := os.ReadFile(req); err == nil {
		names, err := certificateNames(data)
		if err != nil {
			return step{}, fmt.Errorf("host join: --cert-request: %s: %v", req, err)
		}
		if !certname.Any(names, name) {
			return step{}, fmt.Errorf("host join: --cert-request: %s names %q, not %s; nothing was changed: remove it or give another directory", req, names, name)
		}
		return step{what: fmt.Sprintf("TLS: certificate request %s names %s (unchanged); %s", req, name, next)}, nil
	}
	what := fmt.Sprintf("TLS: certificate request %s with common name %s (key %s); %s", req, name, key, next)
	return step{what: what, apply: func() error {
		if rec.record([]string{"write", key, req}) {
			return nil
		}
		return writeCertRequest(dir, key, req, name)
	}}, nil
}

func writeCertRequest(dir, keyPath, reqPath, name string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("certificate request: %w", err)
	}
	var signer *rsa.PrivateKey
	if data, err := os.ReadFile(keyPath); err == nil {
		// Keep a key that is there: its certificate may be in use.
		block, _ := pem.Decode(data)
		if block == nil {
			return fmt.Errorf("certificate request: %s: no PEM key", keyPath)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			if k, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
				return fmt.Errorf("certificate request: %s: %v", keyPath, err)
			}
		}
		var ok bool
		if signer, ok = k.(*rsa.PrivateKey); !ok {
			return fmt.Errorf("certificate request: %s: not an RSA key", keyPath)
		}
	} else {
		var err error
		if signer, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return fmt.Errorf("certificate request: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(signer)
		if err != nil {
			return fmt.Errorf("certificate request: %w", err)
		}
		if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return fmt.Errorf("certificate request: %w", err)
		}
	}
	subject, err := utf8Subject(name)
	if err != nil {
		return fmt.Errorf("certificate request: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		RawSubject: subject,
		DNSNames:   []string{name},
	}, signer)
	if err != nil {
		return fmt.Errorf("certificate request: %w", err)
	}
	if err := os.WriteFile(reqPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("certificate request: %w", err)
	}
	return nil
}

// utf8Subject is the subject ovs-pki writes (O=Open vSwitch, OU=Open
// vSwitch certifier, CN=name), encoded as UTF8String: ovs-pki's CAs
// require the organization to match theirs, and OpenSSL compares the
// string types too, while Go would write a PrintableString.
func utf8Subject(cn string) ([]byte, error) {
	attr := func(oid asn1.ObjectIdentifier, v string) []pkix.AttributeTypeAndValue {
		return []pkix.AttributeTypeAndValue{{Type: oid, Value: asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(v)}}}
	}
	return asn1.Marshal(pkix.RDNSequence{
		attr(asn1.ObjectIdentifier{2, 5, 4, 10}, "Open vSwitch"),
		attr(asn1.ObjectIdentifier{2, 5, 4, 11}, "Open vSwitch certifier"),
		attr(asn1.ObjectIdentifier{2, 5, 4, 3}, cn),
	})
}
