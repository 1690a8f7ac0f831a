package target

import "testing"

func TestSharedEndpoint(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"unix:/x/db.sock", "unix:/x/./db.sock", true},
		{"unix:/x/db.sock", "unix:/x//y/../db.sock", true},
		{"tcp:127.0.0.1:6640", "tcp:[::ffff:127.0.0.1]:6640", true},
		{"tcp:127.0.0.1:6640", "ssl:127.0.0.1:6640", true},
		{"tcp:[2001:DB8::1]:6640", "tcp:[2001:db8:0::1]:6640", true},
		{"tcp:Host.Example:6640", "tcp:host.example.:6640", true},
		{"tcp:198.18.0.1:6640,tcp:198.18.0.2:6640", "tcp:198.18.0.2:6640", true},
		{"tcp:127.0.0.1:6640", "tcp:127.0.0.1:6641", false},
		{"tcp:127.0.0.1:6640", "tcp:127.0.0.2:6640", false},
		{"unix:/x/db.sock", "unix:/y/db.sock", false},
		{"unix:/x/db.sock", "tcp:127.0.0.1:6640", false},
		{"passive", "passive", false},
	} {
		got := SharedEndpoint(c.a, c.b) != ""
		if got != c.same {
			t.Errorf("SharedEndpoint(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
