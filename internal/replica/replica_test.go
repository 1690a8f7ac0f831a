package replica

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
)

// estate is several managers over one arbiter and one store.
type estate struct {
	t       *testing.T
	a       *arbiter
	st      *store
	devices []string

	mu       sync.Mutex
	replicas map[string]*running
	doubles  []string // devices seen owned twice at once
	stop     chan struct{}
	checked  sync.WaitGroup
}

type running struct {
	m      *Manager
	s      *session
	cancel context.CancelFunc
	done   chan struct{}
}

func newEstate(t *testing.T, devices int) *estate {
	e := &estate{t: t, a: newArbiter(), st: newStore(), replicas: map[string]*running{}, stop: make(chan struct{})}
	for i := range devices {
		e.devices = append(e.devices, fmt.Sprintf("chassis/hv%d", i+1))
	}
	e.checked.Add(1)
	go e.watch()
	t.Cleanup(func() {
		close(e.stop)
		e.checked.Wait()
		for id := range e.replicas {
			e.kill(id)
		}
		if len(e.doubles) > 0 {
			t.Errorf("owned by two replicas at once: %v", e.doubles)
		}
	})
	return e
}

// watch checks, all along, that no device is owned by two replicas.
func (e *estate) watch() {
	defer e.checked.Done()
	for {
		select {
		case <-e.stop:
			return
		case <-time.After(time.Millisecond):
		}
		e.mu.Lock()
		for _, d := range e.devices {
			n := 0
			for _, r := range e.replicas {
				if _, ok := r.m.Owns(d); ok {
					n++
				}
			}
			if n > 1 {
				e.doubles = append(e.doubles, d)
			}
		}
		e.mu.Unlock()
	}
}

func (e *estate) start(id string) *Manager {
	s := e.a.session()
	m := New(Config{
		Self:     model.Replica{ID: id, OpenFlow: "tcp:198.18.255.1:6653", Started: time.UnixMilli(1)},
		Store:    e.st,
		Locks:    s,
		Devices:  func() []string { return e.devices },
		Handover: time.Second,
	})
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{m: m, s: s, cancel: cancel, done: make(chan struct{})}
	e.st.mu.Lock()
	e.st.watchers = append(e.st.watchers, m.Kick)
	e.st.mu.Unlock()
	go func() { defer close(r.done); m.Run(ctx) }()
	e.mu.Lock()
	e.replicas[id] = r
	e.mu.Unlock()
	return m
}

// session is replica id's lock session.
func (e *estate) session(id string) *session {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.replicas[id].s
}

// kill ends a replica as kill -9 does: its session ends, it cleans up
// nothing.
func (e *estate) kill(id string) {
	e.mu.Lock()
	r := e.replicas[id]
	delete(e.replicas, id)
	e.mu.Unlock()
	r.s.kill()
	r.cancel()
	<-r.done
}

// shutdown stops a replica as SIGTERM does.
func (e *estate) shutdown(id string) {
	e.mu.Lock()
	r := e.replicas[id]
	delete(e.replicas, id)
	e.mu.Unlock()
	r.cancel()
	<-r.done
	r.s.kill()
}

// counts returns how many devices each running replica owns, and how
// many are owned by none.
func (e *estate) counts() (map[string]int, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	orphans := 0
	for _, d := range e.devices {
		owned := false
		for id, r := range e.replicas {
			if _, ok := r.m.Owns(d); ok {
				out[id]++
				owned = true
			}
		}
		if !owned {
			orphans++
		}
	}
	return out, orphans
}

// settle waits until every device is owned and each replica owns want.
func (e *estate) settle(want map[string]int, within time.Duration) time.Duration {
	e.t.Helper()
	start := time.Now()
	var got map[string]int
	var orphans int
	for time.Since(start) < within {
		got, orphans = e.counts()
		if orphans == 0 && fmt.Sprint(got) == fmt.Sprint(want) {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("after %v: owned %v with %d devices unowned, want %v", within, got, orphans, want)
	return 0
}

// TestSpread: three replicas share twelve devices four each; one killed,
// its devices go to the other two and its row is removed; a replica
// joining takes its share back one device at a time.
func TestSpread(t *testing.T) {
	e := newEstate(t, 12)
	for _, id := range []string{"a", "b", "c"} {
		e.start(id)
	}
	e.settle(map[string]int{"a": 4, "b": 4, "c": 4}, 10*time.Second)

	e.kill("c")
	took := e.settle(map[string]int{"a": 6, "b": 6}, 10*time.Second)
	t.Logf("c killed: its devices owned again after %v", took)
	if rows, _ := e.st.Replicas(); len(rows) != 2 {
		t.Errorf("rows after c died: %v", rows)
	}

	e.start("c")
	e.settle(map[string]int{"a": 4, "b": 4, "c": 4}, 20*time.Second)
	e.shutdown("a")
	e.settle(map[string]int{"b": 6, "c": 6}, 10*time.Second)
	if rows, _ := e.st.Replicas(); len(rows) != 2 {
		t.Errorf("rows after a stopped: %v", rows)
	}
}

// TestEpochs: every change of owner moves the device's epoch, and the
// owner reports the epoch it took.
func TestEpochs(t *testing.T) {
	e := newEstate(t, 1)
	a := e.start("a")
	e.settle(map[string]int{"a": 1}, 5*time.Second)
	ea, _ := a.Owns("chassis/hv1")
	e.kill("a")
	b := e.start("b")
	e.settle(map[string]int{"b": 1}, 5*time.Second)
	eb, _ := b.Owns("chassis/hv1")
	if ea != 1 || eb != 2 {
		t.Errorf("epochs %d then %d, want 1 then 2", ea, eb)
	}
	if o := b.Owner("chassis/hv1"); o.Replica != "b" || o.Epoch != 2 {
		t.Errorf("owner %+v", o)
	}
	st := b.Replicas()
	if len(st) != 1 || st[0].ID != "b" || !st[0].Self || len(st[0].Devices) != 1 {
		t.Errorf("replicas %+v", st)
	}
}

// TestLostSessionOwnsNothing: when the replica's session ends, Owns
// turns false at once, before the manager's next look.
func TestLostSessionOwnsNothing(t *testing.T) {
	e := newEstate(t, 3)
	a := e.start("a")
	e.settle(map[string]int{"a": 3}, 5*time.Second)
	s := e.session("a")
	s.kill()
	for _, d := range e.devices {
		if _, ok := a.Owns(d); ok {
			t.Errorf("%s still owned after the session ended", d)
		}
	}
}

// TestRealizedPublished: what the owner says it realized reaches the
// store for the others to read, and only for devices it owns.
func TestRealizedPublished(t *testing.T) {
	e := newEstate(t, 2)
	a := e.start("a")
	e.settle(map[string]int{"a": 2}, 5*time.Second)
	a.Realized("chassis/hv1", 7)
	a.Realized("chassis/hv1", 5) // older: ignored
	a.Realized("chassis/hv9", 7) // not a's
	deadline := time.Now().Add(5 * time.Second)
	for {
		owners, _ := e.st.Owners()
		if owners["chassis/hv1"].Realized == 7 {
			if _, ok := owners["chassis/hv9"]; ok {
				t.Errorf("published a device a does not own: %v", owners)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not published: %v", owners)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPeerControllers: the other replicas' OpenFlow targets, kept for a
// grace period after one goes away, then dropped.
func TestPeerControllers(t *testing.T) {
	e := newEstate(t, 2)
	a := e.start("a")
	e.mu.Lock()
	e.replicas["a"].m.cfg.ControllerGrace = 300 * time.Millisecond
	e.mu.Unlock()
	// b registers with its own target.
	s := e.a.session()
	b := New(Config{Self: model.Replica{ID: "b", OpenFlow: "tcp:198.18.255.2:6653"}, Store: e.st, Locks: s,
		Devices: func() []string { return e.devices }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.Run(ctx) }()
	e.st.mu.Lock()
	e.st.watchers = append(e.st.watchers, b.Kick)
	e.st.mu.Unlock()
	wait := func(what string, want []string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for fmt.Sprint(a.PeerControllers()) != fmt.Sprint(want) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v, want %v", what, a.PeerControllers(), want)
			}
			a.Kick()
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("b running", []string{"tcp:198.18.255.2:6653"})
	s.kill()
	cancel()
	<-done
	time.Sleep(100 * time.Millisecond)
	if got := a.PeerControllers(); len(got) != 1 {
		t.Errorf("b just gone: %v, want it kept for the grace period", got)
	}
	wait("b gone for good", nil)
}

// TestNorthboundDownOwnsNothing: when the northbound connection is lost
// while its cache stays (libovsdb reconnecting), Owns turns false at
// once, the device locks are let go without waiting for the tick, and
// the devices come back once it is healthy again.
func TestNorthboundDownOwnsNothing(t *testing.T) {
	e := newEstate(t, 2)
	a := e.start("a")
	e.settle(map[string]int{"a": 2}, 5*time.Second)
	s := e.session("a")

	e.st.setDown(true)
	for _, d := range e.devices {
		if _, ok := a.Owns(d); ok {
			t.Errorf("%s still owned with the northbound down", d)
		}
	}
	// Well within the manager's 1 s tick: the health transition is
	// what makes it look.
	deadline := time.Now().Add(700 * time.Millisecond)
	for s.Held(deviceLock+"chassis/hv1") || s.Held(deviceLock+"chassis/hv2") {
		if time.Now().After(deadline) {
			t.Fatal("device locks still held with the northbound down")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !s.Held(replicaLock + "a") {
		t.Error("replica lock given up: the replica should stay registered")
	}
	if st := a.Replicas(); len(st) != 1 || len(st[0].Devices) != 0 {
		t.Errorf("replicas with the northbound down: %+v", st)
	}

	e.st.setDown(false)
	e.settle(map[string]int{"a": 2}, 5*time.Second)
}

// TestDrainTakesNothing: a draining replica keeps the devices it owns
// but takes no new one, even one assigned to it with its lock free.
func TestDrainTakesNothing(t *testing.T) {
	a := newArbiter()
	st := newStore()
	var mu sync.Mutex
	devices := []string{"chassis/hv1"}
	s := a.session()
	m := New(Config{Self: model.Replica{ID: "a"}, Store: st, Locks: s,
		Devices: func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(devices) }})
	ctx := context.Background()
	m.step(ctx) // takes the replica lock
	m.step(ctx) // registers, wants hv1's lock
	m.step(ctx) // owns hv1
	if _, ok := m.Owns("chassis/hv1"); !ok {
		t.Fatal("hv1 not owned before draining")
	}

	m.Drain()
	mu.Lock()
	devices = append(devices, "chassis/hv2")
	mu.Unlock()
	for range 3 {
		m.step(ctx)
	}
	if _, ok := m.Owns("chassis/hv1"); !ok {
		t.Error("hv1 given up while draining: it stays until the loops stop")
	}
	if _, ok := m.Owns("chassis/hv2"); ok || s.Held(deviceLock+"chassis/hv2") {
		t.Error("a draining replica took hv2")
	}
	if st.takes != 1 {
		t.Errorf("%d ownerships recorded, want 1 (hv1 before draining)", st.takes)
	}
}

// TestReplicasListsHeldDevicesOnce: a device whose lock this replica holds
// is listed under it alone, even while the owner records it read before
// it took the device still name the previous owner (seen after a
// northbound leader change: every replica takes its share again, and the
// records catch up a round later).
func TestReplicasListsHeldDevicesOnce(t *testing.T) {
	m := &Manager{cfg: Config{Self: model.Replica{ID: "a"}}, registered: true,
		owned:  map[string]uint64{"chassis/hv1": 2},
		live:   []model.Replica{{ID: "a"}, {ID: "b"}},
		owners: map[string]model.Owner{"chassis/hv1": {Replica: "b", Epoch: 1}, "chassis/hv2": {Replica: "b", Epoch: 1}}}
	st := m.Replicas()
	if len(st) != 2 || !slices.Equal(st[0].Devices, []string{"chassis/hv1"}) || !slices.Equal(st[1].Devices, []string{"chassis/hv2"}) {
		t.Errorf("replicas %+v, want hv1 under a only and hv2 under b", st)
	}
}
