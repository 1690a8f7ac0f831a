package soak

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// These run without the lab: the bookkeeping the invariants rest on.

func TestExcused(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ws := []window{{from: t0, to: t0.Add(10 * time.Second), hosts: []string{"hv1"}}}
	for _, c := range []struct {
		at   time.Duration
		a, b string
		want bool
	}{
		{5 * time.Second, "hv1", "hv2", true},         // in the window, on the path
		{5 * time.Second, "hv3", "hv1", true},         // either end
		{5 * time.Second, "hv2", "hv3", false},        // not behind the fault
		{-500 * time.Millisecond, "hv1", "hv2", true}, // sent before, its reply due inside
		{-2 * time.Second, "hv1", "hv2", false},       // before the fault
		{11 * time.Second, "hv1", "hv2", false},       // after the window
	} {
		if got := excused(ws, t0.Add(c.at), c.a, c.b); got != c.want {
			t.Errorf("probe at %v between %s and %s excused = %v, want %v", c.at, c.a, c.b, got, c.want)
		}
	}
}

func TestClassify5xx(t *testing.T) {
	t0 := time.Unix(1000, 0)
	nb := []window{{from: t0, to: t0.Add(2 * time.Second)}}
	answers := []response{
		{at: t0.Add(time.Second), code: 503, body: `{"error":"northbound database unavailable"}`},
		{at: t0.Add(3 * time.Second), code: 503, body: `{"error":"x"}`}, // after the loss
		{at: t0.Add(time.Second), code: 500, body: `{"error":"boom"}`},  // never allowed
		{at: t0.Add(time.Second), code: 409},
	}
	allowed, bad := classify5xx(answers, nb)
	if allowed != 1 || len(bad) != 2 {
		t.Errorf("allowed %d, bad %q; want 1 and 2", allowed, bad)
	}
}

func TestDrawFaultIsSeeded(t *testing.T) {
	draw := func(seed uint64) []string {
		r := rand.New(rand.NewPCG(seed, 0xfa17))
		var out []string
		for n := 1; n <= 50; n++ {
			f := drawFault(r, n, []string{"hv1", "hv2", "hv3"}, true)
			lo, hi := holdRange(f.kind, true)
			if f.hold < lo || f.hold > hi {
				t.Errorf("%v: hold outside [%v, %v]", f, lo, hi)
			}
			out = append(out, f.String())
		}
		return out
	}
	if a, b := draw(7), draw(7); !slices.Equal(a, b) {
		t.Errorf("seed 7 drew different faults:\n%q\n%q", a, b)
	}
	seen := map[faultKind]bool{}
	r := rand.New(rand.NewPCG(7, 0xfa17))
	for n := range 200 {
		seen[drawFault(r, n, []string{"hv1"}, false).kind] = true
	}
	if len(seen) != len(faultKinds) {
		t.Errorf("200 draws gave kinds %v, want all %d", seen, len(faultKinds))
	}
}

func TestEchoCodec(t *testing.T) {
	req := echoRequest(0x5001, 42)
	if checksum(req) != 0 {
		t.Errorf("echo request checksum does not verify")
	}
	reply := append([]byte(nil), req...)
	reply[0] = 0
	withIP := append([]byte{0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 200, 2, 198, 18, 200, 1}, reply...)
	for _, b := range [][]byte{reply, withIP} {
		if id, seq, ok := parseEchoReply(b); !ok || id != 0x5001 || seq != 42 {
			t.Errorf("parseEchoReply = %x %d %v", id, seq, ok)
		}
	}
	if _, _, ok := parseEchoReply(req); ok {
		t.Errorf("an echo request parsed as a reply")
	}
}
