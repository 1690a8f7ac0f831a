package openflow_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/ovstest"
	"github.com/ferry-sdn/ferry/openflow"
)

// The sandbox tier: a real ovs-vswitchd with the dummy datapath whose bridge
// br0 dials a Server listening on 127.0.0.1:0.

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type sandbox struct {
	ovs  *ovstest.Instance
	srv  *openflow.Server
	addr string // the Server's listener, host:port
	logs *syncBuffer
	dpid uint64
}

// Ports of br0: three "VIFs" and a "tunnel" port where ferry pins tunnels.
const (
	vif1, vif2, vif3 = 1, 2, 3
	tunPort          = openflow.FirstTunnelOFPort
)

func newServer(t testing.TB, opts ...openflow.Option) (*openflow.Server, string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	// Not t.Log: sessions log their disconnect after the test returns.
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := openflow.NewServer(logger, opts...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return srv, ln.Addr().String(), logs
}

func newSandbox(t testing.TB) *sandbox {
	return newSandboxWith(t, "OpenFlow10,OpenFlow13,OpenFlow15")
}

// newSandbox13 is a sandbox whose br0 the operator pinned to OpenFlow 1.0
// and 1.3, like a bridge of an Open vSwitch 2.5 era host.
func newSandbox13(t testing.TB) *sandbox {
	return newSandboxWith(t, "OpenFlow10,OpenFlow13")
}

// bothVersions runs test on a 1.5 bridge and on a 1.3-only one.
func bothVersions(t *testing.T, test func(t *testing.T, sb *sandbox)) {
	for _, v := range []struct {
		name string
		new  func(testing.TB) *sandbox
		want uint8
	}{{"OpenFlow15", newSandbox, openflow.Version15}, {"OpenFlow13", newSandbox13, openflow.Version13}} {
		t.Run(v.name, func(t *testing.T) {
			sb := v.new(t)
			if got := sb.srv.Bind(sb.dpid, openflow.AcceptAny).Version(); got != v.want {
				t.Fatalf("session speaks %s, want %s", openflow.VersionName(got), openflow.VersionName(v.want))
			}
			test(t, sb)
		})
	}
}

func newSandboxWith(t testing.TB, protocols string) *sandbox {
	t.Helper()
	ovs := ovstest.Start(t, ovstest.Options{Vswitchd: true})
	if !strings.Contains(protocols, "OpenFlow15") {
		ovs.OfctlProtocols = "OpenFlow13"
	}
	srv, addr, logs := newServer(t)
	sb := &sandbox{ovs: ovs, srv: srv, addr: addr, logs: logs}
	ovs.Vsctl(t, "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=dummy", "fail_mode=secure",
		"protocols="+protocols, "other_config:disable-in-band=true",
		"--", "add-port", "br0", "p1", "--", "set", "interface", "p1", "type=dummy", "ofport_request=1",
		"--", "add-port", "br0", "p2", "--", "set", "interface", "p2", "type=dummy", "ofport_request=2",
		"--", "add-port", "br0", "p3", "--", "set", "interface", "p3", "type=dummy", "ofport_request=3",
		"--", "add-port", "br0", "vx1", "--", "set", "interface", "vx1", "type=dummy", "ofport_request="+strconv.Itoa(tunPort))
	sb.dpid = sb.bridgeDPID(t, "br0")
	sb.connect(t)
	return sb
}

func (sb *sandbox) bridgeDPID(t testing.TB, br string) uint64 {
	t.Helper()
	s := strings.Trim(strings.TrimSpace(sb.ovs.Vsctl(t, "get", "bridge", br, "datapath_id")), `"`)
	d, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		t.Fatalf("datapath_id %q: %v", s, err)
	}
	return d
}

// connect points br0 at the server and waits for the session.
func (sb *sandbox) connect(t testing.TB) *openflow.Session {
	t.Helper()
	sb.ovs.Vsctl(t, "set-controller", "br0", "tcp:"+sb.addr)
	return waitSession(t, sb.srv, sb.dpid, nil)
}

// waitSession waits until the server has a session for dpid other than old.
func waitSession(t testing.TB, srv *openflow.Server, dpid uint64, old *openflow.Session) *openflow.Session {
	t.Helper()
	ch, cancel := srv.Subscribe()
	defer cancel()
	deadline := time.After(10 * time.Second)
	for {
		if s := srv.Bind(dpid, openflow.AcceptAny); s != nil && s != old {
			return s
		}
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no OpenFlow session from datapath %016x", dpid)
		}
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

var (
	mac1  = mustMAC("02:00:00:00:00:01")
	mac2  = mustMAC("02:00:00:00:00:02")
	bcast = mustMAC("ff:ff:ff:ff:ff:ff")
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func goTo(t uint8) *uint8 { return &t }

// pipeline is a small version of ferry's: two VIFs on VNI 100, MAC lookup,
// flooding through group 1 (local VIFs plus a tunnel bucket).
func pipeline() ([]openflow.Flow, []openflow.GroupEntry) {
	const vni = 100
	fromLocal := &openflow.Metadata{Value: openflow.MetaFromLocal, Mask: 0xff}
	flows := []openflow.Flow{
		{Table: openflow.TableClassify, Priority: openflow.PriorityExact, Match: openflow.Match{InPort: vif1},
			Actions: []openflow.Action{openflow.SetTunnelID{ID: vni}}, WriteMetadata: fromLocal, GotoTable: goTo(openflow.TableL2)},
		{Table: openflow.TableClassify, Priority: openflow.PriorityExact, Match: openflow.Match{InPort: vif2},
			Actions: []openflow.Action{openflow.SetTunnelID{ID: vni}}, WriteMetadata: fromLocal, GotoTable: goTo(openflow.TableL2)},
		{Table: openflow.TableClassify, Priority: openflow.PriorityDrop},
		{Table: openflow.TableL2, Priority: openflow.PriorityExact,
			Match:   openflow.Match{HasTunID: true, TunID: vni, EthDst: mac1},
			Actions: []openflow.Action{openflow.Output{Port: vif1}}},
		{Table: openflow.TableL2, Priority: openflow.PriorityExact,
			Match:   openflow.Match{HasTunID: true, TunID: vni, EthDst: mac2},
			Actions: []openflow.Action{openflow.Output{Port: vif2}}},
		{Table: openflow.TableL2, Priority: openflow.PriorityFlood,
			Match:   openflow.Match{HasTunID: true, TunID: vni, HasMetadata: true, Metadata: openflow.MetaFromLocal},
			Actions: []openflow.Action{openflow.Group{ID: 1}}},
	}
	groups := []openflow.GroupEntry{
		{ID: 1, Buckets: [][]openflow.Action{
			{openflow.Output{Port: vif1}},
			{openflow.Output{Port: vif2}},
			{openflow.SetTunnelID{ID: vni}, openflow.Output{Port: tunPort}},
		}},
	}
	return flows, groups
}

var statsField = regexp.MustCompile(`^(cookie|duration|n_packets|n_bytes|idle_age|hard_age)=`)

// dumpFlows returns ovs-ofctl's dump-flows lines reduced to Flow.String()
// form, keyed by that string, with the cookie each carries.
func dumpFlows(t testing.TB, ovs *ovstest.Instance) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, line := range strings.Split(ovs.Ofctl(t, "dump-flows", "br0"), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "cookie=") {
			continue
		}
		head, actions, ok := strings.Cut(line, " actions=")
		if !ok {
			t.Fatalf("unparsable dump-flows line %q", line)
		}
		var keep []string
		var cookie uint64
		for _, f := range strings.Split(head, ", ") {
			if c, ok := strings.CutPrefix(f, "cookie="); ok {
				cookie, _ = strconv.ParseUint(c, 0, 64)
			}
			if !statsField.MatchString(f) {
				keep = append(keep, f)
			}
		}
		out[strings.Join(keep, ", ")+" actions="+actions] = cookie
	}
	return out
}

var bucketID = regexp.MustCompile(`bucket_id:[0-9]+,`)

// dumpGroups returns ovs-ofctl's dump-groups lines without bucket IDs, which
// is GroupEntry.String() form.
func dumpGroups(t testing.TB, ovs *ovstest.Instance) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(ovs.Ofctl(t, "dump-groups", "br0"), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "group_id=") {
			out = append(out, bucketID.ReplaceAllString(line, ""))
		}
	}
	sort.Strings(out)
	return out
}

func flowStrings(flows []openflow.Flow) map[string]uint64 {
	m := map[string]uint64{}
	for _, f := range flows {
		m[f.String()] = f.Cookie()
	}
	return m
}

func TestSandboxHandshake(t *testing.T) {
	sb := newSandbox(t)
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	if s.DatapathID() != sb.dpid {
		t.Errorf("DatapathID = %016x, ovs-vsctl says %016x", s.DatapathID(), sb.dpid)
	}
	if s.NumTables() == 0 {
		t.Error("switch reported no tables")
	}
	if err := s.Barrier(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if out := sb.ovs.Appctl(t, ovstest.Vswitchd, "bridge/dump-flows", "br0"); out == "" {
		t.Error("bridge/dump-flows empty")
	}
	if !strings.Contains(sb.logs.String(), "openflow: switch connected") {
		t.Errorf("no connect log line:\n%s", sb.logs.String())
	}
	// A datapath ID the operator pins is the one the session reports.
	sb.ovs.Vsctl(t, "set", "bridge", "br0", "other_config:datapath-id=00000000feed0001")
	s2 := waitSession(t, sb.srv, 0xfeed0001, nil)
	if s2.DatapathID() != 0xfeed0001 {
		t.Errorf("DatapathID = %016x", s2.DatapathID())
	}
}

func TestSandboxCommitDumpDelete(t *testing.T) { bothVersions(t, testSandboxCommitDumpDelete) }

func testSandboxCommitDumpDelete(t *testing.T, sb *sandbox) {
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	flows, groups := pipeline()
	if err := s.Commit(ctx(t), openflow.Changes{AddGroups: groups, AddFlows: flows}); err != nil {
		t.Fatal(err)
	}

	// ovs-ofctl shows exactly our flows, each line equal to Flow.String()
	// and carrying Flow.Cookie().
	if got, want := dumpFlows(t, sb.ovs), flowStrings(flows); !reflect.DeepEqual(got, want) {
		t.Errorf("dump-flows:\n%s\nwant:\n%s", fmtMap(got), fmtMap(want))
	}
	var wantGroups []string
	for _, g := range groups {
		wantGroups = append(wantGroups, g.String())
	}
	if got := dumpGroups(t, sb.ovs); !reflect.DeepEqual(got, wantGroups) {
		t.Errorf("dump-groups = %q, want %q", got, wantGroups)
	}

	// DumpFlows returns the same cookies, with tables and priorities.
	stats, err := s.DumpFlows(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != len(flows) {
		t.Fatalf("DumpFlows returned %d flows, want %d: %+v", len(stats), len(flows), stats)
	}
	byCookie := map[uint64]openflow.FlowStat{}
	for _, st := range stats {
		byCookie[st.Cookie] = st
		if !openflow.IsFerryCookie(st.Cookie) {
			t.Errorf("cookie %#x lacks ferry's marker", st.Cookie)
		}
	}
	for _, f := range flows {
		st, ok := byCookie[f.Cookie()]
		if !ok || st.Table != f.Table || st.Priority != f.Priority {
			t.Errorf("flow %s: dumped %+v (found %v)", f, st, ok)
		}
	}

	// DumpGroups decodes the buckets back into the same GroupEntry.
	dumped, err := s.DumpGroups(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dumped, groups) {
		t.Errorf("DumpGroups = %v, want %v", dumped, groups)
	}

	// Deleting by cookie removes exactly that flow, even though another
	// flow in the table has the same match fields but one.
	victim := flows[4]
	if err := s.Commit(ctx(t), openflow.Changes{DeleteFlows: []openflow.FlowRef{victim.Ref()}}); err != nil {
		t.Fatal(err)
	}
	want := flowStrings(slices.Delete(slices.Clone(flows), 4, 5))
	if got := dumpFlows(t, sb.ovs); !reflect.DeepEqual(got, want) {
		t.Errorf("after deleting %s:\n%s\nwant:\n%s", victim, fmtMap(got), fmtMap(want))
	}

	// A changed flow: delete old cookie, add new, in one bundle; modify the
	// group in the same bundle.
	changed := flows[3]
	changed.Actions = []openflow.Action{openflow.Output{Port: vif3}}
	groups[0].Buckets = append(groups[0].Buckets, []openflow.Action{openflow.Output{Port: vif3}})
	err = s.Commit(ctx(t), openflow.Changes{
		ModifyGroups: groups,
		DeleteFlows:  []openflow.FlowRef{flows[3].Ref()},
		AddFlows:     []openflow.Flow{changed},
	})
	if err != nil {
		t.Fatal(err)
	}
	want = flowStrings([]openflow.Flow{flows[0], flows[1], flows[2], changed, flows[5]})
	if got := dumpFlows(t, sb.ovs); !reflect.DeepEqual(got, want) {
		t.Errorf("after change:\n%s\nwant:\n%s", fmtMap(got), fmtMap(want))
	}
	if got := dumpGroups(t, sb.ovs); len(got) != 1 || got[0] != groups[0].String() {
		t.Errorf("dump-groups = %q, want %q", got, groups[0].String())
	}

	// Unreference, then delete the group, in one bundle.
	err = s.Commit(ctx(t), openflow.Changes{DeleteFlows: []openflow.FlowRef{flows[5].Ref()}, DeleteGroups: []uint32{1}})
	if err != nil {
		t.Fatal(err)
	}
	if got := dumpGroups(t, sb.ovs); len(got) != 0 {
		t.Errorf("groups left: %q", got)
	}

	// Empty changes send nothing.
	before := s.Counters()
	if err := s.Commit(ctx(t), openflow.Changes{}); err != nil {
		t.Fatal(err)
	}
	if s.Counters() != before {
		t.Errorf("empty commit changed counters %+v -> %+v", before, s.Counters())
	}
	c := s.Counters()
	if c.Bundles != 4 || c.FlowMods != uint64(len(flows)+1+2+1) || c.GroupMods != 3 || c.BundleErrors != 0 {
		t.Errorf("session counters %+v", c)
	}
	if sc := sb.srv.Counters(); sc != c {
		t.Errorf("server counters %+v, session %+v", sc, c)
	}
}

func TestSandboxGroupWithForeignActions(t *testing.T) {
	bothVersions(t, testSandboxGroupWithForeignActions)
}

func testSandboxGroupWithForeignActions(t *testing.T, sb *sandbox) {
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	sb.ovs.Ofctl(t, "add-group", "br0", "group_id=5,type=all,bucket=output:1,bucket=mod_vlan_vid:7,output:2")
	sb.ovs.Ofctl(t, "add-group", "br0", "group_id=6,type=select,bucket=output:1")
	groups, err := s.DumpGroups(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].ID < groups[j].ID })
	if len(groups) != 2 {
		t.Fatalf("groups = %v", groups)
	}
	desired5 := openflow.GroupEntry{ID: 5, Buckets: [][]openflow.Action{{openflow.Output{Port: 1}}, {openflow.Output{Port: 2}}}}
	if groups[0].String() == desired5.String() {
		t.Errorf("group with a foreign action compares equal: %s", groups[0])
	}
	if _, ok := groups[0].Buckets[1][0].(openflow.Unknown); !ok {
		t.Errorf("push_vlan/set_field vlan decoded as %T", groups[0].Buckets[1][0])
	}
	desired6 := openflow.GroupEntry{ID: 6, Buckets: [][]openflow.Action{{openflow.Output{Port: 1}}}}
	if groups[1].String() == desired6.String() {
		t.Errorf("select group compares equal to a type-all group: %s", groups[1])
	}
	// Modifying them to ferry's content fixes both.
	if err := s.Commit(ctx(t), openflow.Changes{ModifyGroups: []openflow.GroupEntry{desired5, desired6}}); err != nil {
		t.Fatal(err)
	}
	if groups, err = s.DumpGroups(ctx(t)); err != nil {
		t.Fatal(err)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].ID < groups[j].ID })
	if !reflect.DeepEqual(groups, []openflow.GroupEntry{desired5, desired6}) {
		t.Errorf("after modify: %v", groups)
	}
}

func TestSandboxRejectedBundleChangesNothing(t *testing.T) {
	sb := newSandbox(t)
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	flows, groups := pipeline()
	if err := s.Commit(ctx(t), openflow.Changes{AddGroups: groups, AddFlows: flows}); err != nil {
		t.Fatal(err)
	}
	beforeFlows, beforeGroups := dumpFlows(t, sb.ovs), dumpGroups(t, sb.ovs)

	newGroup := openflow.GroupEntry{ID: 2, Buckets: [][]openflow.Action{{openflow.Output{Port: vif3}}}}
	good := openflow.Flow{Table: openflow.TableL2, Priority: openflow.PriorityExact,
		Match: openflow.Match{HasTunID: true, TunID: 100, EthDst: mustMAC("02:00:00:00:00:03")}, Actions: []openflow.Action{openflow.Output{Port: vif3}}}
	cases := []struct {
		name string
		bad  openflow.Flow
		code string
	}{
		// OVS checks this when the message is added to the bundle.
		{"goto lower table", openflow.Flow{Table: openflow.TableL2, Priority: 1, GotoTable: goTo(openflow.TableClassify)}, "OFPBIC_BAD_TABLE_ID"},
		// And this only when the bundle is committed.
		{"missing group", openflow.Flow{Table: openflow.TableL2, Priority: 1, Actions: []openflow.Action{openflow.Group{ID: 999}}}, "OFPBAC_BAD_OUT_GROUP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Commit(ctx(t), openflow.Changes{
				AddGroups:    []openflow.GroupEntry{newGroup},
				DeleteFlows:  []openflow.FlowRef{flows[3].Ref()},
				AddFlows:     []openflow.Flow{good, tc.bad},
				DeleteGroups: []uint32{},
			})
			if err == nil {
				t.Fatal("bundle with an invalid flow committed")
			}
			var ofErr *openflow.Error
			var bErr *openflow.BundleError
			if !errors.As(err, &ofErr) || ofErr.Name() != tc.code || !errors.As(err, &bErr) {
				t.Fatalf("error %v, want a *openflow.BundleError with an *openflow.Error %s", err, tc.code)
			}
			if !strings.Contains(err.Error(), tc.bad.String()) {
				t.Errorf("error %q does not name the failing flow %q", err, tc.bad)
			}
			t.Logf("error: %v", err)
			if got := dumpFlows(t, sb.ovs); !reflect.DeepEqual(got, beforeFlows) {
				t.Errorf("flows changed by a rejected bundle:\n%s\nwant:\n%s", fmtMap(got), fmtMap(beforeFlows))
			}
			if got := dumpGroups(t, sb.ovs); !reflect.DeepEqual(got, beforeGroups) {
				t.Errorf("groups changed by a rejected bundle: %q", got)
			}
		})
	}
	if c := s.Counters(); c.BundleErrors != 2 {
		t.Errorf("BundleErrors = %d, want 2", c.BundleErrors)
	}
	// The session is still usable and a correct bundle still commits.
	if err := s.Commit(ctx(t), openflow.Changes{AddGroups: []openflow.GroupEntry{newGroup}, AddFlows: []openflow.Flow{good}}); err != nil {
		t.Fatal(err)
	}
	if _, ok := dumpFlows(t, sb.ovs)[good.String()]; !ok {
		t.Error("good flow missing after a clean commit")
	}
	// Adding a group that exists is the reconciler's bug; it must be
	// reported as such.
	err := s.Commit(ctx(t), openflow.Changes{AddGroups: []openflow.GroupEntry{newGroup}})
	var ofErr *openflow.Error
	if !errors.As(err, &ofErr) || ofErr.Name() != "OFPGMFC_GROUP_EXISTS" || !strings.Contains(err.Error(), "group_mod add group_id=2") {
		t.Errorf("re-adding group 2: %v", err)
	}
}

func TestSandboxLargeBundle(t *testing.T) { bothVersions(t, testSandboxLargeBundle) }

func testSandboxLargeBundle(t *testing.T, sb *sandbox) {
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	const n = 5000
	flows := manyFlows(n, 0)
	start := time.Now()
	if err := s.Commit(ctx(t), openflow.Changes{AddFlows: flows}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d flows committed in %v", n, time.Since(start))
	stats, err := s.DumpFlows(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != n {
		t.Fatalf("DumpFlows returned %d flows, want %d", len(stats), n)
	}
	cookies := map[uint64]bool{}
	for _, st := range stats {
		cookies[st.Cookie] = true
	}
	for _, f := range flows {
		if !cookies[f.Cookie()] {
			t.Fatalf("flow %s missing from dump", f)
		}
	}
	if err := s.Commit(ctx(t), openflow.Changes{DeleteFlows: refs(flows)}); err != nil {
		t.Fatal(err)
	}
	if stats, err = s.DumpFlows(ctx(t)); err != nil || len(stats) != 0 {
		t.Fatalf("after deleting all: %d flows, %v", len(stats), err)
	}
}

func refs(flows []openflow.Flow) []openflow.FlowRef {
	out := make([]openflow.FlowRef, len(flows))
	for i, f := range flows {
		out[i] = f.Ref()
	}
	return out
}

// manyFlows returns n distinct L2 flows (one per MAC) whose cookies differ
// between rounds.
func manyFlows(n, round int) []openflow.Flow {
	flows := make([]openflow.Flow, n)
	for i := range flows {
		m := net.HardwareAddr{0x02, byte(round), byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		flows[i] = openflow.Flow{Table: openflow.TableL2, Priority: openflow.PriorityExact,
			Match:   openflow.Match{HasTunID: true, TunID: uint64(100 + round), EthDst: m},
			Actions: []openflow.Action{openflow.Output{Port: uint32(1 + i%3)}}}
	}
	return flows
}

func TestSandboxReconnect(t *testing.T) {
	sb := newSandbox(t)
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	flows, groups := pipeline()
	if err := s.Commit(ctx(t), openflow.Changes{AddGroups: groups, AddFlows: flows}); err != nil {
		t.Fatal(err)
	}
	ch, cancel := sb.srv.Subscribe()
	defer cancel()

	// A dropped connection (here: dropped by ferry) is redialled by OVS and
	// finds the flows intact: nobody flushes anything.
	s.Close()
	select {
	case <-s.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed after Close")
	}
	if err := s.Barrier(ctx(t)); !openflow.IsDisconnected(err) {
		t.Errorf("Barrier on a closed session: %v, want ErrDisconnected", err)
	}
	s2 := waitSession(t, sb.srv, sb.dpid, s)
	stats, err := s2.DumpFlows(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != len(flows) {
		t.Errorf("after reconnect: %d flows, want %d", len(stats), len(flows))
	}

	// del-controller: the session ends, the server forgets it, subscribers
	// hear about it.
	drain(ch)
	sb.ovs.Vsctl(t, "del-controller", "br0")
	select {
	case <-s2.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after del-controller")
	}
	if got := sb.srv.Bind(sb.dpid, openflow.AcceptAny); got != nil {
		t.Error("server still returns the dead session")
	}
	select {
	case <-ch:
	case <-time.After(time.Second):
		t.Error("no notification for the disconnect")
	}
	if !strings.Contains(sb.logs.String(), "openflow: switch disconnected") {
		t.Errorf("no disconnect log line:\n%s", sb.logs.String())
	}

	// set-controller: a new session. (OVS itself flushes the tables when a
	// bridge gains or loses its only controller; the reconciler's full pass
	// after a new session puts the flows back.)
	s3 := sb.connect(t)
	if s3 == s2 {
		t.Fatal("same session after reconnect")
	}
	if err := s3.Barrier(ctx(t)); err != nil {
		t.Fatal(err)
	}

	// Restarting ovs-vswitchd: a new connection, empty tables.
	if err := s3.Commit(ctx(t), openflow.Changes{AddGroups: groups, AddFlows: flows}); err != nil {
		t.Fatal(err)
	}
	sb.ovs.StopVswitchd()
	<-s3.Done()
	if err := sb.ovs.StartVswitchd(); err != nil {
		t.Fatal(err)
	}
	s4 := waitSession(t, sb.srv, sb.dpid, s3)
	if stats, err = s4.DumpFlows(ctx(t)); err != nil || len(stats) != 0 {
		t.Errorf("after vswitchd restart: %d flows, %v", len(stats), err)
	}
}

func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

// TestSandboxEchoTimeout freezes ovs-vswitchd: the session must notice that
// its echo requests go unanswered and drop the connection; once thawed, OVS
// reconnects.
func TestSandboxEchoTimeout(t *testing.T) {
	ovs := ovstest.Start(t, ovstest.Options{Vswitchd: true})
	srv, addr, logs := newServer(t, openflow.WithEchoInterval(200*time.Millisecond))
	sb := &sandbox{ovs: ovs, srv: srv, addr: addr, logs: logs}
	ovs.Vsctl(t, "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=dummy", "fail_mode=secure",
		"protocols=OpenFlow15")
	sb.dpid = sb.bridgeDPID(t, "br0")
	s := sb.connect(t)
	// Idle but alive: echoes are answered, the session stays.
	time.Sleep(time.Second)
	select {
	case <-s.Done():
		t.Fatalf("idle session dropped: %v", s.Err())
	default:
	}
	pid := ovs.VswitchdPID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	defer syscall.Kill(pid, syscall.SIGCONT)
	select {
	case <-s.Done():
		t.Logf("dropped after %v: %v", time.Since(stopped), s.Err())
		if !strings.Contains(s.Err().Error(), "echo") {
			t.Errorf("reason %q does not mention echo", s.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("session to a frozen switch still up after 5s")
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitSession(t, srv, sb.dpid, s)
}

func TestSandboxTrace(t *testing.T) {
	sb := newSandbox(t)
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	flows, groups := pipeline()
	if err := s.Commit(ctx(t), openflow.Changes{AddGroups: groups, AddFlows: flows}); err != nil {
		t.Fatal(err)
	}
	// ofport → datapath port, from "p1 1/1: (dummy)" lines.
	dp := map[uint32]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+\S+ (\d+)/(\d+):`).FindAllStringSubmatch(sb.ovs.Appctl(t, ovstest.Vswitchd, "dpif/show"), -1) {
		of, _ := strconv.Atoi(m[1])
		dp[uint32(of)] = m[2]
	}
	datapathActions := func(flow string) string {
		out := sb.ovs.Appctl(t, ovstest.Vswitchd, "ofproto/trace", "br0", flow)
		m := regexp.MustCompile(`(?m)^Datapath actions: (.*)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no datapath actions in trace:\n%s", out)
		}
		return m[1]
	}
	for _, tc := range []struct{ flow, want string }{
		// Known MAC: straight to its VIF.
		{"in_port=1,dl_dst=" + mac2.String(), dp[vif2]},
		{"in_port=2,dl_dst=" + mac1.String(), dp[vif1]},
		// Broadcast from a VIF: group 1, all but the ingress VIF, and the
		// tunnel copy with tun_id set.
		{"in_port=1,dl_dst=" + bcast.String(), dp[vif2] + "," + dp[tunPort]},
		// Unknown ingress port: dropped by table 0.
		{"in_port=3,dl_dst=" + mac1.String(), "drop"},
	} {
		if got := datapathActions(tc.flow); got != tc.want {
			t.Errorf("trace %s: datapath actions %q, want %q", tc.flow, got, tc.want)
		}
	}
	// The tunnel bucket sets the VNI before its output (a dummy port has
	// no tunnel metadata to show in the datapath actions).
	out := sb.ovs.Appctl(t, ovstest.Vswitchd, "ofproto/trace", "br0", "in_port=1,dl_dst="+bcast.String())
	if !regexp.MustCompile(`bucket 2\s+set_field:0x64->tun_id\s+output:32768`).MatchString(out) {
		t.Errorf("trace does not show the tunnel bucket:\n%s", out)
	}
}

// DumpTable returns ferry's flows of one table with the switch's packet
// counts, and nothing of other tables or of other controllers' cookies.
func TestSandboxDumpTable(t *testing.T) { bothVersions(t, testSandboxDumpTable) }

func testSandboxDumpTable(t *testing.T, sb *sandbox) {
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	const vni = 7
	flows := []openflow.Flow{
		{Table: openflow.TableClassify, Priority: openflow.PriorityExact, Match: openflow.Match{InPort: vif1},
			Actions: []openflow.Action{openflow.SetTunnelID{ID: vni}}, GotoTable: goTo(openflow.TableSpoofed)},
		{Table: openflow.TableSpoofed, Priority: openflow.PriorityExact, Match: openflow.Match{HasTunID: true, TunID: vni}},
		{Table: openflow.TableSpoofed, Priority: openflow.PriorityExact, Match: openflow.Match{HasTunID: true, TunID: vni + 1}},
	}
	if err := s.Commit(ctx(t), openflow.Changes{AddFlows: flows}); err != nil {
		t.Fatal(err)
	}
	sb.ovs.Ofctl(t, "add-flow", "br0", fmt.Sprintf("table=%d,cookie=0x1,priority=1,actions=drop", openflow.TableSpoofed))
	for range 3 {
		sb.ovs.Appctl(t, ovstest.Vswitchd, "netdev-dummy/receive", "p1",
			"in_port(1),eth(src=02:00:00:00:00:09,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),arp(sip=198.18.0.9,tip=198.18.0.1,op=1,sha=02:00:00:00:00:09,tha=00:00:00:00:00:00)")
	}
	// The datapath's megaflow counts reach the rules when revalidators
	// next run.
	sb.ovs.Appctl(t, ovstest.Vswitchd, "revalidator/wait")
	got, err := s.DumpTable(ctx(t), openflow.TableSpoofed)
	if err != nil {
		t.Fatal(err)
	}
	packets := map[uint64]uint64{}
	for _, st := range got {
		if st.Table != openflow.TableSpoofed {
			t.Errorf("flow of table %d in the dump of table %d", st.Table, openflow.TableSpoofed)
		}
		packets[st.Cookie] = st.Packets
	}
	want := map[uint64]uint64{flows[1].Cookie(): 3, flows[2].Cookie(): 0}
	if !reflect.DeepEqual(packets, want) {
		t.Fatalf("DumpTable packets by cookie %v, want %v", packets, want)
	}
}

// TestSandboxRejectsOpenFlow14Only: a bridge that allows only a version
// ferry does not speak gets no session, and the log says what it offered.
func TestSandboxRejectsOpenFlow14Only(t *testing.T) {
	sb := newSandbox(t)
	sb.ovs.Vsctl(t, "add-br", "br14", "--", "set", "bridge", "br14", "datapath_type=dummy",
		"fail_mode=secure", "protocols=OpenFlow14", "--", "set-controller", "br14", "tcp:"+sb.addr)
	dpid := sb.bridgeDPID(t, "br14")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(sb.logs.String(), "speaks neither OpenFlow 1.5 nor 1.3") {
		if time.Now().After(deadline) {
			t.Fatalf("no log line about the version mismatch:\n%s", sb.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(sb.logs.String(), "it offers OpenFlow14") {
		t.Errorf("log does not say what the switch offered:\n%s", sb.logs.String())
	}
	if sb.srv.Bind(dpid, openflow.AcceptAny) != nil {
		t.Error("a session was registered for an OpenFlow 1.4-only bridge")
	}
	// br0 is unaffected.
	if err := sb.srv.Bind(sb.dpid, openflow.AcceptAny).Barrier(ctx(t)); err != nil {
		t.Error(err)
	}
}

// TestSandboxRejectedSequence: on OpenFlow 1.3 a rejected message does not
// stop the others; Commit names it in a *SequenceError, and the bridge
// holds what the switch accepted.
func TestSandboxRejectedSequence(t *testing.T) {
	sb := newSandbox13(t)
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	flows, groups := pipeline()
	if err := s.Commit(ctx(t), openflow.Changes{AddGroups: groups, AddFlows: flows}); err != nil {
		t.Fatal(err)
	}
	good := openflow.Flow{Table: openflow.TableL2, Priority: openflow.PriorityExact,
		Match: openflow.Match{HasTunID: true, TunID: 100, EthDst: mustMAC("02:00:00:00:00:03")}, Actions: []openflow.Action{openflow.Output{Port: vif3}}}
	bad := openflow.Flow{Table: openflow.TableL2, Priority: 1, Actions: []openflow.Action{openflow.Group{ID: 999}}}
	err := s.Commit(ctx(t), openflow.Changes{DeleteFlows: []openflow.FlowRef{flows[3].Ref()}, AddFlows: []openflow.Flow{good, bad}})
	var ofErr *openflow.Error
	var seqErr *openflow.SequenceError
	if !errors.As(err, &ofErr) || ofErr.Name() != "OFPBAC_BAD_OUT_GROUP" || !errors.As(err, &seqErr) || len(seqErr.Errs) != 1 {
		t.Fatalf("error %v, want a *openflow.SequenceError with one OFPBAC_BAD_OUT_GROUP", err)
	}
	if !strings.Contains(err.Error(), bad.String()) || !strings.Contains(err.Error(), "partly applied") {
		t.Errorf("error %q does not name the failing flow %q and the partial outcome", err, bad)
	}
	want := flowStrings(append(slices.Delete(slices.Clone(flows), 3, 4), good))
	if got := dumpFlows(t, sb.ovs); !reflect.DeepEqual(got, want) {
		t.Errorf("after a partly rejected sequence:\n%s\nwant:\n%s", fmtMap(got), fmtMap(want))
	}
	if c := s.Counters(); c.BundleErrors != 1 {
		t.Errorf("BundleErrors = %d, want 1", c.BundleErrors)
	}
	// A slave's writes are all refused, and the error says so.
	if _, _, err := s.RequestRole(ctx(t), openflow.RoleSlave, 5); err != nil {
		t.Fatal(err)
	}
	err = s.Commit(ctx(t), openflow.Changes{DeleteFlows: []openflow.FlowRef{good.Ref()}})
	if !errors.Is(err, openflow.ErrNotMaster) {
		t.Errorf("commit as slave: %v, want ErrNotMaster", err)
	}
	if _, ok := dumpFlows(t, sb.ovs)[good.String()]; !ok {
		t.Error("a slave's delete was applied")
	}
}

// TestFlowStringMatchesOVS installs one flow per Flow.String() feature and
// checks that ovs-ofctl prints exactly Flow.String(): ferry's observed/desired
// comparisons and golden tests rely on the two being identical.
func TestFlowStringMatchesOVS(t *testing.T) {
	sb := newSandbox(t)
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	flows := []openflow.Flow{
		{Table: 0, Priority: 0},
		{Table: 0, Priority: 65535, Match: openflow.Match{InPort: tunPort}},
		{Table: 1, Priority: 1, Match: openflow.Match{HasTunID: true, TunID: 0}},
		{Table: 1, Priority: 2, Match: openflow.Match{HasMetadata: true, Metadata: 0}},
		{Table: 1, Priority: 3, Match: openflow.Match{HasTunID: true, TunID: 0xffffff, HasMetadata: true, Metadata: 2, EthDst: mac1}},
		// A tunnel classify flow: in_port together with tun_id.
		{Table: 1, Priority: 4, Match: openflow.Match{InPort: tunPort, HasTunID: true, TunID: 5},
			WriteMetadata: &openflow.Metadata{Value: openflow.MetaFromTunnel, Mask: 0xff}, GotoTable: goTo(10)},
		{Table: 1, Priority: 5, Match: openflow.Match{InPort: 1, HasMetadata: true, Metadata: 1, EthDst: mac2}},
		{Table: 2, Priority: 1, Actions: []openflow.Action{openflow.SetTunnelID{ID: 0}, openflow.Output{Port: 1}, openflow.Group{ID: 4}}},
		{Table: 2, Priority: 2, WriteMetadata: &openflow.Metadata{Value: 0, Mask: ^uint64(0)}},
		{Table: 2, Priority: 3, WriteMetadata: &openflow.Metadata{Value: 1, Mask: 1}, GotoTable: goTo(3)},
		// The probes' punt to the controller, whole frames or not.
		{Table: 2, Priority: 4, Match: openflow.Match{InPort: 1, Proto: &openflow.Proto{EthType: 0x88b5}},
			Actions: []openflow.Action{openflow.Controller{MaxLen: openflow.ControllerNoBuffer}}},
		{Table: 2, Priority: 5, Actions: []openflow.Action{openflow.SetTunnelID{ID: 7}, openflow.Controller{MaxLen: 128}}},
	}
	flows = append(flows, portSecurityFlows()...)
	groups := []openflow.GroupEntry{{ID: 4, Buckets: [][]openflow.Action{{openflow.Output{Port: 1}},
		{openflow.SetTunnelID{ID: 0}, openflow.Output{Port: tunPort}}, {openflow.Controller{MaxLen: 0}}}}}
	if err := s.Commit(ctx(t), openflow.Changes{AddGroups: groups, AddFlows: flows}); err != nil {
		t.Fatal(err)
	}
	got := dumpFlows(t, sb.ovs)
	byCookie := map[uint64]string{}
	for line, c := range got {
		byCookie[c] = line
	}
	for _, f := range flows {
		line, ok := byCookie[f.Cookie()]
		if !ok {
			t.Errorf("flow %s not installed", f)
			continue
		}
		if line != f.String() {
			t.Errorf("ovs-ofctl prints\n\t%s\nFlow.String() is\n\t%s", line, f.String())
		}
	}
	if g := dumpGroups(t, sb.ovs); len(g) != 1 || g[0] != groups[0].String() {
		t.Errorf("ovs-ofctl prints group %q, GroupEntry.String() is %q", g, groups[0].String())
	}
}

// portSecurityFlows use every match field of port security (the classify
// stage's tables 1 to 3), each with its prerequisites.
func portSecurityFlows() []openflow.Flow {
	a := netip.MustParseAddr
	zero := net.HardwareAddr{0, 0, 0, 0, 0, 0}
	m := func(pri uint16, mt openflow.Match, p openflow.Proto) openflow.Flow {
		if p.EthType != 0 {
			mt.Proto = &p
		}
		return openflow.Flow{Table: 3, Priority: pri, Match: mt, GotoTable: goTo(10)}
	}
	port, own := openflow.Match{InPort: 1, EthSrc: mac1}, openflow.Match{InPort: 1}
	vni := openflow.Match{HasTunID: true, TunID: 0x3e9}
	const v6, icmp6 = openflow.EthIPv6, openflow.IPProtoICMPv6
	return []openflow.Flow{
		m(1, port, openflow.Proto{}),
		m(2, port, openflow.Proto{EthType: openflow.EthARP, ARPSPA: a("198.18.100.1"), ARPSHA: mac1}),
		m(3, port, openflow.Proto{EthType: openflow.EthIPv4, IPSrc: a("198.18.100.1")}),
		m(4, port, openflow.Proto{EthType: openflow.EthIPv4, IPProto: openflow.IPProtoUDP,
			IPSrc: a("0.0.0.0"), IPDst: netip.MustParsePrefix("255.255.255.255/32"), UDPSrc: 68, UDPDst: 67}),
		m(5, port, openflow.Proto{EthType: v6, IPSrc: a("2001:db8::1")}),
		m(6, port, openflow.Proto{EthType: v6, IPProto: icmp6, IPSrc: a("::"), IPDst: netip.MustParsePrefix("ff02::/16"),
			HasICMPType: true, ICMPType: 143}),
		m(7, own, openflow.Proto{EthType: v6, IPProto: icmp6, HasICMPType: true, ICMPType: 135, HasICMPCode: true, NDSLL: zero}),
		m(8, own, openflow.Proto{EthType: v6, IPProto: icmp6, HasICMPType: true, ICMPType: 136, HasICMPCode: true,
			NDTarget: a("fe80::ff:fe00:1"), NDTLL: mac1}),
		m(9, vni, openflow.Proto{EthType: openflow.EthARP}),
		m(10, vni, openflow.Proto{EthType: v6, IPProto: icmp6, HasICMPType: true, ICMPType: 136}),
		m(11, vni, openflow.Proto{EthType: openflow.EthVLAN}),
		m(12, vni, openflow.Proto{EthType: openflow.EthQinQ}),
	}
}

func fmtMap(m map[string]uint64) string {
	var lines []string
	for k, v := range m {
		lines = append(lines, fmt.Sprintf("  %#x %s", v, k))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// BenchmarkCommit measures one bundle of 10,000 flow adds (and, untimed,
// the bundle deleting them again) against a real ovs-vswitchd.
func BenchmarkCommit(b *testing.B) {
	sb := newSandbox(b)
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	const n = 10000
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		flows := manyFlows(n, i%200)
		if err := s.Commit(context.Background(), openflow.Changes{AddFlows: flows}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Commit(context.Background(), openflow.Changes{DeleteFlows: refs(flows)}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "flows/s")
}

// TestSandboxTLS connects a real bridge over an ssl: controller target, with
// certificates on both sides signed by one CA.
func TestSandboxTLS(t *testing.T) {
	ovs := ovstest.Start(t, ovstest.Options{Vswitchd: true})
	pki := newPKI(t, ovs.Dir)
	logs := &syncBuffer{}
	srv := openflow.NewServer(slog.New(slog.NewTextHandler(logs, nil)))
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(tcp, &tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.pool,
		MinVersion:   tls.VersionTLS12,
	})
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	ovs.Vsctl(t, "set-ssl", pki.switchKey, pki.switchCert, pki.caCert)
	ovs.Vsctl(t, "add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=dummy", "fail_mode=secure",
		"protocols=OpenFlow15", "--", "set-controller", "br0", "ssl:"+tcp.Addr().String())
	sb := &sandbox{ovs: ovs, srv: srv}
	dpid := sb.bridgeDPID(t, "br0")
	s := waitSession(t, srv, dpid, nil)
	flows, groups := pipeline()
	if err := s.Commit(ctx(t), openflow.Changes{AddGroups: groups, AddFlows: flows}); err != nil {
		t.Fatal(err)
	}
	if got, want := dumpFlows(t, ovs), flowStrings(flows); !reflect.DeepEqual(got, want) {
		t.Errorf("dump-flows over TLS:\n%s\nwant:\n%s", fmtMap(got), fmtMap(want))
	}
}

type testPKI struct {
	pool                          *x509.CertPool
	server                        tls.Certificate
	caCert, switchCert, switchKey string // PEM files for ovs-vsctl set-ssl
}

func newPKI(t *testing.T, dir string) *testPKI {
	t.Helper()
	mk := func(cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()),
			Subject:      pkix.Name{CommonName: cn},
			DNSNames:     []string{cn},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		signer, signerKey := tmpl, key
		if parent == nil {
			tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		} else {
			signer, signerKey = parent, parentKey
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, key
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca, caKey := mk("ferry test CA", nil, nil)
	srvCert, srvKey := mk("ferry", ca, caKey)
	swCert, swKey := mk("br0", ca, caKey)
	swKeyDER, err := x509.MarshalPKCS8PrivateKey(swKey)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{
		pool:       x509.NewCertPool(),
		server:     tls.Certificate{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey},
		caCert:     write("ca.pem", "CERTIFICATE", ca.Raw),
		switchCert: write("switch-cert.pem", "CERTIFICATE", swCert.Raw),
		switchKey:  write("switch-key.pem", "PRIVATE KEY", swKeyDER),
	}
	p.pool.AddCert(ca)
	return p
}

// TestSandboxCountFlows: the aggregate count of ferry's flows follows what
// is on the bridge, including a flow deleted and one added behind ferry's
// back, and flows of another cookie are counted apart.
func TestSandboxCountFlows(t *testing.T) { bothVersions(t, testSandboxCountFlows) }

func testSandboxCountFlows(t *testing.T, sb *sandbox) {
	s := sb.srv.Bind(sb.dpid, openflow.AcceptAny)
	flows, groups := pipeline()
	if err := s.Commit(ctx(t), openflow.Changes{AddGroups: groups, AddFlows: flows}); err != nil {
		t.Fatal(err)
	}
	count := func(cookie, mask uint64) uint32 {
		t.Helper()
		n, err := s.CountFlows(ctx(t), cookie, mask)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(openflow.CookieMarker, openflow.CookieMarkerMask); n != uint32(len(flows)) {
		t.Fatalf("ferry's flows counted %d, want %d", n, len(flows))
	}
	f := flows[len(flows)-1]
	sb.ovs.Ofctl(t, "del-flows", "br0", fmt.Sprintf("cookie=%#x/-1", f.Cookie()))
	if n := count(openflow.CookieMarker, openflow.CookieMarkerMask); n != uint32(len(flows)-1) {
		t.Errorf("after a flow was deleted by hand: %d, want %d", n, len(flows)-1)
	}
	sb.ovs.Ofctl(t, "add-flow", "br0", "table=0,priority=1,cookie=0x1234,actions=drop")
	if n := count(0, 0); n != uint32(len(flows)) {
		t.Errorf("every flow: %d, want %d (ferry's less one, plus the operator's)", n, len(flows))
	}
}
