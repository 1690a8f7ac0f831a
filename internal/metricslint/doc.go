// Package metricslint checks ferry's Prometheus metrics against its naming
// rules (ferry_<subsystem>_<name>_<unit>, counters ending in _total,
// durations as _seconds histograms, no per-MAC or per-port labels), so that
// dashboards and alert rules can rely on them. Its tests lint a registry
// built the way ferryd builds its own, and check that the example dashboard
// and alert rules in examples/ only use metrics that exist.
package metricslint
