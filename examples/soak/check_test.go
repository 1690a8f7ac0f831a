package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/openflow"
	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
	"github.com/ferry-sdn/ferry/ovsdb/vswitch"
	"github.com/ferry-sdn/ferry/rest/api"
)

// northbound is the soak's own read-only view of ferryd's northbound
// database: the input of the from-scratch desired computation.
type northbound struct {
	conn *ovsdb.Conn
	db   *nbdb.DB
}

func openNorthbound(ctx context.Context, sock string) (*northbound, error) {
	m, err := nb.FullDatabaseModel()
	if err != nil {
		return nil, err
	}
	target, err := ovsdb.ParseActive("unix:" + sock)
	if err != nil {
		return nil, err
	}
	conn, err := ovsdb.NewConn(ovsdb.ConnConfig{Targets: []ovsdb.Target{target}, Model: m})
	if err != nil {
		return nil, err
	}
	select {
	case <-conn.Ready():
	case <-ctx.Done():
		conn.Close()
		return nil, fmt.Errorf("soak: northbound %s: %w", sock, ctx.Err())
	}
	return &northbound{conn: conn, db: nbdb.New(conn.Client(), nil, nbdb.WithConnected(conn.Connected))}, nil
}

func (n *northbound) snapshot() *model.Snapshot { return n.db.Snapshot() }
func (n *northbound) close()                    { n.conn.Close() }

// observeHypervisor reads a hypervisor's Open_vSwitch database as ferry
// does (its own short-lived connection over the unix socket).
func observeHypervisor(ctx context.Context, hv lab.Hypervisor, bridge string) (hypervisor.Observed, error) {
	m, err := vswitch.FullDatabaseModel()
	if err != nil {
		return hypervisor.Observed{}, err
	}
	target, err := ovsdb.ParseActive("unix:" + filepath.Join(hv.Dir, "db.sock"))
	if err != nil {
		return hypervisor.Observed{}, err
	}
	conn, err := ovsdb.NewConn(ovsdb.ConnConfig{Targets: []ovsdb.Target{target},
		Model: m, Tables: hypervisor.Tables(), Columns: hypervisor.Columns()})
	if err != nil {
		return hypervisor.Observed{}, err
	}
	defer conn.Close()
	select {
	case <-conn.Ready():
	case <-ctx.Done():
		return hypervisor.Observed{}, fmt.Errorf("soak: %s's OVSDB: %w", hv.Name, ctx.Err())
	}
	return hypervisor.Observe(ctx, conn.Client().Cache(), bridge)
}

// bridgeState is a bridge's tables reduced to comparable text.
type bridgeState struct {
	flows   []string // Flow.String() form
	groups  []string // GroupEntry.String() form
	tunnels []string // port names
}

var (
	statsField = regexp.MustCompile(`^(cookie|duration|n_packets|n_bytes|idle_age|hard_age|reset_counts)=`)
	bucketID   = regexp.MustCompile(`bucket_id:[0-9]+,`)
)

// dumpBridge reads a bridge's flows and groups with ovs-ofctl. A flow whose
// cookie is not the hash of its text, or that is not ferry's, is reported
// in the flow list as such, so that it can never compare equal.
func dumpBridge(l *lab.Lab, t testing.TB, hv, bridge string) (bridgeState, error) {
	var st bridgeState
	out, err := l.Exec(t, hv, "ovs-ofctl", "-O", "OpenFlow15", "--timeout=10", "dump-flows", bridge)
	if err != nil {
		return st, fmt.Errorf("%w: %s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "cookie=") {
			continue
		}
		head, actions, ok := strings.Cut(line, " actions=")
		if !ok {
			return st, fmt.Errorf("soak: unparsable dump-flows line %q", line)
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
		text := strings.Join(keep, ", ") + " actions=" + actions
		switch {
		case !openflow.IsFerryCookie(cookie):
			text = "(not ferry's, cookie " + fmt.Sprintf("%#x", cookie) + ") " + text
		case openflow.CookieOf(text) != cookie:
			text = "(cookie " + fmt.Sprintf("%#x", cookie) + " is not its content's) " + text
		}
		st.flows = append(st.flows, text)
	}
	out, err = l.Exec(t, hv, "ovs-ofctl", "-O", "OpenFlow15", "--timeout=10", "dump-groups", bridge)
	if err != nil {
		return st, fmt.Errorf("%w: %s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "group_id=") {
			st.groups = append(st.groups, bucketID.ReplaceAllString(line, ""))
		}
	}
	slices.Sort(st.flows)
	slices.Sort(st.groups)
	return st, nil
}

// desiredBridges computes every chassis' bridge from scratch: the
// northbound snapshot and every hypervisor's observed VIFs and tunnel
// ports go through realize.Bind and realize.DesiredChassis, as a freshly
// started ferry would compute them.
func desiredBridges(ctx context.Context, snap *model.Snapshot, hvs []lab.Hypervisor, controller string) (map[string]bridgeState, map[string]bridgeState, error) {
	obs := map[string]hypervisor.Observed{}
	vifs := map[string][]hypervisor.VIF{}
	for _, hv := range hvs {
		ch, ok := snap.ChassisByName(hv.Name)
		if !ok {
			return nil, nil, fmt.Errorf("soak: chassis %s not in the northbound", hv.Name)
		}
		o, err := observeHypervisor(ctx, hv, ch.Bridge)
		if err != nil {
			return nil, nil, err
		}
		obs[hv.Name], vifs[hv.Name] = o, o.VIFs
	}
	expanded := realize.ExpandNetworks(snap, vifs)
	b := realize.Bind(expanded, vifs)
	want, have := map[string]bridgeState{}, map[string]bridgeState{}
	for _, hv := range hvs {
		ch, _ := snap.ChassisByName(hv.Name)
		o := obs[hv.Name]
		ports, used := hypervisor.TunnelOFPorts(o.Bridge)
		d := realize.DesiredChassis(realize.ChassisInputs{Snapshot: expanded, Bindings: b, Chassis: ch,
			Controller: controller, TunnelOFPorts: ports, UsedOFPorts: used})
		var w bridgeState
		for _, f := range d.Flows {
			w.flows = append(w.flows, f.String())
		}
		for _, g := range d.Groups {
			w.groups = append(w.groups, g.String())
		}
		for _, tn := range d.Tunnels {
			w.tunnels = append(w.tunnels, tn.Name)
		}
		slices.Sort(w.flows)
		slices.Sort(w.groups)
		slices.Sort(w.tunnels)
		want[hv.Name] = w
		var h bridgeState
		if o.Bridge != nil {
			for _, p := range o.Bridge.Ports {
				if p.Owned {
					h.tunnels = append(h.tunnels, p.Name)
				}
			}
		}
		slices.Sort(h.tunnels)
		have[hv.Name] = h
	}
	return want, have, nil
}

// diffLines says what is in got but not want and the other way round.
func diffLines(what string, got, want []string) string {
	g, w := map[string]bool{}, map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	for _, s := range want {
		w[s] = true
	}
	var b strings.Builder
	for _, s := range slices.Sorted(maps.Keys(g)) {
		if !w[s] {
			fmt.Fprintf(&b, "  extra %s: %s\n", what, s)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(w)) {
		if !g[s] {
			fmt.Fprintf(&b, "  missing %s: %s\n", what, s)
		}
	}
	if b.Len() == 0 && len(got) != len(want) {
		fmt.Fprintf(&b, "  %d %s installed, %d desired (duplicates)\n", len(got), what, len(want))
	}
	return b.String()
}

// inStep reports whether every chassis is connected and has realized the
// current northbound generation, and every switch is realized; otherwise
// it says what is not.
func inStep(c *client, gen int64) (bool, string) {
	r := c.do("GET", "/v1/chassis", nil)
	if r.code != 200 {
		return false, fmt.Sprintf("GET /v1/chassis: %d %v", r.code, r.err)
	}
	var chassis []api.Chassis
	if err := json.Unmarshal([]byte(r.body), &chassis); err != nil {
		return false, err.Error()
	}
	for _, ch := range chassis {
		s := ch.Status
		if !s.OVSDBConnected || !s.OpenFlowConnected || s.RealizedGeneration < gen {
			return false, fmt.Sprintf("chassis %s: ovsdb %v openflow %v realized %d of %d %s",
				ch.Name, s.OVSDBConnected, s.OpenFlowConnected, s.RealizedGeneration, gen, s.LastError)
		}
	}
	r = c.do("GET", "/v1/switches", nil)
	if r.code != 200 {
		return false, fmt.Sprintf("GET /v1/switches: %d %v", r.code, r.err)
	}
	var switches []api.Switch
	if err := json.Unmarshal([]byte(r.body), &switches); err != nil {
		return false, err.Error()
	}
	for _, sw := range switches {
		if !sw.Status.Realized {
			return false, fmt.Sprintf("switch %s (generation %d) not realized", sw.Name, sw.Generation)
		}
	}
	return true, ""
}

// ferrydResources reads ferryd's resident set (from /proc) and goroutine
// count (from /metrics).
func ferrydResources(c *client, pid int) (rssKiB int64, goroutines int, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rssKiB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	r := c.do("GET", "/metrics", nil)
	if r.code != 200 {
		return rssKiB, 0, fmt.Errorf("soak: GET /metrics: %d %v", r.code, r.err)
	}
	for _, line := range strings.Split(r.body, "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			goroutines = int(f)
		}
	}
	return rssKiB, goroutines, nil
}

// waitUntil polls f every 100 ms until it is true or timeout passes.
func waitUntil(timeout time.Duration, f func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
