//go:build race

package ovsdb

const raceEnabled = true
