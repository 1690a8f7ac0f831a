// Package crash turns a panic in one connection's handler into a closed
// connection, a log line with the stack and a count, instead of the end
// of ferryd: a bug reached by one client or device must not take down
// every network ferry drives. The count is the metric
// ferry_panics_recovered_total{component}; any non-zero value is a bug to
// report.
package crash
