package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostJoinCertRequest: --cert-request DIR writes a key (0600) and a
// certificate request naming the chassis, which ovs-pki signs into a
// certificate ferry accepts for it; a second run changes nothing. The
// certificate ovs-vswitchd presents is checked: one naming another host
// draws a warning.
func TestHostJoinCertRequest(t *testing.T) {
	h := newHost(t)
	dir := filepath.Join(t.TempDir(), "pki")
	key, req := filepath.Join(dir, "hv1-privkey.pem"), filepath.Join(dir, "hv1-req.pem")

	out := h.mustJoin("--name", "hv1", "--cert-request", dir, "--dry-run")
	if !strings.Contains(out, "TLS: certificate request "+req+" with common name hv1") || !strings.Contains(out, "    write "+key+" "+req) {
		t.Errorf("dry run:\n%s", out)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatal("the dry run wrote files")
	}
	out = h.mustJoin("--name", "hv1", "--cert-request", dir)
	if !strings.Contains(out, "ovs-pki sign "+filepath.Join(dir, "hv1")+" switch") {
		t.Errorf("no guidance for signing the request:\n%s", out)
	}
	if fi, err := os.Stat(key); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key %s: %v %v, want mode 0600", key, fi, err)
	}
	data, err := os.ReadFile(req)
	if err != nil {
		t.Fatal(err)
	}
	if names, err := certificateNames(data); err != nil || len(names) != 1 || names[0] != "hv1" {
		t.Fatalf("request names %q (%v), want hv1", names, err)
	}
	keyBefore, _ := os.ReadFile(key)
	out = h.mustJoin("--name", "hv1", "--cert-request", dir)
	if !strings.Contains(out, "names hv1 (unchanged)") || !strings.HasSuffix(out, "host hv1: nothing to change\n") {
		t.Errorf("second run:\n%s", out)
	}
	if keyAfter, _ := os.ReadFile(key); string(keyAfter) != string(keyBefore) {
		t.Error("the second run replaced the key")
	}
	// A request under hv7's file name that names another host is not
	// overwritten.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "hv7-req.pem"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := h.join("--name", "hv7", "--cert-request", other); code != ExitError || !strings.Contains(errs, `names ["hv1"], not hv7; nothing was changed`) {
		t.Errorf("a request naming another host: exit %d %q", code, errs)
	}

	if _, err := exec.LookPath("ovs-pki"); err != nil {
		t.Skip("no ovs-pki to sign the request")
	}
	pki := t.TempDir()
	ca := filepath.Join(pki, "ca")
	cert := filepath.Join(dir, "hv1-cert.pem")
	for _, args := range [][]string{{"--dir=" + ca, "init"}, {"--dir=" + ca, "-b", "sign", filepath.Join(dir, "hv1"), "switch"}} {
		cmd := exec.Command("ovs-pki", append([]string{"--log=" + filepath.Join(pki, "ovs-pki.log")}, args...)...)
		cmd.Dir = dir
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ovs-pki %v: %v\n%s", args, err, o)
		}
	}
	h.i.Vsctl(t, "set-ssl", key, cert, filepath.Join(ca, "controllerca", "cacert.pem"))
	if out := h.mustJoin("--name", "hv1"); !strings.Contains(out, "TLS: certificate "+cert+" names hv1 (unchanged)") {
		t.Errorf("with the signed certificate:\n%s", out)
	}
	if out := h.mustJoin("--name", "hv9"); !strings.Contains(out, `TLS: WARNING: certificate `+cert+` gives "hv1", not hv9`) {
		t.Errorf("with a certificate naming another host:\n%s", out)
	}
}
