package main

import (
	"strings"
	"testing"
)

// TestTraceAppctlFlag: --trace-appctl takes CHASSIS=TARGET pairs, comma-
// separated and repeated, and refuses anything else naming the pair.
func TestTraceAppctlFlag(t *testing.T) {
	var cfg config
	fs := newFlags(&cfg)
	if err := fs.Parse([]string{"--trace-appctl", "hv1=/run/hv1,hv2=/run/ovs-vswitchd.7.ctl", "--trace-appctl", "hv3=/srv/hv3"}); err != nil {
		t.Fatal(err)
	}
	if len(cfg.traceAppctl) != 3 || cfg.traceAppctl["hv2"] != "/run/ovs-vswitchd.7.ctl" || cfg.traceAppctl["hv3"] != "/srv/hv3" {
		t.Fatalf("targets %v", cfg.traceAppctl)
	}
	if got := cfg.traceAppctl.String(); got != "hv1=/run/hv1,hv2=/run/ovs-vswitchd.7.ctl,hv3=/srv/hv3" {
		t.Fatalf("String %q", got)
	}
	for _, bad := range []string{"hv1", "=/run", "hv1="} {
		var a appctlTargets
		if err := a.Set(bad); err == nil || !strings.Contains(err.Error(), "CHASSIS=TARGET") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
