package e2e

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
)

// spoofDrops reads ferry_port_security_drops_total for a switch (0 when
// the switch has no series yet).
func (e *env) spoofDrops(sw string) float64 {
	e.t.Helper()
	_, data := e.do("GET", "/metrics", nil)
	prefix := `ferry_port_security_drops_total{switch="` + sw + `"} `
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				e.t.Fatal(err)
			}
			return f
		}
	}
	return 0
}

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

// TestPortSecurity is issue 12's acceptance in the lab: a VM that changes
// its MAC reaches no one (the peers' captures see nothing from it), and
// with "ips" set an ARP reply claiming another VM's address is dropped;
// both are counted per switch; with "port_security": false both get
// through again.
func TestPortSecurity(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	e.addGuests("blue", blueA, blueB, blueC)
	e.must("PATCH", "/v1/switches/blue/ports/blue-a", map[string]any{"ips": []string{blueA.ip()}})
	e.waitRealized("blue", 3)
	if err := e.lab.WaitPing(t, "blue-a", blueB.ip(), 10*time.Second); err != nil {
		t.Fatalf("blue-a -> blue-b before any spoofing: %v", err)
	}

	const spoofMAC = "02:b1:0e:00:00:99"
	own, spoofed := mustMAC(blueA.mac), mustMAC(spoofMAC)
	bcast := mustMAC("ff:ff:ff:ff:ff:ff")
	// blue-a claims blue-b's address to blue-c: "198.18.100.2 is at my MAC".
	poison := lab.ARPFrame(lab.ARPReply, own, mustMAC(blueC.mac), own, netip.MustParseAddr(blueB.ip()),
		mustMAC(blueC.mac), netip.MustParseAddr(blueC.ip()))
	// The same reply for its own address: what port security lets through.
	honest := lab.ARPFrame(lab.ARPReply, own, mustMAC(blueC.mac), own, netip.MustParseAddr(blueA.ip()),
		mustMAC(blueC.mac), netip.MustParseAddr(blueC.ip()))
	// An ARP request from the changed MAC, broadcast.
	fromSpoofed := lab.ARPFrame(lab.ARPRequest, spoofed, bcast, spoofed, netip.MustParseAddr(blueA.ip()),
		make(net.HardwareAddr, 6), netip.MustParseAddr(blueC.ip()))
	// tcpdump filters: anything from the changed MAC; an ARP whose sender
	// address is blue-b's (arp[14:4]) from blue-a's MAC; blue-a's honest
	// reply (sender address 198.18.100.1).
	const (
		fromSpoofedMAC = "ether src " + spoofMAC
		claimsB        = "arp and arp[14:4] = 0xc6126402 and ether src " + "02:b1:0e:00:00:0a"
		claimsA        = "arp and arp[6:2] = 2 and arp[14:4] = 0xc6126401 and ether src " + "02:b1:0e:00:00:0a"
	)
	setMAC := func(mac string) {
		t.Helper()
		if out, err := e.lab.Exec(t, "blue-a", "ip", "link", "set", "eth0", "address", mac); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	// attempt runs both attacks and reports which reached the peers.
	attempt := func() (macSeen, poisonSeen bool) {
		t.Helper()
		capB := e.lab.Capture(t, "blue-b", "eth0", fromSpoofedMAC)
		capC := e.lab.Capture(t, "blue-c", "eth0", fromSpoofedMAC+" or ("+claimsB+")")
		capHonest := e.lab.Capture(t, "blue-c", "eth0", claimsA)
		setMAC(spoofMAC)
		e.lab.Exec(t, "blue-a", "ping", "-c", "3", "-i", "0.2", "-W", "1", blueB.ip())
		if err := e.lab.Send("blue-a", "eth0", fromSpoofed, fromSpoofed); err != nil {
			t.Fatal(err)
		}
		setMAC(blueA.mac)
		if err := e.lab.Send("blue-a", "eth0", poison, poison, honest); err != nil {
			t.Fatal(err)
		}
		// The honest reply is the control: it must arrive, else the
		// captures prove nothing.
		if !capHonest.WaitFor("Reply "+blueA.ip()+" is-at", 5*time.Second) {
			t.Fatalf("blue-c never saw blue-a's honest ARP reply:\n%s", capHonest)
		}
		time.Sleep(500 * time.Millisecond)
		capB.Stop()
		capC.Stop()
		macSeen = capB.Count(spoofMAC) > 0 || capC.Count(spoofMAC) > 0
		poisonSeen = capC.Count("Reply "+blueB.ip()+" is-at") > 0
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("blue-b's capture: %s\nblue-c's capture: %s", capB, capC)
			}
		})
		return macSeen, poisonSeen
	}

	before := e.spoofDrops("blue")
	macSeen, poisonSeen := attempt()
	if macSeen {
		t.Errorf("with port security a peer saw frames from blue-a's changed MAC")
	}
	if poisonSeen {
		t.Errorf("with ips set blue-c received blue-a's ARP reply claiming %s", blueB.ip())
	}
	if out, _ := e.lab.Exec(t, "blue-c", "ip", "neigh", "show", blueB.ip()); strings.Contains(out, blueA.mac) {
		t.Errorf("blue-c believes %s is at blue-a's MAC: %s", blueB.ip(), out)
	}
	// 3 ARP requests of the ping and 2 forged ones from the changed MAC,
	// 2 poisoned replies: at least the 4 frames sent raw.
	// The bridge's counts reach its flows when its revalidators run.
	deadline := time.Now().Add(10 * time.Second)
	for after := e.spoofDrops("blue"); after-before < 4; after = e.spoofDrops("blue") {
		if time.Now().After(deadline) {
			t.Errorf("ferry_port_security_drops_total{switch=blue} went from %v to %v, want at least 4 more", before, after)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := e.lab.WaitPing(t, "blue-a", blueB.ip(), 10*time.Second); err != nil {
		t.Fatalf("blue-a with its own MAC again: %v", err)
	}

	// Port security off for blue-a (a VM that bridges): both get through.
	e.must("PATCH", "/v1/switches/blue/ports/blue-a", map[string]any{"port_security": false})
	e.waitRealized("blue", 3)
	macSeen, poisonSeen = attempt()
	if !macSeen {
		t.Errorf(`with "port_security": false no peer saw frames from blue-a's changed MAC`)
	}
	if !poisonSeen {
		t.Errorf(`with "port_security": false blue-c did not receive the ARP reply claiming %s`, blueB.ip())
	}
}
