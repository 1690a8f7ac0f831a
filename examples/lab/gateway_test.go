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

// TestVTEPGateway proves the gateway site without ferry, by doing by hand
// what ferry will do as the NVC: a logical switch with VNI 5000 bound to a
// bare-metal port (untagged) and to VLAN 100 on the ESXi trunk, switched
// locally by ovs-vtep; then a hypervisor guest joined over VXLAN across the
// routed underlay, with the remote MACs and the flood target written into
// the VTEP database.
func TestVTEPGateway(t *testing.T) {
	l := Up(t)
	gw := l.UpGateway(t)
	hv1, _ := l.Hypervisor("hv1")
	const (
		bmMAC  = "02:fe:00:00:01:01"
		vmMAC  = "02:fe:00:00:01:02"
		vm2MAC = "02:fe:00:00:01:03"
		gaMAC  = "02:fe:00:00:01:0a"
	)

	// ferry's view: the VTEP database from the management namespace.
	if out, err := l.Exec(t, "mgmt", "ovsdb-client", "--timeout=5", "list-dbs", gw.OVSDB); err != nil || !strings.Contains(out, "hardware_vtep") {
		t.Fatalf("list-dbs %s from mgmt = %q, %v; want hardware_vtep", gw.OVSDB, out, err)
	}
	if out := l.VTEPCtl(t, "list-ps"); strings.TrimSpace(out) != gw.PhysicalSwitch {
		t.Errorf("list-ps = %q, want %s", out, gw.PhysicalSwitch)
	}
	if out := l.VTEPCtl(t, "list-ports", gw.PhysicalSwitch); strings.Join(strings.Fields(out), " ") != strings.Join(gw.Ports, " ") {
		t.Errorf("list-ports %s = %q, want %v", gw.PhysicalSwitch, out, gw.Ports)
	}
	if out := l.VTEPCtl(t, "get", "Physical_Switch", gw.PhysicalSwitch, "tunnel_ips"); !strings.Contains(out, `"`+gw.TunnelIP+`"`) {
		t.Errorf("tunnel_ips = %s, want %s", out, gw.TunnelIP)
	}

	l.BareMetal(t, "bm1", "198.18.120.1/24", bmMAC)
	l.ESXiVM(t, "evm1", "198.18.120.2/24", vmMAC, 100)
	l.ESXiVM(t, "evm2", "198.18.120.3/24", vm2MAC, 200) // a port group nobody binds
	// No bindings yet: ovs-vtep left vtep0 without flows, so nothing passes.
	if err := l.Ping(t, "bm1", "198.18.120.2", 1); err == nil {
		t.Fatalf("bare metal reached the ESXi VM before any binding")
	}

	l.VTEPCtl(t, "add-ls", "ls0", "--", "set", "Logical_Switch", "ls0", "tunnel_key=5000")
	l.VTEPCtl(t, "bind-ls", gw.PhysicalSwitch, "p0", "0", "ls0")
	l.VTEPCtl(t, "bind-ls", gw.PhysicalSwitch, "p1", "100", "ls0")
	// The VLAN travels tagged on the trunk, tagged by esx1's OVS.
	trunk := l.Capture(t, l.ESXi().Name, l.ESXi().Uplink, "vlan and icmp")
	if err := l.WaitPing(t, "bm1", "198.18.120.2", 15*time.Second); err != nil {
		t.Fatalf("bare metal to ESXi VM on VLAN 100 through the VTEP: %v", err)
	}
	if err := l.Ping(t, "evm1", "198.18.120.1", 3); err != nil {
		t.Fatalf("ESXi VM to bare metal: %v", err)
	}
	trunk.Stop()
	if trunk.Count("vlan 100") == 0 || trunk.Count(vmMAC) == 0 {
		t.Errorf("no VLAN-100 tagged ICMP from %s on esx1's uplink; %s", vmMAC, trunk)
	}
	if err := l.Ping(t, "evm2", "198.18.120.1", 1); err == nil {
		t.Errorf("the VM on unbound VLAN 200 reached the bare-metal server")
	}

	// A hypervisor guest, joined by hand the way ferry will: a VXLAN port to
	// the VTEP's tunnel IP and flows carrying the guest's frames in VNI
	// 5000; the guest's MAC and the flood target in the VTEP database.
	l.Guest(t, "hv1", "ga", "198.18.120.10/24", gaMAC, "iface-ga")
	l.OVS(t, "hv1", "ovs-vsctl", "set-fail-mode", "br-int", "secure",
		"--", "add-port", "br-int", "vtep",
		"--", "set", "Interface", "vtep", "type=vxlan", "options:remote_ip="+gw.TunnelIP, "options:key=flow")
	l.OVS(t, "hv1", "ovs-ofctl", "-O", "OpenFlow15", "add-flow", "br-int",
		"in_port=v-ga,actions=set_field:5000->tun_id,output:vtep")
	l.OVS(t, "hv1", "ovs-ofctl", "-O", "OpenFlow15", "add-flow", "br-int",
		"in_port=vtep,tun_id=5000,actions=output:v-ga")
	if err := l.Ping(t, "ga", "198.18.120.1", 1); err == nil {
		t.Fatalf("guest reached bare metal before the VTEP knew about hv1")
	}
	l.VTEPCtl(t, "add-ucast-remote", "ls0", gaMAC, hv1.TunnelIP)
	l.VTEPCtl(t, "add-mcast-remote", "ls0", "unknown-dst", hv1.TunnelIP)

	underlay := l.Capture(t, "rtr", gw.Name, "udp port 4789")
	if err := l.WaitPing(t, "ga", "198.18.120.1", 15*time.Second); err != nil {
		t.Fatalf("guest on hv1 to bare metal through the VTEP: %v", err)
	}
	if err := l.Ping(t, "ga", "198.18.120.1", 5); err != nil {
		t.Fatalf("guest to bare metal: %v", err)
	}
	if err := l.Ping(t, "ga", "198.18.120.2", 3); err != nil {
		t.Fatalf("guest to the ESXi VM on VLAN 100: %v", err)
	}
	underlay.Stop()
	// tcpdump -n -e: "... length 148: 198.18.1.11.PORT > 198.18.3.31.4789: VXLAN, flags [I] (0x08), vni 5000"
	for _, pair := range [][2]string{{hv1.TunnelIP, gw.TunnelIP}, {gw.TunnelIP, hv1.TunnelIP}} {
		n := 0
		for _, line := range underlay.Lines() {
			if strings.Contains(line, ": "+pair[0]+".") && strings.Contains(line, "> "+pair[1]+".4789: VXLAN") &&
				strings.Contains(line, "vni 5000") {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no VXLAN (vni 5000) packets from %s to %s crossed the router; %s", pair[0], pair[1], underlay)
		}
	}

	// TCP needs whole checksums end to end (tx offload off on both ends).
	stop := serveTCP(t, l, "bm1", "198.18.120.1:7000")
	defer stop()
	out, err := l.Exec(t, "ga", "bash", "-c", "exec 3<>/dev/tcp/198.18.120.1/7000 && head -c 5 <&3")
	if err != nil || out != "hello" {
		t.Errorf("TCP guest to bare metal: got %q, %v", out, err)
	}

	// What ferry will read back: the MACs ovs-vtep learned on its ports.
	for _, mac := range []string{bmMAC, vmMAC} {
		if err := l.WaitLocalMAC(t, "ls0", mac, 10*time.Second); err != nil {
			t.Error(err)
		}
	}
	if out := l.VTEPCtl(t, "list-local-macs", "ls0"); strings.Contains(out, gaMAC) {
		t.Errorf("the remote guest's MAC is listed as local:\n%s", out)
	}

	// Unplugging the server leaves the switch port in place for the next.
	l.RemoveGuest(t, "bm1")
	if out := l.VTEPCtl(t, "list-ports", gw.PhysicalSwitch); !strings.Contains(out, "p0") {
		t.Errorf("p0 left the Physical_Switch when bm1 was unplugged: %q", out)
	}
	l.BareMetal(t, "bm2", "198.18.120.4/24", "02:fe:00:00:01:04")
	if err := l.WaitPing(t, "ga", "198.18.120.4", 15*time.Second); err != nil {
		t.Errorf("a second server on p0: %v", err)
	}
}

// TestGatewayDownLeavesNothing checks that Down removes the gateway site:
// ovs-vtep and both OVS instances, and the server and VM namespaces.
func TestGatewayDownLeavesNothing(t *testing.T) {
	l := Up(t)
	l.UpGateway(t)
	l.BareMetal(t, "bm1", "198.18.120.1/24", "02:fe:00:00:02:01")
	l.BareMetalOn(t, "p2", "bm2", "198.18.120.2/24", "02:fe:00:00:02:02")
	l.ESXiVM(t, "evm1", "198.18.120.3/24", "02:fe:00:00:02:03", 100)
	if out := l.VTEPCtl(t, "list-ports", "vtep0"); strings.Join(strings.Fields(out), " ") != "p0 p1 p2" {
		t.Errorf("list-ports vtep0 = %q, want p0 p1 p2", out)
	}
	var pids []int
	for _, host := range []string{"gw1", "esx1"} {
		pidfiles, _ := filepath.Glob(filepath.Join(l.Dir, host, "*.pid"))
		want := 2
		if host == "gw1" {
			want = 3 // and ovs-vtep
		}
		if len(pidfiles) != want {
			t.Fatalf("%s pidfiles = %v, want %d", host, pidfiles, want)
		}
		for _, f := range pidfiles {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
				t.Fatalf("%s: pid %d not running before Down", f, pid)
			}
			pids = append(pids, pid)
		}
	}

	l.Down(t)

	for _, pid := range pids {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(b), l.Dir) {
			t.Errorf("pid %d still running after Down: %q", pid, b)
		}
	}
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, l.Prefix+"-") {
			t.Errorf("namespace %q left after Down", line)
		}
	}
}
