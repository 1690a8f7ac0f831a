package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
	"github.com/ferry-sdn/ferry/internal/cli"
)

// TestTLS runs the lab with TLS only (lab.WithTLS: ovs-pki certificates,
// ovsdb-servers on pssl:, ovs-vswitchd with its identity) and ferryd with
// --private-key/--certificate/--ca-cert: chassis are reached on ssl:
// targets, bridges dial ferryd's pssl: OpenFlow listener, and guests on two
// sites talk over VXLAN. A hypervisor whose ovs-vswitchd presents a
// certificate from another CA never gets an OpenFlow session, while the
// others do; nor does it with a certificate of the right CA that names
// another chassis (hv1's): its status shows that refusal. With its own
// certificate back, it joins. A VTEP gateway is
// reached on its ssl: target as well.
func TestTLS(t *testing.T) {
	l := lab.Up(t, lab.WithTLS())
	e := &env{t: t, lab: l, http: l.HTTPClient(), data: filepath.Join(l.Dir, "ferry-data")}
	args := append([]string{"--api", apiAddr, "--openflow", "pssl:16653:" + lab.MgmtIP,
		"--data-dir", e.data, "--log-level", "debug"}, l.FerrydTLS().Args()...)
	e.ferryd = l.StartFerryd(t, ferrydBin, args...)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ferryd log tail:\n%s", tailLines(e.ferryd.Log(), 80))
		}
	})
	e.waitAPI()

	// hv2 is the impostor: its bridge will present the rogue certificate.
	rogue := l.RogueTLS()
	l.OVS(t, "hv2", "ovs-vsctl", "set-ssl", rogue.PrivateKey, rogue.Certificate, rogue.CACert)

	e.registerChassis()
	for _, hv := range l.Hypervisors() {
		if !strings.HasPrefix(hv.OVSDB, "ssl:") {
			t.Fatalf("%s registered with %s, want an ssl: target", hv.Name, hv.OVSDB)
		}
	}
	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 1001})
	e.addGuests("blue", blueA, blueB) // hv1 (site A) and hv3 (site B)
	e.waitRealized("blue", 2)
	if err := e.lab.Ping(t, "blue-a", blueB.ip(), 3); err != nil {
		t.Fatalf("blue-a -> blue-b with TLS: %v", err)
	}

	for _, hv := range []string{"hv1", "hv3"} {
		if got := strings.TrimSpace(l.OVS(t, hv, "ovs-vsctl", "get-controller", "br-int")); got != "ssl:"+lab.MgmtIP+":16653" {
			t.Errorf("%s: br-int controller %q, want ssl:%s:16653", hv, got, lab.MgmtIP)
		}
		// ovs-vswitchd refreshes Controller status every few seconds.
		waitUntil(t, 20*time.Second, hv+"'s Controller is_connected", func() bool {
			out, _ := l.Exec(t, hv, "ovs-vsctl", "--bare", "--columns=is_connected", "list", "Controller")
			return strings.TrimSpace(out) == "true"
		})
		if st := e.chassisStatus(hv); !st.OVSDB || !st.OpenFlow {
			t.Errorf("%s: status %+v, want both connected", hv, st)
		}
	}

	// hv2: ferry reaches its OVSDB (ovsdb-server kept the real
	// certificate) and sets the controller, but its bridge is refused.
	waitUntil(t, 20*time.Second, "ferry set hv2's ssl: controller", func() bool {
		out, _ := l.Exec(t, "hv2", "ovs-vsctl", "get-controller", "br-int")
		return strings.TrimSpace(out) == "ssl:"+lab.MgmtIP+":16653"
	})
	waitUntil(t, 20*time.Second, "ferryd refused hv2's certificate", func() bool {
		return strings.Contains(e.ferryd.Log(), "openflow: handshake failed") &&
			strings.Contains(e.ferryd.Log(), "remote=198.18.255.12:")
	})
	time.Sleep(2 * time.Second) // several reconnection attempts
	if st := e.chassisStatus("hv2"); !st.OVSDB || st.OpenFlow {
		t.Errorf("hv2 with a rogue certificate: status %+v, want OVSDB connected and OpenFlow not", st)
	}
	if got := strings.TrimSpace(l.OVS(t, "hv2", "ovs-vsctl", "--bare", "--columns=is_connected", "list", "Controller")); got != "false" {
		t.Errorf("hv2 with a rogue certificate: Controller is_connected = %q, want false", got)
	}
	for _, hv := range []string{"hv1", "hv3"} {
		if st := e.chassisStatus(hv); !st.OpenFlow {
			t.Errorf("%s lost its session while hv2 was refused: %+v", hv, st)
		}
	}

	// A certificate from the right CA that names another chassis: hv2's
	// bridge presenting hv1's is refused for hv2's datapath, and hv2's
	// status says why.
	other := l.HostTLS("hv1")
	l.OVS(t, "hv2", "ovs-vsctl", "set-ssl", other.PrivateKey, other.Certificate, other.CACert)
	waitUntil(t, 30*time.Second, "hv2 presenting hv1's certificate refused", func() bool {
		r := e.chassisFull("hv2").OpenFlowRefused
		return r != nil && r.Reason == "certificate" && strings.Contains(r.Peer, "(certificate hv1 id:")
	})
	if r := e.chassisFull("hv2").OpenFlowRefused; !strings.Contains(r.Detail, `not "hv2"`) {
		t.Errorf("refusal detail %q does not say which name was wanted", r.Detail)
	}
	time.Sleep(2 * time.Second) // several reconnection attempts
	if st := e.chassisStatus("hv2"); st.OpenFlow {
		t.Errorf("hv2 with hv1's certificate got an OpenFlow session: %+v", st)
	}
	if st := e.chassisStatus("hv1"); !st.OpenFlow {
		t.Errorf("hv1 lost its session while hv2 presented its certificate: %+v", st)
	}

	// The refusal was about the certificate: hv2's own one gets it in.
	own := l.HostTLS("hv2")
	l.OVS(t, "hv2", "ovs-vsctl", "set-ssl", own.PrivateKey, own.Certificate, own.CACert)
	waitUntil(t, 30*time.Second, "hv2 connected with its own certificate", func() bool {
		return e.chassisStatus("hv2").OpenFlow
	})
	e.addGuests("blue", blueC)
	e.waitRealized("blue", 3)
	if err := e.lab.WaitPing(t, "blue-c", blueA.ip(), 10*time.Second); err != nil {
		t.Fatalf("blue-c (hv2) -> blue-a after hv2 got its own certificate: %v", err)
	}

	// A VTEP gateway over ssl: too: ferry reads its hardware_vtep database.
	gw := l.UpGateway(t)
	if !strings.HasPrefix(gw.OVSDB, "ssl:") {
		t.Fatalf("gateway OVSDB %s, want an ssl: target", gw.OVSDB)
	}
	e.must("POST", "/v1/gateways", map[string]any{"name": "gw1", "ovsdb": gw.OVSDB})
	waitUntil(t, 20*time.Second, "gw1 connected over TLS", func() bool {
		var g struct {
			Status struct {
				Connected bool     `json:"connected"`
				TunnelIPs []string `json:"tunnel_ips"`
			} `json:"status"`
		}
		json.Unmarshal(e.must("GET", "/v1/gateways/gw1", nil), &g)
		return g.Status.Connected && len(g.Status.TunnelIPs) == 1 && g.Status.TunnelIPs[0] == gw.TunnelIP
	})
}

type chassisConn struct{ OVSDB, OpenFlow bool }

func (e *env) chassisStatus(name string) chassisConn {
	e.t.Helper()
	var ch struct {
		Status struct {
			OVSDB    bool `json:"ovsdb_connected"`
			OpenFlow bool `json:"openflow_connected"`
		} `json:"status"`
	}
	if err := json.Unmarshal(e.must("GET", "/v1/chassis/"+name, nil), &ch); err != nil {
		e.t.Fatal(err)
	}
	return chassisConn{ch.Status.OVSDB, ch.Status.OpenFlow}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAPITokens runs ferryd with --api-tokens and drives it with ferryctl
// (cli.RunWith, token from FERRY_TOKEN) through the management namespace:
// no token and a wrong one are refused, a reader reads but cannot write,
// an admin creates a switch that the reader then sees, /healthz stays open
// and /metrics is closed with --metrics-auth.
func TestAPITokens(t *testing.T) {
	const admin, reader = "e2e-admin-7f3a9c2b41d8", "e2e-reader-0c9d8e7f6a5b"
	l := lab.Up(t)
	tokens := filepath.Join(l.Dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# e2e\n"+admin+" admin\n"+reader+" reader\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, lab: l, http: l.HTTPClient(), data: filepath.Join(l.Dir, "ferry-data")}
	e.ferryd = l.StartFerryd(t, ferrydBin, "--api", apiAddr, "--openflow", ofListen,
		"--data-dir", e.data, "--api-tokens", tokens, "--metrics-auth")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ferryd log tail:\n%s", tailLines(e.ferryd.Log(), 60))
		}
	})
	e.waitAPI() // /healthz needs no token

	ferryctl := func(token string, args ...string) (string, error) {
		t.Setenv(cli.EnvServer, "http://"+apiAddr)
		t.Setenv(cli.EnvToken, token)
		var out bytes.Buffer
		if code := cli.RunWith(context.Background(), cli.Options{HTTPClient: e.http}, args, &out, &out); code != cli.ExitOK {
			return out.String(), fmt.Errorf("exit %d", code)
		}
		return out.String(), nil
	}
	for _, c := range []struct {
		token string
		args  []string
		want  string // in the output
		ok    bool
	}{
		{"", []string{"switch", "list"}, "(HTTP 401)", false},
		{"e2e-wrong-000000000000", []string{"switch", "list"}, "invalid bearer token", false},
		{reader, []string{"switch", "create", "blue", "--vni", "1001"}, "role reader may only read (GET); POST needs an admin token (HTTP 403)", false},
		{admin, []string{"switch", "create", "blue", "--vni", "1001"}, "blue", true},
		{reader, []string{"-o", "json", "switch", "show", "blue"}, `"vni": 1001`, true},
		{reader, []string{"chassis", "list"}, "", true},
	} {
		out, err := ferryctl(c.token, c.args...)
		if (err == nil) != c.ok || !strings.Contains(out, c.want) {
			t.Errorf("ferryctl %v (token given: %v): %v\n%s\nwant ok=%v and %q", c.args, c.token != "", err, out, c.ok, c.want)
		}
	}
	if code, _ := e.do("GET", "/metrics", nil); code != 401 {
		t.Errorf("/metrics without a token with --metrics-auth: %d, want 401", code)
	}
	if strings.Contains(e.ferryd.Log(), admin) || strings.Contains(e.ferryd.Log(), reader) {
		t.Errorf("a token reached ferryd's log")
	}
}
