package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokensFileModeWarning: a tokens file that group or others may read
// or write is warned about at start and on every reload (SIGHUP); one
// only its owner can use is not.
func TestTokensFileModeWarning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("0123456789abcdef0123456789abcdef admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const warning = "--api-tokens file is readable or writable by group or others"
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := config{apiTokens: path}
	load := func(mode os.FileMode) *security {
		t.Helper()
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		logs.Reset()
		sec, err := loadSecurity(cfg, logger)
		if err != nil {
			t.Fatal(err)
		}
		return sec
	}

	load(0o600)
	if strings.Contains(logs.String(), warning) {
		t.Fatalf("mode 0600 warned: %s", logs.String())
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o620, 0o602, 0o604} {
		load(mode)
		if got := logs.String(); !strings.Contains(got, warning) || !strings.Contains(got, fmt.Sprintf("mode=%04o", mode)) {
			t.Errorf("mode %04o: log %q lacks the warning with the mode", mode, got)
		}
	}

	// Reload: warned again while the mode stays lax, silent once fixed.
	sec := load(0o600)
	os.Chmod(path, 0o644)
	logs.Reset()
	sec.reload(cfg, logger)
	if !strings.Contains(logs.String(), warning) {
		t.Errorf("reload of a 0644 file: no warning in %q", logs.String())
	}
	os.Chmod(path, 0o600)
	logs.Reset()
	sec.reload(cfg, logger)
	if got := logs.String(); strings.Contains(got, warning) || !strings.Contains(got, "reloaded --api-tokens") {
		t.Errorf("reload of a 0600 file: %q", got)
	}
}
