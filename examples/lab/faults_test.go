package lab

import (
	"strings"
	"testing"
)

// TestFaultsAndRepairs: the soak's faults really cut what they claim to,
// and their repairs bring the host back as Up built it, on the same
// database.
func TestFaultsAndRepairs(t *testing.T) {
	l := Up(t)
	hv1, _ := l.Hypervisor("hv1")
	underlay := func() error {
		_, err := l.Exec(t, "hv3", "ping", "-q", "-c", "1", "-W", "1", hv1.TunnelIP)
		return err
	}
	mgmt := func() error {
		_, err := l.Exec(t, "mgmt", "ovs-vsctl", "--timeout=2", "--db="+hv1.OVSDB, "get", "Open_vSwitch", ".", "external_ids:system-id")
		return err
	}
	if err := underlay(); err != nil {
		t.Fatalf("underlay before any fault: %v", err)
	}

	l.KillDaemon(t, "hv1", OVSVswitchd, "KILL")
	if err := underlay(); err == nil {
		t.Fatal("hv1's underlay address still answers with its ovs-vswitchd killed")
	}
	l.StartDaemon(t, "hv1", OVSVswitchd)
	if err := underlay(); err != nil {
		t.Errorf("underlay after ovs-vswitchd restarted: %v", err)
	}
	if out := l.OVS(t, "hv1", "ovs-vsctl", "list-br"); !strings.Contains(out, "br-int") {
		t.Errorf("bridges after ovs-vswitchd restarted: %q", out)
	}

	l.KillDaemon(t, "hv1", OVSDBServer, "KILL")
	if err := mgmt(); err == nil {
		t.Fatal("hv1's OVSDB answers with its ovsdb-server killed")
	}
	l.StartDaemon(t, "hv1", OVSDBServer)
	if err := mgmt(); err != nil {
		t.Errorf("OVSDB after ovsdb-server restarted: %v", err)
	}
	// Same database: what was there before is still there.
	if out := l.OVS(t, "hv1", "ovs-vsctl", "get", "Open_vSwitch", ".", "external_ids:system-id"); strings.TrimSpace(out) != `hv1` {
		t.Errorf("system-id after the restart: %q", out)
	}

	for _, c := range []struct {
		link  string
		probe func() error
	}{{UnderlayLink, underlay}, {MgmtLink, mgmt}} {
		for _, mode := range []string{LinkDown, LinkLoss} {
			l.Cut(t, c.link, "hv1", mode)
			if err := c.probe(); err == nil {
				t.Errorf("%s of hv1 cut (%s) still carries traffic", c.link, mode)
			}
			l.Heal(t, c.link, "hv1")
			if err := waitOK(c.probe); err != nil {
				t.Errorf("%s of hv1 after healing a %s cut: %v", c.link, mode, err)
			}
		}
	}
}

// waitOK retries probe a few times: a link that comes back up needs a
// moment (carrier, neighbour) before the first answer.
func waitOK(probe func() error) error {
	var err error
	for range 10 {
		if err = probe(); err == nil {
			return nil
		}
	}
	return err
}
