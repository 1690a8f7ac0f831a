package lab

import (
	"os/exec"
	"path/filepath"
)

// Option configures Up.
type Option func(*Lab)

// WithTLS builds the lab with TLS only (lab.sh with LAB_TLS=1): ovs-pki
// makes a PKI in Dir/pki, every OVS host's ovsdb-server listens on
// pssl:6640:MgmtIP instead of ptcp, and its ovs-vswitchd has the host's
// certificate for ssl: controllers. Hypervisor.OVSDB and Gateway.OVSDB are
// then ssl: targets; give ferryd FerrydTLS().Args().
func WithTLS() Option {
	return func(l *Lab) { l.tls = true }
}

// TLSFiles are the PEM files of one identity of the lab's PKI, named as the
// OVS options that take them.
type TLSFiles struct {
	PrivateKey  string
	Certificate string
	// CACert is the CA this identity trusts its peers' certificates to be
	// signed by.
	CACert string
}

// Args returns the files as ferryd's (and OVS's) options: --private-key,
// --certificate, --ca-cert.
func (f TLSFiles) Args() []string {
	return []string{"--private-key", f.PrivateKey, "--certificate", f.Certificate, "--ca-cert", f.CACert}
}

// TLS reports whether the lab was built WithTLS.
func (l *Lab) TLS() bool { return l.tls }

// PKIDir is where the lab's PKI lives (with WithTLS): ovs-pki's CAs in
// ca/ (controllerca signs ferryd, switchca the OVS hosts) and rogue-ca/,
// and each identity's NAME-privkey.pem and NAME-cert.pem.
func (l *Lab) PKIDir() string { return filepath.Join(l.Dir, "pki") }

// FerrydTLS is ferryd's identity: a controller certificate signed by the
// lab's controllerca, trusting switchca, which signs the OVS hosts.
func (l *Lab) FerrydTLS() TLSFiles {
	d := l.PKIDir()
	return TLSFiles{
		PrivateKey:  filepath.Join(d, "ferryd-privkey.pem"),
		Certificate: filepath.Join(d, "ferryd-cert.pem"),
		CACert:      filepath.Join(d, "ca", "switchca", "cacert.pem"),
	}
}

// HostTLS is the identity of an OVS host (hv1, hv2, hv3, gw1): a switch
// certificate signed by switchca, trusting controllerca. Its ovsdb-server
// and ovs-vswitchd use it.
func (l *Lab) HostTLS(name string) TLSFiles {
	d := l.PKIDir()
	return TLSFiles{
		PrivateKey:  filepath.Join(d, name+"-privkey.pem"),
		Certificate: filepath.Join(d, name+"-cert.pem"),
		CACert:      filepath.Join(d, "ca", "controllerca", "cacert.pem"),
	}
}

// RogueTLS is an impostor switch: its certificate is signed by another CA
// (rogue-ca's switchca), though it trusts the lab's real controllerca, so
// only ferry's check of the peer can stop it.
func (l *Lab) RogueTLS() TLSFiles {
	d := l.PKIDir()
	return TLSFiles{
		PrivateKey:  filepath.Join(d, "rogue-privkey.pem"),
		Certificate: filepath.Join(d, "rogue-cert.pem"),
		CACert:      filepath.Join(d, "ca", "controllerca", "cacert.pem"),
	}
}

// mgmtTarget is the OVSDB target of an OVS host's management address in
// the lab's mode.
func (l *Lab) mgmtTarget(ip string) string {
	if l.tls {
		return "ssl:" + ip + ":6640"
	}
	return "tcp:" + ip + ":6640"
}

// tlsUnsupported says why a TLS lab cannot run here, or "".
func tlsUnsupported() string {
	if _, err := exec.LookPath("ovs-pki"); err != nil {
		return "no ovs-pki (package openvswitch-common) for the lab's PKI"
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		return "no openssl for ovs-pki"
	}
	return ""
}
