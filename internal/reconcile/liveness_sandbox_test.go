package reconcile

import (
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
)

// A hypervisor whose ovsdb-server freezes (SIGSTOP: the socket stays open,
// nothing answers, as with a host that hangs) while a pass is writing to it
// shows disconnected within 5 s, and the pass does not hold the loop: once
// the server thaws, the chassis converges again.
func TestSandboxFrozenOvsdbMidPass(t *testing.T) {
	s := newSandbox(t)
	s.blueAcross()
	if !s.ctl.Chassis("hv2").OVSDBConnected {
		t.Fatal("hv2 not connected before the freeze")
	}

	pid := s.hvs["hv2"].OvsdbPID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	frozen := time.Now()
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(thaw)
	// hv1 moves: hv2's tunnel port must be rewritten, so hv2's next pass
	// sends a transaction the frozen server never answers.
	passes := s.ctl.loop("hv2").l.passes.Load()
	s.update(func(n *model.Snapshot) {
		n.Chassis = append([]model.Chassis(nil), n.Chassis...)
		n.Chassis[0].TunnelIP = net.IPv4(198, 18, 1, 99).To4()
	})
	for s.ctl.Chassis("hv2").OVSDBConnected {
		if time.Since(frozen) > 5*time.Second {
			t.Fatalf("hv2 still shows ovsdb_connected 5 s after its server froze: %+v", s.ctl.Chassis("hv2"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("hv2 shown disconnected %v after the freeze", time.Since(frozen).Round(time.Millisecond))
	// The change's pass may queue behind one the freeze caught (the echo
	// of the last realization); that one ends when the connection is
	// declared dead, so the change's pass starts soon after.
	for s.ctl.loop("hv2").l.passes.Load() == passes {
		if time.Since(frozen) > 10*time.Second {
			t.Fatal("hv2 made no pass after the change while frozen: a pass is stuck on the dead device")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := s.ctl.Switch(s.snap.Switches[0]); st.Realized {
		t.Errorf("blue shows realized while hv2 cannot take the change: %+v", st)
	}
	thaw()
	s.waitRealized()
	out := s.hvs["hv2"].Vsctl(t, "--columns=options", "find", "interface", "type=vxlan")
	if !strings.Contains(out, "198.18.1.99") {
		t.Errorf("hv2's tunnel does not point at hv1's new address after the thaw:\n%s", out)
	}
}

// A second registration of hv1 under another spelling of its target is held
// back and shown as a conflict: it writes nothing, claims none of hv1's
// VIFs, and hv1 keeps forwarding. When hv1's registration goes, the other
// one takes the device over.
func TestSandboxDuplicateRegistration(t *testing.T) {
	s := newSandbox(t)
	s.blueAcross()
	before := s.dumpFlows("hv1")

	s.registerHV1Again()
	// The conflict is set by the pass, the last error by its loop once
	// the pass returns: a reading in between has the one without the other.
	eventually(t, "the conflict naming hv1", func() (bool, string) {
		st := s.ctl.Chassis("hv1-again")
		return strings.Contains(st.Conflict, `chassis "hv1"`) && strings.Contains(st.LastError, "conflict"), fmt.Sprintf("%+v", st)
	})
	// Let a few passes go by: nothing may change on hv1.
	s.ctl.loop("hv1-again").l.resync()
	s.ctl.loop("hv1").l.resync()
	time.Sleep(500 * time.Millisecond)
	if after := s.dumpFlows("hv1"); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("hv1's flows changed under the duplicate registration:\nbefore %v\nafter  %v", before, after)
	}
	sw := s.ctl.Switch(s.snap.Switches[0])
	for _, c := range sw.Chassis {
		if c.Name == "hv1-again" {
			t.Errorf("blue is carried by the held-back registration: %+v", sw)
		}
	}
	if !sw.Realized || sw.PortsBound != 2 {
		t.Errorf("blue while the duplicate is held back: %+v", sw)
	}
	if out := s.hvs["hv1"].Vsctl(t, "--columns=options", "find", "interface", "type=vxlan"); strings.Contains(out, "198.18.1.77") {
		t.Errorf("the duplicate's tunnel IP reached hv1's tunnels:\n%s", out)
	}
	trace := s.hvs["hv1"].Appctl(t, "ovs-vswitchd", "ofproto/trace", "br-int", "in_port=2,dl_src=52:54:00:00:01:0a,dl_dst=52:54:00:00:01:0b")
	if !strings.Contains(trace, "output:32768") {
		t.Errorf("vm1's frames to vm2 no longer reach the tunnel:\n%s", trace)
	}

	// hv1's registration goes: the other takes the device.
	s.update(func(n *model.Snapshot) {
		n.Chassis = slices.DeleteFunc(slices.Clone(n.Chassis), func(c model.Chassis) bool { return c.Name == "hv1" })
	})
	deadline := time.Now().Add(10 * time.Second)
	for st := s.ctl.Chassis("hv1-again"); st.Conflict != "" || st.RealizedGeneration != s.snap.Generation; st = s.ctl.Chassis("hv1-again") {
		if time.Now().After(deadline) {
			t.Fatalf("the remaining registration did not take over: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A chassis whose database cannot be reached says why, not only that it
// is retrying: the guard in front of libovsdb keeps the dial error.
func TestSandboxUnreachableChassisSaysWhy(t *testing.T) {
	s := newSandbox(t)
	s.waitBridge("hv2")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	s.update(func(n *model.Snapshot) {
		n.Chassis = append(append([]model.Chassis(nil), n.Chassis...), model.Chassis{Name: "hv9", OVSDB: "tcp:" + closed,
			Bridge: "br-int", Kind: model.KindKVM, TunnelIP: net.IPv4(198, 18, 1, 90).To4(), Encaps: []string{"vxlan"}, Generation: n.Generation + 1})
		slices.SortFunc(n.Chassis, func(a, b model.Chassis) int { return strings.Compare(a.Name, b.Name) })
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.ctl.Chassis("hv9").LastError, "connection refused") {
		if time.Now().After(deadline) {
			t.Fatalf("hv9 does not say why it is not connected: %+v", s.ctl.Chassis("hv9"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("hv9: %s", s.ctl.Chassis("hv9").LastError)
}

// registerHV1Again registers hv1 a second time under another spelling of
// its target and waits until it is held back.
func (s *sandbox) registerHV1Again() {
	s.t.Helper()
	sock := s.hvs["hv1"].DBSock
	dup := model.Chassis{Name: "hv1-again", OVSDB: "unix:" + filepath.Dir(sock) + "/./" + filepath.Base(sock),
		Bridge: "br-int", Kind: model.KindKVM, TunnelIP: net.IPv4(198, 18, 1, 77).To4(), Encaps: []string{"vxlan"}}
	s.update(func(n *model.Snapshot) {
		dup.Generation = n.Generation + 1
		n.Chassis = append(append([]model.Chassis(nil), n.Chassis...), dup)
		slices.SortFunc(n.Chassis, func(a, b model.Chassis) int { return strings.Compare(a.Name, b.Name) })
	})
	deadline := time.Now().Add(10 * time.Second)
	for s.ctl.Chassis("hv1-again").Conflict == "" {
		if time.Now().After(deadline) {
			s.t.Fatalf("the second registration shows no conflict: %+v", s.ctl.Chassis("hv1-again"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Deleting the held-back registration (what its conflict tells the
// operator to do) leaves the device to the one that drives it: no flow,
// tunnel port or controller of hv1 is removed.
func TestSandboxDeleteHeldBackRegistration(t *testing.T) {
	s := newSandbox(t)
	s.blueAcross()
	before := s.dumpFlows("hv1")
	// Row UUIDs: a port or controller removed and put back by hv1's own
	// loop gets a new one, so even a quick repair shows.
	rowsOf := func() string {
		return s.hvs["hv1"].Vsctl(t, "--columns=_uuid", "find", "interface", "type=vxlan") +
			s.hvs["hv1"].Vsctl(t, "--columns=_uuid", "list", "controller")
	}
	rowsBefore := rowsOf()
	s.registerHV1Again()
	s.update(func(n *model.Snapshot) {
		n.Chassis = slices.DeleteFunc(slices.Clone(n.Chassis), func(c model.Chassis) bool { return c.Name == "hv1-again" })
	})
	deadline := time.Now().Add(5 * time.Second)
	for s.ctl.loop("hv1-again") != nil {
		if time.Now().After(deadline) {
			t.Fatal("hv1-again's loop still runs after its deletion")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The loop's release (the teardown of a deleted chassis) runs as it
	// stops; give a wrong one time to show.
	time.Sleep(time.Second)
	if after := s.dumpFlows("hv1"); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("deleting the held-back registration changed hv1's flows:\nbefore %v\nafter  %v", before, after)
	}
	if after := rowsOf(); after != rowsBefore {
		t.Errorf("deleting the held-back registration removed hv1's tunnel ports or controller:\nbefore %s\nafter  %s", rowsBefore, after)
	}
}
