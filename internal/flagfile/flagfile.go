package flagfile

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxSize bounds a configuration file: it is input, and a flag set has a
// few dozen settings.
const MaxSize = 1 << 20

// Setting is one line that sets a flag. Bare is true for a name alone
// (a boolean flag meaning true).
type Setting struct {
	Line  int
	Name  string
	Value string
	Bare  bool
}

// Parse reads settings, checking syntax only: Apply checks them against
// a flag set. Errors name the line.
func Parse(r io.Reader) ([]Setting, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("flagfile: %w", err)
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("flagfile: larger than %d bytes", MaxSize)
	}
	out := []Setting{}
	seen := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, MaxSize+1)
	for n := 1; sc.Scan(); n++ {
		s, ok, err := parseLine(sc.Text())
		if err != nil {
			return nil, &LineError{Line: n, Err: err}
		}
		if !ok {
			continue
		}
		if first, dup := seen[s.Name]; dup {
			return nil, &LineError{Line: n, Err: fmt.Errorf("%s is already set on line %d", s.Name, first)}
		}
		seen[s.Name] = n
		s.Line = n
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("flagfile: %w", err)
	}
	return out, nil
}

// parseLine returns ok false for a blank or comment line.
func parseLine(line string) (Setting, bool, error) {
	if !utf8.ValidString(line) {
		return Setting{}, false, errors.New("not UTF-8")
	}
	rest := strings.TrimSpace(line)
	if rest == "" || rest[0] == '#' {
		return Setting{}, false, nil
	}
	rest = strings.TrimPrefix(rest, "-")
	rest = strings.TrimPrefix(rest, "-")
	end := 0
	for end < len(rest) && isNameByte(rest[end], end) {
		end++
	}
	name := rest[:end]
	if name == "" {
		return Setting{}, false, fmt.Errorf("want name = value, got %q", clip(line))
	}
	rest = strings.TrimSpace(rest[end:])
	if rest == "" || rest[0] == '#' {
		return Setting{Name: name, Bare: true}, true, nil
	}
	if rest[0] != '=' {
		return Setting{}, false, fmt.Errorf("want name = value, got %q", clip(line))
	}
	value, err := parseValue(strings.TrimSpace(rest[1:]))
	if err != nil {
		return Setting{}, false, fmt.Errorf("%s: %w", name, err)
	}
	return Setting{Name: name, Value: value}, true, nil
}

func isNameByte(c byte, i int) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	case c == '-' || c == '_' || c == '.':
		return i > 0
	}
	return false
}

// parseValue takes what follows "=": a Go-quoted string, or the text up to
// a "#" that follows a blank (an inline comment).
func parseValue(v string) (string, error) {
	if strings.HasPrefix(v, `"`) {
		q, err := strconv.QuotedPrefix(v)
		if err != nil {
			return "", fmt.Errorf("unterminated or malformed quoted value %q", clip(v))
		}
		after := strings.TrimSpace(v[len(q):])
		if after != "" && after[0] != '#' {
			return "", fmt.Errorf("text after the quoted value: %q", clip(after))
		}
		return strconv.Unquote(q)
	}
	for i := 1; i < len(v); i++ {
		if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
			return strings.TrimSpace(v[:i]), nil
		}
	}
	return v, nil
}

func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return s[:max] + "…"
}

// LineError is a mistake on one line of a file.
type LineError struct {
	File string // empty when unknown (Parse)
	Line int
	Err  error
}

func (e *LineError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("flagfile: line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("flagfile: %s: line %d: %v", e.File, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// Apply sets each setting on fs, except flags already set (the command
// line wins). notInFile names flags a file may not set (--config itself,
// --version). Errors are *LineError naming file and line.
func Apply(fs *flag.FlagSet, file string, settings []Setting, notInFile ...string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, s := range settings {
		f := fs.Lookup(s.Name)
		if f == nil || slices.Contains(notInFile, s.Name) {
			what := "unknown setting"
			if f != nil {
				what = "not settable in a configuration file:"
			}
			return &LineError{File: file, Line: s.Line, Err: fmt.Errorf("%s %q", what, s.Name)}
		}
		if set[s.Name] {
			continue
		}
		value := s.Value
		if s.Bare {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				return &LineError{File: file, Line: s.Line, Err: fmt.Errorf("%s needs a value (%s = …)", s.Name, s.Name)}
			}
			value = "true"
		}
		if err := fs.Set(s.Name, value); err != nil {
			return &LineError{File: file, Line: s.Line, Err: fmt.Errorf("%s: %w", s.Name, err)}
		}
	}
	return nil
}

// Load reads path and applies it to fs. A missing file is an error that
// satisfies errors.Is(err, fs.ErrNotExist): the caller decides whether
// that matters (an explicit --config) or not (the default path).
func Load(fs *flag.FlagSet, path string, notInFile ...string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	settings, err := Parse(f)
	if err != nil {
		if le, ok := err.(*LineError); ok {
			le.File = path
			return le
		}
		return fmt.Errorf("flagfile: %s: %w", path, err)
	}
	return Apply(fs, path, settings, notInFile...)
}
