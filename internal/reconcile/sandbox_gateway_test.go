package reconcile

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/ovstest"
)

// eventually polls cond for up to 15 s.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, detail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startVTEP starts an ovsdb-server serving hardware_vtep with Physical_Switch
// ps1 (tunnel IP 198.18.3.31) and the given ports; vtepctl runs vtep-ctl
// on it.
func startVTEP(t *testing.T, ports ...string) (*ovstest.Instance, func(args ...string) string) {
	t.Helper()
	gw := ovstest.Start(t, ovstest.Options{Schemas: []string{ovstest.VtepSchema}})
	vtepctl := func(args ...string) string {
		t.Helper()
		return gw.Run(t, "vtep-ctl", append([]string{"--db=unix:" + gw.DBSock}, args...)...)
	}
	args := []string{"add-ps", "ps1", "--", "set", "Physical_Switch", "ps1", "tunnel_ips=198.18.3.31"}
	for _, p := range ports {
		args = append(args, "--", "add-port", "ps1", p)
	}
	vtepctl(args...)
	return gw, vtepctl
}

// TestSandboxGateway drives a real ovsdb-server serving hardware_vtep as
// the NVC, next to two dummy hypervisors: rows on the VTEP, flows on the
// hypervisors for the MACs the VTEP learned, nothing written on restart,
// foreign rows untouched, everything of a deleted binding gone.
func TestSandboxGateway(t *testing.T) {
	s := newSandbox(t)
	gw, vtepctl := startVTEP(t, "p0", "p1")
	// Another controller's logical switch on the same port.
	vtepctl("add-ls", "other", "--", "bind-ls", "ps1", "p0", "200", "other", "--", "add-ucast-remote", "other", "00:11:22:33:44:55", "198.18.9.9")

	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	s.waitBridge("hv2")
	s.addVIF("hv2", "vm2", "blue-b", "52:54:00:00:01:0b")
	s.update(func(n *model.Snapshot) {
		n.Gateways = []model.Gateway{{Name: "gw1", OVSDB: "unix:" + gw.DBSock}}
		n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "gre", Generation: n.Generation + 1,
			Ports:    []model.Port{{Switch: "blue", Name: "a", IfaceID: "blue-a"}, {Switch: "blue", Name: "b", IfaceID: "blue-b"}},
			Bindings: []model.GatewayBinding{{Switch: "blue", Gateway: "gw1", Port: "p0", VLAN: 0}}}}
	})
	s.waitRealized()
	eventually(t, "gateway realized", func() (bool, string) {
		st := s.ctl.Switch(s.snap.Switches[0])
		return st.Realized && len(st.Gateways) == 1 && st.Gateways[0].Realized, ""
	})
	if got := vtepctl("list-bindings", "ps1", "p0"); !strings.Contains(got, "0000 ferry-blue") || !strings.Contains(got, "0200 other") {
		t.Errorf("bindings on p0:\n%s", got)
	}
	macs := vtepctl("list-remote-macs", "ferry-blue")
	for _, want := range []string{"52:54:00:00:01:0a -> vxlan_over_ipv4/198.18.1.11", "52:54:00:00:01:0b -> vxlan_over_ipv4/198.18.1.12", "unknown-dst -> vxlan_over_ipv4/198.18.1.11"} {
		if !strings.Contains(macs, want) {
			t.Errorf("remote MACs lack %q:\n%s", want, macs)
		}
	}
	// What GET /v1/gateways/gw1/macs shows: the rows ferry wrote.
	if got, want := fmt.Sprint(s.ctl.GatewayMACs("gw1").Remote), "[{blue 52:54:00:00:01:0a 198.18.1.11 } {blue 52:54:00:00:01:0b 198.18.1.12 }]"; got != want {
		t.Errorf("GatewayMACs remote: %s, want %s", got, want)
	}
	if got := vtepctl("get", "Logical_Switch", "ferry-blue", "tunnel_key", "replication_mode"); !strings.Contains(got, "1001") || !strings.Contains(got, "source_node") {
		t.Errorf("logical switch: %s", got)
	}
	// The GRE switch reaches the VTEP over VXLAN.
	ports := s.hvs["hv1"].Vsctl(t, "--columns=name,type", "find", "Interface", "external_ids:ferry/owner=ferry")
	if !strings.Contains(ports, "fvxc612031f") || !strings.Contains(ports, "fgrc612010c") {
		t.Errorf("hv1 tunnels (want VXLAN to the VTEP, GRE to hv2):\n%s", ports)
	}

	// The VTEP learns a bare-metal MAC: both hypervisors send it there.
	vtepctl("add-ucast-local", "ferry-blue", "02:00:00:00:bb:01", "198.18.3.31")
	for _, hv := range []string{"hv1", "hv2"} {
		eventually(t, hv+" flow for the bare-metal MAC", func() (bool, string) {
			flows := strings.Join(s.dumpFlows(hv), "\n")
			return strings.Contains(flows, "dl_dst=02:00:00:00:bb:01 actions=output:"), flows
		})
	}
	eventually(t, "the learned MAC in GatewayMACs", func() (bool, string) {
		got := fmt.Sprint(s.ctl.GatewayMACs("gw1").Local)
		return got == "[{blue 02:00:00:00:bb:01 198.18.3.31 }]", got
	})

	// A restarted controller writes nothing to the VTEP (nor anywhere).
	s.stop()
	s.start()
	s.waitRealized()
	time.Sleep(500 * time.Millisecond)
	if n := testutil.ToFloat64(s.ctl.cfg.Metrics.transactions); n != 0 {
		t.Errorf("restart sent %v OVSDB transactions", n)
	}

	// Removing the binding removes everything ferry wrote; the foreign
	// switch stays.
	s.update(func(n *model.Snapshot) {
		sw := n.Switches[0]
		sw.Bindings, sw.Generation = nil, n.Generation+1
		n.Switches = []model.Switch{sw}
	})
	eventually(t, "ferry's binding and remote MACs gone from the VTEP", func() (bool, string) {
		b, m := vtepctl("list-bindings", "ps1", "p0"), vtepctl("list-remote-macs", "ferry-blue")
		return strings.TrimSpace(b) == "0200 other" && !strings.Contains(m, "->"), b + m
	})
	// The Logical_Switch row goes once the VTEP drops what it learned on
	// it (a VTEP's own Ucast_Macs_Local rows still reference it; ovs-vtep
	// clears them after the unbinding, as this does).
	vtepctl("del-ucast-local", "ferry-blue", "02:00:00:00:bb:01")
	eventually(t, "ferry's logical switch gone from the VTEP", func() (bool, string) {
		ls := vtepctl("list-ls")
		return !strings.Contains(ls, "ferry-blue"), ls
	})
	if got := vtepctl("list-remote-macs", "other"); !strings.Contains(got, "00:11:22:33:44:55") {
		t.Errorf("foreign remote MAC touched:\n%s", got)
	}
	for _, hv := range []string{"hv1", "hv2"} {
		if flows := strings.Join(s.dumpFlows(hv), "\n"); strings.Contains(flows, "02:00:00:00:bb:01") {
			t.Errorf("%s keeps the bare-metal MAC after unbinding", hv)
		}
	}
}

// A second registration of a VTEP under another spelling of its target is
// held back as a conflict: it writes nothing (the first one's rows stay as
// they are), and takes over when the first registration goes.
func TestSandboxDuplicateGateway(t *testing.T) {
	s := newSandbox(t)
	gw, vtepctl := startVTEP(t, "p0")
	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	s.waitBridge("hv2")
	s.update(func(n *model.Snapshot) {
		n.Gateways = []model.Gateway{{Name: "gw1", OVSDB: "unix:" + gw.DBSock, Generation: n.Generation + 1}}
		n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1,
			Ports:    []model.Port{{Switch: "blue", Name: "a", IfaceID: "blue-a"}},
			Bindings: []model.GatewayBinding{{Switch: "blue", Gateway: "gw1", Port: "p0", VLAN: 0}}}}
	})
	eventually(t, "gw1 realized", func() (bool, string) {
		st := s.ctl.Switch(s.snap.Switches[0])
		return len(st.Gateways) == 1 && st.Gateways[0].Realized, ""
	})
	before := vtepctl("list-bindings", "ps1", "p0")

	// The same VTEP again, registered later (nbdb would refuse this
	// spelling; DNS or a second address would not be seen there).
	dir, base := filepath.Split(gw.DBSock)
	s.update(func(n *model.Snapshot) {
		n.Gateways = append(append([]model.Gateway(nil), n.Gateways...),
			model.Gateway{Name: "gw2", OVSDB: "unix:" + dir + "./" + base, Generation: n.Generation + 1})
	})
	eventually(t, "gw2 shown as a conflict", func() (bool, string) {
		st := s.ctl.Gateway("gw2")
		return strings.Contains(st.Conflict, `gateway "gw1"`), st.Conflict + " / " + st.LastError
	})
	if st := s.ctl.Gateway("gw1"); st.Conflict != "" {
		t.Errorf("gw1, registered first, shows a conflict: %+v", st)
	}
	if after := vtepctl("list-bindings", "ps1", "p0"); after != before {
		t.Errorf("bindings changed under the duplicate registration:\nbefore %s\nafter  %s", before, after)
	}

	// gw1 goes (with its binding): gw2 holds the VTEP now.
	s.update(func(n *model.Snapshot) {
		n.Gateways = []model.Gateway{n.Gateways[1]}
		n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1,
			Ports: []model.Port{{Switch: "blue", Name: "a", IfaceID: "blue-a"}}}}
	})
	eventually(t, "gw2 takes the VTEP over", func() (bool, string) {
		st := s.ctl.Gateway("gw2")
		return st.Conflict == "" && st.Connected && st.RealizedGeneration > 0, st.Conflict + " / " + st.LastError
	})
}
