package reconcile

import (
	"sync"

	"github.com/ferry-sdn/ferry/internal/realize"
)

// committed is what a device holds of one switch: the switch's version and
// the northbound generation it was committed at.
type committed struct {
	version    uint64
	generation int64
}

// realization is what one device has committed, switch by switch, and
// whether it is in step with the newest estate: what switch status and the
// generation metrics read. Shared by every kind of device.
type realization struct {
	mu       sync.Mutex
	switches map[string]committed
	gen      int64 // the generation the device is in step with
	// inStep: the last pass succeeded at estate seq, and no estate since
	// concerned the device.
	inStep bool
	seq    uint64
}

func (r *realization) generation() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}

func (r *realization) get(sw string) (committed, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.switches[sw]
	return c, ok
}

// concerned reports whether any of the switches changed is, by carries,
// or was, by the records of the last passes, on the device: a change to
// it is the pass's own work, not someone else's edit.
func (r *realization) concerned(changed []string, carries func(string) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, sw := range changed {
		if _, was := r.switches[sw]; was || carries(sw) {
			return true
		}
	}
	return false
}

// passed records a successful pass at estate e: the switches in names now
// hold what lookup says (nothing when it reports false); full replaces
// every record.
func (r *realization) passed(e *realize.Estate, full bool, names []string, lookup func(string) (committed, bool)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.switches == nil || full {
		r.switches = make(map[string]committed, len(names))
	}
	for _, name := range names {
		if c, ok := lookup(name); ok {
			r.switches[name] = c
		} else {
			delete(r.switches, name)
		}
	}
	r.gen, r.inStep, r.seq = e.Snapshot.Generation, true, e.Seq
}

// failed: the device is no longer known to be in step.
func (r *realization) failed() {
	r.mu.Lock()
	r.inStep = false
	r.mu.Unlock()
}

// unaffected records that estate e, built after estate prev, holds nothing
// for the device: if it was in step with prev, it is in step with e. It
// reports whether the device advanced.
func (r *realization) unaffected(prev uint64, e *realize.Estate) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.inStep || r.seq != prev {
		return false
	}
	r.seq, r.gen = e.Seq, e.Snapshot.Generation
	return true
}
