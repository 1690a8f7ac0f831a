package e2e

import (
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
)

// cutter relays a unix socket to the northbound database and can cut
// every connection through it: the server side is closed (the server
// releases that replica's locks, as after its own probe gave up) and the
// replica's side goes silent, as behind a dropped link.
type cutter struct {
	path string
	mu   sync.Mutex
	cut  bool
	up   []net.Conn
}

func newCutter(t *testing.T, dir, to string) *cutter {
	t.Helper()
	c := &cutter{path: filepath.Join(dir, "nb-relay.sock")}
	ln, err := net.Listen("unix", c.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { down.Close() })
			c.mu.Lock()
			if c.cut {
				c.mu.Unlock()
				go io.Copy(io.Discard, down) // silent
				continue
			}
			up, err := net.Dial("unix", to)
			if err != nil {
				c.mu.Unlock()
				down.Close()
				continue
			}
			c.up = append(c.up, up)
			c.mu.Unlock()
			go func() { io.Copy(up, down); up.Close() }()
			go func() {
				io.Copy(down, up)
				// The server side is gone: stay silent towards the
				// replica instead of closing, as a cut link would.
				io.Copy(io.Discard, down)
			}()
		}
	}()
	return c
}

func (c *cutter) cutAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	for _, u := range c.up {
		u.Close()
	}
}

// masters counts the controllers of hv's br-int that OVS reports master.
// OVS refreshes the Controller table's role column every few seconds, so
// this catches two masters that last, not a moment's overlap: that the
// bridge itself rules out, since a master request demotes the others.
func (e *env) masters(hv string) int {
	out := e.lab.OVS(e.t, hv, "ovs-vsctl", "--bare", "--columns=role", "find", "controller", "role=master")
	return strings.Count(out, "master")
}

// TestReplicaCutOff: the replica owning hv1 is cut off from the
// northbound database. The other takes hv1 over and becomes its bridge's
// master with a newer generation; the cut-off replica, which still
// believes it owns hv1 until its lock session gives up, is refused the
// master role and installs nothing; once its lock is gone it stops
// trying. At no moment are two controllers master of one bridge.
func TestReplicaCutOff(t *testing.T) {
	l := lab.Up(t)
	nbTarget := startNB(t, l)
	relay := newCutter(t, l.Dir, strings.TrimPrefix(nbTarget, "unix:"))
	// r1 reaches the database through the relay, r2 directly.
	e, reps := startReplicas(t, l, "unix:"+relay.path, nbTarget)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	e.addGuests("blue", blueA, blueB)
	for _, p := range []string{"blue-c", "blue-d"} {
		e.must("POST", "/v1/switches/blue/ports", map[string]any{"name": p, "iface_id": "iface-" + p})
	}
	e.waitRealized("blue", 2)

	// The chassis r1 owns.
	var target string
	deadline := time.Now().Add(20 * time.Second)
	for target == "" {
		for _, hv := range []string{"hv1", "hv2", "hv3"} {
			var st chassisOwner
			e.getFrom(reps[1], "/v1/chassis/"+hv, &st)
			if st.Status.Owner == "r1" && st.Status.OpenFlowConnected {
				target = hv
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("r1 owns no connected chassis")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := e.lab.WaitPing(t, "blue-a", blueB.ip(), 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// Watch the bridge's controllers all along.
	var twoMasters, watched int
	stop := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if n := e.masters(target); n > 1 {
				twoMasters++
			}
			watched++
		}
	}()
	defer func() {
		close(stop)
		<-watcherDone
		if twoMasters > 0 {
			t.Errorf("%s's bridge had two masters in %d of %d looks", target, twoMasters, watched)
		}
	}()

	relay.cutAll()
	cut := time.Now()

	// r2 owns the chassis and is master of its bridge.
	for {
		var st chassisOwner
		e.getFrom(reps[1], "/v1/chassis/"+target, &st)
		if st.Status.Owner == "r2" && st.Status.OpenFlowConnected {
			break
		}
		if time.Since(cut) > 20*time.Second {
			t.Fatalf("%s not taken over by r2 20 s after r1 was cut off: %+v", target, st.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("r1 cut off: %s owned by r2 after %v", target, time.Since(cut))

	// A VIF appears on the chassis: both replicas see it, r1 still
	// believes it owns the chassis, and must be refused.
	flowMods := e.metricFrom(reps[0], "ferry_openflow_flow_mods_total")
	hv := target
	e.lab.Guest(t, hv, "blue-c", "198.18.100.3/24", "02:b1:0e:00:00:0c", "iface-blue-c")
	var refused string
	for refused == "" && time.Since(cut) < 3*time.Second {
		var st struct {
			Status struct {
				LastError string `json:"last_error"`
			} `json:"status"`
		}
		e.getFrom(reps[0], "/v1/chassis/"+target, &st)
		if strings.Contains(st.Status.LastError, "newer owner") {
			refused = st.Status.LastError
		}
		time.Sleep(20 * time.Millisecond)
	}
	if refused == "" {
		t.Errorf("r1, cut off and still holding its lock for a while, was not refused the master role of %s", target)
	} else {
		t.Logf("r1, cut off, was refused: %s", refused)
	}
	if n := e.metricFrom(reps[0], "ferry_openflow_flow_mods_total") - flowMods; n != 0 {
		t.Errorf("r1, cut off, installed %v flow_mods", n)
	}
	// Its lock session gives up: it no longer tries.
	time.Sleep(4 * time.Second)
	bundles := e.metricFrom(reps[0], "ferry_openflow_bundle_duration_seconds_count")
	e.lab.Guest(t, hv, "blue-d", "198.18.100.4/24", "02:b1:0e:00:00:0d", "iface-blue-d")
	time.Sleep(time.Second)
	if n := e.metricFrom(reps[0], "ferry_openflow_bundle_duration_seconds_count") - bundles; n != 0 {
		t.Errorf("r1, its lock gone, still sent %v bundles", n)
	}
	// r2 drives the chassis: blue-c reaches blue-a.
	if err := e.lab.WaitPing(t, "blue-c", blueA.ip(), 10*time.Second); err != nil {
		t.Errorf("blue-c on %s after the take-over: %v", hv, err)
	}
}
