package replica

import (
	"fmt"
	"testing"
)

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return out
}

func loads(a map[string]string) map[string]int {
	out := map[string]int{}
	for _, r := range a {
		out[r]++
	}
	return out
}

// TestAssignBalanced: every device gets exactly one replica, and no
// replica more than ceil(D/R) — the bound is ceil(D/R)+1.
func TestAssignBalanced(t *testing.T) {
	for _, c := range []struct{ d, r int }{{12, 3}, {12, 2}, {13, 3}, {1, 3}, {0, 2}, {100, 7}, {5, 1}} {
		devices, replicas := names("chassis/hv", c.d), names("r", c.r)
		a := Assign(devices, replicas)
		if len(a) != c.d {
			t.Errorf("%d devices over %d replicas: %d assigned", c.d, c.r, len(a))
		}
		limit := (c.d + c.r - 1) / c.r
		for r, n := range loads(a) {
			if n > limit {
				t.Errorf("%d devices over %d replicas: %s has %d, limit %d", c.d, c.r, r, n, limit)
			}
		}
		for _, d := range devices {
			if a[d] == "" {
				t.Errorf("%s unassigned", d)
			}
		}
	}
	if a := Assign(names("hv", 3), nil); a != nil {
		t.Errorf("no replicas: %v", a)
	}
}

// TestAssignAgrees: the answer depends on the sets, not on their order.
func TestAssignAgrees(t *testing.T) {
	devices, replicas := names("chassis/hv", 12), []string{"c", "a", "b"}
	a := Assign(devices, replicas)
	b := Assign([]string{"chassis/hv12", "chassis/hv3", "chassis/hv1", "chassis/hv2", "chassis/hv4", "chassis/hv5",
		"chassis/hv6", "chassis/hv7", "chassis/hv8", "chassis/hv9", "chassis/hv10", "chassis/hv11", "chassis/hv1"},
		[]string{"b", "c", "a", "a"})
	for d, r := range a {
		if b[d] != r {
			t.Errorf("%s: %s in one order, %s in another", d, r, b[d])
		}
	}
}

// TestAssignMovesFew: when a replica leaves, the devices of the others
// mostly stay where they are; when it comes back, it takes about its
// share and no more.
func TestAssignMovesFew(t *testing.T) {
	devices := names("chassis/hv", 60)
	three := Assign(devices, []string{"a", "b", "c"})
	two := Assign(devices, []string{"a", "b"})
	moved := 0
	for d, r := range three {
		if r != "c" && two[d] != r {
			moved++
		}
	}
	// c's 20 devices must move; of a's and b's 40, few should.
	if moved > 8 {
		t.Errorf("c left: %d of a's and b's devices moved as well", moved)
	}
	back := Assign(devices, []string{"a", "b", "c"})
	changed := 0
	for d, r := range two {
		if back[d] != r {
			changed++
		}
	}
	if changed > 20+8 {
		t.Errorf("c came back: %d devices moved (its share is 20)", changed)
	}
}
