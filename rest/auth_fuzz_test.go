package rest

import (
	"strings"
	"testing"
)

// FuzzParseTokens: a tokens file either loads, and then every token line
// it holds authorizes with its role, or is refused with an error that
// names a line and never repeats a token; never a panic.
//
// Run with: go test ./rest/ -run '^$' -fuzz '^FuzzParseTokens$' -fuzztime 1m
func FuzzParseTokens(f *testing.F) {
	for _, s := range []string{
		"0123456789abcdef0123456789abcdef admin\n",
		"# ops\n\n0123456789abcdef reader\t\nfedcba9876543210fedcba98 admin\n",
		"0123456789abcdef0123456789abcdef\n",
		"0123456789abcdef0123456789abcdef root\n",
		"short admin\n",
		"0123456789abcdef0123456789abcdef admin\n0123456789abcdef0123456789abcdef reader\n",
		"0123456789abcdef0123456789ab\"=c admin\n",
		"YWJjZGVmZ2hpamtsbW5vcA== reader\r\n",
		"a b c\n", "", "\n\n# nothing\n", "0123456789abcdef\u0085admin\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks, err := ParseTokens(strings.NewReader(s))
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "rest: tokens: ") {
				t.Fatalf("error %q does not name the source", msg)
			}
			for _, line := range strings.Split(s, "\n") {
				for _, field := range strings.Fields(line) {
					if len(field) >= MinTokenLength && checkToken(field) == nil && strings.Contains(msg, field) {
						t.Fatalf("error %q repeats a token", msg)
					}
				}
			}
			return
		}
		if toks.Len() == 0 {
			t.Fatal("loaded a tokens file with no token")
		}
		for _, line := range strings.Split(s, "\n") {
			fields := strings.Fields(line)
			if len(fields) != 2 || strings.HasPrefix(fields[0], "#") {
				continue
			}
			if role, ok := toks.Role(fields[0]); !ok || role != Role(fields[1]) {
				t.Fatalf("token of line %q authorizes as %q, %v", line, role, ok)
			}
		}
		if _, ok := toks.Role(""); ok {
			t.Fatal("the empty token is authorized")
		}
	})
}
