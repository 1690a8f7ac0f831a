// Package cli is ferryctl: a command-line client of ferry's REST API in
// the style of kubectl and ovn-nbctl.
//
//	ferryctl [global flags] NOUN VERB [flags] ARGS
//
// The command tree is cobra's (as kubectl's): global flags (--server,
// --token, -o, --timeout) are persistent flags accepted before the noun
// and among the command's own; flags and arguments may be mixed
// (`ferryctl switch create blue --vni 5`). Each command's usage line is
// also the specification of its positional arguments, checked before it
// runs. Cobra also gives shell completion (names come from the API),
// suggestions and the man pages. The wire types are rest/api's and targets
// are checked with ovsdb/target, so that ferryctl links neither the
// server, the northbound store nor an OVSDB client (internal/deps checks
// it).
//
// `ferryctl apply -f FILE` is declarative: each switch in a JSON or YAML
// file (gopkg.in/yaml.v3) becomes one PUT /v1/switches/{name}.
//
// Output is a human table by default (-o wide: more columns), the server's
// JSON as received with -o json, so that scripts see exactly what the API
// returns, or the same as YAML with -o yaml. Creates take --may-exist and
// deletes --if-exists, as in ovn-nbctl. Exit codes:
// 0 success, 1 the server refused (its message and HTTP status are
// printed), could not be reached, or `wait` timed out, 2 usage errors.
//
// `ferryctl host join` is the exception to "a client of the API": it runs
// on a hypervisor and configures the local Open vSwitch for ferry
// (system-id, manager, bridge, optionally controller) with ovs-vsctl,
// through go-openvswitch's ovs package, then optionally registers the host
// (POST /v1/chassis). It reads first and changes only what differs, so that
// it can run again and again; --dry-run prints the commands instead.
package cli
