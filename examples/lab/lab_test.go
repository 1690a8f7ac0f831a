package lab

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVXLANAcrossRoutedUnderlay proves the lab without ferry: two guests on
// different sites reach each other through hand-made VXLAN ports and
// hand-written flows, and the encapsulated packets cross the router.
func TestVXLANAcrossRoutedUnderlay(t *testing.T) {
	l := Up(t)
	hv1, _ := l.Hypervisor("hv1")
	hv3, _ := l.Hypervisor("hv3")
	l.Guest(t, "hv1", "ga", "198.18.100.1/24", "02:fe:00:00:00:01", "iface-a")
	l.Guest(t, "hv3", "gb", "198.18.100.2/24", "02:fe:00:00:00:02", "iface-b")

	// The guest port carries what a libvirt hypervisor would set.
	ids := l.OVS(t, "hv1", "ovs-vsctl", "get", "Interface", "v-ga", "external_ids")
	for _, want := range []string{`iface-id=iface-a`, `attached-mac="02:fe:00:00:00:01"`, `iface-status=active`, `vm-id=`} {
		if !strings.Contains(ids, want) {
			t.Errorf("v-ga external_ids = %s, want %s", strings.TrimSpace(ids), want)
		}
	}

	type side struct{ hv, port, remote string }
	sides := []side{{"hv1", "v-ga", hv3.TunnelIP}, {"hv3", "v-gb", hv1.TunnelIP}}
	for _, s := range sides {
		l.OVS(t, s.hv, "ovs-vsctl", "set-fail-mode", "br-int", "secure",
			"--", "add-port", "br-int", "vx0",
			"--", "set", "Interface", "vx0", "type=vxlan", "options:remote_ip="+s.remote, "options:key=flow")
		l.OVS(t, s.hv, "ovs-ofctl", "-O", "OpenFlow15", "del-flows", "br-int")
	}
	// Secure fail mode and no flows: nothing passes. This is what makes the
	// positive check below meaningful.
	if err := l.Ping(t, "ga", "198.18.100.2", 1); err == nil {
		t.Fatalf("ping succeeded with an empty flow table")
	}

	for _, s := range sides {
		l.OVS(t, s.hv, "ovs-ofctl", "-O", "OpenFlow15", "add-flow", "br-int",
			"in_port="+s.port+",actions=set_field:1001->tun_id,output:vx0")
		l.OVS(t, s.hv, "ovs-ofctl", "-O", "OpenFlow15", "add-flow", "br-int",
			"in_port=vx0,tun_id=1001,actions=output:"+s.port)
	}
	// Watch site B's side of the router: tunnel packets from hv1 must cross it.
	capt := l.Capture(t, "rtr", "hv3", "udp port 4789")
	if err := l.WaitPing(t, "ga", "198.18.100.2", 10*time.Second); err != nil {
		t.Fatalf("first ping over VXLAN: %v", err)
	}
	if err := l.Ping(t, "ga", "198.18.100.2", 5); err != nil {
		t.Fatalf("ping over VXLAN: %v", err)
	}
	capt.Stop()
	// tcpdump -n: "... IP 198.18.1.11.PORT > 198.18.2.13.4789: VXLAN, flags [I] (0x08), vni 1001"
	if capt.Count("198.18.1.11.") == 0 || capt.Count("> 198.18.2.13.4789: VXLAN") == 0 || capt.Count("vni 1001") == 0 {
		t.Errorf("no VXLAN (vni 1001) packets from hv1 to hv3 crossed the router; %s", capt)
	}

	// TCP needs full checksums end to end (tx offload off on the guests).
	stop := serveTCP(t, l, "gb", "198.18.100.2:7000")
	defer stop()
	out, err := l.Exec(t, "ga", "bash", "-c", "exec 3<>/dev/tcp/198.18.100.2/7000 && head -c 5 <&3")
	if err != nil || out != "hello" {
		t.Errorf("TCP over VXLAN: got %q, %v", out, err)
	}

	// Removing the guest removes its port and namespace.
	l.RemoveGuest(t, "gb")
	if out := l.OVS(t, "hv3", "ovs-vsctl", "list-ports", "br-int"); strings.Contains(out, "v-gb") {
		t.Errorf("v-gb still on br-int after RemoveGuest: %s", out)
	}
	if err := l.Ping(t, "ga", "198.18.100.2", 1); err == nil {
		t.Errorf("ping succeeded after the peer was removed")
	}
}

// serveTCP runs a one-shot TCP server in a guest that writes "hello".
func serveTCP(t *testing.T, l *Lab, guest, addr string) func() {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p := l.Start(t, guest, "python3", "-c", fmt.Sprintf(
		"import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind((%q,%s))\ns.listen(1)\nprint('ready',flush=True)\nc,_=s.accept()\nc.sendall(b'hello')\nc.close()\n", host, port))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Log(), "\nready\n") {
		if time.Now().After(deadline) {
			t.Fatalf("tcp server in %s did not start: %s", guest, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func() { p.Stop() }
}

// TestDownLeavesNothing checks teardown: no namespace with the prefix, no
// process from the pidfiles, no state directory; a second Down is harmless.
func TestDownLeavesNothing(t *testing.T) {
	l := Up(t)
	l.Guest(t, "hv2", "gx", "198.18.100.9/24", "02:fe:00:00:00:09", "iface-x")
	pidfiles, _ := filepath.Glob(filepath.Join(l.Dir, "*", "*.pid"))
	if len(pidfiles) != 6 {
		t.Fatalf("pidfiles = %v, want ovsdb-server and ovs-vswitchd for 3 hypervisors", pidfiles)
	}
	var pids []int
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
	// Something the lab did not start from a pidfile but that runs in a lab
	// namespace must go too.
	sleeper := l.Start(t, "gx", "sleep", "600")

	l.Down(t)
	l.Down(t)

	for _, pid := range pids {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(b), l.Dir) {
			t.Errorf("pid %d still running after Down: %q", pid, b)
		}
	}
	select {
	case <-sleeper.Done():
	case <-time.After(5 * time.Second):
		t.Errorf("process inside a guest namespace survived Down")
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
	if _, err := os.Stat(l.Dir); err == nil {
		t.Errorf("%s left after Down", l.Dir)
	}
}

// TestHTTPClientDialsInsideMgmt proves the setns dialer: a server bound to
// 127.0.0.1 inside the management namespace (a separate process, started
// with ip netns exec) answers through HTTPClient and not through a plain
// client in the root namespace.
func TestHTTPClientDialsInsideMgmt(t *testing.T) {
	l := Up(t)
	token := "lab-" + l.Prefix
	t.Setenv("FERRY_LAB_HELPER", "http")
	t.Setenv("FERRY_LAB_TOKEN", token)
	p := l.StartFerryd(t, os.Args[0], "-test.run=^TestHelperHTTPServer$", "-test.v")
	var port string
	re := regexp.MustCompile(`helper listening on 127\.0\.0\.1:(\d+)`)
	deadline := time.Now().Add(10 * time.Second)
	for port == "" {
		if m := re.FindStringSubmatch(p.Log()); m != nil {
			port = m[1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("helper server did not start:\n%s", p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	url := "http://127.0.0.1:" + port + "/"

	before := threadNamespaces(t)
	c := l.HTTPClient()
	for i := 0; i < 20; i++ {
		// New connection each time, to exercise the dialer, not keep-alive.
		req, _ := http.NewRequest("GET", url, nil)
		req.Close = true
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s through the mgmt namespace: %v", url, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != token {
			t.Fatalf("GET %s = %q, want %q", url, body, token)
		}
	}
	// Every thread of the test process is back in its own namespace.
	if after := threadNamespaces(t); len(after) != 1 || len(before) != 1 {
		t.Errorf("threads in several network namespaces: before %v, after %v", before, after)
	}

	plain := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	if resp, err := plain.Get(url); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) == token {
			t.Errorf("the root namespace reached the mgmt namespace's loopback server")
		}
	}
}

// threadNamespaces returns the distinct network namespaces of this process's threads.
func threadNamespaces(t *testing.T) map[string]bool {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	ns := map[string]bool{}
	for _, f := range tasks {
		if link, err := os.Readlink(f); err == nil {
			ns[link] = true
		}
	}
	return ns
}

// TestHelperHTTPServer is not a test: TestHTTPClientDialsInsideMgmt runs the
// test binary inside the mgmt namespace with FERRY_LAB_HELPER=http to serve
// a token on 127.0.0.1 there.
func TestHelperHTTPServer(t *testing.T) {
	if os.Getenv("FERRY_LAB_HELPER") != "http" {
		t.Skip("helper process only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("helper listening on %s\n", ln.Addr())
	token := os.Getenv("FERRY_LAB_TOKEN")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, token)
	})}
	srv.Serve(ln) // until the lab stops us with SIGTERM
}
