package reconcile

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/openflow"
)

// grants is an Ownership the test sets: the devices listed are owned
// here, the others by replica "b".
type grants struct {
	mu       sync.Mutex
	owned    map[string]uint64
	realized map[string]int64 // what this replica published
	theirs   int64            // what b publishes of its devices
	epoch    uint64           // the epoch of b's ownership
}

func (g *grants) Realized(device string, gen int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.realized == nil {
		g.realized = map[string]int64{}
	}
	g.realized[device] = gen
}

func (g *grants) Owns(device string) (uint64, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.owned[device]
	return e, ok
}

func (g *grants) Owner(device string) model.Owner {
	if e, ok := g.Owns(device); ok {
		return model.Owner{Device: device, Replica: "a", Epoch: e}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return model.Owner{Device: device, Replica: "b", Realized: g.theirs, Epoch: g.epoch}
}

func (g *grants) set(device string, epoch uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if epoch == 0 {
		delete(g.owned, device)
	} else {
		g.owned[device] = epoch
	}
}

// TestSandboxOwnership: a chassis another replica owns is observed (its
// VIFs reach the other chassis' flows) but never written; taken over with
// nothing changed meanwhile, the first pass sends no flow_mod and no OVSDB
// transaction; taken over after a change, it catches up.
func TestSandboxOwnership(t *testing.T) {
	own := &grants{owned: map[string]uint64{"chassis/hv1": 1, "chassis/hv2": 1}}
	s := newSandbox(t)
	s.own = own
	s.stop()
	s.start()
	s.blueAcross()

	// The owner is the bridges' master at its epoch.
	if st := s.role(t, "hv2"); st.Role != openflow.RoleMaster || st.Generation != 1 {
		t.Errorf("hv2's session as owner: %+v, want master at generation 1", st)
	}

	// hv2 goes to replica b: this replica becomes a slave of its bridge.
	own.mu.Lock()
	own.epoch = 2
	own.mu.Unlock()
	own.set("chassis/hv2", 0)
	s.ctl.KickDevices()
	eventually(t, "hv2 shown as b's", func() (bool, string) { return s.ctl.Chassis("hv2").Owner == "b", "" })
	eventually(t, "hv2's session a slave", func() (bool, string) {
		st := s.role(t, "hv2")
		return st.Role == openflow.RoleSlave, st.Role.String()
	})
	hv2Flows := strings.Join(s.dumpFlows("hv2"), "\n")
	txns := testutil.ToFloat64(s.ctl.cfg.Metrics.transactions)

	// A VIF on hv2 and its port: hv1 learns it (hv2 is still observed),
	// hv2 itself is left alone.
	s.addVIF("hv2", "vm3", "blue-c", "52:54:00:00:01:0c")
	s.addPort("c", "blue-c")
	eventually(t, "hv1's flows towards vm3 on hv2", func() (bool, string) {
		return strings.Contains(strings.Join(s.dumpFlows("hv1"), "\n"), "52:54:00:00:01:0c"), ""
	})
	time.Sleep(300 * time.Millisecond) // a pass of hv2, had it been owned, would have written by now
	if got := strings.Join(s.dumpFlows("hv2"), "\n"); got != hv2Flows {
		t.Errorf("hv2 is b's, yet its flows changed:\n%s\nwere:\n%s", got, hv2Flows)
	}
	if st := s.ctl.Chassis("hv2"); !st.OVSDBConnected || st.LastError != "" {
		t.Errorf("hv2 observed: %+v", st)
	}

	// hv2's realization is what b publishes: not yet in step, then in
	// step; hv1's is published by this replica.
	if st := s.ctl.Switch(s.snap.Switches[0]); st.Realized {
		t.Errorf("blue realized while b has published nothing for hv2: %+v", st.Chassis)
	}
	own.mu.Lock()
	own.theirs = s.snap.Generation
	own.mu.Unlock()
	if st := s.ctl.Switch(s.snap.Switches[0]); !st.Realized {
		t.Errorf("blue not realized with hv1 done here and hv2 published by b: %+v", st.Chassis)
	}
	if got := s.ctl.Chassis("hv2").RealizedGeneration; got != s.snap.Generation {
		t.Errorf("hv2 realized generation %d, want b's %d", got, s.snap.Generation)
	}
	own.mu.Lock()
	published := own.realized["chassis/hv1"]
	own.mu.Unlock()
	if published != s.snap.Generation {
		t.Errorf("hv1 published at %d, want %d", published, s.snap.Generation)
	}

	// Taken over after that change: hv2 catches up.
	own.set("chassis/hv2", 2)
	s.ctl.KickDevices()
	s.waitRealized()
	if st := s.ctl.Chassis("hv2"); st.Owner != "a" {
		t.Errorf("hv2 owner %q after the take-over", st.Owner)
	}
	if !strings.Contains(strings.Join(s.dumpFlows("hv2"), "\n"), "52:54:00:00:01:0c") {
		t.Errorf("hv2 has no flows for vm3 after the take-over")
	}

	// Given up and taken back with nothing changed: nothing is sent.
	own.set("chassis/hv2", 0)
	s.ctl.KickDevices()
	eventually(t, "hv2 shown as b's again", func() (bool, string) { return s.ctl.Chassis("hv2").Owner == "b", "" })
	eventually(t, "hv2's session a slave again", func() (bool, string) {
		st := s.role(t, "hv2")
		return st.Role == openflow.RoleSlave, st.Role.String()
	})
	before := s.of.Counters()
	txns = testutil.ToFloat64(s.ctl.cfg.Metrics.transactions)
	own.set("chassis/hv2", 3)
	s.ctl.KickDevices()
	eventually(t, "hv2's session master again", func() (bool, string) {
		st := s.role(t, "hv2")
		return st.Role == openflow.RoleMaster, st.Role.String()
	})
	s.waitRealized()
	after := s.of.Counters()
	if after.FlowMods != before.FlowMods || after.GroupMods != before.GroupMods {
		t.Errorf("take-over sent flow_mods %d→%d group_mods %d→%d", before.FlowMods, after.FlowMods, before.GroupMods, after.GroupMods)
	}
	if n := testutil.ToFloat64(s.ctl.cfg.Metrics.transactions); n != txns {
		t.Errorf("take-over sent %v OVSDB transactions", n-txns)
	}
	if st := s.role(t, "hv2"); st.Role != openflow.RoleMaster || st.Generation != 3 {
		t.Errorf("hv2's session after the take-over: %+v, want master at generation 3", st)
	}

	// Fencing: an owner whose epoch is older than one the bridge has seen
	// (another replica took it since) is refused the master role, and
	// writes nothing.
	own.set("chassis/hv2", 2)
	s.ctl.KickDevices()
	eventually(t, "a stale owner refused", func() (bool, string) {
		st := s.ctl.Chassis("hv2")
		return strings.Contains(st.LastError, "newer owner"), st.LastError
	})
	if st := s.role(t, "hv2"); st.Role == openflow.RoleMaster && st.Generation == 2 {
		t.Errorf("the bridge made a stale owner master: %+v", st)
	}
}

// role is the role of chassis hv's OpenFlow session with this ferryd.
func (s *sandbox) role(t *testing.T, hv string) openflow.RoleStatus {
	t.Helper()
	dpid, ok := hypervisor.ParseDatapathID(s.ctl.Chassis(hv).DatapathID)
	if !ok {
		t.Fatalf("%s has no datapath ID yet", hv)
	}
	sess := s.of.Bound(dpid)
	if sess == nil {
		t.Fatalf("%s's bridge has no session", hv)
	}
	return sess.Role()
}

// hookedDevice is a chassis database whose transactions call before
// first.
type hookedDevice struct {
	Device
	before func()
}

func (d hookedDevice) Client() client.Client {
	cli := d.Device.Client()
	if cli == nil {
		return nil
	}
	return hookedClient{cli, d.before}
}

type hookedClient struct {
	client.Client
	before func()
}

func (c hookedClient) Transact(ctx context.Context, ops ...libovsdb.Operation) ([]libovsdb.OperationResult, error) {
	c.before()
	return c.Client.Transact(ctx, ops...)
}

// TestSandboxOwnershipLostMidPass: a device whose ownership is lost while
// a pass writes to it gets no further OVSDB transaction from that pass
// (the new owner may be writing it already).
func TestSandboxOwnershipLostMidPass(t *testing.T) {
	own := &grants{owned: map[string]uint64{"chassis/hv1": 1, "chassis/hv2": 1}}
	s := newSandbox(t)
	s.own = own
	var mu sync.Mutex
	var armed, dropped bool
	var after int // hv2's transactions after it was lost
	s.wrap = func(ch model.Chassis, dev Device) Device {
		if ch.Name != "hv2" {
			return dev
		}
		return hookedDevice{dev, func() {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case dropped:
				after++
			case armed:
				// Lost while this first write is in flight.
				dropped = true
				own.set("chassis/hv2", 0)
			}
		}}
	}
	s.stop()
	s.start()
	s.blueAcross()

	// blue moves to GRE: each chassis' pass adds a GRE tunnel port, then
	// deletes the VXLAN one, in two transactions.
	mu.Lock()
	armed = true
	mu.Unlock()
	s.update(func(n *model.Snapshot) {
		sw := n.Switches[0]
		sw.Encap, sw.Generation = "gre", n.Generation+1
		n.Switches = []model.Switch{sw}
	})
	eventually(t, "hv2 lost during its first write", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return dropped, ""
	})
	eventually(t, "hv1 realized the change", func() (bool, string) {
		st := s.ctl.Chassis("hv1")
		return st.RealizedGeneration == s.snap.Generation, st.LastError
	})
	time.Sleep(300 * time.Millisecond) // hv2's pass, had it gone on, would have written by now
	mu.Lock()
	defer mu.Unlock()
	if after != 0 {
		t.Errorf("%d OVSDB transactions to hv2 after its ownership was lost", after)
	}
}
