package ovsdb

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/ovstest"
	"github.com/ferry-sdn/ferry/ovsdb/vswitch"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// Real ovsdb-servers dialing in with set-manager.

func managerTarget(p *Passive) string {
	return fmt.Sprintf("tcp:127.0.0.1:%d", p.Addr().(*net.TCPAddr).Port)
}

// hostDialingIn starts an ovsdb-server with the given system-id that
// dials p.
func hostDialingIn(t *testing.T, p *Passive, systemID string) *ovstest.Instance {
	t.Helper()
	inst := ovstest.Start(t, ovstest.Options{})
	// system-id before the manager, or the first connection is refused.
	inst.Vsctl(t, "set", "Open_vSwitch", ".", "external_ids:system-id="+systemID)
	inst.Vsctl(t, "set-manager", managerTarget(p))
	return inst
}

func vswitchConn(t *testing.T, target Target) *Conn {
	t.Helper()
	m, err := vswitch.FullDatabaseModel()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConn(ConnConfig{
		Targets:    []Target{target},
		Model:      m,
		Tables:     []string{"Open_vSwitch", "Bridge"},
		Logger:     testLogger(t),
		MinBackoff: 20 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond,
		Timeout:    2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func bridgeNames(t *testing.T, c *Conn) []string {
	t.Helper()
	var bs []vswitch.Bridge
	if err := c.Client().List(testCtx(t), &bs); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range bs {
		names = append(names, b.Name)
	}
	slices.Sort(names)
	return names
}

// addBridge adds a bridge through the relayed connection.
func addBridge(t *testing.T, c *Conn, name string) {
	t.Helper()
	var ovs []vswitch.OpenvSwitch
	if err := c.Client().List(testCtx(t), &ovs); err != nil || len(ovs) != 1 {
		t.Fatalf("Open_vSwitch rows: %v %v", ovs, err)
	}
	ops := []libovsdb.Operation{
		{Op: libovsdb.OperationInsert, Table: "Bridge", UUIDName: "newbr", Row: libovsdb.Row{"name": name}},
		{
			Op: libovsdb.OperationMutate, Table: "Open_vSwitch",
			Where:     []libovsdb.Condition{libovsdb.NewCondition("_uuid", libovsdb.ConditionEqual, libovsdb.UUID{GoUUID: ovs[0].UUID})},
			Mutations: []libovsdb.Mutation{*libovsdb.NewMutation("bridges", libovsdb.MutateOperationInsert, libovsdb.UUID{GoUUID: "newbr"})},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Transact(ctx, c.Client(), ops...); err != nil {
		t.Fatalf("add bridge %s: %v", name, err)
	}
}

func TestPassiveConnOverRealHost(t *testing.T) {
	ovstest.SkipIfMissing(t)
	skipIfRace(t)
	p := startPassive(t, passiveOpts{accept: func(n string) bool { return n == "hv7" }})
	inst := hostDialingIn(t, p, "hv7")
	eventually(t, 10*time.Second, "hv7 dialed in", func() bool { return p.Connected("hv7") })
	ep, _ := p.Endpoint("hv7")

	c := vswitchConn(t, ep)
	waitReady(t, c)
	var ovs []vswitch.OpenvSwitch
	if err := c.Client().List(testCtx(t), &ovs); err != nil {
		t.Fatal(err)
	}
	if len(ovs) != 1 || ovs[0].ExternalIDs["system-id"] != "hv7" {
		t.Fatalf("Open_vSwitch through the relay: %+v", ovs)
	}

	// ferry writes, the host sees it.
	addBridge(t, c, "br-ferry")
	inst.Vsctl(t, "br-exists", "br-ferry")
	// The host writes, ferry's monitor sees it.
	inst.Vsctl(t, "add-br", "br-host")
	eventually(t, 5*time.Second, "br-host in the cache", func() bool {
		return slices.Equal(bridgeNames(t, c), []string{"br-ferry", "br-host"})
	})

	// The host restarts its ovsdb-server: it dials in again and the same
	// Conn carries on.
	old := sessionOf(p, "hv7")
	if err := inst.RestartOvsdb(); err != nil {
		t.Fatal(err)
	}
	// Too quick to catch the Conn disconnected: look for it attached to
	// the new session instead.
	eventually(t, 15*time.Second, "Conn attached to the new session", func() bool {
		s := sessionOf(p, "hv7")
		if s == nil || s == old {
			return false
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.switched && c.Connected()
	})
	addBridge(t, c, "br-after-restart")
	inst.Vsctl(t, "br-exists", "br-after-restart")

	// The manager removed and set again.
	inst.Vsctl(t, "del-manager")
	eventually(t, 10*time.Second, "host gone", func() bool { return !p.Connected("hv7") })
	if _, err := os.Stat(ep.Path); !os.IsNotExist(err) {
		t.Fatalf("relay socket of a disconnected host: %v", err)
	}
	eventually(t, 5*time.Second, "Conn disconnected", func() bool { return !c.Connected() })
	inst.Vsctl(t, "set-manager", managerTarget(p))
	eventually(t, 15*time.Second, "Conn reconnected", func() bool { return p.Connected("hv7") && c.Connected() })
	inst.Vsctl(t, "del-br", "br-host")
	eventually(t, 5*time.Second, "br-host deleted in the cache", func() bool {
		return slices.Equal(bridgeNames(t, c), []string{"br-after-restart", "br-ferry"})
	})

	// ferry's side goes: the host's session (holding the old client's
	// monitors) is dropped, the host dials in afresh, a new Conn works.
	c.Close()
	eventually(t, 5*time.Second, "session dropped", func() bool { return !p.Connected("hv7") })
	c2 := vswitchConn(t, ep)
	waitReady(t, c2)
	if got := bridgeNames(t, c2); !slices.Equal(got, []string{"br-after-restart", "br-ferry"}) {
		t.Fatalf("bridges through the new Conn: %v", got)
	}
}

func TestPassiveRefusesRealUnregisteredHost(t *testing.T) {
	ovstest.SkipIfMissing(t)
	p := startPassive(t, passiveOpts{accept: func(n string) bool { return n == "hv7" }})
	inst := hostDialingIn(t, p, "hv9")
	eventually(t, 10*time.Second, "refusal", func() bool { return p.Refused() >= 1 })
	// Stop it retrying (OVS waits at least a second after a connection
	// drops) before counting.
	inst.Vsctl(t, "del-manager")
	time.Sleep(200 * time.Millisecond)
	if n := p.Refused(); n != 1 {
		t.Fatalf("Refused = %d, want 1", n)
	}
	if p.Connected("hv9") || len(p.Hosts()) != 0 {
		t.Fatalf("unregistered host adopted: %v", p.Hosts())
	}
	if _, ok := p.Endpoint("hv9"); ok {
		t.Fatal("endpoint for an unregistered host")
	}
}

func TestIdentifyByPhysicalSwitch(t *testing.T) {
	ovstest.SkipIfMissing(t)
	for _, bin := range []string{"vtep-ctl", "ovsdb-client"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	p := startPassive(t, passiveOpts{
		identify: IdentifyByPhysicalSwitch,
		accept:   func(n string) bool { return n == "ps1" },
	})
	inst := ovstest.Start(t, ovstest.Options{ExtraSchemas: []string{ovstest.VtepSchema}})
	vtepCtl := func(args ...string) {
		t.Helper()
		inst.Run(t, "vtep-ctl", append([]string{"--db=" + inst.DBRemote(), "--timeout=10"}, args...)...)
	}
	vtepCtl("add-ps", "ps1")
	// ovsdb-server serves both databases; its active remote comes from the
	// Open_vSwitch Manager table.
	inst.Vsctl(t, "set-manager", managerTarget(p))
	eventually(t, 10*time.Second, "ps1 dialed in", func() bool { return p.Connected("ps1") })
	if p.Refused() != 0 {
		t.Fatalf("Refused = %d", p.Refused())
	}

	// A second physical switch makes the VTEP ambiguous: refused when it
	// next dials in, which it does after ferry's client leaves.
	vtepCtl("add-ps", "ps2")
	ep, _ := p.Endpoint("ps1")
	// Any OVSDB client works through the relay, not only libovsdb.
	out, err := exec.Command("ovsdb-client", "--timeout=10", "dump", ep.String(), "hardware_vtep", "Physical_Switch", "name").CombinedOutput()
	if err != nil {
		t.Fatalf("ovsdb-client dump through the relay: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "ps1") || !strings.Contains(string(out), "ps2") {
		t.Fatalf("dump through the relay:\n%s", out)
	}
	eventually(t, 15*time.Second, "ambiguous VTEP refused", func() bool { return p.Refused() >= 1 })
	if p.Connected("ps1") {
		t.Fatal("ambiguous VTEP still connected")
	}
	inst.Vsctl(t, "del-manager")
}
