package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/api"
)

// pollInterval is how often wait asks: realization takes tens of
// milliseconds in the lab, and a GET of one switch is cheap.
const pollInterval = 200 * time.Millisecond

func (a *app) statusCmd() *cobra.Command {
	return a.leaf("status", "chassis, gateways and switches at a glance", func([]string) error { return a.status() })
}

func (a *app) status() error {
	ctx, cancel := a.start()
	defer cancel()
	// /healthz answers 503 with a body when the northbound database is
	// down: that is a state to show, not a failure of this command.
	health, err := a.c.do(ctx, http.MethodGet, "/healthz", nil)
	var ae *serverError
	if errors.As(err, &ae) && ae.Code == http.StatusServiceUnavailable {
		health, err = ae.body, nil
	}
	if err != nil {
		return err
	}
	chassis, err := a.c.do(ctx, http.MethodGet, "/v1/chassis", nil)
	if err != nil {
		return err
	}
	switches, err := a.c.do(ctx, http.MethodGet, "/v1/switches", nil)
	if err != nil {
		return err
	}
	// A server without the gateway API has no gateways.
	gateways, err := a.c.do(ctx, http.MethodGet, "/v1/gateways", nil)
	if isStatus(err, http.StatusNotFound) {
		gateways, err = []byte("[]"), nil
	}
	if err != nil {
		return err
	}
	if a.machine() {
		out, err := json.MarshalIndent(map[string]json.RawMessage{
			"health": health, "chassis": chassis, "switches": switches, "gateways": gateways,
		}, "", "  ")
		if err != nil {
			return fmt.Errorf("unexpected response from the server: %v", err)
		}
		return a.write(append(out, '\n'))
	}
	var (
		h   api.Health
		chs []api.Chassis
		sws []api.Switch
		gws []api.Gateway
	)
	for _, d := range []struct {
		data []byte
		v    any
	}{{health, &h}, {chassis, &chs}, {switches, &sws}, {gateways, &gws}} {
		if err := decode(d.data, d.v); err != nil {
			return err
		}
	}
	nb := h.Northbound
	if h.Error != "" {
		nb += " (" + h.Error + ")"
	}
	if err := fields(a.stdout, "Server", a.c.base, "Northbound", dash(nb)); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)

	// Tunnels are a switch's, between two of its carriers: a chassis'
	// count is of the distinct peers it has a tunnel down to.
	down := map[string]map[string]bool{}
	for _, sw := range sws {
		for _, t := range sw.Status.Tunnels {
			if t.State == "down" || t.Encap == "" {
				for _, p := range [][2]string{{t.A, t.B}, {t.B, t.A}} {
					if down[p[0]] == nil {
						down[p[0]] = map[string]bool{}
					}
					down[p[0]][p[1]] = true
				}
			}
		}
	}
	// With several replicas, each device shows which one drives it.
	owned := slices.ContainsFunc(chs, func(ch api.Chassis) bool { return ch.Status.Owner != "" }) ||
		slices.ContainsFunc(gws, func(g api.Gateway) bool { return g.Status.Owner != "" })
	withOwner := func(header []string, rows [][]string, owners []string) ([]string, [][]string) {
		if !owned {
			return header, rows
		}
		header = slices.Insert(slices.Clone(header), 1, "OWNER")
		for i := range rows {
			rows[i] = slices.Insert(rows[i], 1, dash(owners[i]))
		}
		return header, rows
	}
	var rows [][]string
	var owners []string
	for _, ch := range chs {
		st := ch.Status
		rows = append(rows, []string{ch.Name, upDown(st.OVSDBConnected), upDown(st.OpenFlowConnected),
			itoa(st.RealizedGeneration), itoa(st.Flows), itoa(st.Groups), itoa(len(down[ch.Name])), dash(st.LastError)})
		owners = append(owners, st.Owner)
	}
	header, rows := withOwner([]string{"CHASSIS", "OVSDB", "OPENFLOW", "REALIZED GEN", "FLOWS", "GROUPS", "TUNNELS DOWN", "LAST ERROR"}, rows, owners)
	err = table(a.stdout, "No chassis.", header, rows)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)

	if len(gws) > 0 {
		rows, owners = nil, nil
		for _, g := range gws {
			st := g.Status
			rows = append(rows, []string{g.Name, gatewayConnected(st), dash(strings.Join(st.TunnelIPs, ",")),
				itoa(st.RealizedGeneration), itoa(st.LocalMACs), itoa(st.RemoteMACs), itoa(len(down[g.Name])),
				dash(firstNonEmpty(st.Conflict, st.LastError))})
			owners = append(owners, st.Owner)
		}
		header, rows := withOwner([]string{"GATEWAY", "CONNECTED", "TUNNEL IP", "REALIZED GEN", "LOCAL MACS", "REMOTE MACS", "TUNNELS DOWN", "LAST ERROR"}, rows, owners)
		err = table(a.stdout, "", header, rows)
		if err != nil {
			return err
		}
		fmt.Fprintln(a.stdout)
	}

	connectedGW := map[string]bool{}
	for _, g := range gws {
		connectedGW[g.Name] = g.Status.Connected
	}
	rows = nil
	for _, sw := range sws {
		var carriers []string
		for _, c := range sw.Status.Chassis {
			if c.Realized {
				carriers = append(carriers, c.Name)
			} else {
				carriers = append(carriers, c.Name+"(pending)")
			}
		}
		up := 0
		for _, g := range sw.Status.Gateways {
			if connectedGW[g.Name] {
				up++
			}
		}
		gateways := "-"
		if n := len(sw.Status.Gateways); n > 0 {
			gateways = fmt.Sprintf("%d/%d", up, n)
		}
		rows = append(rows, []string{sw.Name, itoa(sw.VNI), sw.Encap, itoa(sw.Generation), realized(sw.Status),
			dash(strings.Join(carriers, ",")), fmt.Sprintf("%d/%d", sw.Status.PortsBound, len(sw.Ports)),
			tunnelsDownText(sw.Status), gateways})
	}
	return table(a.stdout, "No switches.",
		[]string{"SWITCH", "VNI", "ENCAP", "GEN", "REALIZED", "CHASSIS", "PORTS BOUND", "TUNNELS DOWN", "GATEWAYS UP"}, rows)
}

func upDown(b bool) string {
	if b {
		return "up"
	}
	return "down"
}

// wait polls the switch until it is realized. It keeps polling through
// connection failures and 5xx answers (ferryd restarting), not through
// 4xx: a missing switch will not appear by waiting.
func (a *app) waitCmd() *cobra.Command {
	c := a.leaf("wait SWITCH [--timeout 30s] [--verified]", "block until SWITCH is realized on every chassis (--verified: and a data-plane probe crossed every pair of its hypervisors)", a.wait)
	c.Flags().BoolVar(&a.waitVerified, "verified", false, "wait until forwarding is verified by probes too, not only realized")
	a.argKinds(c, switchArg)
	return c
}

func (a *app) wait(pos []string) error {
	name := pos[0]
	ctx, cancel := a.start()
	defer cancel()
	// With -o json or yaml stdout carries only the switch.
	out := a.stdout
	if a.machine() {
		out = a.stderr
	}
	p := &progress{w: out, tty: isTerminal(out)}
	began := time.Now()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	state := "no answer yet"
	for ctx.Err() == nil {
		data, err := a.c.do(ctx, http.MethodGet, path("v1", "switches", name), nil)
		if ctx.Err() != nil {
			break
		}
		switch {
		case err == nil:
			var sw api.Switch
			if err := decode(data, &sw); err != nil {
				p.clear()
				return err
			}
			n := len(sw.Status.Chassis)
			if sw.Status.Realized && a.waitVerified && !sw.Status.ForwardingVerified {
				state = fmt.Sprintf("realized, %d/%d pairs verified by probes", verifiedPairs(sw.Status), len(sw.Status.Tunnels))
			} else if sw.Status.Realized {
				p.clear()
				if a.machine() {
					return a.write(data)
				}
				what := "realized"
				if a.waitVerified {
					what = "realized and verified"
				}
				_, err := fmt.Fprintf(out, "%s %s at generation %d on %d chassis in %v\n",
					name, what, sw.Generation, n, time.Since(began).Round(time.Millisecond))
				return err
			} else {
				state = fmt.Sprintf("%d/%d chassis realized", realizedChassis(sw.Status), n)
			}
		case retryable(err):
			state = err.Error()
		default:
			p.clear()
			return err
		}
		p.update(fmt.Sprintf("waiting for %s: %s", name, state))
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	p.clear()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %v waiting for %s: %s", a.opts.timeout, name, state)
	}
	return fmt.Errorf("interrupted while waiting for %s: %s", name, state)
}

// verifiedPairs counts the tunnel pairs whose probes are ok.
func verifiedPairs(st model.SwitchStatus) int {
	n := 0
	for _, t := range st.Tunnels {
		if t.Probe != nil && t.Probe.State == model.ProbeOK {
			n++
		}
	}
	return n
}

func retryable(err error) bool {
	var ae *serverError
	if errors.As(err, &ae) {
		return ae.Code >= 500
	}
	return true // could not reach the server
}

// progress shows one changing line: rewritten in place on a terminal, a
// new line per change otherwise (logs, pipes).
type progress struct {
	w     io.Writer
	tty   bool
	line  string
	shown bool // a line is on the terminal, unterminated
}

func (p *progress) update(line string) {
	if line == p.line {
		return
	}
	p.line = line
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
		p.shown = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// clear removes the in-place line, so that what follows starts at the
// beginning of an empty line.
func (p *progress) clear() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
