package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnitVerifies: ferryd.service, rendered as install.sh does, is clean
// for systemd-analyze verify (skipped without it), and keeps what the
// daemon relies on.
func TestUnitVerifies(t *testing.T) {
	tmpl, err := os.ReadFile("ferryd.service.in")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// verify checks that ExecStart's binary exists; any executable will do.
	if err := os.Symlink("/bin/true", filepath.Join(dir, "ferryd")); err != nil {
		t.Fatal(err)
	}
	unit := strings.NewReplacer("@BINDIR@", dir, "@SYSCONFDIR@", "/etc").Replace(string(tmpl))
	for _, want := range []string{
		"Type=notify", "ExecStart=" + dir + "/ferryd --config /etc/ferry/ferryd.conf",
		"ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure", "StateDirectory=ferry",
		"RuntimeDirectory=ferry", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
		"PrivateTmp=yes", "CapabilityBoundingSet=\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("ferryd.service lacks %q", want)
		}
	}
	if strings.Contains(unit, "@BINDIR@") || strings.Contains(unit, "@SYSCONFDIR@") {
		t.Errorf("unsubstituted placeholder in\n%s", unit)
	}
	path := filepath.Join(dir, "ferryd.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze: unit not verified")
	}
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
