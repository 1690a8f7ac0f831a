package cli

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"
)

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// table prints rows under a header, or none when there are no rows.
func table(w io.Writer, none string, header []string, rows [][]string) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, none)
		return err
	}
	tw := newTable(w)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fields prints "Key:  value" lines, aligned.
func fields(w io.Writer, kv ...string) error {
	tw := newTable(w)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[i], kv[i+1])
	}
	return tw.Flush()
}

// emit prints a response: as received with -o json, the same as YAML
// with -o yaml; otherwise decoded and rendered by human.
func emit[T any](a *app, data []byte, human func(v T) error) error {
	if a.machine() {
		return a.write(data)
	}
	var v T
	if err := decode(data, &v); err != nil {
		return err
	}
	return human(v)
}

// write prints a JSON document in the -o format: as it is (json) or as
// YAML.
func (a *app) write(data []byte) error {
	if a.opts.output == formatYAML {
		y, err := toYAML(data)
		if err != nil {
			return err
		}
		data = y
	}
	_, err := a.stdout.Write(data)
	return err
}

// toYAML rewrites JSON as YAML with the same keys in the same order:
// yaml.v3 reads JSON (it is YAML) into nodes, which keep the order; the
// JSON quoting and flow style are dropped so that it reads as YAML. Strings
// with a colon stay quoted: a YAML 1.1 reader (PyYAML) takes a plain
// 12:34:56:00:00:01, a MAC, for a base-60 number.
func toYAML(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("unexpected response from the server: %v", err)
	}
	var plain func(n *yaml.Node)
	plain = func(n *yaml.Node) {
		n.Style &^= yaml.SingleQuotedStyle | yaml.FlowStyle
		if n.Kind != yaml.ScalarNode || !strings.Contains(n.Value, ":") {
			n.Style &^= yaml.DoubleQuotedStyle
		}
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(&doc)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// say prints a confirmation, which -o json and yaml leave out: their
// output is the objects or nothing.
func (a *app) say(format string, args ...any) error {
	if a.machine() {
		return nil
	}
	_, err := fmt.Fprintf(a.stdout, format+"\n", args...)
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func itoa[T ~int | ~int64 | ~uint16 | ~uint32](n T) string { return strconv.FormatInt(int64(n), 10) }

func list(items []string) string {
	if len(items) == 0 {
		return "-"
	}
	return strings.Join(items, ", ")
}
