package reconcile

import (
	"bytes"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/openflow"
)

// The binary search finds the exact largest size that crosses, from the
// configured MTU down, and notices a path that grew back.
func TestMTUSearch(t *testing.T) {
	for _, real := range []int{1500, 1400, 1399, 1280, 600, 576} {
		var m mtuSearch
		m.reset(1500, time.Minute)
		now := time.Unix(0, 0)
		steps := 0
		for size := m.next(now); size > 0; size = m.next(now) {
			m.result(size, size <= real, now)
			steps++
			if steps > 20 {
				t.Fatalf("path %d: no convergence, at %+v", real, m)
			}
		}
		if got := m.known(); got != real {
			t.Errorf("path %d: found %d after %d probes", real, got, steps)
		}
	}
	var m mtuSearch
	m.reset(1500, time.Second)
	now := time.Unix(0, 0)
	for size := m.next(now); size > 0; size = m.next(now) {
		m.result(size, size <= 1400, now)
	}
	// The link grows back: the recheck of one byte more finds it.
	now = now.Add(2 * time.Second)
	for i := 0; i < 20 && m.known() != 1500; i++ {
		if size := m.next(now); size > 0 {
			m.result(size, true, now)
		}
		now = now.Add(2 * time.Second)
	}
	if m.known() != 1500 {
		t.Errorf("path grew back to 1500, search says %d (%+v)", m.known(), m)
	}
}

func TestProbeFrame(t *testing.T) {
	dst := []byte{2, 0, 0, 0, 0, 9}
	f := probeFrame(dst, 42, 1000)
	if len(f) != 1000 || !bytes.Equal(f[:6], dst) || !bytes.Equal(f[6:12], openflow.ProbeMAC) {
		t.Fatalf("frame % x", f[:20])
	}
	if id, ok := probeID(f); !ok || id != 42 {
		t.Fatalf("probeID = %d, %v", id, ok)
	}
	if _, ok := probeID(f[:probeHeader-1]); ok {
		t.Errorf("a truncated probe decoded")
	}
	g := probeFrame(dst, 42, 0)
	g[7] ^= 1 // a guest's frame: another source MAC
	if _, ok := probeID(g); ok {
		t.Errorf("a frame from another MAC decoded as a probe")
	}
}

// probeID reads frames the data plane punts, which a guest can forge: any
// bytes give an answer, never a panic.
func FuzzProbeID(f *testing.F) {
	f.Add(probeFrame([]byte{2, 0, 0, 0, 0, 1}, 7, 0))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, ok := probeID(b)
		if ok && !bytes.Equal(probeFrame(b[:6], id, len(b))[:probeHeader], b[:probeHeader]) {
			t.Fatalf("decoded %d from % x", id, b)
		}
	})
}

// What probes verified of a deleted switch is forgotten.
func TestProbeForgetsDeletedSwitches(t *testing.T) {
	p := newPathProber(nil, time.Second, 100)
	p.results[dirPair{"hv1", "hv2"}] = &pairResult{verified: map[string]uint64{"gone": 3}}
	p.gwVerified["gw1"] = map[string]uint64{"gone": 3}
	e, _ := realize.NextEstate(nil, realize.EstateInputs{Snapshot: &model.Snapshot{}})
	p.forgetDeleted(e)
	if len(p.results[dirPair{"hv1", "hv2"}].verified) != 0 || len(p.gwVerified) != 0 {
		t.Errorf("kept %+v and %+v", p.results[dirPair{"hv1", "hv2"}].verified, p.gwVerified)
	}
}
