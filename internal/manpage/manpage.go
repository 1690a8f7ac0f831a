package manpage

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// Page is one manual page.
type Page struct {
	Name    string // ferryd
	Section string // 8
	Source  string // "ferry 0.4.0": the footer's left side
	Manual  string // "ferry manual": the header's centre
	Summary string // the NAME line after "ferryd \-"
	// Synopsis follows the bold name; it is roff, printed as is.
	Synopsis string
	// Description and each Section's Body are prose: paragraphs separated
	// by blank lines; a paragraph whose lines all start with a tab is
	// printed verbatim (an example).
	Description string
	Flags       *flag.FlagSet
	Hidden      []string // flags left out of OPTIONS
	Sections    []Section
}

// Section is a titled part after OPTIONS (FILES, SIGNALS, SEE ALSO…).
type Section struct {
	Title string
	Body  string
}

// Write renders p as roff.
func Write(w io.Writer, p Page) error {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s %s \"\" %s %s\n", quote(strings.ToUpper(p.Name)), p.Section, quote(p.Source), quote(p.Manual))
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", escape(p.Name), escape(p.Summary))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n%s\n", escape(p.Name), p.Synopsis)
	b.WriteString(".SH DESCRIPTION\n")
	prose(&b, p.Description)
	if p.Flags != nil {
		b.WriteString(".SH OPTIONS\n")
		p.Flags.VisitAll(func(f *flag.Flag) {
			if slices.Contains(p.Hidden, f.Name) {
				return
			}
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(&b, ".TP\n\\fB\\-\\-%s\\fR", escape(f.Name))
			if name != "" {
				fmt.Fprintf(&b, " \\fI%s\\fR", escape(name))
			}
			b.WriteString("\n")
			if !zero(f.DefValue) {
				def := f.DefValue
				if fmt.Sprintf("%T", f.Value) == "*flag.stringValue" { // as flag.PrintDefaults
					def = strconv.Quote(def)
				}
				usage += " (default " + def + ")"
			}
			b.WriteString(line(usage) + "\n")
		})
	}
	for _, s := range p.Sections {
		fmt.Fprintf(&b, ".SH %s\n", quote(strings.ToUpper(s.Title)))
		prose(&b, s.Body)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func zero(def string) bool {
	switch def {
	case "", "0", "false", "0s":
		return true
	}
	return false
}

// prose writes paragraphs: .PP before each, verbatim blocks in .nf/.fi.
func prose(b *strings.Builder, text string) {
	for i, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		lines := strings.Split(strings.Trim(para, "\n"), "\n")
		verbatim := true
		for _, l := range lines {
			verbatim = verbatim && strings.HasPrefix(l, "\t")
		}
		if verbatim {
			b.WriteString(".PP\n.RS 4\n.nf\n")
			for _, l := range lines {
				b.WriteString(line(strings.TrimPrefix(l, "\t")) + "\n")
			}
			b.WriteString(".fi\n.RE\n")
			continue
		}
		if i > 0 {
			b.WriteString(".PP\n")
		}
		for _, l := range lines {
			if l = strings.TrimSpace(l); l != "" {
				b.WriteString(line(l) + "\n")
			}
		}
	}
}

// line escapes one output line and keeps it from being read as a request.
func line(s string) string {
	s = escape(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// escape makes text literal in roff: backslashes, and minus signs (which
// roff would print as hyphens, breaking copy and paste of flags).
func escape(s string) string {
	return strings.NewReplacer(`\`, `\e`, `-`, `\-`).Replace(s)
}

// quote is a macro argument.
func quote(s string) string {
	return `"` + strings.ReplaceAll(escape(s), `"`, `\(dq`) + `"`
}

// Lint runs groff over page with every warning on and returns what it
// printed; err is exec.ErrNotFound (wrapped) without groff.
func Lint(page string) (warnings string, err error) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		return "", fmt.Errorf("manpage: %w", err)
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil && out.Len() == 0 {
		return "", fmt.Errorf("manpage: groff: %w", err)
	}
	return out.String(), nil
}
