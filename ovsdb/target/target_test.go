package target

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := []struct {
		in     string
		want   Target
		active bool
		str    string // canonical form if it differs from in
	}{
		{in: "tcp:192.0.2.1:6640", want: Target{Scheme: TCP, Host: "192.0.2.1", Port: 6640}, active: true},
		{in: "ssl:192.0.2.1:6640", want: Target{Scheme: SSL, Host: "192.0.2.1", Port: 6640}, active: true},
		{in: "tcp:[::1]:6640", want: Target{Scheme: TCP, Host: "::1", Port: 6640}, active: true},
		{in: "ssl:[2001:db8::1]:1", want: Target{Scheme: SSL, Host: "2001:db8::1", Port: 1}, active: true},
		{in: "tcp:ovsdb.example.net:6641", want: Target{Scheme: TCP, Host: "ovsdb.example.net", Port: 6641}, active: true},
		{in: "tcp:localhost:65535", want: Target{Scheme: TCP, Host: "localhost", Port: 65535}, active: true},
		{in: "unix:/run/ferry/nb.sock", want: Target{Scheme: Unix, Path: "/run/ferry/nb.sock"}, active: true},
		{in: "unix:db.sock", want: Target{Scheme: Unix, Path: "db.sock"}, active: true},
		{in: "ptcp:6653", want: Target{Scheme: PTCP, Port: 6653}},
		{in: "ptcp:0", want: Target{Scheme: PTCP, Port: 0}},
		{in: "ptcp:6653:127.0.0.1", want: Target{Scheme: PTCP, Host: "127.0.0.1", Port: 6653}},
		{in: "ptcp:6653:[::1]", want: Target{Scheme: PTCP, Host: "::1", Port: 6653}},
		{in: "ptcp:6653:::", want: Target{Scheme: PTCP, Host: "::", Port: 6653}, str: "ptcp:6653:[::]"},
		{in: "pssl:6640:0.0.0.0", want: Target{Scheme: PSSL, Host: "0.0.0.0", Port: 6640}},
		{in: "punix:/run/ferry/of.sock", want: Target{Scheme: PUnix, Path: "/run/ferry/of.sock"}},
	}
	for _, tc := range good {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if got.Active() != tc.active {
			t.Errorf("Parse(%q).Active() = %v", tc.in, got.Active())
		}
		str := tc.str
		if str == "" {
			str = tc.in
		}
		if got.String() != str {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got.String(), str)
		}
		if again, err := Parse(got.String()); err != nil || again != got {
			t.Errorf("round trip of %q: %+v, %v", tc.in, again, err)
		}
	}

	bad := []struct{ in, msg string }{
		{"", `ovsdb: empty target`},
		{"tcp:1.2.3.4", `ovsdb: target "tcp:1.2.3.4": missing port`},
		{"tcp:1.2.3.4:", `ovsdb: target "tcp:1.2.3.4:": missing port`},
		{"tcp:", `missing address and port`},
		{"tcp::6640", `missing address`},
		{"tcp:1.2.3.999:6640", `bad IP address "1.2.3.999"`},
		{"tcp:1.2.3:6640", `bad IP address "1.2.3"`},
		{"tcp:bad_host:6640", `bad host name "bad_host"`},
		{"tcp:-x.example:6640", `bad host name`},
		{"tcp:1.2.3.4:0", `port 0 out of range 1-65535`},
		{"tcp:1.2.3.4:65536", `port 65536 out of range 1-65535`},
		{"tcp:1.2.3.4:66x", `bad port "66x"`},
		{"tcp:1.2.3.4:-1", `bad port "-1"`},
		{"tcp:::1:6640", `IPv6 address must be in brackets`},
		{"tcp:[::1:6640", `missing ] after IPv6 address`},
		{"tcp:[::1]", `missing port`},
		{"tcp:[::1]6640", `unexpected "6640" after IPv6 address`},
		{"tcp:[1.2.3.4]:6640", `bad IPv6 address "1.2.3.4"`},
		{"ssl:[zz::1]:6640", `bad IPv6 address "zz::1"`},
		{"ptcp:", `missing port`},
		{"ptcp:70000", `port 70000 out of range 0-65535`},
		{"ptcp:6653:", `missing IP address after port`},
		{"ptcp:6653:example.net", `bad IP address "example.net"`},
		{"ptcp:6653:[1.2.3.4]", `bad IP address "[1.2.3.4]"`},
		{"ptcp:6653:[::1", `missing ] after IPv6 address`},
		{"unix:", `missing socket path`},
		{"punix:", `missing socket path`},
		{"unix:/" + strings.Repeat("x", 107), `more than the 107 a unix socket address holds`},
		{"tcp:0.0.0.0:6640", `unspecified address 0.0.0.0`},
		{"ssl:[::]:6640", `unspecified address ::`},
		{"tcp:[::ffff:0.0.0.0]:6640", `unspecified address 0.0.0.0`},
		{"tcp:255.255.255.255:6640", `broadcast address`},
		{"tcp:224.0.0.1:6640", `multicast address`},
		{"ssl:[ff02::1]:6640", `multicast address`},
		{"unix:/", `names a directory`},
		{"unix:/run/db.sock ", `starts or ends with a space`},
		{"unix:/run/db\x00.sock", `control character`},
		{"punix:/run/\xb9.sock", `not valid UTF-8`},
		{"unix:/run/", `names a directory`},
		{"unix:/run/..", `names a directory`},
		{"unix:.", `names a directory`},
		{"punix:/tmp/", `names a directory`},
		{"udp:1.2.3.4:6640", `ovsdb: target "udp:1.2.3.4:6640": unknown method "udp"`},
		{"1.2.3.4", `missing method`},
	}
	for _, tc := range bad {
		_, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error containing %q", tc.in, tc.msg)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Parse(%q) = %q, want it to contain %q", tc.in, err, tc.msg)
		}
		if !strings.HasPrefix(err.Error(), "ovsdb: ") {
			t.Errorf("Parse(%q) error %q lacks the package prefix", tc.in, err)
		}
	}
}

func TestParseActivePassive(t *testing.T) {
	if _, err := ParseActive("ptcp:6640"); err == nil || !strings.Contains(err.Error(), "passive target") {
		t.Errorf("ParseActive(ptcp) = %v", err)
	}
	if _, err := ParsePassive("tcp:127.0.0.1:6640"); err == nil || !strings.Contains(err.Error(), "active target") {
		t.Errorf("ParsePassive(tcp) = %v", err)
	}
	if _, err := ParseActive("unix:/x"); err != nil {
		t.Error(err)
	}
	if _, err := ParsePassive("punix:/x"); err != nil {
		t.Error(err)
	}
}

func TestParseList(t *testing.T) {
	ts, err := ParseList("tcp:192.0.2.1:6641, tcp:[2001:db8::2]:6641,unix:/x")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tcp:192.0.2.1:6641", "tcp:[2001:db8::2]:6641", "unix:/x"}
	if len(ts) != len(want) {
		t.Fatalf("got %v", ts)
	}
	for i := range ts {
		if ts[i].String() != want[i] {
			t.Errorf("target %d = %s, want %s", i, ts[i], want[i])
		}
	}
	for _, in := range []string{"", "tcp:1.2.3.4:1,", "tcp:1.2.3.4:1,,tcp:1.2.3.5:1", "tcp:1.2.3.4:1,tcp:1.2.3.5"} {
		if _, err := ParseList(in); err == nil {
			t.Errorf("ParseList(%q) succeeded", in)
		}
	}
	if _, err := ParseActiveList("tcp:1.2.3.4:1,ptcp:1"); err == nil {
		t.Error("ParseActiveTargets accepted a passive target")
	}
}

func TestTargetText(t *testing.T) {
	var tg Target
	if err := tg.UnmarshalText([]byte("ssl:[::1]:6640")); err != nil {
		t.Fatal(err)
	}
	b, _ := tg.MarshalText()
	if string(b) != "ssl:[::1]:6640" {
		t.Errorf("MarshalText = %s", b)
	}
	if err := tg.UnmarshalText([]byte("ssl:[::1]")); err == nil {
		t.Error("UnmarshalText accepted a target without port")
	}
}

func TestEndpoint(t *testing.T) {
	wd, _ := os.Getwd()
	for _, tc := range []struct{ in, want string }{
		{"tcp:192.0.2.1:6640", "tcp:192.0.2.1:6640"},
		{"ssl:[::1]:6640", "ssl:[::1]:6640"},
		{"unix:/run/x.sock", "unix:/run/x.sock"},
		{"unix:x.sock", "unix:" + filepath.Join(wd, "x.sock")},
	} {
		tg, err := Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tg.Endpoint()
		if err != nil || got != tc.want {
			t.Errorf("Endpoint(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"ptcp:1", "unix:/tmp/a?b", "unix:/tmp/a%41"} {
		tg, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if ep, err := tg.Endpoint(); err == nil {
			t.Errorf("Endpoint(%s) = %q, want an error", in, ep)
		}
	}
}

func TestNetworkAddress(t *testing.T) {
	for _, tc := range []struct{ in, network, addr string }{
		{"ptcp:6653", "tcp4", "0.0.0.0:6653"},
		{"ptcp:6653:127.0.0.1", "tcp4", "127.0.0.1:6653"},
		{"ptcp:6653:[::]", "tcp", "[::]:6653"},
		{"tcp:[::1]:1", "tcp", "[::1]:1"},
		{"tcp:example.net:1", "tcp", "example.net:1"},
		{"punix:/x", "unix", "/x"},
	} {
		tg, err := Parse(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if tg.Network() != tc.network || tg.Address() != tc.addr {
			t.Errorf("%s: Network/Address = %s %s, want %s %s", tc.in, tg.Network(), tg.Address(), tc.network, tc.addr)
		}
	}
}
