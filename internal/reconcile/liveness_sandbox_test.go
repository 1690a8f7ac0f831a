package reconcile

import (
	"net"
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
	s.waitBridge("hv2")
	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	s.addVIF("hv2", "vm2", "blue-b", "52:54:00:00:01:0b")
	s.update(func(n *model.Snapshot) {
		n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1, Ports: []model.Port{
			{Switch: "blue", Name: "a", IfaceID: "blue-a"}, {Switch: "blue", Name: "b", IfaceID: "blue-b"}}}}
	})
	s.waitRealized()
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
	if s.ctl.loop("hv2").l.passes.Load() == passes {
		t.Error("hv2 made no pass after the change: the freeze was not mid-pass")
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
