// Package events keeps what ferry noticed happening to devices behind its
// back — drift: its state on a device changed by someone else — in a
// bounded ring that GET /v1/events reads, with a counter per kind.
package events
