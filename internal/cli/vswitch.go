package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/go-openvswitch/ovs"
)

// vswitch is the local Open vSwitch as host join sees it. Commands go
// through go-openvswitch's ovs.Client where it wraps them (list-br, add-br,
// get-controller, set-controller) and through the same ExecFunc where it
// does not (managers, external_ids, datapath_type), so that every ovs-vsctl
// gets the same --db and --timeout and every change is recorded for the
// output, or only recorded in a dry run.
type vswitch struct {
	ctx     context.Context
	db      string        // --db of every command; "" for ovs-vsctl's default socket
	timeout time.Duration // ovs-vsctl's own --timeout: it waits for ovs-vswitchd otherwise
	rec     *recorder
	ovs     *ovs.Client
}

func newVswitch(ctx context.Context, db string, timeout time.Duration, rec *recorder) *vswitch {
	v := &vswitch{ctx: ctx, db: db, timeout: timeout, rec: rec}
	v.ovs = ovs.New(ovs.Exec(v.exec))
	return v
}

// recorder collects the commands of the change being applied. In a dry
// run it only collects them.
type recorder struct {
	dryRun bool
	on     bool
	cmds   [][]string
}

func (r *recorder) begin() { r.on, r.cmds = true, nil }

func (r *recorder) end() [][]string {
	cmds := r.cmds
	r.on, r.cmds = false, nil
	if cmds == nil {
		cmds = [][]string{}
	}
	return cmds
}

// record notes a command of the change being applied and reports whether
// the caller must skip running it (a dry run). Commands outside a change
// (reads) are neither noted nor skipped.
func (r *recorder) record(cmd []string) (skip bool) {
	if !r.on {
		return false
	}
	r.cmds = append(r.cmds, cmd)
	return r.dryRun
}

// exec is the ovs.ExecFunc of the client, and runs the commands the client
// does not wrap.
func (v *vswitch) exec(cmd string, args ...string) ([]byte, error) {
	shown := []string{cmd}
	if v.db != "" {
		shown = append(shown, "--db="+v.db)
	}
	shown = append(shown, args...)
	if v.rec.record(shown) {
		return nil, nil
	}
	full := slices.Clone(shown[1:])
	if v.timeout > 0 {
		secs := int(math.Ceil(v.timeout.Seconds()))
		full = append([]string{"--timeout=" + strconv.Itoa(secs)}, full...)
	}
	c := exec.CommandContext(v.ctx, cmd, full...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		switch {
		case errors.Is(err, exec.ErrNotFound):
			msg = cmd + " not found: is Open vSwitch installed?"
		case v.ctx.Err() != nil:
			msg = "no answer before --timeout"
		case msg == "":
			msg = err.Error()
		}
		return nil, fmt.Errorf("%s: %s", shellJoin(shown), msg)
	}
	return bytes.TrimSpace(stdout.Bytes()), nil
}

func (v *vswitch) vsctl(args ...string) ([]byte, error) { return v.exec("ovs-vsctl", args...) }

// ovsErr unwraps the client's error, whose text our ExecFunc already wrote.
func ovsErr(err error) error {
	var oe *ovs.Error
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}

// hostState is what host join reads before it changes anything.
type hostState struct {
	systemID     string
	managers     []string
	bridge       bool   // the bridge exists
	datapathType string // the bridge's; "" is OVS's default, system
	controllers  []string
	sslCert      string // the certificate ovs-vswitchd presents (set-ssl); "" without one
}

func (v *vswitch) observe(bridge string) (hostState, error) {
	var st hostState
	out, err := v.vsctl("--format=json", "--columns=external_ids", "list", "Open_vSwitch", ".")
	if err != nil {
		if strings.Contains(err.Error(), "no row") {
			return st, fmt.Errorf("%w (the database was never initialized: ovs-vsctl init)", err)
		}
		return st, err
	}
	ids, err := externalIDs(out)
	if err != nil {
		return st, err
	}
	st.systemID = ids["system-id"]
	if out, err = v.vsctl("get-manager"); err != nil {
		return st, err
	}
	st.managers = lines(string(out))
	if out, err = v.vsctl("get-ssl"); err != nil {
		return st, err
	}
	for _, l := range lines(string(out)) {
		if c, ok := strings.CutPrefix(l, "Certificate: "); ok {
			st.sslCert = strings.TrimSpace(c)
		}
	}
	bridges, err := v.ovs.VSwitch.ListBridges()
	if err != nil {
		return st, ovsErr(err)
	}
	if st.bridge = slices.Contains(bridges, bridge); !st.bridge {
		return st, nil
	}
	if out, err = v.vsctl("get", "Bridge", bridge, "datapath_type"); err != nil {
		return st, err
	}
	st.datapathType = string(out)
	if u, err := strconv.Unquote(st.datapathType); err == nil {
		st.datapathType = u
	}
	ctl, err := v.ovs.VSwitch.GetController(bridge)
	if err != nil {
		return st, ovsErr(err)
	}
	st.controllers = lines(ctl)
	return st, nil
}

// externalIDs parses `ovs-vsctl --format=json --columns=external_ids list
// Open_vSwitch .`: {"data":[[["map",[["k","v"],...]]]],...}.
func externalIDs(out []byte) (map[string]string, error) {
	bad := func(err error) error {
		return fmt.Errorf("unexpected output of ovs-vsctl list Open_vSwitch: %v: %.200s", err, out)
	}
	var res struct {
		Data [][][]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, bad(err)
	}
	if len(res.Data) != 1 || len(res.Data[0]) != 1 || len(res.Data[0][0]) != 2 {
		return nil, bad(errors.New("not one row with one map"))
	}
	var pairs [][2]string
	if err := json.Unmarshal(res.Data[0][0][1], &pairs); err != nil {
		return nil, bad(err)
	}
	ids := make(map[string]string, len(pairs))
	for _, p := range pairs {
		ids[p[0]] = p[1]
	}
	return ids, nil
}

func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// shellJoin writes a command the way a shell reads it back.
func shellJoin(cmd []string) string {
	quoted := make([]string, len(cmd))
	for i, a := range cmd {
		quoted[i] = shellQuote(a)
	}
	return strings.Join(quoted, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
