package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/flagfile"
	"github.com/ferry-sdn/ferry/internal/manpage"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigFile: the file sets what the command line leaves unset; the
// command line wins; errors name the line.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "ferryd.conf", "# test\napi = 127.0.0.1:1\nopenflow = punix:/run/of.sock # inline\nmetrics-auth\nresync = 5s\nlog-format = json\n")
	cfg, _, err := parseFlags([]string{"--config", conf, "--api", "127.0.0.1:2", "--resync=7s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.api != "127.0.0.1:2" || cfg.resync != 7*time.Second {
		t.Errorf("command line lost to the file: api %q resync %v", cfg.api, cfg.resync)
	}
	if cfg.openflow != "punix:/run/of.sock" || !cfg.metricsAuth || cfg.logFormat != "json" || cfg.configFile != conf {
		t.Errorf("file not applied: %+v", cfg)
	}
	if cfg.dataDir != "/var/lib/ferry" {
		t.Errorf("default lost: data-dir %q", cfg.dataDir)
	}

	for _, c := range []struct {
		file string
		args []string
		want string
	}{
		{"api = 1\n\napii = 2\n", nil, `--config: flagfile: %s: line 3: unknown setting "apii"`},
		{"version\n", nil, `--config: flagfile: %s: line 1: not settable in a configuration file: "version"`},
		{"api-max-conns = 0\n", nil, "--api-max-conns: 0: must be at least 1"},
		{"resync = often\n", nil, "--config: flagfile: %s: line 1: resync: parse error"},
		{"", []string{"extra"}, `unexpected arguments ["extra"]`},
	} {
		p := writeFile(t, dir, "bad.conf", c.file)
		_, _, err := parseFlags(append([]string{"--config", p}, c.args...), io.Discard)
		want := strings.ReplaceAll(c.want, "%s", p)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %q", c.file, err, want)
		}
	}
	if _, _, err := parseFlags([]string{"--config", filepath.Join(dir, "missing.conf")}, io.Discard); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("an explicit missing file: %v, want an error", err)
	}
}

// TestDefaultConfig: the default file is read when present, ignored when
// missing, and --config "" reads none.
func TestDefaultConfig(t *testing.T) {
	dir := t.TempDir()
	saved := defaultConfig
	t.Cleanup(func() { defaultConfig = saved })

	defaultConfig = filepath.Join(dir, "missing.conf")
	cfg, _, err := parseFlags(nil, io.Discard)
	if err != nil || cfg.configFile != "" || cfg.api != "127.0.0.1:8470" {
		t.Errorf("missing default: %v, config %q api %q", err, cfg.configFile, cfg.api)
	}
	defaultConfig = writeFile(t, dir, "ferryd.conf", "api = 127.0.0.1:3\n")
	if cfg, _, err = parseFlags(nil, io.Discard); err != nil || cfg.api != "127.0.0.1:3" || cfg.configFile != defaultConfig {
		t.Errorf("default present: %v, config %q api %q", err, cfg.configFile, cfg.api)
	}
	if cfg, _, err = parseFlags([]string{"--config="}, io.Discard); err != nil || cfg.api != "127.0.0.1:8470" {
		t.Errorf("--config '': %v, api %q", err, cfg.api)
	}
}

var settingRE = regexp.MustCompile(`^#([a-z][a-z0-9-]*) =(?: (.*))?$`)

// TestPackagedConfig: the shipped /etc/ferry/ferryd.conf names every
// settable flag with its default (commented out), and loads as it is and
// with every setting uncommented.
func TestPackagedConfig(t *testing.T) {
	data, err := os.ReadFile("../../packaging/ferryd.conf")
	if err != nil {
		t.Fatal(err)
	}
	var defaults config
	fs := newFlags(&defaults)
	listed := map[string]bool{}
	var uncommented strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if m := settingRE.FindStringSubmatch(sc.Text()); m != nil {
			listed[m[1]] = true
			f := fs.Lookup(m[1])
			if f == nil {
				t.Errorf("ferryd.conf lists %q, which is no flag", m[1])
			} else if m[2] != f.DefValue {
				t.Errorf("ferryd.conf: %s = %q, but the default is %q", m[1], m[2], f.DefValue)
			}
			uncommented.WriteString(m[1] + " = " + m[2] + "\n")
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if !listed[f.Name] && f.Name != "config" && f.Name != "version" {
			t.Errorf("ferryd.conf does not list --%s", f.Name)
		}
	})
	for name, text := range map[string]string{"as shipped": string(data), "uncommented": uncommented.String()} {
		settings, err := flagfile.Parse(strings.NewReader(text))
		if err == nil {
			var cfg config
			err = flagfile.Apply(newFlags(&cfg), "ferryd.conf", settings, notInFile...)
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestLogFormat: json is one object per line; text is logfmt; anything
// else is refused.
func TestLogFormat(t *testing.T) {
	var b bytes.Buffer
	l, err := newLogger(&b, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("ferryd running", "api", "http://127.0.0.1:1")
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil || line["msg"] != "ferryd running" || line["level"] != "DEBUG" || line["api"] != "http://127.0.0.1:1" {
		t.Errorf("json: %v %q", err, b.String())
	}
	b.Reset()
	if l, err = newLogger(&b, "text", "warn"); err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "k", "v")
	if !strings.Contains(b.String(), `level=WARN msg=shown k=v`) || strings.Contains(b.String(), "hidden") {
		t.Errorf("text: %q", b.String())
	}
	if _, err := newLogger(&b, "xml", "info"); err == nil || err.Error() != `--log-format: "xml": want text or json` {
		t.Errorf("xml: %v", err)
	}
}

// TestLogFormatJSONProcess: the real binary logs JSON from its first line
// to its last, the failure included.
func TestLogFormatJSONProcess(t *testing.T) {
	f := startFerryd(t, "--config=", "--log-format", "json", "--api", "127.0.0.1:0", "--openflow", "pssl:0:127.0.0.1", "--data-dir", t.TempDir())
	code, out := f.exit(t)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	var msgs []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q (%v)", l, err)
		}
		msgs = append(msgs, m["msg"].(string))
	}
	if strings.Join(msgs, "|") != "ferryd starting|ferryd failed" {
		t.Errorf("messages %q", msgs)
	}
}

// TestVersionFlag: --version prints version, commit and Go version and
// exits 0 without starting anything.
func TestVersionFlag(t *testing.T) {
	f := startFerryd(t, "--version", "--config", "/nonexistent")
	code, out := f.exit(t)
	if code != 0 || !regexp.MustCompile(`^ferryd \S+ \(commit \S+, go1\.\S+\)\n$`).MatchString(out) {
		t.Errorf("exit %d, output %q", code, out)
	}
}

// TestManPage: ferryd.8 lists every flag but the hidden --help-man, and
// groff has nothing to say about it.
func TestManPage(t *testing.T) {
	var b bytes.Buffer
	if err := writeMan(&b); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	var cfg config
	newFlags(&cfg).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(page, `\fB\-\-`+strings.ReplaceAll(f.Name, "-", `\-`)+`\fR`) {
			t.Errorf("ferryd.8 lacks --%s", f.Name)
		}
	})
	for _, want := range []string{".TH \"FERRYD\" 8", ".SH \"CONFIGURATION FILE\"", ".SH \"SIGNALS\"", "/etc/ferry/ferryd.conf"} {
		if !strings.Contains(page, want) {
			t.Errorf("ferryd.8 lacks %q", want)
		}
	}
	if w, err := manpage.Lint(page); err == nil && w != "" {
		t.Errorf("groff warns:\n%s", w)
	} else if err != nil {
		t.Log(err)
	}
	// The hidden flag works on the binary itself.
	f := startFerryd(t, "--help-man")
	if code, out := f.exit(t); code != 0 || !strings.HasPrefix(out, `.TH "FERRYD" 8`) {
		t.Errorf("--help-man: exit %d, %.80q", code, out)
	}
}

// TestHUPConfigCheck: on SIGHUP a changed file is reported setting by
// setting (they take effect on restart), a broken one as an error.
func TestHUPConfigCheck(t *testing.T) {
	dir := t.TempDir()
	conf := writeFile(t, dir, "ferryd.conf", "api = 127.0.0.1:1\nresync = 5s\n")
	args := []string{"--config", conf, "--log-level", "debug"}
	_, fs, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&b, nil))
	checkConfigFile(logger, args, fs, conf)
	if b.Len() != 0 {
		t.Errorf("unchanged file: %q", b.String())
	}
	writeFile(t, dir, "ferryd.conf", "api = 127.0.0.1:2\nresync = 5s\nlog-level = error\nlog-format = json\n")
	checkConfigFile(logger, args, fs, conf)
	if !strings.Contains(b.String(), `level=WARN msg="configuration file changed`) || !strings.Contains(b.String(), "settings=api,log-format\n") {
		t.Errorf("changed file (log-level is on the command line): %q", b.String())
	}
	b.Reset()
	writeFile(t, dir, "ferryd.conf", "api = 127.0.0.1:2\nbogus = 1\n")
	checkConfigFile(logger, args, fs, conf)
	if !strings.Contains(b.String(), `level=ERROR msg="configuration file no longer loads`) || !strings.Contains(b.String(), `line 2: unknown setting \"bogus\"`) {
		t.Errorf("broken file: %q", b.String())
	}
}

// TestNotify: under a NOTIFY_SOCKET ferryd says READY=1 once it serves,
// RELOADING=1/READY=1 around SIGHUP and STOPPING=1 on SIGTERM: what
// Type=notify in ferryd.service relies on.
func TestNotify(t *testing.T) {
	needOVSDB(t)
	dir := shortTemp(t)
	sock := filepath.Join(dir, "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	// A fixed port, so that the API can be called the moment READY=1
	// arrives: the log line saying so reaches us through a pipe, later.
	api := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	f := startFerryd(t, "--config=", "--api", api, "--openflow", "punix:"+dir+"/of.sock", "--data-dir", filepath.Join(dir, "data"))
	next := func() string {
		t.Helper()
		buf := make([]byte, 256)
		ln.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := ln.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v\n%s", err, f.output())
		}
		return string(buf[:n])
	}
	if got := next(); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	resp, err := http.Get("http://" + api + "/healthz")
	if err != nil {
		t.Fatalf("READY=1 before the API serves: %v", err)
	}
	resp.Body.Close()
	if _, addr := f.waitRunning(t); addr != api {
		t.Errorf("ferryd running on %s, want %s", addr, api)
	}
	f.cmd.Process.Signal(syscall.SIGHUP)
	if a, b := next(), next(); a != "RELOADING=1" || b != "READY=1" {
		t.Errorf("on SIGHUP: %q, %q", a, b)
	}
	f.cmd.Process.Signal(syscall.SIGTERM)
	if got := next(); got != "STOPPING=1" {
		t.Errorf("on SIGTERM: %q", got)
	}
	if code, _ := f.exit(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}
