package reconcile

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
)

// A change to one switch wakes only the chassis that carry it: a third
// chassis carrying another switch makes no pass, yet counts as in step with
// the new generation, and the other switch stays realized throughout.
func TestSandboxChangeWakesOnlyCarriers(t *testing.T) {
	s := newSandboxOf(t, "hv1", "hv2", "hv3")
	s.waitBridge("hv2")
	s.waitBridge("hv3")
	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	s.addVIF("hv1", "vm3", "blue-c", "52:54:00:00:01:0c") // no port names it yet
	s.addVIF("hv2", "vm2", "blue-b", "52:54:00:00:01:0b")
	s.addVIF("hv2", "vm4", "red-b", "52:54:00:00:02:0b")
	s.addVIF("hv3", "vm5", "red-c", "52:54:00:00:02:0c")
	s.update(func(n *model.Snapshot) {
		n.Switches = []model.Switch{
			{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1, Ports: []model.Port{
				{Switch: "blue", Name: "a", IfaceID: "blue-a"}, {Switch: "blue", Name: "b", IfaceID: "blue-b"}}},
			{Name: "red", VNI: 1002, Encap: "vxlan", Generation: n.Generation + 1, Ports: []model.Port{
				{Switch: "red", Name: "b", IfaceID: "red-b"}, {Switch: "red", Name: "c", IfaceID: "red-c"}}},
		}
	})
	s.waitRealized()
	// Let the passes the VIFs and bridges caused settle, including the
	// one that records the generation on the bridge up to
	// generationEvery after a change: a busy machine stretches them.
	hv3 := s.ctl.loop("hv3").l
	for last, quiet := hv3.passes.Load(), time.Now(); time.Since(quiet) < generationEvery+500*time.Millisecond; time.Sleep(50 * time.Millisecond) {
		if n := hv3.passes.Load(); n != last {
			last, quiet = n, time.Now()
		}
	}
	s.waitRealized()
	red := s.snap.Switches[1]
	before := hv3.passes.Load()
	redFlows := s.dumpFlows("hv3")

	var unrealized atomic.Int32
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if !s.ctl.Switch(red).Realized {
				unrealized.Add(1)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for i := 0; i < 3; i++ {
		s.update(func(n *model.Snapshot) {
			blue := n.Switches[0]
			if i%2 == 0 {
				blue.Ports = append(append([]model.Port(nil), blue.Ports...), model.Port{Switch: "blue", Name: "c", IfaceID: "blue-c"})
			} else {
				blue.Ports = blue.Ports[:2]
			}
			blue.Generation = n.Generation + 1
			n.Switches = []model.Switch{blue, n.Switches[1]}
		})
		s.waitRealized()
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	<-done
	if n := hv3.passes.Load() - before; n != 0 {
		t.Errorf("hv3, which carries only red, made %d passes for changes to blue", n)
	}
	if got := s.ctl.Chassis("hv3").RealizedGeneration; got != s.snap.Generation {
		t.Errorf("hv3 realized generation %d, want %d: unaffected devices count as in step", got, s.snap.Generation)
	}
	if n := unrealized.Load(); n != 0 {
		t.Errorf("red showed unrealized %d times while only blue changed", n)
	}
	if got := s.dumpFlows("hv3"); len(got) != len(redFlows) {
		t.Errorf("hv3's flows changed: %d → %d", len(redFlows), len(got))
	}
	// hv1 and hv2 did the work: blue/c is on hv1, its MAC on hv2.
	if st := s.ctl.Switch(s.snap.Switches[0]); !st.Realized || st.PortsBound != 3 {
		t.Errorf("blue: %+v", st)
	}
}

// A switch recreated at once under another name with the same VNI and the
// same VIFs keeps its flood groups on the bridge: deleting them would make
// OVS delete the new switch's flood flows too.
func TestSandboxVNIReuseKeepsFlood(t *testing.T) {
	s := newSandbox(t)
	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	s.waitBridge("hv2")
	s.addVIF("hv2", "vm2", "blue-b", "52:54:00:00:01:0b")
	ports := func(sw string) []model.Port {
		return []model.Port{{Switch: sw, Name: "a", IfaceID: "blue-a"}, {Switch: sw, Name: "b", IfaceID: "blue-b"}}
	}
	s.update(func(n *model.Snapshot) {
		n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1, Ports: ports("blue")}}
	})
	s.waitRealized()
	s.update(func(n *model.Snapshot) {
		n.Switches = []model.Switch{{Name: "green", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1, Ports: ports("green")}}
	})
	s.waitRealized()
	check := func(when string) {
		t.Helper()
		joined := strings.Join(s.dumpFlows("hv1"), "\n")
		for _, want := range []string{"priority=50,tun_id=0x3e9,metadata=0x1 actions=group:2147485650",
			"priority=50,tun_id=0x3e9,metadata=0x2 actions=group:2147485651"} {
			if !strings.Contains(joined, want) {
				t.Errorf("%s: hv1 lacks %q:\n%s", when, want, joined)
			}
		}
		trace := s.hvs["hv1"].Appctl(t, "ovs-vswitchd", "ofproto/trace", "br-int", "in_port=2,dl_src=52:54:00:00:01:0a,dl_dst=ff:ff:ff:ff:ff:ff")
		if !strings.Contains(trace, "output:32768") {
			t.Errorf("%s: a broadcast from vm1 does not reach the tunnel:\n%s", when, trace)
		}
	}
	check("after the switch was recreated")
	// A resync re-reads the tables: nothing may be missing then either.
	s.ctl.loop("hv1").l.resync()
	time.Sleep(200 * time.Millisecond)
	s.waitRealized()
	check("after a resync")
}
