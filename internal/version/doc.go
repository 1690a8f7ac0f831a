// Package version says which build of ferry is running: the version and
// commit the Makefile stamps in with -ldflags -X, or, for a plain `go
// build`/`go install`, what the Go toolchain recorded in the binary (module
// version, vcs.revision).
package version
