package e2e

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGatewayForwardingVerified: a switch with a VTEP binding is
// forwarding-verified only once a probe has crossed the VTEP's data plane.
// ovs-vtep is paused (SIGSTOP) before the binding is made: ferry writes
// the VTEP's database, so the switch is realized, but nothing programs the
// data plane, and forwarding_verified must stay false; once ovs-vtep runs
// again it turns true, and the first ping to the bare-metal server right
// after it is answered.
func TestGatewayForwardingVerified(t *testing.T) {
	e := newEnv(t)
	e.registerChassis()
	gw := e.lab.UpGateway(t)
	e.must("POST", "/v1/gateways", map[string]any{"name": "gw1", "ovsdb": gw.OVSDB})
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 9201, "encap": "vxlan"})
	a := guest{"hv1", "fv-a", "198.18.150.1/24", "02:00:00:f0:00:01"}
	c := guest{"hv3", "fv-c", "198.18.150.3/24", "02:00:00:f0:00:03"}
	e.addGuests("blue", a, c)
	e.lab.BareMetal(t, "fv-bm", "198.18.150.10/24", "02:00:00:f0:00:10")
	e.waitRealized("blue", 2)
	e.waitProbe("blue", "hypervisor pairs verified", 20*time.Second, func(st probedStatus) bool { return st.Status.ForwardingVerified })

	data, err := os.ReadFile(gw.Dir + "/ovs-vtep.pid")
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("pausing ovs-vtep (pid %d): %v", pid, err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)

	e.must("POST", "/v1/switches/blue/bindings", map[string]any{"gateway": "gw1", "port": "p0", "vlan": 0})
	e.waitRealized("blue", 2)
	// Realized (the VTEP's database holds the switch), yet not verified:
	// ovs-vtep has not built its data plane.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st := e.probed("blue")
		if !st.Status.Realized {
			t.Fatalf("switch not realized while only ovs-vtep is paused: %+v", st)
		}
		if st.Status.ForwardingVerified {
			t.Fatalf("forwarding verified while ovs-vtep is paused and has programmed nothing: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}

	resume()
	took := e.waitProbe("blue", "verified through the VTEP", 30*time.Second, func(st probedStatus) bool { return st.Status.ForwardingVerified })
	t.Logf("forwarding verified %v after ovs-vtep resumed", took)
	if out, err := e.lab.Exec(t, e.lab.Namespace(a.name), "ping", "-c", "1", "-W", "2", "198.18.150.10"); err != nil {
		t.Errorf("first ping to the bare-metal server after forwarding_verified: %v\n%s", err, out)
	}
}
