//go:build !race

package ovsdb

const raceEnabled = false
