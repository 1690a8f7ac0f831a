package manpage

import (
	"bytes"
	"errors"
	"flag"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	fs := flag.NewFlagSet("ferryd", flag.ContinueOnError)
	fs.String("api", "127.0.0.1:8470", "REST API listen address `host:port`")
	fs.Bool("metrics-auth", false, "require a token on /metrics")
	fs.Duration("resync", time.Minute, "period of passes")
	fs.String("help-man", "", "hidden")
	var b bytes.Buffer
	err := Write(&b, Page{
		Name: "ferryd", Section: "8", Source: "ferry v1", Manual: "ferry manual",
		Summary: "the ferry controller", Synopsis: "[\\fIoptions\\fR]",
		Description: "First paragraph\nstill first.\n\n.starts with a dot\n\n\tverbatim --x\n\tline two",
		Flags:       fs, Hidden: []string{"help-man"},
		Sections: []Section{{"Files", "/etc/ferry/ferryd.conf"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		`.TH "FERRYD" 8 "" "ferry v1" "ferry manual"`,
		"ferryd \\- the ferry controller",
		"\\fB\\-\\-api\\fR \\fIhost:port\\fR\nREST API listen address host:port (default \"127.0.0.1:8470\")\n",
		"\\fB\\-\\-metrics\\-auth\\fR\nrequire a token on /metrics\n",
		"(default 1m0s)",
		"\\&.starts with a dot",
		".nf\nverbatim \\-\\-x\nline two\n.fi",
		".SH \"FILES\"\n/etc/ferry/ferryd.conf",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "help") {
		t.Errorf("hidden flag listed:\n%s", out)
	}
	switch warnings, err := Lint(out); {
	case errors.Is(err, exec.ErrNotFound):
		t.Log("no groff: the page is not linted")
	case err != nil:
		t.Fatal(err)
	case warnings != "":
		t.Errorf("groff warns:\n%s\npage:\n%s", warnings, out)
	}
	if w, err := Lint(".TH X 1\n.SH NAME\n\\fBbad\n.nosuchmacro\n"); err == nil && w == "" {
		t.Error("Lint passed a broken page")
	}
}
