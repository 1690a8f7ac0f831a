package ovsdb

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// LoadTLSConfig returns a TLS configuration for ssl: and pssl: targets that
// authenticates peers the way OVS does (ovs-pki(8), --private-key,
// --certificate, --ca-cert): both sides must present a certificate signed by
// the CA in caFile, and host names are not compared, because OVS PKI
// certificates name a switch or a controller, not an address. The same
// configuration serves for dialing and for listening.
func LoadTLSConfig(keyFile, certFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("ovsdb: load certificate: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("ovsdb: load CA certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ovsdb: no certificate found in %s", caFile)
	}
	return PeerTLSConfig(cert, pool), nil
}

// PeerTLSConfig is LoadTLSConfig for a certificate and CA pool already in
// memory.
func PeerTLSConfig(cert tls.Certificate, ca *x509.CertPool) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		// Server side: Go verifies the client's chain against ClientCAs.
		ClientCAs:  ca,
		ClientAuth: tls.RequireAndVerifyClientCert,
		// Client side: Go's own verification would insist on the host name,
		// so it is replaced by a chain-only check in VerifyConnection.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("ovsdb: peer presented no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
				Roots:         ca,
				Intermediates: inter,
				KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
			})
			if err != nil {
				return fmt.Errorf("ovsdb: peer certificate: %w", err)
			}
			return nil
		},
	}
}
