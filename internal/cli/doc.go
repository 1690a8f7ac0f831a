// Package cli is ferryctl: a command-line client of ferry's REST API in
// the style of kubectl and ovn-nbctl.
//
//	ferryctl [global flags] NOUN VERB [flags] ARGS
//
// Global flags (--server, --token, -o, --timeout) are accepted before the
// noun and among the command's own flags; flags and arguments may be mixed
// (`ferryctl switch create blue --vni 5`). Only the standard library is
// used: the flag package, parsed again after each positional argument.
//
// Output is a human table by default and the server's JSON as received with
// -o json, so that scripts see exactly what the API returns. Exit codes:
// 0 success, 1 the server refused (its message and HTTP status are
// printed), could not be reached, or `wait` timed out, 2 usage errors.
package cli
