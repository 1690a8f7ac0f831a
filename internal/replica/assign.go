package replica

import (
	"hash/fnv"
	"slices"
	"strings"
)

// Assign spreads devices over replicas: each device goes to the replica
// that ranks highest for it (rendezvous hashing) among those not yet
// holding ceil(D/R) devices. Every replica computing it from the same
// lists gets the same answer, no replica gets more than ceil(D/R), and a
// replica joining or leaving moves few devices: mostly its own, or those
// it takes. Nil when there are no replicas.
func Assign(devices, replicas []string) map[string]string {
	if len(replicas) == 0 {
		return nil
	}
	devices = slices.Clone(devices)
	slices.Sort(devices)
	devices = slices.Compact(devices)
	replicas = slices.Clone(replicas)
	slices.Sort(replicas)
	replicas = slices.Compact(replicas)

	limit := (len(devices) + len(replicas) - 1) / len(replicas)
	load := make(map[string]int, len(replicas))
	out := make(map[string]string, len(devices))
	ranked := make([]string, len(replicas))
	for _, d := range devices {
		copy(ranked, replicas)
		slices.SortFunc(ranked, func(a, b string) int {
			if ra, rb := rank(d, a), rank(d, b); ra != rb {
				if ra > rb {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
		for _, r := range ranked {
			if load[r] < limit {
				out[d] = r
				load[r]++
				break
			}
		}
	}
	return out
}

// rank is how much replica wants device: a hash of both, so that the
// order of replicas differs per device.
func rank(device, replica string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(device))
	h.Write([]byte{0})
	h.Write([]byte(replica))
	// FNV's low bits mix poorly for short, similar inputs: finish with a
	// 64-bit mixer (splitmix64's).
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
