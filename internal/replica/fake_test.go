package replica

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/ferry-sdn/ferry/internal/model"
)

// arbiter is an OVSDB server's lock table as RFC 7047 describes it: one
// holder per lock, the others queued in order of request, everything of a
// session released when it ends.
type arbiter struct {
	mu      sync.Mutex
	holders map[string][]*session // lock → holder first, then the queue
}

type session struct {
	a       *arbiter
	dead    bool
	changed chan struct{}
}

func newArbiter() *arbiter { return &arbiter{holders: map[string][]*session{}} }

func (a *arbiter) session() *session {
	return &session{a: a, changed: make(chan struct{}, 1)}
}

func (s *session) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// drop takes s out of lock's queue and notifies a new holder.
func (a *arbiter) drop(lock string, s *session) {
	q := a.holders[lock]
	i := slices.Index(q, s)
	if i < 0 {
		return
	}
	q = slices.Delete(q, i, i+1)
	a.holders[lock] = q
	if i == 0 && len(q) > 0 {
		q[0].notify()
	}
}

func (s *session) Want(names []string) {
	a := s.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if s.dead {
		return
	}
	for lock, q := range a.holders {
		if slices.Contains(q, s) && !slices.Contains(names, lock) {
			a.drop(lock, s)
		}
	}
	for _, lock := range names {
		if q := a.holders[lock]; !slices.Contains(q, s) {
			a.holders[lock] = append(q, s)
			if len(q) == 0 {
				s.notify()
			}
		}
	}
}

func (s *session) Held(name string) bool {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	q := s.a.holders[name]
	return len(q) > 0 && q[0] == s
}

func (s *session) Changed() <-chan struct{} { return s.changed }

// kill ends the session as a crash would: every lock it held or waited
// for is released.
func (s *session) kill() {
	a := s.a
	a.mu.Lock()
	defer a.mu.Unlock()
	s.dead = true
	for lock := range maps.Clone(a.holders) {
		a.drop(lock, s)
	}
}

// store is the northbound database's Replica and Device_Owner tables.
type store struct {
	mu       sync.Mutex
	watchers []func() // the managers, kicked on every write as a cache change would
	replicas map[string]model.Replica
	owners   map[string]model.Owner
	takes    int
	down     bool // the connection is lost, the cache still there
}

func newStore() *store {
	return &store{replicas: map[string]model.Replica{}, owners: map[string]model.Owner{}}
}

func (s *store) Healthy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.down
}

// setDown makes the connection lost (or back), leaving the cache as it
// is: a frozen snapshot, as libovsdb's reconnecting client keeps it. No
// cache change says so: nothing kicks the managers.
func (s *store) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *store) Replicas() ([]model.Replica, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []model.Replica
	for _, id := range slices.Sorted(maps.Keys(s.replicas)) {
		out = append(out, s.replicas[id])
	}
	return out, nil
}

func (s *store) PutReplica(_ context.Context, r model.Replica) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replicas[r.ID] = r
	s.changed()
	return nil
}

func (s *store) DeleteReplica(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.replicas, id)
	s.changed()
	return nil
}

func (s *store) Owners() (map[string]model.Owner, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.owners), nil
}

func (s *store) TakeOwnership(_ context.Context, device, replica string) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.owners[device]
	o.Device, o.Replica, o.Epoch = device, replica, o.Epoch+1
	s.owners[device] = o
	s.takes++
	s.changed()
	return o.Epoch, nil
}

func (s *store) PublishRealized(_ context.Context, replica string, realized map[string]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for d, g := range realized {
		if o, ok := s.owners[d]; ok && o.Replica == replica {
			o.Realized = g
			s.owners[d] = o
		}
	}
	s.changed()
	return nil
}

func (s *store) changed() {
	for _, w := range s.watchers {
		w()
	}
}
