package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/ovsdb/target"
	"github.com/ferry-sdn/ferry/rest/api"
)

// `ferryctl host join` runs on a hypervisor and does what
// docs/hypervisors.md otherwise asks of the operator: name the host
// (external_ids:system-id), make its OVSDB reachable (a manager), create the
// bridge ferry manages. It first reads the host's state, then changes only
// what differs, so that a second run changes nothing and says so.

// step is one thing host join looks after: unchanged (apply is nil) or a
// change.
type step struct {
	what  string // "system-id: hv1 (was unset)"
	apply func() error
}

// joinChange is a change as -o json shows it.
type joinChange struct {
	Change   string     `json:"change"`
	Commands [][]string `json:"commands"`
}

// joinReport is the output of host join with -o json.
type joinReport struct {
	SystemID     string          `json:"system_id"`
	Bridge       string          `json:"bridge"`
	DatapathType string          `json:"datapath_type"`
	Managers     []string        `json:"managers"`
	OVSDB        string          `json:"ovsdb,omitempty"` // what the chassis is registered with
	DryRun       bool            `json:"dry_run"`
	Changes      []joinChange    `json:"changes"`
	Chassis      json.RawMessage `json:"chassis,omitempty"` // as the API returned it
}

// joinFlags are host join's own flags.
type joinFlags struct {
	name, manager, bridge, datapathType, controller, db string
	certRequest                                         string // --cert-request DIR
	dryRun                                              bool
	// --register and its flags: --ovsdb overrides the target derived from
	// the manager; req holds --tunnel-ip, --kind, --encaps, --underlay-mtu.
	register bool
	ovsdb    string
	req      api.ChassisRequest
}

func (a *app) hostCmd() *cobra.Command {
	var (
		f      joinFlags
		encaps string
	)
	join := a.leaf("join [--name N] [--manager TARGET] [--bridge br-int] [--datapath-type system|netdev] [--controller TARGET] [--db unix:PATH] [--cert-request DIR] [--dry-run] [--register --tunnel-ip IP [--kind K] [--encaps vxlan,gre] [--underlay-mtu N] [--ovsdb TARGET]]",
		"run on a hypervisor: configure its Open vSwitch for ferry (and register it)", func([]string) error {
			if a.changed("encaps") {
				f.req.Encaps = splitList(encaps)
			}
			return a.hostJoin(&f)
		})
	fs := join.Flags()
	fs.StringVar(&f.name, "name", "", "the host's system-id and chassis name (default: its system-id, else its hostname)")
	fs.StringVar(&f.manager, "manager", "", "an OVSDB manager `TARGET` to add (ptcp:6640:MGMT_IP, or tcp:/ssl: to dial ferry)")
	fs.StringVar(&f.bridge, "bridge", model.DefaultBridge, "the bridge ferry manages")
	fs.StringVar(&f.datapathType, "datapath-type", "", "system or netdev, for the bridge")
	fs.StringVar(&f.controller, "controller", "", "an OpenFlow controller `TARGET` for the bridge (ferry sets it otherwise)")
	fs.StringVar(&f.db, "db", "", "the local ovsdb-server (default: ovs-vsctl's)")
	fs.StringVar(&f.certRequest, "cert-request", "", "write a key and certificate request for the host to `DIR`")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the commands instead of running them")
	fs.BoolVar(&f.register, "register", false, "register the host with ferry (POST /v1/chassis) too")
	fs.StringVar(&f.ovsdb, "ovsdb", "", "with --register: the OVSDB `TARGET` ferry uses (default: from the manager)")
	fs.StringVar(&f.req.TunnelIP, "tunnel-ip", "", "with --register: the `IP` address tunnels end at")
	fs.StringVar(&f.req.Kind, "kind", "", "with --register: kvm, xenserver or generic")
	fs.StringVar(&encaps, "encaps", "", "with --register: vxlan,gre")
	fs.IntVar(&f.req.UnderlayMTU, "underlay-mtu", 0, "with --register: the MTU between tunnel endpoints")
	_ = join.MarkFlagDirname("cert-request")
	_ = join.RegisterFlagCompletionFunc("datapath-type", fixed("system", "netdev"))
	_ = join.RegisterFlagCompletionFunc("kind", fixed(model.KindKVM, model.KindXenServer, model.KindGeneric))
	return noun("host", "the hypervisor this runs on", join)
}

func (a *app) hostJoin(f *joinFlags) error {
	if err := a.checkJoinFlags(f); err != nil {
		return err
	}

	ctx, cancel := a.start()
	defer cancel()
	rec := &recorder{dryRun: f.dryRun}
	vs := newVswitch(ctx, f.db, a.opts.timeout, rec)
	st, err := vs.observe(f.bridge)
	if err != nil {
		return fmt.Errorf("host join: reading the local Open vSwitch: %w", err)
	}
	report := joinReport{Bridge: f.bridge, DryRun: f.dryRun, Changes: []joinChange{}}
	steps, err := a.joinSteps(ctx, vs, st, f, &report)
	if err != nil {
		return err
	}

	if f.dryRun {
		if err := a.say("dry run: nothing is changed; these commands would run"); err != nil {
			return err
		}
	}
	for _, s := range steps {
		if s.apply == nil {
			if err := a.say("%s", s.what); err != nil {
				return err
			}
			continue
		}
		rec.begin()
		err := s.apply()
		cmds := rec.end()
		report.Changes = append(report.Changes, joinChange{Change: s.what, Commands: cmds})
		lines := []string{s.what}
		for _, c := range cmds {
			lines = append(lines, "    "+shellJoin(c))
		}
		if err := a.say("%s", strings.Join(lines, "\n")); err != nil {
			return err
		}
		if err != nil {
			return fmt.Errorf("host join: %w", err)
		}
	}

	if a.machine() {
		out, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return err
		}
		return a.write(append(out, '\n'))
	}
	n := len(report.Changes)
	switch {
	case n == 0:
		return a.say("host %s: nothing to change", report.SystemID)
	case f.dryRun:
		return a.say("host %s: %d %s to make (dry run)", report.SystemID, n, plural(n, "change"))
	}
	return a.say("host %s: %d %s made", report.SystemID, n, plural(n, "change"))
}

func plural(n int, word string) string {
	switch {
	case n == 1:
		return word
	case strings.HasSuffix(word, "ch"), strings.HasSuffix(word, "s"):
		return word + "es"
	}
	return word + "s"
}

// checkJoinFlags rejects bad flags before anything is read or changed.
func (a *app) checkJoinFlags(f *joinFlags) error {
	if f.name != "" {
		if err := checkChassisName(f.name); err != nil {
			return a.usage("--name: %v", err)
		}
	}
	if f.manager != "" {
		if _, err := target.Parse(f.manager); err != nil {
			return a.usage("--manager: %v", trimPkg(err))
		}
	}
	if f.controller != "" {
		if _, err := target.Parse(f.controller); err != nil {
			return a.usage("--controller: %v", trimPkg(err))
		}
	}
	if f.db != "" {
		if _, err := target.ParseActive(f.db); err != nil {
			return a.usage("--db: %v", trimPkg(err))
		}
	}
	if !plainName(f.bridge) || len(f.bridge) > 15 || f.bridge[0] == '-' {
		return a.usage("--bridge: %q is not a bridge name (up to 15 letters, digits, '.', '_', '-')", f.bridge)
	}
	switch f.datapathType {
	case "", "system", "netdev":
	default:
		return a.usage("--datapath-type: %q: use system or netdev", f.datapathType)
	}
	if !f.register {
		for _, n := range []string{"tunnel-ip", "kind", "encaps", "underlay-mtu", "ovsdb"} {
			if a.changed(n) {
				return a.usage("--%s is only used with --register", n)
			}
		}
		return nil
	}
	if err := a.require("tunnel-ip"); err != nil {
		return err
	}
	if ip, err := netip.ParseAddr(f.req.TunnelIP); err != nil || !ip.Is4() {
		return a.usage("--tunnel-ip: %q is not an IPv4 address", f.req.TunnelIP)
	}
	// The server checks these too, but only after the host has changed.
	switch f.req.Kind {
	case "", model.KindKVM, model.KindXenServer, model.KindGeneric:
	default:
		return a.usage("--kind: %q: use %s, %s or %s", f.req.Kind, model.KindKVM, model.KindXenServer, model.KindGeneric)
	}
	for _, e := range f.req.Encaps {
		if e != model.EncapVXLAN && e != model.EncapGRE {
			return a.usage("--encaps: %q: use %s and/or %s", e, model.EncapVXLAN, model.EncapGRE)
		}
	}
	if f.ovsdb != "" && f.ovsdb != model.PassiveOVSDB {
		if _, err := target.ParseActive(f.ovsdb); err != nil {
			return a.usage("--ovsdb: %v", trimPkg(err))
		}
	}
	return nil
}

func trimPkg(err error) string { return strings.TrimPrefix(err.Error(), "ovsdb: ") }

// checkChassisName applies the server's rules for names, since the
// system-id becomes the chassis name (and a passive chassis is matched by
// it).
func checkChassisName(name string) error {
	switch {
	case len(name) > 64:
		return fmt.Errorf("%q: longer than 64 characters", name)
	case !plainName(name) || name[0] == '-' || name[0] == '.':
		return fmt.Errorf("%q: use only letters, digits, '.', '_' and '-', not first '-' or '.'", name)
	}
	return nil
}

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// joinSteps compares the host's state with the flags and returns what to
// do, in the order to do it, filling report with the state the host ends
// up in. Problems it can find without changing anything (a conflicting
// registration) are reported here, so that nothing is changed at all.
func (a *app) joinSteps(ctx context.Context, vs *vswitch, st hostState, f *joinFlags, report *joinReport) ([]step, error) {
	var steps []step

	name := f.name
	switch {
	case name != "":
	case st.systemID != "":
		name = st.systemID
	default:
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("host join: no system-id and no hostname (%v): give --name", err)
		}
		name, _, _ = strings.Cut(h, ".") // a chassis is known by its short name
		if err := checkChassisName(name); err != nil {
			return nil, fmt.Errorf("host join: the hostname is not a usable system-id: %v; give --name", err)
		}
	}
	report.SystemID = name
	if name == st.systemID {
		steps = append(steps, step{what: fmt.Sprintf("system-id: %s (unchanged)", name)})
	} else {
		steps = append(steps, step{
			what: fmt.Sprintf("system-id: %s (was %s)", name, orUnset(st.systemID)),
			apply: func() error {
				_, err := vs.vsctl("set", "Open_vSwitch", ".", "external_ids:system-id="+name)
				return err
			},
		})
	}

	// The certificate ovs-vswitchd presents must name the chassis; see
	// hosttls.go.
	if s := certCheckStep(st.sslCert, name); s != nil {
		steps = append(steps, *s)
	}
	if f.certRequest != "" {
		s, err := certRequestStep(vs.rec, f.certRequest, name)
		if err != nil {
			return nil, err
		}
		steps = append(steps, s)
	}

	br := f.bridge
	dp := orSystem(st.datapathType)
	switch {
	case !st.bridge:
		dp = orSystem(f.datapathType)
		what := fmt.Sprintf("bridge %s: created, datapath_type %s", br, dp)
		steps = append(steps, step{what: what, apply: func() error {
			if f.datapathType == "" {
				return ovsErr(vs.ovs.VSwitch.AddBridge(br))
			}
			// One transaction: a bridge created with the system datapath on
			// a host without the kernel module would fail first.
			_, err := vs.vsctl("--may-exist", "add-br", br, "--", "set", "Bridge", br, "datapath_type="+f.datapathType)
			return err
		}})
	case f.datapathType != "" && f.datapathType != dp:
		what := fmt.Sprintf("bridge %s: datapath_type %s (was %s)", br, f.datapathType, dp)
		dp = f.datapathType
		steps = append(steps, step{what: what, apply: func() error {
			_, err := vs.vsctl("set", "Bridge", br, "datapath_type="+f.datapathType)
			return err
		}})
	default:
		steps = append(steps, step{what: fmt.Sprintf("bridge %s: exists, datapath_type %s (unchanged)", br, dp)})
	}
	report.DatapathType = dp

	if f.controller != "" {
		if slices.Equal(st.controllers, []string{f.controller}) {
			steps = append(steps, step{what: fmt.Sprintf("controller of %s: %s (unchanged)", br, f.controller)})
		} else {
			steps = append(steps, step{
				what: fmt.Sprintf("controller of %s: %s (was %s)", br, f.controller, orNoneList(st.controllers)),
				apply: func() error {
					return ovsErr(vs.ovs.VSwitch.SetController(br, f.controller))
				},
			})
		}
	}

	managers := st.managers
	var mgrStep []step
	if f.manager != "" {
		others := slices.DeleteFunc(slices.Clone(st.managers), func(m string) bool { return m == f.manager })
		kept := ""
		if len(others) > 0 {
			kept = "; also " + strings.Join(others, ", ")
		}
		if len(others) < len(st.managers) {
			mgrStep = append(mgrStep, step{what: fmt.Sprintf("manager: %s (unchanged%s)", f.manager, kept)})
		} else {
			// Other managers stay: another tool (a Neutron agent, xapi)
			// may rely on them. ovs-vsctl has no add-manager.
			managers = append(slices.Clone(st.managers), f.manager)
			if kept != "" {
				kept = " (kept " + strings.Join(others, ", ") + ")"
			}
			mgrStep = append(mgrStep, step{
				what: fmt.Sprintf("manager: %s added%s", f.manager, kept),
				apply: func() error {
					_, err := vs.vsctl(append([]string{"set-manager"}, managers...)...)
					return err
				},
			})
		}
	}
	report.Managers = managers
	if report.Managers == nil {
		report.Managers = []string{}
	}
	if !f.register {
		return append(steps, mgrStep...), nil
	}
	reg, err := a.registerStep(ctx, vs.rec, f, name, dp, managers, report)
	if err != nil {
		return nil, err
	}
	// Whoever dials must find the other side ready, or it waits for its
	// reconnect backoff: a host ferry dials listens before it is
	// registered; a host that dials ferry is registered before it dials,
	// since ferry refuses unregistered hosts.
	if report.OVSDB == model.PassiveOVSDB {
		return append(append(steps, reg), mgrStep...), nil
	}
	return append(append(steps, mgrStep...), reg), nil
}

func orUnset(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}

// orSystem names OVS's default datapath type, the empty string.
func orSystem(dp string) string {
	if dp == "" {
		return "system"
	}
	return dp
}

func orNoneList(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// registerStep looks the chassis up and returns the step that registers
// it, or says it already is. A registration that differs from the flags is
// an error: the API has no way to change a chassis in place.
func (a *app) registerStep(ctx context.Context, rec *recorder, f *joinFlags, name, dp string, managers []string, report *joinReport) (step, error) {
	target := f.ovsdb
	if target == "" {
		m := f.manager
		if m == "" {
			switch len(managers) {
			case 0:
				return step{}, errors.New("host join: --register: no manager is set, so ferry cannot reach OVSDB: give --manager (or --ovsdb)")
			case 1:
			default:
				return step{}, fmt.Errorf("host join: --register: %d managers (%s): give --manager or --ovsdb to say which one ferry uses",
					len(managers), strings.Join(managers, ", "))
			}
			m = managers[0]
		}
		t, err := ferryTarget(m)
		if err != nil {
			return step{}, fmt.Errorf("host join: --register: %v", err)
		}
		target = t
	}
	report.OVSDB = target
	req := f.req
	req.Name, req.OVSDB, req.Bridge = name, target, f.bridge
	if dp != "system" || f.datapathType != "" {
		req.DatapathType = dp // for ferry, should it ever recreate the bridge
	}

	data, err := a.c.do(ctx, http.MethodGet, path("v1", "chassis", name), nil)
	switch {
	case isStatus(err, http.StatusNotFound):
	case err != nil:
		return step{}, fmt.Errorf("host join: --register: %w", err)
	default:
		var ch api.Chassis
		if err := decode(data, &ch); err != nil {
			return step{}, err
		}
		if diff := chassisDiff(ch, req, f.datapathType != ""); len(diff) > 0 {
			return step{}, fmt.Errorf("host join: chassis %s is registered with a different %s; nothing was changed: "+
				"unregister it first (ferryctl chassis delete %s)", name, strings.Join(diff, ", "), name)
		}
		report.Chassis = data
		return step{what: fmt.Sprintf("chassis %s: registered at %s (unchanged)", name, a.c.base)}, nil
	}

	body, err := json.Marshal(req)
	if err != nil {
		return step{}, err
	}
	url := a.c.base + "/v1/chassis"
	what := fmt.Sprintf("chassis %s: registered at %s: OVSDB %s, tunnel IP %s, bridge %s", name, a.c.base, target, req.TunnelIP, req.Bridge)
	return step{what: what, apply: func() error {
		if rec.record([]string{"POST", url, string(body)}) {
			return nil
		}
		data, err := a.c.do(ctx, http.MethodPost, "/v1/chassis", req)
		if err != nil {
			return fmt.Errorf("registering chassis %s: %w", name, err)
		}
		report.Chassis = data
		return nil
	}}, nil
}

// ferryTarget is the OVSDB target ferry registers for a host whose
// ovsdb-server has manager m: the address it listens on, or "passive" when
// the host dials ferry.
func ferryTarget(m string) (string, error) {
	t, err := target.Parse(m)
	if err != nil {
		return "", errors.New(trimPkg(err))
	}
	switch t.Scheme {
	case target.PUnix:
		return target.Target{Scheme: target.Unix, Path: t.Path}.String(), nil
	case target.PTCP, target.PSSL:
		ip, err := netip.ParseAddr(t.Host)
		if err != nil || ip.IsUnspecified() {
			return "", fmt.Errorf("manager %s listens on every address: give --ovsdb %s:MGMT_IP:%d (the address ferry dials)",
				m, activeOf(t.Scheme), t.Port)
		}
		if t.Port == 0 {
			return "", fmt.Errorf("manager %s listens on a port the kernel picks: give --ovsdb", m)
		}
		return target.Target{Scheme: activeOf(t.Scheme), Host: t.Host, Port: t.Port}.String(), nil
	}
	return model.PassiveOVSDB, nil // tcp:, ssl:, unix: the host dials ferry
}

func activeOf(s target.Scheme) target.Scheme {
	if s == target.PSSL {
		return target.SSL
	}
	return target.TCP
}

// chassisDiff names the members of a registered chassis that differ from
// what host join would register; members the flags leave to the server's
// defaults are not compared.
func chassisDiff(ch api.Chassis, req api.ChassisRequest, compareDatapath bool) []string {
	var diff []string
	add := func(field, have, want string) {
		if have != want {
			diff = append(diff, fmt.Sprintf("%s (registered %s, wanted %s)", field, dash(have), dash(want)))
		}
	}
	add("ovsdb", ch.OVSDB, canonicalTarget(req.OVSDB))
	if a, err := netip.ParseAddr(req.TunnelIP); err == nil {
		add("tunnel_ip", ch.TunnelIP, a.String())
	}
	add("bridge", ch.Bridge, req.Bridge)
	if req.Kind != "" {
		add("kind", ch.Kind, req.Kind)
	}
	if req.Encaps != nil {
		add("encaps", strings.Join(ch.Encaps, ","), strings.Join(req.Encaps, ","))
	}
	if req.UnderlayMTU != 0 {
		add("underlay_mtu", itoa(ch.UnderlayMTU), itoa(req.UnderlayMTU))
	}
	if req.OpenFlow != "" {
		add("openflow", ch.OpenFlow, req.OpenFlow)
	}
	if req.Relay {
		add("relay", strconv.FormatBool(ch.Relay), "true")
	}
	if compareDatapath {
		add("datapath_type", orSystem(ch.DatapathType), orSystem(req.DatapathType))
	}
	return diff
}

// canonicalTarget writes a target the way the server stores it.
func canonicalTarget(s string) string {
	t, err := target.Parse(s)
	if err != nil {
		return s
	}
	if a, err := netip.ParseAddr(t.Host); err == nil {
		t.Host = a.String()
	}
	return t.String()
}
