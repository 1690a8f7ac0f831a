package metricslint

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Exempt are prefixes of metrics ferry exports but does not name: the Go
// runtime and process collectors.
var Exempt = []string{"go_", "process_", "promhttp_"}

// Forbidden are label names whose values would be one per MAC, port or
// interface: a series per guest is not what Prometheus is for.
var Forbidden = []string{"mac", "port", "iface", "interface", "iface_id", "vif", "ofport", "ip"}

var (
	nameRE  = regexp.MustCompile(`^ferry_[a-z]+_[a-z_]+$`)
	labelRE = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	fqRE    = regexp.MustCompile(`fqName: "([^"]*)"`)
	helpRE  = regexp.MustCompile(`help: "((?:[^"\\]|\\.)*)"`)
	varRE   = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
)

// Desc is what a prometheus.Desc says of a metric.
type Desc struct {
	Name   string
	Help   string
	Labels []string // variable labels
}

// ParseDesc reads a prometheus.Desc, which has no accessors, from its
// String form.
func ParseDesc(d *prometheus.Desc) Desc {
	s := d.String()
	var out Desc
	if m := fqRE.FindStringSubmatch(s); m != nil {
		out.Name = m[1]
	}
	if m := helpRE.FindStringSubmatch(s); m != nil {
		out.Help = m[1]
	}
	if m := varRE.FindStringSubmatch(s); m != nil && m[1] != "" {
		for _, l := range strings.Split(m[1], ",") {
			// Constrained labels print as c(name).
			out.Labels = append(out.Labels, strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"))
		}
	}
	return out
}

// Descs lists what c describes.
func Descs(c prometheus.Collector) []Desc {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	var out []Desc
	for d := range ch {
		out = append(out, ParseDesc(d))
	}
	return out
}

// Touch creates one child with placeholder label values in every vector
// among cs, so that a registry gathers a family for each: an empty vector
// exports nothing, and its type could not be checked.
func Touch(cs ...prometheus.Collector) {
	for _, c := range cs {
		for _, d := range Descs(c) {
			values := make([]string, len(d.Labels))
			for i := range values {
				values[i] = "lint"
			}
			switch v := c.(type) {
			case *prometheus.GaugeVec:
				v.WithLabelValues(values...)
			case *prometheus.CounterVec:
				v.WithLabelValues(values...)
			case *prometheus.HistogramVec:
				v.WithLabelValues(values...)
			case *prometheus.SummaryVec:
				v.WithLabelValues(values...)
			case interface {
				WithLabelValues(...string) prometheus.Counter
			}:
				// A collector around an embedded CounterVec.
				v.WithLabelValues(values...)
			}
		}
	}
}

// Check lints every metric registered on reg and returns what breaks the
// rules. Every described metric must also be gathered (Touch its vectors
// first): types are only known from samples.
func Check(reg *prometheus.Registry) []error {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("metricslint: %s: %s", name, fmt.Sprintf(format, args...)))
	}
	families, err := reg.Gather()
	if err != nil {
		errs = append(errs, fmt.Errorf("metricslint: gather: %w", err))
	}
	types := make(map[string]dto.MetricType, len(families))
	for _, f := range families {
		types[f.GetName()] = f.GetType()
	}
	for _, d := range Descs(reg) {
		if exempt(d.Name) {
			continue
		}
		if !nameRE.MatchString(d.Name) || strings.HasSuffix(d.Name, "_") || strings.Contains(d.Name, "__") {
			fail(d.Name, "name does not match ferry_<subsystem>_<name>[_<unit>] (%s)", nameRE)
		}
		if d.Help == "" {
			fail(d.Name, "no help text")
		}
		for _, l := range d.Labels {
			if slices.Contains(Forbidden, l) {
				fail(d.Name, "label %q has a value per MAC, port or interface", l)
			} else if !labelRE.MatchString(l) {
				fail(d.Name, "label %q is not lower_snake_case", l)
			}
		}
		typ, ok := types[d.Name]
		if !ok {
			fail(d.Name, "registered but not gathered: touch its vector before linting")
			continue
		}
		errs = append(errs, checkType(d.Name, typ)...)
	}
	return errs
}

func checkType(name string, typ dto.MetricType) []error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("metricslint: %s: %s", name, fmt.Sprintf(format, args...)))
	}
	counter := typ == dto.MetricType_COUNTER
	distribution := typ == dto.MetricType_HISTOGRAM || typ == dto.MetricType_SUMMARY ||
		typ == dto.MetricType_GAUGE_HISTOGRAM
	switch {
	case counter && !strings.HasSuffix(name, "_total"):
		fail("a counter must end in _total")
	case !counter && strings.HasSuffix(name, "_total"):
		fail("only counters end in _total (this is a %s)", typ)
	}
	switch {
	case distribution && !strings.HasSuffix(name, "_seconds") && !strings.HasSuffix(name, "_bytes"):
		fail("a %s must be of durations (_seconds) or sizes (_bytes)", typ)
	case !distribution && strings.HasSuffix(name, "_seconds") && !strings.HasSuffix(name, "_timestamp_seconds"):
		// Durations are histograms, so that quantiles can be aggregated
		// across devices; a Unix time (_timestamp_seconds) is a gauge.
		fail("a duration must be a histogram, not a %s", typ)
	}
	return errs
}

func exempt(name string) bool {
	for _, p := range Exempt {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
