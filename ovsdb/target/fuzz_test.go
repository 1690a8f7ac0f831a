package target

import (
	"strings"
	"testing"
)

// FuzzParse: any string either parses to a target that prints back to a
// string parsing to the same target, or is refused with an error naming
// ovsdb; never a panic. Active and passive parsing agree with Parse.
//
// Run with: go test ./ovsdb/target/ -run '^$' -fuzz '^FuzzParse$' -fuzztime 1m
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"tcp:198.18.255.11:6640", "ssl:[2001:db8::1]:6640", "tcp:[::ffff:127.0.0.1]:6640", "unix:/run/ferry/nb.sock",
		"unix:/x/./db.sock", "ptcp:6653", "ptcp:6653:127.0.0.1", "pssl:6640:[::]", "punix:/run/ferry/of.sock",
		"tcp:0.0.0.0:6640", "tcp:255.255.255.255:1", "tcp:240.0.0.1:6640", "tcp:hv1.example.:6640", "unix:/",
		"tcp:1.2.3.4:0", "tcp:1.2.3.4:65536", "ptcp:-1", "tcp:[fe80::1%eth0]:6640", "tcp::6640", "ssl:", "x",
		"tcp:198.18.0.1:6641,tcp:198.18.0.2:6641", "unix:/a\x00b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := Parse(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ovsdb: ") {
				t.Fatalf("Parse(%q) error %q does not name the package", s, err)
			}
		} else {
			back, err := Parse(tg.String())
			if err != nil || back != tg {
				t.Fatalf("Parse(%q) = %+v, which prints as %q, parsing to %+v, %v", s, tg, tg.String(), back, err)
			}
			if (tg.EndpointKey() == "") || tg.EndpointKey() != back.EndpointKey() {
				t.Fatalf("EndpointKey of %q is %q / %q", s, tg.EndpointKey(), back.EndpointKey())
			}
			_ = tg.Network()
			_ = tg.Address()
			_, _ = tg.Endpoint()
		}
		a, aerr := ParseActive(s)
		p, perr := ParsePassive(s)
		switch {
		case err != nil && (aerr == nil || perr == nil):
			t.Fatalf("Parse refuses %q but ParseActive/ParsePassive accept it: %+v %+v", s, a, p)
		case err == nil && (aerr == nil) == (perr == nil):
			t.Fatalf("%q is both or neither active and passive: %v / %v", s, aerr, perr)
		}
		list, lerr := ParseList(s)
		if err == nil && !strings.Contains(s, ",") && (lerr != nil || len(list) != 1 || list[0] != tg) {
			t.Fatalf("ParseList(%q) = %v, %v; Parse gives %+v", s, list, lerr, tg)
		}
		_ = SharedEndpoint(s, s)
	})
}
