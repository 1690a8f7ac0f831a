package metricslint

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// TestCheckRejects registers one bad metric at a time beside good ones and
// expects exactly the matching complaint.
func TestCheckRejects(t *testing.T) {
	counter := func(name string, labels ...string) prometheus.Collector {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: "h"}, labels)
	}
	gauge := func(name string, labels ...string) prometheus.Collector {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: "h"}, labels)
	}
	histogram := func(name string) prometheus.Collector {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: "h"})
	}
	for _, tc := range []struct {
		name string
		c    prometheus.Collector
		want string // "" = accepted
	}{
		{"good counter", counter("ferry_openflow_flow_mods_total", "device"), ""},
		{"good gauge", gauge("ferry_gateway_local_macs", "gateway"), ""},
		{"good histogram", histogram("ferry_openflow_bundle_duration_seconds"), ""},
		{"timestamp gauge", gauge("ferry_reconcile_last_pass_timestamp_seconds"), ""},
		{"not ferry", gauge("openflow_flows"), "does not match"},
		{"no subsystem", gauge("ferry_tunnels", "state"), "does not match"},
		{"upper case", gauge("ferry_openflow_Flows"), "does not match"},
		{"trailing underscore", gauge("ferry_openflow_flows_"), "does not match"},
		{"counter without _total", counter("ferry_openflow_flow_mods"), "must end in _total"},
		{"gauge with _total", gauge("ferry_openflow_flows_total"), "only counters"},
		{"histogram without unit", histogram("ferry_openflow_bundle_duration"), "durations (_seconds)"},
		{"histogram in ms", histogram("ferry_openflow_bundle_duration_milliseconds"), "durations (_seconds)"},
		{"gauge of seconds", gauge("ferry_reconcile_pass_duration_seconds"), "must be a histogram"},
		{"mac label", gauge("ferry_gateway_local_macs", "gateway", "mac"), `label "mac"`},
		{"port label", counter("ferry_reconcile_passes_total", "port"), `label "port"`},
		{"iface label", gauge("ferry_openflow_flows", "iface"), `label "iface"`},
		{"interface label", gauge("ferry_openflow_flows", "interface"), `label "interface"`},
		{"camel label", gauge("ferry_openflow_flows", "deviceName"), "lower_snake_case"},
		{"no help", prometheus.NewGauge(prometheus.GaugeOpts{Name: "ferry_openflow_flows"}), "no help"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			reg.MustRegister(tc.c)
			Touch(tc.c)
			errs := Check(reg)
			if tc.want == "" {
				for _, err := range errs {
					t.Error(err)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Fatalf("errors %v, want one containing %q", errs, tc.want)
			}
		})
	}
}

// TestCheckUntouched: an empty vector exports nothing; Check must say so
// rather than pass it unchecked.
func TestCheckUntouched(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ferry_openflow_flow_mods", Help: "h"}, []string{"device"}))
	errs := Check(reg)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "not gathered") {
		t.Fatalf("errors %v, want one saying the vector was not gathered", errs)
	}
}

func TestParseDesc(t *testing.T) {
	d := prometheus.NewDesc("ferry_device_connected", `says "up"`, []string{"device", "channel"}, nil)
	got := ParseDesc(d)
	if got.Name != "ferry_device_connected" || got.Help != `says \"up\"` || strings.Join(got.Labels, ",") != "device,channel" {
		t.Fatalf("ParseDesc = %+v", got)
	}
}
