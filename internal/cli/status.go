package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ferry-sdn/ferry/rest/api"
)

// pollInterval is how often wait asks: realization takes tens of
// milliseconds in the lab, and a GET of one switch is cheap.
const pollInterval = 200 * time.Millisecond

func status(a *app, args []string) error {
	if _, err := a.parse(a.flags(), args); err != nil {
		return err
	}
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
	if a.json() {
		out, err := json.MarshalIndent(map[string]json.RawMessage{
			"health": health, "chassis": chassis, "switches": switches,
		}, "", "  ")
		if err != nil {
			return fmt.Errorf("unexpected response from the server: %v", err)
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", out)
		return err
	}
	var (
		h   api.Health
		chs []api.Chassis
		sws []api.Switch
	)
	for _, d := range []struct {
		data []byte
		v    any
	}{{health, &h}, {chassis, &chs}, {switches, &sws}} {
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

	var rows [][]string
	for _, ch := range chs {
		st := ch.Status
		rows = append(rows, []string{ch.Name, upDown(st.OVSDBConnected), upDown(st.OpenFlowConnected),
			itoa(st.RealizedGeneration), itoa(st.Flows), itoa(st.Groups), dash(st.LastError)})
	}
	err = table(a.stdout, "No chassis.",
		[]string{"CHASSIS", "OVSDB", "OPENFLOW", "REALIZED GEN", "FLOWS", "GROUPS", "LAST ERROR"}, rows)
	if err != nil {
		return err
	}
	fmt.Fprintln(a.stdout)

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
		rows = append(rows, []string{sw.Name, itoa(sw.VNI), sw.Encap, itoa(sw.Generation), realized(sw.Status),
			dash(strings.Join(carriers, ",")), fmt.Sprintf("%d/%d", sw.Status.PortsBound, len(sw.Ports))})
	}
	return table(a.stdout, "No switches.",
		[]string{"SWITCH", "VNI", "ENCAP", "GEN", "REALIZED", "CHASSIS", "PORTS BOUND"}, rows)
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
func wait(a *app, args []string) error {
	pos, err := a.parse(a.flags(), args)
	if err != nil {
		return err
	}
	name := pos[0]
	ctx, cancel := a.start()
	defer cancel()
	// With -o json stdout carries only the switch's JSON.
	out := a.stdout
	if a.json() {
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
			if sw.Status.Realized {
				p.clear()
				if a.json() {
					_, err := a.stdout.Write(data)
					return err
				}
				_, err := fmt.Fprintf(out, "%s realized at generation %d on %d chassis in %v\n",
					name, sw.Generation, n, time.Since(began).Round(time.Millisecond))
				return err
			}
			state = fmt.Sprintf("%d/%d chassis realized", realizedChassis(sw.Status), n)
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
