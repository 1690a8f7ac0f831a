package rows

import (
	"fmt"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// UUID is a reference to row u.
func UUID(u string) ovsdb.UUID { return ovsdb.UUID{GoUUID: u} }

// UUIDSet is a set of row references (UUIDs or named UUIDs).
func UUIDSet(us ...string) ovsdb.OvsSet {
	s := ovsdb.OvsSet{GoSet: make([]any, 0, len(us))}
	for _, u := range us {
		s.GoSet = append(s.GoSet, UUID(u))
	}
	return s
}

// StringSet is a set of strings.
func StringSet(vs ...string) ovsdb.OvsSet {
	s := ovsdb.OvsSet{GoSet: make([]any, 0, len(vs))}
	for _, v := range vs {
		s.GoSet = append(s.GoSet, v)
	}
	return s
}

// StringMap is a string-to-string map column value.
func StringMap(m map[string]string) ovsdb.OvsMap {
	om := ovsdb.OvsMap{GoMap: make(map[any]any, len(m))}
	for k, v := range m {
		om.GoMap[k] = v
	}
	return om
}

// Optional is the value of an optional (0 or 1 element) column.
func Optional(v any) ovsdb.OvsSet { return ovsdb.OvsSet{GoSet: []any{v}} }

// WhereUUID selects row u.
func WhereUUID(u string) []ovsdb.Condition {
	return []ovsdb.Condition{ovsdb.NewCondition("_uuid", ovsdb.ConditionEqual, UUID(u))}
}

// NamedUUID returns an OVSDB identifier for a row inserted in the same
// transaction. Bytes other than letters and digits are hex-escaped, so
// distinct names give distinct identifiers.
func NamedUUID(kind, name string) string {
	var sb strings.Builder
	sb.WriteString("ferry_" + kind + "_")
	for _, c := range []byte(name) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "_%02x", c)
		}
	}
	return sb.String()
}
