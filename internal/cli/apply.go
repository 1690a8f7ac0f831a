package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/ferry-sdn/ferry/rest/api"
)

// maxApplyFile bounds what apply reads: a few thousand switches.
const maxApplyFile = 64 << 20

// apply makes every switch a file describes exactly what it says, one PUT
// (one northbound transaction) per switch, in the file's order, like
// `kubectl apply -f`. It stops at the first switch the server refuses;
// the ones before it stay applied.
func (a *app) applyCmd() *cobra.Command {
	var file string
	c := a.leaf("apply -f FILE",
		"make each switch in a JSON or YAML file (one or a list; ports, bindings) exactly what it says, one transaction per switch (-f -: stdin)",
		func([]string) error { return a.apply(file) })
	c.Flags().StringVarP(&file, "filename", "f", "", "the `FILE` of switches (-: standard input)")
	_ = c.MarkFlagFilename("filename", "json", "yaml", "yml")
	a.dryRunFlag(c)
	return c
}

func (a *app) apply(file string) error {
	if a.opts.dryRun {
		return a.diff(file)
	}
	specs, err := a.readSpecs(file)
	if err != nil {
		return err
	}
	var out [][]byte
	for _, spec := range specs {
		ctx, cancel := a.start()
		data, header, err := a.c.doHeader(ctx, http.MethodPut, path("v1", "switches", spec.Name), spec)
		cancel()
		if err != nil {
			return fmt.Errorf("switch %s: %w", spec.Name, err)
		}
		out = append(out, bytes.TrimSpace(data))
		if err := a.say("switch/%s %s", spec.Name, header.Get(api.AppliedHeader)); err != nil {
			return err
		}
	}
	if a.machine() {
		return a.write(fmt.Appendf(nil, "[%s]\n", joinJSON(out)))
	}
	return nil
}

// readSpecs reads and parses the switches of apply's and diff's -f FILE.
func (a *app) readSpecs(file string) ([]api.SwitchSpec, error) {
	if file == "" {
		return nil, a.usage("missing -f FILE")
	}
	data, err := readApplyFile(file)
	if err != nil {
		return nil, err
	}
	specs, err := parseSpecs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("%s: no switch in the file", file)
	}
	return specs, nil
}

// joinJSON joins JSON documents into the inside of a list.
func joinJSON(docs [][]byte) []byte {
	trimmed := make([][]byte, len(docs))
	for i, d := range docs {
		trimmed[i] = bytes.TrimSpace(d)
	}
	return bytes.Join(trimmed, []byte(",\n"))
}

func readApplyFile(name string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxApplyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxApplyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxApplyFile)
	}
	return data, nil
}

// parseSpecs reads switches from JSON or YAML: one switch or a list of
// them, and in YAML any number of documents ("---") of either kind. The
// fields are the API's (api.SwitchSpec); unknown ones are refused here,
// values are checked by the server.
func parseSpecs(data []byte) ([]api.SwitchSpec, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return specsFromJSON(trimmed, "")
	}
	var out []api.SwitchSpec
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if v == nil {
			continue // an empty document
		}
		j, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		specs, err := specsFromJSON(j, fmt.Sprintf("document %d: ", doc))
		if err != nil {
			return nil, err
		}
		out = append(out, specs...)
	}
}

// specsFromJSON decodes one switch or a list of them; where prefixes
// errors with the place in the file.
func specsFromJSON(data []byte, where string) ([]api.SwitchSpec, error) {
	var items []json.RawMessage
	if data[0] == '[' {
		if err := json.Unmarshal(data, &items); err != nil {
			return nil, fmt.Errorf("%s%s", where, jsonError(err))
		}
	} else {
		items = []json.RawMessage{data}
	}
	out := make([]api.SwitchSpec, len(items))
	for i, item := range items {
		at := where
		if data[0] == '[' {
			at = fmt.Sprintf("%sitem %d: ", where, i+1)
		}
		dec := json.NewDecoder(bytes.NewReader(item))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out[i]); err != nil {
			return nil, fmt.Errorf("%s%s", at, jsonError(err))
		}
		if out[i].Name == "" {
			return nil, fmt.Errorf("%sname: required", at)
		}
	}
	return out, nil
}

// jsonError says what encoding/json found wrong without its package
// prefix, naming the field.
func jsonError(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return fmt.Sprintf("%s: must not be a JSON %s", typeErr.Field, typeErr.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}
