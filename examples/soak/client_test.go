package soak

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ferry-sdn/ferry/rest/api"
)

// The client's universe: a few switches with a few ports each, whose
// iface_ids name the churn guests (bound) or nobody (unbound), so that the
// estate stays small however long the soak runs.
var (
	churnSwitches = []string{"c0", "c1", "c2", "c3"}
	churnPorts    = []string{"p0", "p1", "p2"}
	churnIfaces   = []string{"iface-x1", "iface-x2", "iface-x3", "iface-ghost0", "iface-ghost1"}
)

// swState is what the client believes one switch to be.
type swState struct {
	Encap string
	Ports map[string]string // name → iface_id
}

func (s *swState) String() string {
	if s == nil {
		return "absent"
	}
	keys := slices.Sorted(maps.Keys(s.Ports))
	var b strings.Builder
	fmt.Fprintf(&b, "%s{", s.Encap)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%s", k, s.Ports[k])
	}
	b.WriteString("}")
	return b.String()
}

func (s *swState) clone() *swState {
	if s == nil {
		return nil
	}
	return &swState{Encap: s.Encap, Ports: maps.Clone(s.Ports)}
}

// response is one REST answer as the invariants need it.
type response struct {
	at     time.Time
	method string
	path   string
	code   int // 0: no answer (transport error)
	body   string
	err    error
}

// client makes bounded random REST changes and keeps the log of what the
// API acknowledged: the model of what the northbound must hold. A write
// without a clear answer (no response, 503, 5xx) makes its switch
// uncertain until the next verification adopts what the server says.
type client struct {
	base string
	http *http.Client
	rnd  *rand.Rand

	gate sync.Mutex // held by the loop per write; Pause takes it

	mu        sync.Mutex
	model     map[string]*swState
	uncertain map[string]bool
	acked     int // acknowledged writes
	refused   int // 4xx
	noAnswer  int // transport errors (ferryd down)
	answers   []response
	// bad collects invariant violations: a 5xx other than 503, an error
	// body that is not JSON {"error": ...}.
	bad []string
}

func newClient(base string, hc *http.Client, seed uint64) *client {
	return &client{base: base, http: hc, rnd: rand.New(rand.NewPCG(seed, 0x5eed)),
		model: map[string]*swState{}, uncertain: map[string]bool{}}
}

// run writes until stop is closed, one write every 50–250 ms.
func (c *client) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(50+c.rnd.IntN(200)) * time.Millisecond):
		}
		c.gate.Lock()
		c.step()
		c.gate.Unlock()
	}
}

// pause waits for the write in flight and holds the client still until
// resume.
func (c *client) pause()  { c.gate.Lock() }
func (c *client) resume() { c.gate.Unlock() }

// step makes one random write and applies an acknowledged one to the model.
func (c *client) step() {
	sw := churnSwitches[c.rnd.IntN(len(churnSwitches))]
	port := churnPorts[c.rnd.IntN(len(churnPorts))]
	iface := churnIfaces[c.rnd.IntN(len(churnIfaces))]
	encap := []string{"vxlan", "gre"}[c.rnd.IntN(2)]
	switch k := c.rnd.IntN(10); {
	case k < 2: // create a switch
		r := c.write("POST", "/v1/switches", api.SwitchRequest{Name: sw, Encap: encap})
		c.settle(sw, r, 201, func(*swState) *swState { return &swState{Encap: encap, Ports: map[string]string{}} })
	case k < 3: // delete a switch
		r := c.write("DELETE", "/v1/switches/"+sw, nil)
		c.settle(sw, r, 204, func(*swState) *swState { return nil })
	case k < 6: // bind: a port for a guest's VIF (or for nobody)
		r := c.write("POST", "/v1/switches/"+sw+"/ports", api.PortRequest{Name: port, IfaceID: iface})
		c.settle(sw, r, 201, func(s *swState) *swState {
			s = s.clone()
			s.Ports[port] = iface
			return s
		})
	case k < 9: // unbind: delete a port
		r := c.write("DELETE", "/v1/switches/"+sw+"/ports/"+port, nil)
		c.settle(sw, r, 204, func(s *swState) *swState {
			s = s.clone()
			delete(s.Ports, port)
			return s
		})
	default: // the whole switch at once
		spec := api.SwitchSpec{Encap: encap}
		want := &swState{Encap: encap, Ports: map[string]string{}}
		for _, p := range churnPorts {
			if c.rnd.IntN(2) == 0 {
				i := churnIfaces[c.rnd.IntN(len(churnIfaces))]
				if slices.ContainsFunc(spec.Ports, func(q api.PortRequest) bool { return q.IfaceID == i }) {
					continue
				}
				spec.Ports = append(spec.Ports, api.PortRequest{Name: p, IfaceID: i})
				want.Ports[p] = i
			}
		}
		r := c.write("PUT", "/v1/switches/"+sw, spec)
		c.settle(sw, r, 0, func(*swState) *swState { return want })
	}
}

// settle applies f to sw's model if r acknowledged the write (code
// wantCode, or any 2xx when wantCode is 0).
func (c *client) settle(sw string, r response, wantCode int, f func(*swState) *swState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answers = append(c.answers, r)
	if len(c.answers) > 4096 { // only the recent ones are kept for the 503 check
		c.answers = slices.Clone(c.answers[2048:])
	}
	switch {
	case r.code == 0:
		c.noAnswer++
		c.uncertain[sw] = true
	case r.code/100 == 2 && (wantCode == 0 || r.code == wantCode):
		c.acked++
		if !c.uncertain[sw] {
			c.model[sw] = f(c.model[sw])
			if c.model[sw] == nil {
				delete(c.model, sw)
			}
		}
	case r.code/100 == 2:
		c.bad = append(c.bad, fmt.Sprintf("%s %s: %d, want %d", r.method, r.path, r.code, wantCode))
		c.uncertain[sw] = true
	case r.code/100 == 4:
		c.refused++
	default:
		// 503 is checked against the northbound windows later; the
		// outcome of any 5xx is unknown.
		c.uncertain[sw] = true
	}
}

// write sends one request and checks the shape of an error answer.
func (c *client) write(method, path string, body any) response {
	r := c.do(method, path, body)
	if r.code >= 400 {
		var e api.Error
		if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Message == "" {
			c.mu.Lock()
			c.bad = append(c.bad, fmt.Sprintf("%s %s: %d with a body that is not JSON {\"error\": ...}: %q", method, path, r.code, r.body))
			c.mu.Unlock()
		}
	}
	return r
}

func (c *client) do(method, path string, body any) response {
	r := response{at: time.Now(), method: method, path: path}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		r.err = err
		return r
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		r.err = err
		return r
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	r.code, r.body = resp.StatusCode, string(b)
	return r
}

// verify compares the model with what the API says now (the client must
// be paused) and returns the acknowledged writes that were lost. Uncertain
// switches adopt the server's state.
func (c *client) verify() ([]string, error) {
	server := map[string]*swState{}
	for _, sw := range churnSwitches {
		r := c.do("GET", "/v1/switches/"+sw, nil)
		switch r.code {
		case 404:
			continue
		case 200:
		default:
			return nil, fmt.Errorf("soak: GET /v1/switches/%s: %d %s %v", sw, r.code, r.body, r.err)
		}
		var s api.Switch
		if err := json.Unmarshal([]byte(r.body), &s); err != nil {
			return nil, fmt.Errorf("soak: GET /v1/switches/%s: %w", sw, err)
		}
		st := &swState{Encap: s.Encap, Ports: map[string]string{}}
		r = c.do("GET", "/v1/switches/"+sw+"/ports", nil)
		if r.code != 200 {
			return nil, fmt.Errorf("soak: GET /v1/switches/%s/ports: %d %s %v", sw, r.code, r.body, r.err)
		}
		var ports []api.Port
		if err := json.Unmarshal([]byte(r.body), &ports); err != nil {
			return nil, fmt.Errorf("soak: GET /v1/switches/%s/ports: %w", sw, err)
		}
		for _, p := range ports {
			st.Ports[p.Name] = p.IfaceID
		}
		server[sw] = st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var lost []string
	for _, sw := range churnSwitches {
		if c.uncertain[sw] {
			continue
		}
		if got, want := server[sw].String(), c.model[sw].String(); got != want {
			lost = append(lost, fmt.Sprintf("switch %s: the API says %s, acknowledged writes say %s", sw, got, want))
		}
	}
	// From here on the server's state is the model: a lost write is
	// reported once, not at every later check.
	c.model = server
	c.uncertain = map[string]bool{}
	sort.Strings(lost)
	return lost, nil
}

// take returns the answers since the last call and the violations so far.
func (c *client) take() (answers []response, bad []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	answers, c.answers = c.answers, nil
	bad, c.bad = c.bad, nil
	return answers, bad
}

func (c *client) counts() (acked, refused, noAnswer int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acked, c.refused, c.noAnswer
}
