package reconcile

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/events"
	"github.com/ferry-sdn/ferry/internal/model"
)

// driftOf returns the events of kind recorded for chassis hv.
func driftOf(l *events.Log, hv, kind string) []events.Event {
	return l.List(events.Filter{Device: "chassis/" + hv, Kind: kind})
}

// ferryFlow returns one of ferry's flows on hv's br-int, as dump-flows
// prints it, and its cookie.
func (s *sandbox) ferryFlow(t *testing.T, hv, contains string) (string, string) {
	t.Helper()
	for _, l := range strings.Split(s.hvs[hv].Ofctl(t, "dump-flows", "br-int"), "\n") {
		if strings.Contains(l, "cookie=0xfe77") && strings.Contains(l, contains) {
			cookie := strings.TrimSuffix(strings.Fields(strings.TrimSpace(l))[0], ",")
			return l, strings.TrimPrefix(cookie, "cookie=")
		}
	}
	t.Fatalf("no ferry flow with %q on %s", contains, hv)
	return "", ""
}

// TestSandboxDrift: a ferry flow deleted by hand, a tunnel port's
// remote_ip edited by hand are noticed without a resync, recorded and
// repaired; an operator's flow with another cookie is reported and left
// alone; with repair off, drift is recorded and nothing is changed.
func TestSandboxDrift(t *testing.T) {
	log := events.New(0)
	s := newSandbox(t)
	s.events, s.driftCheck = log, 100*time.Millisecond
	s.stop()
	s.start()
	s.blueAcross()
	hv1 := s.hvs["hv1"]

	// A flow: the one delivering to vm1's MAC.
	flow, cookie := s.ferryFlow(t, "hv1", "52:54:00:00:01:0a")
	hv1.Ofctl(t, "del-flows", "br-int", fmt.Sprintf("cookie=%s/-1", cookie))
	eventually(t, "the deleted flow noticed and put back", func() (bool, string) {
		ev := driftOf(log, "hv1", events.KindFlows)
		back := strings.Contains(hv1.Ofctl(t, "dump-flows", "br-int"), "cookie="+cookie+",")
		return len(ev) == 1 && ev[0].Repaired && back, fmt.Sprintf("events %+v, flow back %v", ev, back)
	})
	t.Logf("flow drift: %s", driftOf(log, "hv1", events.KindFlows)[0].What)
	_ = flow

	// The tunnel port's remote_ip.
	port := strings.TrimSpace(hv1.Vsctl(t, "--bare", "--columns=name", "find", "interface", "type=vxlan"))
	hv1.Vsctl(t, "set", "interface", port, "options:remote_ip=198.18.9.9")
	eventually(t, "the edited tunnel noticed and put back", func() (bool, string) {
		ev := driftOf(log, "hv1", events.KindOVSDB)
		ip := strings.TrimSpace(hv1.Vsctl(t, "get", "interface", port, "options:remote_ip"))
		return len(ev) == 1 && ev[0].Repaired && ip == `"198.18.1.12"`, fmt.Sprintf("events %+v, remote_ip %s", ev, ip)
	})
	t.Logf("ovsdb drift: %s", driftOf(log, "hv1", events.KindOVSDB)[0].What)

	// An operator's own flow: reported, left in place.
	hv1.Ofctl(t, "add-flow", "br-int", "table=0,priority=1,cookie=0x1234,actions=drop")
	eventually(t, "the operator's flow reported", func() (bool, string) {
		ev := driftOf(log, "hv1", events.KindForeignFlows)
		return len(ev) == 1 && !ev[0].Repaired, fmt.Sprintf("%+v", ev)
	})
	time.Sleep(300 * time.Millisecond)
	if !strings.Contains(hv1.Ofctl(t, "dump-flows", "br-int"), "cookie=0x1234") {
		t.Errorf("the operator's flow was removed")
	}

	// Repair off: recorded, nothing changed.
	s.stop()
	s.noRepair = true
	s.start()
	s.waitRealized()
	_, cookie = s.ferryFlow(t, "hv1", "52:54:00:00:01:0a")
	hv1.Ofctl(t, "del-flows", "br-int", fmt.Sprintf("cookie=%s/-1", cookie))
	eventually(t, "the deleted flow noticed, not repaired", func() (bool, string) {
		ev := driftOf(log, "hv1", events.KindFlows)
		return len(ev) == 2 && !ev[1].Repaired, fmt.Sprintf("%+v", ev)
	})
	time.Sleep(500 * time.Millisecond)
	if strings.Contains(hv1.Ofctl(t, "dump-flows", "br-int"), "cookie="+cookie+",") {
		t.Errorf("with repair off, the deleted flow came back")
	}
	if n := len(driftOf(log, "hv1", events.KindFlows)); n != 2 {
		t.Errorf("the same drift recorded %d times, want once", n-1)
	}
}

// TestSandboxGatewayDrift: a Ucast_Macs_Remote row ferry wrote, deleted by
// hand on the VTEP, is noticed, recorded and written again.
func TestSandboxGatewayDrift(t *testing.T) {
	log := events.New(0)
	s := newSandbox(t)
	s.events = log
	s.stop()
	s.start()
	gw, vtepctl := startVTEP(t, "p0")
	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	s.waitBridge("hv2")
	s.update(func(n *model.Snapshot) {
		n.Gateways = []model.Gateway{{Name: "gw1", OVSDB: "unix:" + gw.DBSock}}
		n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1,
			Ports:    []model.Port{{Switch: "blue", Name: "a", IfaceID: "blue-a"}},
			Bindings: []model.GatewayBinding{{Switch: "blue", Gateway: "gw1", Port: "p0", VLAN: 0}}}}
	})
	eventually(t, "vm1's MAC on the VTEP", func() (bool, string) {
		macs, _ := gw.RunErr("vtep-ctl", "--db=unix:"+gw.DBSock, "list-remote-macs", "ferry-blue")
		return strings.Contains(macs, "52:54:00:00:01:0a"), macs
	})
	time.Sleep(200 * time.Millisecond) // the passes of the binding settle
	vtepctl("del-ucast-remote", "ferry-blue", "52:54:00:00:01:0a")
	eventually(t, "the deleted row noticed and written again", func() (bool, string) {
		ev := log.List(events.Filter{Device: "gateway/gw1", Kind: events.KindVTEP})
		macs := vtepctl("list-remote-macs", "ferry-blue")
		return len(ev) == 1 && ev[0].Repaired && strings.Contains(macs, "52:54:00:00:01:0a"), fmt.Sprintf("%+v\n%s", ev, macs)
	})
	t.Logf("vtep drift: %s", log.List(events.Filter{Kind: events.KindVTEP})[0].What)
}
