package soak

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// window is a span during which one fault excuses something: lost pings
// of the pairs it names (all pairs when nil), or 503s.
type window struct {
	from, to time.Time
	hosts    []string
}

func (w window) covers(at time.Time, end time.Time, hosts ...string) bool {
	if end.Before(w.from) || at.After(w.to) {
		return false
	}
	if w.hosts == nil {
		return true
	}
	for _, h := range hosts {
		if slices.Contains(w.hosts, h) {
			return true
		}
	}
	return false
}

// excused reports whether a probe sent at `at` between guests on hosts
// a and b falls in a window of a fault on its path.
func excused(ws []window, at time.Time, a, b string) bool {
	for _, w := range ws {
		if w.covers(at, at.Add(pingTimeout), a, b) {
			return true
		}
	}
	return false
}

// summary is the per-invariant account of a run.
type summary struct {
	seed     uint64
	long     bool
	duration time.Duration

	faults    map[faultKind]int
	maxInStep map[faultKind]time.Duration
	slow      []string // faults whose devices took longer than 5 s

	pingsSent, pingsLostInWindows int
	pingsLostOutside              int
	lossRuns                      []string // the losses outside, as runs per pair

	writesAcked, writesRefused, writesNoAnswer int
	writesLost                                 []string

	got503InNB int
	bad5xx     []string // 5xx other than a JSON 503 during northbound loss
	badAnswers []string // other malformed answers

	desiredMismatch []string
	statusAhead     int // heals after which the API said in step > 1 s before the bridges were

	maxRSSKiB     int64
	maxGoroutines int
	baseGoroutine int
	resources     []string // bound violations

	other []string // anything else that went wrong (a fault that did not take, ...)
}

func newSummary(seed uint64, long bool) *summary {
	return &summary{seed: seed, long: long, faults: map[faultKind]int{}, maxInStep: map[faultKind]time.Duration{}}
}

// violations lists every broken invariant.
func (s *summary) violations() []string {
	var v []string
	add := func(what string, items []string) {
		const show = 10
		for i, it := range items {
			if i == show {
				v = append(v, fmt.Sprintf("%s: ... %d more", what, len(items)-show))
				break
			}
			v = append(v, what+": "+it)
		}
	}
	add("slow to get back in step", s.slow)
	add("pings lost outside fault windows", s.lossRuns)
	add("acknowledged write lost", s.writesLost)
	add("5xx", s.bad5xx)
	add("bad answer", s.badAnswers)
	add("desired != actual", s.desiredMismatch)
	add("resources", s.resources)
	add("other", s.other)
	return v
}

// String renders the summary as the table docs/reliability.md shows.
func (s *summary) String() string {
	var b strings.Builder
	mode := "quick"
	if s.long {
		mode = "long"
	}
	total := 0
	for _, n := range s.faults {
		total += n
	}
	fmt.Fprintf(&b, "soak summary: seed %d, %d faults (%s durations), %v\n", s.seed, total, mode, s.duration.Round(time.Second))
	fmt.Fprintf(&b, "| invariant | figure |\n|---|---|\n")
	var kinds []string
	var worst time.Duration
	for _, k := range faultKinds {
		if s.faults[k] > 0 {
			kinds = append(kinds, fmt.Sprintf("%s %d (in step ≤ %v)", k, s.faults[k], s.maxInStep[k].Round(10*time.Millisecond)))
			worst = max(worst, s.maxInStep[k])
		}
	}
	fmt.Fprintf(&b, "| faults by kind | %s |\n", strings.Join(kinds, ", "))
	fmt.Fprintf(&b, "| max time to in step after a heal (≤ 5 s) | %v (%d over) |\n", worst.Round(10*time.Millisecond), len(s.slow))
	fmt.Fprintf(&b, "| desired == actual after every heal | %d mismatches (the API said in step > 1 s before the bridges were: %d times) |\n",
		len(s.desiredMismatch), s.statusAhead)
	fmt.Fprintf(&b, "| pings sent / lost in fault windows / lost outside | %d / %d / %d |\n", s.pingsSent, s.pingsLostInWindows, s.pingsLostOutside)
	fmt.Fprintf(&b, "| writes acknowledged / lost | %d / %d (%d refused 4xx, %d unanswered while ferryd was down) |\n",
		s.writesAcked, len(s.writesLost), s.writesRefused, s.writesNoAnswer)
	fmt.Fprintf(&b, "| 5xx (a JSON 503 during northbound loss excepted) | %d (%d such 503s) |\n", len(s.bad5xx), s.got503InNB)
	fmt.Fprintf(&b, "| ferryd max RSS / max goroutines | %.1f MiB / %d (after warm-up: %d) |\n", float64(s.maxRSSKiB)/1024, s.maxGoroutines, s.baseGoroutine)
	if v := s.violations(); len(v) > 0 {
		fmt.Fprintf(&b, "violations (%d):\n  %s\n", len(v), strings.Join(v, "\n  "))
	}
	return b.String()
}
