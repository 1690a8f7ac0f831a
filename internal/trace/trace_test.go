package trace

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/openflow"
)

func mac(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

const bareMetal = "02:00:00:00:bb:01"

// lab: blue (VNI 1001) has vm1 (ofport 1) and vm3 (ofport 2) on hv1, vm2 on
// hv2, and a bare-metal server behind gw1 (port p0, VLAN 100) whose MAC
// the VTEP learned.
func lab(t *testing.T) (*realize.Estate, map[string]realize.ChassisState) {
	t.Helper()
	snap := &model.Snapshot{Generation: 3}
	for _, c := range []struct{ name, ip string }{{"hv1", "198.18.1.11"}, {"hv2", "198.18.1.12"}} {
		snap.Chassis = append(snap.Chassis, model.Chassis{Name: c.name, TunnelIP: net.ParseIP(c.ip).To4(), Bridge: "br-int",
			Kind: model.KindKVM, Encaps: []string{"vxlan"}})
	}
	snap.Gateways = []model.Gateway{{Name: "gw1", OVSDB: "tcp:198.18.255.31:6640"}}
	snap.Switches = []model.Switch{{Name: "blue", VNI: 1001, Encap: "vxlan", Ports: []model.Port{
		{Switch: "blue", Name: "vm1", IfaceID: "vm1", IPs: []netip.Addr{netip.MustParseAddr("198.18.100.1")}},
		{Switch: "blue", Name: "vm2", IfaceID: "vm2"},
		{Switch: "blue", Name: "vm3", IfaceID: "vm3"},
		{Switch: "blue", Name: "vm9", IfaceID: "nowhere"},
	}, Bindings: []model.GatewayBinding{{Switch: "blue", Gateway: "gw1", Port: "p0", VLAN: 100}}}}
	vifs := map[string][]hypervisor.VIF{
		"hv1": {{Name: "vnet1", IfaceID: "vm1", MAC: mac("02:00:00:00:01:01"), Active: true, OFPort: 1},
			{Name: "vnet3", IfaceID: "vm3", MAC: mac("02:00:00:00:01:03"), Active: true, OFPort: 2}},
		"hv2": {{Name: "vnet2", IfaceID: "vm2", MAC: mac("02:00:00:00:01:02"), Active: true, OFPort: 1}},
	}
	gws := map[string]realize.GatewayView{"gw1": {Name: "gw1", TunnelIP: "198.18.3.31", SourceNode: true,
		LocalMACs: map[string][]net.HardwareAddr{"blue": {mac(bareMetal)}}}}
	e, _ := realize.NextEstate(nil, realize.EstateInputs{Snapshot: snap, VIFs: vifs, VIFsVersion: 1, Gateways: gws})
	states := map[string]realize.ChassisState{}
	b := realize.Bind(e.Snapshot, vifs)
	for _, ch := range snap.Chassis {
		states[ch.Name] = realize.DesiredChassis(realize.ChassisInputs{Snapshot: e.Snapshot, Bindings: b, Chassis: ch, Gateways: gws})
	}
	return e, states
}

func ofports(states map[string]realize.ChassisState) OFPorts {
	return func(chassis, tunnel string) uint32 {
		for _, tn := range states[chassis].Tunnels {
			if tn.Name == tunnel {
				return uint32(tn.OFPort)
			}
		}
		return 0
	}
}

func query(from, dst string) *model.TraceQuery {
	return &model.TraceQuery{Switch: "blue", From: from, DstMAC: mac(dst)}
}

func TestLogicalToBareMetal(t *testing.T) {
	e, states := lab(t)
	tr, err := Logical(e, query("vm1", bareMetal), ofports(states))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Logical.Verdict != model.TraceUnicast || len(tr.Logical.Hops) != 2 {
		t.Fatalf("view %+v", tr.Logical)
	}
	h := tr.Logical.Hops[0]
	gwTunnel := openflow.TunnelName("vxlan", net.ParseIP("198.18.3.31"))
	if h.Device != "hv1" || h.InPort != "vnet1" || h.InOFPort != 1 || len(h.Outputs) != 1 {
		t.Fatalf("ingress hop %+v", h)
	}
	o := h.Outputs[0]
	if o.Kind != "tunnel" || o.Port != gwTunnel || o.Remote != "gw1" || o.RemoteIP != "198.18.3.31" || o.Encap != "vxlan" ||
		o.VNI != 1001 || o.OFPort < openflow.FirstTunnelOFPort {
		t.Fatalf("tunnel output %+v", o)
	}
	g := tr.Logical.Hops[1]
	if g.Device != "gw1" || g.Kind != "gateway" || g.Verdict != model.TraceUnicast || len(g.Outputs) != 1 ||
		g.Outputs[0].Port != "p0" || *g.Outputs[0].VLAN != 100 {
		t.Fatalf("gateway hop %+v", g)
	}
	// The source MAC defaults to the port's.
	if !strings.Contains(tr.Frame, "dl_src=02:00:00:00:01:01") || !strings.Contains(tr.Frame, "dl_dst="+bareMetal) {
		t.Fatalf("frame %s", tr.Frame)
	}
}

func TestLogicalPaths(t *testing.T) {
	e, states := lab(t)
	ports := ofports(states)
	for _, tc := range []struct {
		name, from, dst string
		src             string
		ip              string
		verdict         string
		hops            int
		outputs         []string // first hop, by port name
		reason          string
	}{
		{name: "local", from: "vm1", dst: "02:00:00:00:01:03", verdict: model.TraceUnicast, hops: 1, outputs: []string{"vnet3"}},
		{name: "remote", from: "vm1", dst: "02:00:00:00:01:02", verdict: model.TraceUnicast, hops: 2,
			outputs: []string{openflow.TunnelName("vxlan", net.ParseIP("198.18.1.12"))}},
		{name: "broadcast", from: "vm1", dst: "ff:ff:ff:ff:ff:ff", verdict: model.TraceFlood, hops: 3,
			outputs: []string{"vnet3", openflow.TunnelName("vxlan", net.ParseIP("198.18.1.12")), openflow.TunnelName("vxlan", net.ParseIP("198.18.3.31"))}},
		{name: "unknown unicast", from: "vm2", dst: "02:00:00:00:09:09", verdict: model.TraceFlood, hops: 3,
			outputs: []string{openflow.TunnelName("vxlan", net.ParseIP("198.18.1.11")), openflow.TunnelName("vxlan", net.ParseIP("198.18.3.31"))}},
		{name: "spoofed MAC", from: "vm1", src: "02:00:00:00:06:66", dst: "02:00:00:00:01:03", verdict: model.TraceDrop, hops: 1, reason: "source MAC"},
		{name: "spoofed IP", from: "vm1", ip: "198.18.100.66", dst: "02:00:00:00:01:03", verdict: model.TraceDrop, hops: 1, reason: "source address"},
		{name: "unbound", from: "vm9", dst: "02:00:00:00:01:03", verdict: model.TraceDrop, hops: 1, reason: "not bound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := query(tc.from, tc.dst)
			if tc.src != "" {
				q.SrcMAC = mac(tc.src)
			}
			if tc.ip != "" {
				q.IPSrc = netip.MustParseAddr(tc.ip)
			}
			tr, err := Logical(e, q, ports)
			if err != nil {
				t.Fatal(err)
			}
			v := tr.Logical
			if v.Verdict != tc.verdict || len(v.Hops) != tc.hops || !strings.Contains(v.Hops[0].Reason, tc.reason) {
				t.Fatalf("view %+v", v)
			}
			var got []string
			for _, o := range v.Hops[0].Outputs {
				got = append(got, o.Port)
			}
			if !slices.Equal(got, tc.outputs) {
				t.Fatalf("outputs %v, want %v", got, tc.outputs)
			}
		})
	}
}

func TestLogicalErrors(t *testing.T) {
	e, states := lab(t)
	if _, err := Logical(e, &model.TraceQuery{Switch: "green", From: "vm1"}, ofports(states)); err == nil || !strings.Contains(err.Error(), model.ErrTraceSwitch.Error()) {
		t.Fatalf("unknown switch: %v", err)
	}
	if _, err := Logical(e, &model.TraceQuery{Switch: "blue", From: "nope"}, ofports(states)); err == nil || !strings.Contains(err.Error(), model.ErrTracePort.Error()) {
		t.Fatalf("unknown port: %v", err)
	}
}

// realView runs every chassis hop of the logical view through the
// simulator on flows, and compares.
func realView(t *testing.T, q *model.TraceQuery, tr model.Trace, flows map[string][]openflow.Flow, states map[string]realize.ChassisState) model.TraceView {
	t.Helper()
	var v model.TraceView
	for i, lh := range tr.Logical.Hops {
		if lh.Kind != "chassis" {
			v.Hops = append(v.Hops, model.TraceHop{Device: lh.Device, Kind: lh.Kind, Source: "unavailable"})
			continue
		}
		p := PacketOf(*q, lh.InOFPort)
		if i > 0 {
			p.HasTunID, p.TunID = true, uint64(tr.VNI)
		}
		names := map[uint32]model.TraceOutput{}
		for _, tn := range states[lh.Device].Tunnels {
			names[uint32(tn.OFPort)] = model.TraceOutput{Kind: "tunnel", Port: tn.Name, Remote: tn.Remote}
		}
		names[1] = model.TraceOutput{Kind: "vif", Port: "vnet1"}
		names[2] = model.TraceOutput{Kind: "vif", Port: "vnet3"}
		r := Simulate(flows[lh.Device], states[lh.Device].Groups, p)
		v.Hops = append(v.Hops, RealHop(lh, r, names, "simulated"))
	}
	if len(v.Hops) > 0 {
		v.Verdict = v.Hops[0].Verdict
	}
	return v
}

// The simulator on the desired flows agrees with the logical view; with
// the remote-MAC flow for the bare-metal server deleted, it floods, and
// Compare names the hop and both outcomes.
func TestSimulateDisagreement(t *testing.T) {
	e, states := lab(t)
	q := query("vm1", bareMetal)
	tr, err := Logical(e, q, ofports(states))
	if err != nil {
		t.Fatal(err)
	}
	if q.IPSrc.String() != "198.18.100.1" {
		t.Fatalf("the source address defaults to the port's: %v", q.IPSrc)
	}
	flows := map[string][]openflow.Flow{"hv1": states["hv1"].Flows}
	real := realView(t, q, tr, flows, states)
	if d := Compare(tr.Logical, real); len(d) != 0 {
		t.Fatalf("desired flows disagree with the logical view: %v\n%+v", d, real)
	}
	if !slices.ContainsFunc(real.Hops[0].Steps, func(s string) bool { return strings.Contains(s, "dl_dst="+bareMetal) }) {
		t.Fatalf("steps %v", real.Hops[0].Steps)
	}

	flows["hv1"] = slices.DeleteFunc(slices.Clone(states["hv1"].Flows), func(f openflow.Flow) bool {
		return f.Table == openflow.TableL2 && f.Match.EthDst.String() == bareMetal
	})
	real = realView(t, q, tr, flows, states)
	d := Compare(tr.Logical, real)
	if real.Hops[0].Verdict != model.TraceFlood || len(d) != 1 {
		t.Fatalf("real %+v, disagreements %v", real.Hops[0], d)
	}
	fromLocal, _ := openflow.FloodGroups(1001)
	for _, want := range []string{"hop 1 (chassis hv1)", "logical: output to tunnel fvx", fmt.Sprintf("real: flooded through group 0x%x", fromLocal), "vif vnet3"} {
		if !strings.Contains(d[0], want) {
			t.Fatalf("disagreement %q lacks %q", d[0], want)
		}
	}

	// Without any flows, the frame drops in table 0.
	flows["hv1"] = nil
	real = realView(t, q, tr, flows, states)
	if real.Hops[0].Verdict != model.TraceDrop || !strings.Contains(real.Hops[0].Reason, "table 0") {
		t.Fatalf("empty table: %+v", real.Hops[0])
	}
}
