package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Gateway describes the lab's VTEP gateway: a namespace whose ovsdb-server
// serves a hardware_vtep database next to Open_vSwitch, with ovs-vtep (OVS's
// software VTEP) turning that database into flows on a physical switch
// bridge. ferry acts as its NVC over OVSDB.
type Gateway struct {
	Name           string   // "gw1"; also the short namespace name for Exec, OVS and friends
	Namespace      string   // full namespace name
	Dir            string   // db.sock (both databases), conf.db, vtep.db, pidfiles, ovs-vtep.log
	MgmtIP         string   // on the management network
	TunnelIP       string   // underlay address on br-phy, and the Physical_Switch's tunnel_ips
	OVSDB          string   // tcp:MgmtIP:6640 (ssl: WithTLS): hardware_vtep (and Open_vSwitch), reachable from mgmt
	PhysicalSwitch string   // the Physical_Switch and its OVS bridge, "vtep0"
	Ports          []string // physical ports: p0 (bare metal, untagged), p1 (esx1's trunk)
}

// ESXiHost describes the lab's ESXi-like host: its own OVS stands in for a
// vSphere standard switch, whose uplink is a trunk to the gateway's port p1
// and whose port groups are access ports (tag=VLAN).
type ESXiHost struct {
	Name        string // "esx1"
	Namespace   string
	Dir         string // its OVS state, as for a hypervisor
	Bridge      string // the vSwitch, "vsw0"
	Uplink      string // the trunk port on Bridge, "uplink"
	GatewayPort string // the gateway port the uplink is cabled to, "p1"
}

// GatewaySiteRouter is the router's address on the gateway's underlay site
// (site C, 198.18.3.0/24).
const GatewaySiteRouter = "198.18.3.254"

const (
	gatewayName = "gw1"
	esxiName    = "esx1"
)

// Gateway returns the description of the gateway site's VTEP. It does not
// build anything: call UpGateway first.
func (l *Lab) Gateway() Gateway {
	return Gateway{
		Name:           gatewayName,
		Namespace:      l.Namespace(gatewayName),
		Dir:            filepath.Join(l.Dir, gatewayName),
		MgmtIP:         "198.18.255.31",
		TunnelIP:       "198.18.3.31",
		OVSDB:          l.mgmtTarget("198.18.255.31"),
		PhysicalSwitch: "vtep0",
		Ports:          []string{"p0", "p1"},
	}
}

// ESXi returns the description of the gateway site's ESXi-like host.
func (l *Lab) ESXi() ESXiHost {
	return ESXiHost{
		Name:        esxiName,
		Namespace:   l.Namespace(esxiName),
		Dir:         filepath.Join(l.Dir, esxiName),
		Bridge:      "vsw0",
		Uplink:      "uplink",
		GatewayPort: "p1",
	}
}

// UpGateway adds the VTEP gateway site to the lab (lab.sh gateway): the
// router's site C, the gateway gw1 with ovs-vtep running for vtep0, and the
// ESXi-like host esx1 cabled to p1. It is a separate step because ovs-vtep
// polls its databases every second with a burst of subprocesses, which
// tests that do not need it should not pay for. Down removes it with the
// rest of the lab. It skips (or fails, with FERRY_REQUIRE_LAB=1) when the
// software VTEP is not installed.
func (l *Lab) UpGateway(t testing.TB) Gateway {
	t.Helper()
	if reason := gatewayUnsupported(); reason != "" {
		if os.Getenv("FERRY_REQUIRE_LAB") == "1" {
			t.Fatalf("lab: FERRY_REQUIRE_LAB=1 but the gateway cannot run: %s", reason)
		}
		t.Skipf("lab: skipping: %s (set FERRY_REQUIRE_LAB=1 to fail instead)", reason)
	}
	start := time.Now()
	if out, err := l.run(2*time.Minute, "gateway", "up"); err != nil {
		t.Fatalf("lab: gateway: %v\n%s", err, out)
	}
	t.Logf("lab: %s gateway site up in %v", l.Prefix, time.Since(start).Round(time.Millisecond))
	return l.Gateway()
}

// BareMetal creates a bare-metal server: namespace name whose eth0 (address
// cidr, MAC mac, MTU 1400, tx checksum offload off) is cabled to the
// gateway's port p0, untagged. RemoveGuest unplugs it again.
func (l *Lab) BareMetal(t testing.TB, name, cidr, mac string) {
	t.Helper()
	l.BareMetalOn(t, "p0", name, cidr, mac)
}

// BareMetalOn is BareMetal on another gateway port. A port other than p0
// and p1 (p2, p3, ...) is created on demand: on the OVS bridge and, by
// vtep-ctl, on the Physical_Switch. p1 is taken by esx1.
func (l *Lab) BareMetalOn(t testing.TB, port, name, cidr, mac string) {
	t.Helper()
	if out, err := l.run(time.Minute, "baremetal", name, cidr, mac, port); err != nil {
		t.Fatalf("lab: baremetal %s on %s: %v\n%s", name, port, err, out)
	}
}

// ESXiVM creates a VM on esx1: namespace name whose eth0 (address cidr,
// MAC mac, MTU 1400) is an access port of vsw0 with tag=vlan, so its frames
// leave the uplink tagged with vlan (0: untagged). RemoveGuest removes it.
func (l *Lab) ESXiVM(t testing.TB, name, cidr, mac string, vlan int) {
	t.Helper()
	if out, err := l.run(time.Minute, "esxvm", name, cidr, mac, strconv.Itoa(vlan)); err != nil {
		t.Fatalf("lab: esxvm %s (VLAN %d): %v\n%s", name, vlan, err, out)
	}
}

// VTEPCtl runs vtep-ctl against the gateway's hardware_vtep database inside
// its namespace and returns the output; it fails the test if vtep-ctl fails.
func (l *Lab) VTEPCtl(t testing.TB, args ...string) string {
	t.Helper()
	return l.OVS(t, gatewayName, append([]string{"vtep-ctl", "--timeout=10"}, args...)...)
}

// WaitLocalMAC waits until the gateway lists mac in logical switch ls's
// Ucast_Macs_Local: ovs-vtep learns MACs from traffic and copies them to
// the database about once a second.
func (l *Lab) WaitLocalMAC(t testing.TB, ls, mac string, timeout time.Duration) error {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := l.Exec(t, gatewayName, "vtep-ctl", "--timeout=10", "list-local-macs", ls)
		if err == nil && strings.Contains(out, "  "+strings.ToLower(mac)+" -> ") {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%w\n%s", err, out)
			}
			return fmt.Errorf("lab: %s not in %s's local MACs after %v:\n%s", mac, ls, timeout, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ovsDir returns the OVS state directory of a namespace that runs its own
// OVS daemons (hypervisors, the gateway, the ESXi host).
func (l *Lab) ovsDir(ns string) (string, bool) {
	if _, ok := l.Hypervisor(ns); ok || ns == gatewayName || ns == esxiName {
		return filepath.Join(l.Dir, ns), true
	}
	return "", false
}

// gatewayUnsupported says why the gateway site cannot run here, or "" if it
// can. ovs-vtep is a Python script that needs the ovs module of the
// interpreter on its #! line, not whichever python3 is first on PATH.
func gatewayUnsupported() string {
	const ovsVTEP = "/usr/share/openvswitch/scripts/ovs-vtep"
	for _, f := range []string{ovsVTEP, "/usr/share/openvswitch/vtep.ovsschema"} {
		if _, err := os.Stat(f); err != nil {
			return "no " + f + " (run `make deps`: openvswitch-vtep)"
		}
	}
	path := ""
	for _, kv := range labEnv() {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = p
		}
	}
	for _, bin := range []string{"vtep-ctl", "ovsdb-client"} {
		if !onPath(bin, path) {
			return "missing " + bin + " (run `make deps`)"
		}
	}
	b, err := os.ReadFile(ovsVTEP)
	if err != nil {
		return err.Error()
	}
	first, _, _ := strings.Cut(string(b), "\n")
	interp := strings.Fields(strings.TrimPrefix(first, "#!"))
	if len(interp) == 0 {
		return "ovs-vtep has no #! line"
	}
	args := append(interp[1:], "-c", "import ovs.vlog")
	if out, err := exec.Command(interp[0], args...).CombinedOutput(); err != nil {
		return fmt.Sprintf("ovs-vtep's %s cannot import ovs (install python3-openvswitch): %s", interp[0], strings.TrimSpace(string(out)))
	}
	return ""
}

// dumpGatewayDiagnostics writes the gateway site's state to a failed test's
// log: the VTEP database as the NVC sees it, what ovs-vtep made of it (every
// bridge's flows), what ovs-vtep said, and the ESXi host's vSwitch.
func (l *Lab) dumpGatewayDiagnostics(t testing.TB) {
	t.Helper()
	gw := l.Gateway()
	if _, err := os.Stat(gw.Dir); err != nil {
		return // the gateway site was never built
	}
	dump := func(ns string, args ...string) string {
		t.Helper()
		out, err := l.Exec(t, ns, args...)
		if err != nil {
			out += "\n(" + err.Error() + ")"
		}
		t.Logf("lab diagnostics: %s: %s\n%s", ns, strings.Join(args, " "), out)
		return out
	}
	dump(gw.Name, "vtep-ctl", "--timeout=5", "show")
	lss := dump(gw.Name, "vtep-ctl", "--timeout=5", "list-ls")
	for _, ls := range strings.Fields(lss) {
		if strings.HasPrefix(ls, "(") {
			break // an error, not a name
		}
		dump(gw.Name, "vtep-ctl", "--timeout=5", "list-local-macs", ls)
		dump(gw.Name, "vtep-ctl", "--timeout=5", "list-remote-macs", ls)
	}
	dump(gw.Name, "ovs-vsctl", "--timeout=5", "show")
	brs, err := l.Exec(t, gw.Name, "ovs-vsctl", "--timeout=5", "list-br")
	if err == nil {
		for _, br := range strings.Fields(brs) {
			dump(gw.Name, "ovs-ofctl", "--timeout=5", "dump-flows", br)
		}
	}
	dump(gw.Name, "ovs-appctl", "--timeout=5", "ovs/route/show")
	dump(gw.Name, "ovs-appctl", "--timeout=5", "tnl/arp/show")
	for _, f := range []string{"ovs-vtep.log", "ovs-vswitchd.log", "ovsdb-server.log"} {
		t.Logf("lab diagnostics: %s: tail of %s\n%s", gw.Name, f, tail(filepath.Join(gw.Dir, f), 60))
	}
	esx := l.ESXi()
	dump(esx.Name, "ovs-vsctl", "--timeout=5", "show")
	dump(esx.Name, "ovs-ofctl", "--timeout=5", "dump-flows", esx.Bridge)
	dump(esx.Name, "ovs-appctl", "--timeout=5", "fdb/show", esx.Bridge)
	t.Logf("lab diagnostics: %s: tail of ovs-vswitchd.log\n%s", esx.Name, tail(filepath.Join(esx.Dir, "ovs-vswitchd.log"), 20))
}

// VTEPCtlErr is VTEPCtl returning vtep-ctl's error instead of failing the
// test, for helpers that run in the background.
func (l *Lab) VTEPCtlErr(t testing.TB, args ...string) (string, error) {
	return l.Exec(t, gatewayName, append([]string{"vtep-ctl", "--timeout=10"}, args...)...)
}
