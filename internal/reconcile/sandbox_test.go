package reconcile

import (
	"cmp"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ferry-sdn/ferry/internal/events"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/ovstest"
	"github.com/ferry-sdn/ferry/openflow"
)

// staticNB is a northbound whose snapshot the test replaces.
type staticNB struct {
	p atomic.Pointer[model.Snapshot]
}

func (s *staticNB) Snapshot() *model.Snapshot { return s.p.Load() }

// probeStore is the sandbox's northbound for source-node probe results:
// start puts them in the gateways' rows, as nbdb would have.
type probeStore struct {
	mu sync.Mutex
	m  map[string][2]string
}

func (p *probeStore) SetGatewaySourceNode(_ context.Context, gw, result, evidence string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string][2]string{}
	}
	p.m[gw] = [2]string{result, evidence}
	return nil
}

// into returns snap with the recorded results in its gateways.
func (p *probeStore) into(snap *model.Snapshot) *model.Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.m) == 0 {
		return snap
	}
	next := *snap
	next.Gateways = slices.Clone(snap.Gateways)
	for i, gw := range next.Gateways {
		if r, ok := p.m[gw.Name]; ok {
			next.Gateways[i].SourceNode, next.Gateways[i].SourceNodeEvidence = r[0], r[1]
		}
	}
	return &next
}

type sandbox struct {
	t     *testing.T
	hvs   map[string]*ovstest.Instance
	nb    *staticNB
	of    *openflow.Server
	ofLn  net.Listener
	ctl   *Controller
	reg   *prometheus.Registry
	stop  func()
	snap  *model.Snapshot
	ofAdv string
	tls   *tls.Config // for ssl: chassis targets
	own   Ownership   // nil: this controller owns every device
	// wrap, when set, wraps the chassis databases ferry dials.
	wrap func(model.Chassis, Device) Device
	// probeWait is the source-node probe's wait (0: 100 ms); probes keeps
	// the results as the northbound would, for the next start.
	probeWait time.Duration
	probes    probeStore
	// Drift: where events go, whether to repair, how often flows are
	// counted (zero: never).
	events     *events.Log
	noRepair   bool
	driftCheck time.Duration
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("FERRY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newSandbox starts two dummy-datapath hypervisors: hv1 with br-int made by
// its operator, hv2 with none (ferry creates it).
func newSandbox(t *testing.T) *sandbox { return newSandboxOf(t, "hv1", "hv2") }

// newSandboxOf starts the named hypervisors; the first has br-int made by
// its operator.
func newSandboxOf(t *testing.T, names ...string) *sandbox {
	return newSandboxWith(t, ovstest.Options{Vswitchd: true}, names...)
}

// newSandboxWith is newSandboxOf with every hypervisor started with opts.
func newSandboxWith(t *testing.T, opts ovstest.Options, names ...string) *sandbox {
	return newSandboxTLS(t, opts, nil, names...)
}

// newSandboxTLS is newSandboxWith with ferry dialing ssl: chassis targets
// with tlsConfig.
func newSandboxTLS(t *testing.T, opts ovstest.Options, tlsConfig *tls.Config, names ...string) *sandbox {
	s := &sandbox{t: t, hvs: map[string]*ovstest.Instance{}, nb: &staticNB{}, tls: tlsConfig}
	for _, name := range names {
		s.hvs[name] = ovstest.Start(t, opts)
	}
	s.hvs["hv1"].Vsctl(t, "add-br", "br-int", "--", "set", "bridge", "br-int", "datapath_type=dummy",
		"--", "add-port", "br-int", "operator-port", "--", "set", "interface", "operator-port", "type=dummy")
	s.snap = &model.Snapshot{Generation: 1}
	for i, name := range names {
		s.snap.Chassis = append(s.snap.Chassis, model.Chassis{
			Name: name, OVSDB: "unix:" + s.hvs[name].DBSock, Bridge: "br-int", Kind: model.KindKVM,
			TunnelIP: net.IPv4(198, 18, 1, byte(11+i)).To4(), Encaps: []string{"vxlan", "gre"},
		})
	}
	s.nb.p.Store(s.snap)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ofLn = ln
	s.ofAdv = "tcp:" + ln.Addr().String()
	s.of = openflow.NewServer(testLogger(t))
	go s.of.Serve(ln)
	t.Cleanup(s.of.Close)
	s.start()
	return s
}

// start runs a fresh Controller, as a restarted ferryd would.
func (s *sandbox) start() {
	s.reg = prometheus.NewRegistry()
	s.snap = s.probes.into(s.snap)
	s.nb.p.Store(s.snap)
	dial := OVSDBDialer(testLogger(s.t), s.tls, nil)
	if wrap := s.wrap; wrap != nil {
		inner := dial
		dial = func(ch model.Chassis, notify func()) (Device, error) {
			dev, err := inner(ch, notify)
			if err != nil {
				return nil, err
			}
			return wrap(ch, dev), nil
		}
	}
	s.ctl = New(Config{
		Northbound: s.nb, Switches: OpenFlow(s.of), Dial: dial,
		DialGateway: OVSDBGatewayDialer(testLogger(s.t), s.tls, nil),
		Advertise:   s.ofAdv, Resync: time.Hour, Metrics: NewMetrics(s.reg), Logger: testLogger(s.t),
		Ownership: s.own, Events: s.events, NoRepair: s.noRepair, DriftCheck: s.driftCheck,
		ProbeWait: cmp.Or(s.probeWait, 100*time.Millisecond), // no ovs-vtep here: nothing refuses unless a test makes it
		Probes:    &s.probes,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	events, unsub := s.of.Subscribe()
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-events:
				s.ctl.KickDevices()
			}
		}
	}()
	go func() { s.ctl.Run(ctx); close(done) }()
	s.stop = func() { cancel(); unsub(); <-done }
	s.t.Cleanup(func() { s.stop() })
}

func (s *sandbox) update(f func(*model.Snapshot)) {
	next := *s.snap
	next.Switches = append([]model.Switch(nil), s.snap.Switches...)
	f(&next)
	next.Generation++
	s.snap = &next
	s.nb.p.Store(&next)
	s.ctl.Kick()
}

// waitBridge waits until ferry has created br-int on hv.
func (s *sandbox) waitBridge(hv string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.hvs[hv].RunErr("ovs-vsctl", "--db=unix:"+s.hvs[hv].DBSock, "br-exists", "br-int"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("ferry did not create br-int on %s", hv)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// blueAcross puts vm1 on hv1 and vm2 on hv2 in switch blue (VNI 1001) and
// waits until it is realized.
func (s *sandbox) blueAcross() {
	s.waitBridge("hv2")
	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	s.addVIF("hv2", "vm2", "blue-b", "52:54:00:00:01:0b")
	s.update(func(n *model.Snapshot) {
		n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1, Ports: []model.Port{
			{Switch: "blue", Name: "a", IfaceID: "blue-a"}, {Switch: "blue", Name: "b", IfaceID: "blue-b"}}}}
	})
	s.waitRealized()
}

// addPort adds a port to the first switch.
func (s *sandbox) addPort(name, ifaceID string) {
	s.update(func(n *model.Snapshot) {
		sw := n.Switches[0]
		sw.Ports = append(append([]model.Port(nil), sw.Ports...), model.Port{Switch: sw.Name, Name: name, IfaceID: ifaceID})
		sw.Generation = n.Generation + 1
		n.Switches = []model.Switch{sw}
	})
}

func (s *sandbox) addVIF(hv, name, ifaceID, mac string) {
	s.hvs[hv].Vsctl(s.t, "add-port", "br-int", name, "--", "set", "interface", name, "type=dummy",
		"external_ids:iface-id="+ifaceID, "external_ids:attached-mac="+mac, "external_ids:iface-status=active")
}

// waitRealized waits until every switch is realized on all its carriers
// and each chassis has realized the current generation.
func (s *sandbox) waitRealized() {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		for _, sw := range s.snap.Switches {
			st := s.ctl.Switch(sw)
			ok = ok && st.Realized && len(st.Chassis) > 0
		}
		for _, ch := range s.snap.Chassis {
			cs := s.ctl.Chassis(ch.Name)
			ok = ok && cs.OpenFlowConnected && cs.RealizedGeneration == s.snap.Generation
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for _, ch := range s.snap.Chassis {
				s.t.Logf("%s: %+v", ch.Name, s.ctl.Chassis(ch.Name))
			}
			for _, sw := range s.snap.Switches {
				s.t.Logf("%s: %+v", sw.Name, s.ctl.Switch(sw))
			}
			s.t.Fatalf("not realized within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var flowNoise = regexp.MustCompile(` ?(cookie|duration|n_packets|n_bytes|idle_age|hard_age|reset_counts)=[^,]*,`)

// dumpFlows returns br-int's flows as ovs-ofctl prints them, without
// counters and cookies, sorted.
func (s *sandbox) dumpFlows(hv string) []string {
	out := s.hvs[hv].Ofctl(s.t, "dump-flows", "br-int")
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "OFPST_") || strings.HasPrefix(l, "NXST_") {
			continue
		}
		lines = append(lines, strings.TrimSpace(flowNoise.ReplaceAllString(l, "")))
	}
	sort.Strings(lines)
	return lines
}

func TestSandboxLifecycle(t *testing.T) {
	s := newSandbox(t)
	s.addVIF("hv1", "vm1", "blue-a", "52:54:00:00:01:0a")
	// A registered chassis gets its bridge even before any switch needs it.
	s.waitBridge("hv2")
	s.addVIF("hv2", "vm2", "blue-b", "52:54:00:00:01:0b")
	s.update(func(n *model.Snapshot) {
		n.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Generation: n.Generation + 1, Ports: []model.Port{
			{Switch: "blue", Name: "a", IfaceID: "blue-a"}, {Switch: "blue", Name: "b", IfaceID: "blue-b"}}}}
	})
	s.waitRealized()

	hv1 := s.hvs["hv1"]
	if got := hv1.Vsctl(t, "get", "bridge", "br-int", "fail_mode"); strings.TrimSpace(got) != "secure" {
		t.Errorf("fail_mode %q", got)
	}
	if got := hv1.Vsctl(t, "get-controller", "br-int"); strings.TrimSpace(got) != s.ofAdv {
		t.Errorf("controller %q, want %s", got, s.ofAdv)
	}
	if got := s.hvs["hv2"].Vsctl(t, "get", "bridge", "br-int", "external_ids:ferry/owner"); strings.Trim(strings.TrimSpace(got), `"`) != "ferry" {
		t.Errorf("ferry-created bridge not marked: %q", got)
	}
	tun := "fvxc612010c" // hv1 → 198.18.1.12
	if got := hv1.Vsctl(t, "get", "interface", tun, "type", "options", "ofport", "external_ids:ferry/owner"); !strings.Contains(got, "vxlan") ||
		!strings.Contains(got, `remote_ip="198.18.1.12"`) || !strings.Contains(got, `key=flow`) || !strings.Contains(got, "32768") {
		t.Errorf("tunnel port: %s", got)
	}
	flows := s.dumpFlows("hv1")
	want := []string{
		"priority=0 actions=drop",
		"priority=100,in_port=2 actions=set_field:0x3e9->tun_id,write_metadata:0x1,goto_table:1",
		// Port security, on by default: vm1 has an attached-mac.
		"table=1, priority=100,in_port=2,dl_src=52:54:00:00:01:0a actions=goto_table:10",
		"table=3, priority=100,tun_id=0x3e9 actions=drop",
		// The probe flows, as ovs-ofctl prints them (the cookie is a
		// hash of ferry's text: the two must agree).
		"priority=100,in_port=CONTROLLER,dl_src=02:66:65:72:72:79,dl_type=0x88b5 actions=write_metadata:0x1,goto_table:10",
		"table=10, priority=110,metadata=0x2,dl_src=02:66:65:72:72:79,dl_type=0x88b5 actions=CONTROLLER:65535",
		"table=10, priority=110,metadata=0x3,dl_src=02:66:65:72:72:79,dl_type=0x88b5 actions=CONTROLLER:65535",
		"table=10, priority=60,metadata=0x1,dl_src=02:66:65:72:72:79,dl_type=0x88b5 actions=drop",
	}
	joined := strings.Join(flows, "\n")
	for _, w := range want {
		if !strings.Contains(joined, w) {
			t.Errorf("hv1 flows lack %q:\n%s", w, joined)
		}
	}
	if len(flows) != 16 {
		t.Errorf("hv1 has %d flows, want 16:\n%s", len(flows), joined)
	}
	if out := hv1.Ofctl(t, "dump-groups", "br-int"); !strings.Contains(out, "group_id=2147485650") || !strings.Contains(out, "group_id=2147485651") {
		t.Errorf("groups:\n%s", out)
	}
	// ofproto/trace: a broadcast from vm1 floods to the tunnel with the VNI.
	trace := hv1.Appctl(t, "ovs-vswitchd", "ofproto/trace", "br-int", "in_port=2,dl_src=52:54:00:00:01:0a,dl_dst=ff:ff:ff:ff:ff:ff")
	if !strings.Contains(trace, "output:32768") {
		t.Errorf("trace does not reach the tunnel:\n%s", trace)
	}

	// An operator's group is not ferry's: it survives the dump and diff of
	// a restart.
	hv1.Ofctl(t, "add-group", "br-int", "group_id=100,type=all,bucket=output:1")

	// A restarted controller with nothing changed sends no flow_mod and no
	// OVSDB transaction.
	before := s.of.Counters()
	s.stop()
	s.start()
	s.waitRealized()
	after := s.of.Counters()
	if after.FlowMods != before.FlowMods || after.GroupMods != before.GroupMods {
		t.Errorf("restart sent flow_mods %d→%d group_mods %d→%d", before.FlowMods, after.FlowMods, before.GroupMods, after.GroupMods)
	}
	if n := testutil.ToFloat64(s.ctl.cfg.Metrics.transactions); n != 0 {
		t.Errorf("restart sent %v OVSDB transactions", n)
	}
	if got := s.dumpFlows("hv1"); strings.Join(got, "\n") != joined {
		t.Errorf("flows changed across restart")
	}
	if out := hv1.Ofctl(t, "dump-groups", "br-int"); !strings.Contains(out, "group_id=100,") {
		t.Errorf("operator's group removed:\n%s", out)
	}

	// Deleting the switch leaves only the table-miss drops and the probe
	// flows: no group, no tunnel port; the operator's port stays.
	s.update(func(n *model.Snapshot) { n.Switches = nil })
	s.waitRealized()
	for _, hv := range []string{"hv1", "hv2"} {
		if got := s.dumpFlows(hv); len(got) != 6 {
			t.Errorf("%s flows after delete:\n%s", hv, strings.Join(got, "\n"))
		}
		if out := s.hvs[hv].Ofctl(t, "dump-groups", "br-int"); strings.Contains(out, "group_id=2147") {
			t.Errorf("%s groups after delete:\n%s", hv, out)
		}
		ports := s.hvs[hv].Vsctl(t, "list-ports", "br-int")
		if strings.Contains(ports, "fvx") {
			t.Errorf("%s tunnel ports after delete: %s", hv, ports)
		}
	}
	if ports := hv1.Vsctl(t, "list-ports", "br-int"); !strings.Contains(ports, "operator-port") {
		t.Errorf("operator's port removed: %s", ports)
	}
}

func TestSandboxDeleteChassis(t *testing.T) {
	s := newSandbox(t)
	s.blueAcross()
	if len(s.dumpFlows("hv2")) <= 2 {
		t.Fatal("hv2 has no switch flows before the test")
	}
	// Delete hv2: it is released, hv1 drops its tunnel to it.
	s.update(func(n *model.Snapshot) { n.Chassis = n.Chassis[:1] })
	deadline := time.Now().Add(10 * time.Second)
	for {
		flows := s.dumpFlows("hv2")
		ctl := strings.TrimSpace(s.hvs["hv2"].Vsctl(t, "get-controller", "br-int"))
		ports := s.hvs["hv2"].Vsctl(t, "list-ports", "br-int")
		hv1Ports := s.hvs["hv1"].Vsctl(t, "list-ports", "br-int")
		if len(flows) == 0 && ctl == "" && !strings.Contains(ports, "fvx") && !strings.Contains(hv1Ports, "fvx") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleted chassis not released: flows %v controller %q ports %q; hv1 ports %q", flows, ctl, ports, hv1Ports)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ports := s.hvs["hv2"].Vsctl(t, "list-ports", "br-int"); !strings.Contains(ports, "vm2") {
		t.Errorf("releasing hv2 removed the VIF: %q", ports)
	}
}
