package packaging

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// skipOrFail skips, or fails under FERRY_REQUIRE_OVS=1 (as CI runs) so
// that a machine missing the prerequisites cannot pass silently.
func skipOrFail(t *testing.T, reason string) {
	t.Helper()
	if os.Getenv("FERRY_REQUIRE_OVS") == "1" {
		t.Fatalf("%s, and FERRY_REQUIRE_OVS=1", reason)
	}
	t.Skipf("skipping: %s (set FERRY_REQUIRE_OVS=1 to fail instead)", reason)
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// dpkg runs dpkg, retrying while another process holds the dpkg lock.
func dpkg(args ...string) ([]byte, error) {
	for i := 0; ; i++ {
		out, err := exec.Command("dpkg", args...).CombinedOutput()
		if err == nil || i == 60 || !strings.Contains(string(out), "lock") {
			return out, err
		}
		time.Sleep(time.Second)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestDebInstalls builds the .deb, installs it with dpkg -i, checks its
// files, starts the installed unit's ExecStart line on loopback until
// /healthz answers, then purges it and checks nothing is left. PID 1 here
// (and in CI containers) is not systemd, so systemctl cannot start the unit:
// the test runs the ExecStart line itself, as systemd would.
func TestDebInstalls(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "not root: cannot dpkg -i")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb", "ovsdb-server", "git", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "no "+tool)
		}
	}
	// Two runs at once would purge each other's package.
	lock, err := os.OpenFile("/run/ferry-deb-test.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	// Never clobber an operator's install.
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "ferry").Output(); err == nil && strings.Contains(string(out), "installed") && !strings.Contains(string(out), "not-installed") {
		t.Skipf("skipping: a ferry package is installed (%s)", out)
	}
	for _, p := range []string{"/etc/ferry", "/usr/bin/ferryd", "/var/lib/ferry"} {
		if _, err := os.Stat(p); err == nil {
			t.Skipf("skipping: %s exists; not touching an existing install", p)
		}
	}

	out := t.TempDir()
	bin := "../bin" // make build's output, ignored by git
	if b, err := exec.Command("make", "-C", "..", "deb", "DEBOUT="+out).CombinedOutput(); err != nil {
		t.Fatalf("make deb: %v\n%s", err, b)
	}
	debs, _ := filepath.Glob(filepath.Join(out, "ferry_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb left %v in %s", debs, out)
	}

	var files []string
	t.Cleanup(func() {
		if b, err := dpkg("--purge", "ferry"); err != nil {
			t.Errorf("dpkg --purge ferry: %v\n%s", err, b)
		}
		if b, _ := exec.Command("dpkg-query", "-W", "-f=${Status}", "ferry").Output(); strings.Contains(string(b), " installed") {
			t.Errorf("after purge, dpkg says ferry is %q", b)
		}
		for _, p := range append(files, "/etc/ferry", "/var/lib/ferry", "/run/ferry") {
			if _, err := os.Lstat(p); err == nil && !isSharedDir(p) {
				t.Errorf("after purge, %s is left", p)
			}
		}
	})
	if b, err := dpkg("-i", debs[0]); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, b)
	}
	files = strings.Fields(run(t, "dpkg", "-L", "ferry"))
	for _, want := range []string{
		"/usr/bin/ferryd", "/usr/bin/ferryctl", "/lib/systemd/system/ferryd.service",
		"/etc/ferry/ferryd.conf", "/usr/share/man/man8/ferryd.8.gz",
		"/usr/share/doc/ferry/copyright",
	} {
		if !contains(files, want) {
			t.Errorf("dpkg -L ferry lacks %s", want)
		}
	}
	// ferryctl's pages and completion exist once ferryctl has man/completion.
	if exec.Command(filepath.Join(bin, "ferryctl"), "man", "--help").Run() == nil {
		for _, want := range []string{"/usr/share/man/man1/ferryctl.1.gz", "/usr/share/bash-completion/completions/ferryctl"} {
			if !contains(files, want) {
				t.Errorf("dpkg -L ferry lacks %s", want)
			}
		}
	}
	if c := run(t, "dpkg-query", "-W", "-f=${Conffiles}", "ferry"); !strings.Contains(c, "/etc/ferry/ferryd.conf") {
		t.Errorf("conffiles = %q, want /etc/ferry/ferryd.conf", c)
	}
	if c, err := os.ReadFile("/usr/share/doc/ferry/copyright"); err != nil || !strings.Contains(string(c), "License: Apache-2.0") {
		t.Errorf("copyright: %v %q", err, c)
	}
	commit := strings.TrimSpace(run(t, "git", "rev-parse", "HEAD"))
	if v := run(t, "/usr/bin/ferryd", "--version"); !strings.Contains(v, commit) {
		t.Errorf("ferryd --version = %q, want commit %s", v, commit)
	}

	exe := execStart(t, "/lib/systemd/system/ferryd.service")
	api := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append(exe[1:], "--api", api,
		"--openflow", fmt.Sprintf("ptcp:%d:127.0.0.1", freePort(t)), "--data-dir", t.TempDir())
	d := exec.Command(exe[0], args...)
	var log strings.Builder
	d.Stdout, d.Stderr = &log, &log
	d.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- d.Wait() }()
	defer func() {
		_ = d.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = d.Process.Kill()
			<-exited
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + api + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("installed ferryd exited: %v\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not ok within 20s (%v)\n%s", err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := d.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("ferryd on SIGTERM: %v\n%s", err, log.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("ferryd did not stop on SIGTERM\n%s", log.String())
	}
}

// execStart is the ExecStart= command of the unit file at path, split on
// blanks (ferryd's line has no quoting).
func execStart(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "ExecStart="); ok {
			if f := strings.Fields(v); len(f) > 0 {
				return f
			}
		}
	}
	t.Fatalf("%s has no ExecStart=", path)
	return nil
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// isSharedDir: directories dpkg -L lists that other packages own too.
func isSharedDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir() && !strings.Contains(p, "ferry")
}
