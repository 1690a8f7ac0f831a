package bench

import (
	"math"
	"slices"
	"time"
)

// Dist summarises a sample of durations.
type Dist struct {
	N                  int
	Min, P50, P95, P99 time.Duration
	Max, Mean          time.Duration
	Samples            []time.Duration
}

// NewDist computes nearest-rank percentiles of ds.
func NewDist(ds []time.Duration) Dist {
	d := Dist{N: len(ds), Samples: ds}
	if len(ds) == 0 {
		return d
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	d.Min, d.Max, d.Mean = s[0], s[len(s)-1], sum/time.Duration(len(s))
	d.P50, d.P95, d.P99 = rank(s, 50), rank(s, 95), rank(s, 99)
	return d
}

// rank is the nearest-rank percentile of sorted s.
func rank(s []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// median of xs (0 when empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
