// Package resttest provides in-memory fakes of rest.Backend and
// rest.Status, for tests of the REST API and of its clients (ferryctl).
// The fake backend follows internal/nbdb's rules (unique names, VNIs and
// iface_ids, lowest-free VNI allocation, one generation per change) and
// returns the same error kinds.
package resttest
