// Package manpage writes a roff man(7) page from a flag.FlagSet and a few
// prose sections, so that a daemon's manual lists exactly the flags the
// binary has: the page is generated at build time (make man), never
// edited by hand.
package manpage
