package flagfile

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	in := strings.Join([]string{
		"# ferryd.conf",
		"",
		"   api = 127.0.0.1:8470",
		"--openflow=ptcp:6653:198.18.255.1   # inline comment",
		"-log-level\t=\tdebug",
		`data-dir = "/var/lib/ferry # not a comment "`,
		`nb = "unix:/run/nb.sock" # after quotes`,
		"metrics-auth",
		"advertise =",
		"resync = 30s#no blank before the hash: part of the value",
		"\t# indented comment",
	}, "\n")
	got, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Setting{
		{Line: 3, Name: "api", Value: "127.0.0.1:8470"},
		{Line: 4, Name: "openflow", Value: "ptcp:6653:198.18.255.1"},
		{Line: 5, Name: "log-level", Value: "debug"},
		{Line: 6, Name: "data-dir", Value: "/var/lib/ferry # not a comment "},
		{Line: 7, Name: "nb", Value: "unix:/run/nb.sock"},
		{Line: 8, Name: "metrics-auth", Bare: true},
		{Line: 9, Name: "advertise", Value: ""},
		{Line: 10, Name: "resync", Value: "30s#no blank before the hash: part of the value"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"api = a\n\n= b", `flagfile: line 3: want name = value, got "= b"`},
		{"api 127.0.0.1:8470", `flagfile: line 1: want name = value, got "api 127.0.0.1:8470"`},
		{"api = a\napi = b", "flagfile: line 2: api is already set on line 1"},
		{"--api = a\napi=b", "flagfile: line 2: api is already set on line 1"},
		{`api = "unterminated`, `flagfile: line 1: api: unterminated or malformed quoted value "\"unterminated"`},
		{`api = "a" b`, `flagfile: line 1: api: text after the quoted value: "b"`},
		{"api = \xff", "flagfile: line 1: not UTF-8"},
		{"-", `flagfile: line 1: want name = value, got "-"`},
		{strings.Repeat("x", MaxSize+1), "flagfile: larger than"},
	} {
		_, err := Parse(strings.NewReader(c.in))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Parse(%.40q): %v, want %q", c.in, err, c.want)
		}
	}
}

type opts struct {
	api, openflow string
	auth          bool
	resync        time.Duration
	conns         int
}

func newFlags(o *opts) *flag.FlagSet {
	fs := flag.NewFlagSet("ferryd", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	fs.StringVar(&o.api, "api", "127.0.0.1:8470", "")
	fs.StringVar(&o.openflow, "openflow", "ptcp:6653", "")
	fs.BoolVar(&o.auth, "metrics-auth", false, "")
	fs.DurationVar(&o.resync, "resync", time.Minute, "")
	fs.IntVar(&o.conns, "api-max-conns", 1024, "")
	fs.String("config", "", "")
	return fs
}

// TestPrecedence: the command line beats the file, the file beats the
// defaults.
func TestPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ferryd.conf")
	os.WriteFile(path, []byte("api = 0.0.0.0:1\nopenflow = ptcp:1\nmetrics-auth\nresync = 5s\n"), 0o644)
	var o opts
	fs := newFlags(&o)
	if err := fs.Parse([]string{"--api", "127.0.0.1:9", "--metrics-auth=false"}); err != nil {
		t.Fatal(err)
	}
	if err := Load(fs, path, "config"); err != nil {
		t.Fatal(err)
	}
	want := opts{api: "127.0.0.1:9", openflow: "ptcp:1", auth: false, resync: 5 * time.Second, conns: 1024}
	if o != want {
		t.Errorf("got %+v, want %+v", o, want)
	}
}

func TestApplyErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ file, want string }{
		{"resync = 5s\n# x\napii = 1", `flagfile: %s: line 3: unknown setting "apii"`},
		{"config = /etc/other.conf", `flagfile: %s: line 1: not settable in a configuration file: "config"`},
		{"api", "flagfile: %s: line 1: api needs a value (api = …)"},
		{"resync = soon", `flagfile: %s: line 1: resync: parse error`},
		{"api-max-conns = lots", `flagfile: %s: line 1: api-max-conns: parse error`},
		{"api = \"x\" y", `flagfile: %s: line 1: api: text after the quoted value`},
	} {
		path := filepath.Join(dir, "c.conf")
		os.WriteFile(path, []byte(c.file), 0o644)
		var o opts
		err := Load(newFlags(&o), path, "config")
		want := fmt.Sprintf(c.want, path)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %q", c.file, err, want)
		}
		var le *LineError
		if !errors.As(err, &le) || le.File != path {
			t.Errorf("%q: %v is not a LineError naming the file", c.file, err)
		}
	}
	var o opts
	if err := Load(newFlags(&o), filepath.Join(dir, "missing.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
}

// FuzzParse: any input parses or fails without panicking, and what parses
// survives formatting back (name = quoted value) unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"api = 127.0.0.1:8470\n--openflow=ptcp:6653 # c\nmetrics-auth\n",
		`data-dir = "/var/lib/ferry # x"` + "\n",
		"# only a comment\n\n\t\n",
		"a = \"\\x00\\u00e9\" # \n-b=\n--c",
		"api = a\napi = b",
		"x = y #\r\nz\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		settings, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		var b strings.Builder
		for _, s := range settings {
			if s.Name == "" || strings.ContainsAny(s.Name, " \t=#\"") {
				t.Fatalf("bad name %q from %q", s.Name, in)
			}
			if s.Bare {
				b.WriteString(s.Name + "\n")
			} else {
				b.WriteString(s.Name + " = " + strconv.Quote(s.Value) + "\n")
			}
		}
		again, err := Parse(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("formatted settings do not parse: %v\n%s", err, b.String())
		}
		for i := range again {
			again[i].Line = settings[i].Line
		}
		if !reflect.DeepEqual(again, settings) {
			t.Fatalf("round trip:\n%+v\n%+v", settings, again)
		}
	})
}
