package ovsdb

import "github.com/ferry-sdn/ferry/ovsdb/target"

// The connection methods live in package target, which clients can link
// without an OVSDB client; these names keep ovsdb.Target and friends for
// the daemon's side.

// Target is a connection method in OVS syntax; see target.Target.
type Target = target.Target

// Scheme is the connection method of a Target, spelled as OVS spells it.
type Scheme = target.Scheme

// The connection methods OVS documents in ovsdb(7) and ovs-vswitchd.conf.db(5).
const (
	TCP   = target.TCP
	SSL   = target.SSL
	Unix  = target.Unix
	PTCP  = target.PTCP
	PSSL  = target.PSSL
	PUnix = target.PUnix
)

// maxUnixPath is the longest socket path Linux accepts.
const maxUnixPath = target.MaxUnixPath

// ParseTarget parses one target; see target.Parse.
func ParseTarget(s string) (Target, error) { return target.Parse(s) }

// ParseActive parses a target ferry dials; see target.ParseActive.
func ParseActive(s string) (Target, error) { return target.ParseActive(s) }

// ParsePassive parses a target ferry listens on; see target.ParsePassive.
func ParsePassive(s string) (Target, error) { return target.ParsePassive(s) }

// ParseTargets parses a comma-separated list; see target.ParseList.
func ParseTargets(s string) ([]Target, error) { return target.ParseList(s) }

// ParseActiveTargets is ParseTargets refusing passive targets.
func ParseActiveTargets(s string) ([]Target, error) { return target.ParseActiveList(s) }
