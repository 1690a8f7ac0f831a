// Package ratelog rate-limits log lines per key: a peer that is refused
// retries every second or so forever, and one line a minute per peer says
// as much as sixty. It is a leaf, so that the device-facing packages
// (ovsdb, openflow) can share it.
package ratelog
