package e2e

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/examples/lab"
)

var uiScreenshot = flag.String("ui.screenshot", "", "TestTopologyPage: save a 1280x800 screenshot of the page (blue selected) to this PNG `file`")

// pageView is what the topology page draws, read from its data
// attributes.
type pageView struct {
	Href     string
	Hash     string
	Stored   string
	State    string
	Selected string
	Text     string
	Nodes    map[string]struct {
		Kind, State, Carrier string
		Dim                  bool
	}
	Tunnels  map[string]struct{ State, Highlight, Encap string }
	Switches []string
	Ports    map[string]struct{ Bound, Chassis, Reason string }
	Bindings []string
}

const readView = `(() => {
  const all = (sel) => [...document.querySelectorAll(sel)];
  const sel = document.querySelector('[data-selected-switch]');
  return {
    Href: location.href, Hash: location.hash, Stored: sessionStorage.getItem('ferry.token') || '',
    State: document.body.dataset.state, Selected: sel ? sel.dataset.selectedSwitch : '',
    Text: document.body.innerText,
    Nodes: Object.fromEntries(all('#map [data-node]').map((n) => [n.dataset.node,
      {Kind: n.dataset.kind, State: n.dataset.state, Carrier: n.dataset.carrier, Dim: n.classList.contains('dim')}])),
    Tunnels: Object.fromEntries(all('#map [data-tunnel]').map((n) => [n.dataset.tunnel,
      {State: n.dataset.state, Highlight: n.dataset.highlight, Encap: n.dataset.encap}])),
    Switches: all('#switches [data-switch]').map((n) => n.dataset.switch + ':' + n.getAttribute('aria-pressed')),
    Ports: Object.fromEntries(all('#details [data-port]').map((n) => [n.dataset.port,
      {Bound: n.dataset.bound, Chassis: n.dataset.chassis || '', Reason: (n.querySelector('[data-reason]') || {}).textContent || ''}])),
    Bindings: all('#details [data-binding]').map((n) => n.dataset.binding),
  };
})()`

func (b *browser) view() pageView {
	b.t.Helper()
	var v pageView
	if err := b.eval(readView, &v); err != nil {
		b.t.Fatal(err)
	}
	return v
}

// TestTopologyPage loads /ui in headless Chromium against ferryd (with
// --api-tokens) driving the lab's three hypervisors and its VTEP, with
// hv3 cut off the underlay so that its tunnels are down, and checks what
// the page draws: the devices by name and kind, the down tunnels drawn
// down and the healthy one up, ports bound and unbound, and that clicking
// a switch highlights exactly its carriers. The operator gives the page a
// reader token both ways the page offers: the token box and /ui#token=.
func TestTopologyPage(t *testing.T) {
	chromium(t)
	const admin, reader = "e2e-ui-admin-5d1c8a7e3f20", "e2e-ui-reader-9b4e2f6a1c73"
	l := lab.Up(t)
	tokens := filepath.Join(l.Dir, "tokens")
	if err := os.WriteFile(tokens, []byte(admin+" admin\n"+reader+" reader\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, lab: l, http: l.HTTPClient(), data: filepath.Join(l.Dir, "ferry-data"), token: admin}
	e.ferryd = l.StartFerryd(t, ferrydBin, "--api", apiAddr, "--openflow", ofListen,
		"--data-dir", e.data, "--api-tokens", tokens)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ferryd log tail:\n%s", tailLines(e.ferryd.Log(), 60))
		}
	})
	e.waitAPI()
	e.registerChassis()
	gw := l.UpGateway(t)
	e.must("POST", "/v1/gateways", map[string]any{"name": "gw1", "ovsdb": gw.OVSDB})

	e.must("POST", "/v1/switches", map[string]any{"name": "blue", "vni": 8201})
	e.addGuests("blue", guest{"hv1", "ui-a", "198.18.130.1/24", "02:00:00:d0:00:01"},
		guest{"hv2", "ui-b", "198.18.130.2/24", "02:00:00:d0:00:02"},
		guest{"hv3", "ui-c", "198.18.130.3/24", "02:00:00:d0:00:03"})
	// A port no VM has: unbound.
	e.must("POST", "/v1/switches/blue/ports", map[string]any{"name": "ghost", "iface_id": "iface-no-such-vm"})
	e.must("POST", "/v1/switches", map[string]any{"name": "red", "vni": 8202})
	e.addGuests("red", guest{"hv1", "ui-d", "198.18.131.1/24", "02:00:00:d1:00:01"},
		guest{"hv2", "ui-e", "198.18.131.2/24", "02:00:00:d1:00:02"})
	e.must("POST", "/v1/switches/red/bindings", map[string]any{"gateway": "gw1", "port": "p0", "vlan": 0})
	e.waitRealized("blue", 3)
	e.waitRealized("red", 2)
	e.waitTunnels("blue", map[string]string{"hv1-hv2": "up", "hv1-hv3": "up", "hv2-hv3": "up"}, 20*time.Second)
	// Cut hv3 off the underlay; ferry still reaches it on the management
	// network, so its ports stay bound and only its tunnels go down.
	if _, err := l.Exec(t, "hv3", "ip", "link", "set", "ul", "down"); err != nil {
		t.Fatal(err)
	}
	e.waitTunnels("blue", map[string]string{"hv1-hv2": "up", "hv1-hv3": "down", "hv2-hv3": "down"}, 15*time.Second)

	// The browser runs in the management namespace, as an operator's
	// browser on that network would.
	b := newBrowser(t, l, "mgmt", 1280, 800)
	page := "http://" + apiAddr + "/ui"

	// 1. No token: the page asks for one; the operator types the reader
	// token into the box.
	b.navigate(page)
	b.waitFor("the token box", `document.body.dataset.state === 'auth' && !document.getElementById('token-panel').hidden`, 20*time.Second)
	b.click("#token-input")
	b.mustCall(b.session, "Input.insertText", map[string]any{"text": reader}, nil)
	b.click("#token-save")
	b.waitFor("the map drawn with the typed token", `document.body.dataset.state === 'ok' && document.querySelectorAll('#map [data-node]').length === 4`, 20*time.Second)
	b.resetErrors() // the browser logs the 401s that asked for the token

	// 2. A fresh tab opened at /ui#token=… (through the /ui → /ui/
	// redirect, which keeps the fragment).
	if err := b.eval(`sessionStorage.clear()`, nil); err != nil {
		t.Fatal(err)
	}
	b.navigate("about:blank")
	b.navigate(page + "#token=" + reader)
	b.waitFor("the map drawn", `document.body.dataset.state === 'ok' && document.querySelectorAll('#map [data-node]').length === 4 && document.querySelector('#map [data-tunnel="hv1-hv3"]')`, 20*time.Second)
	v := b.view()
	if strings.Contains(v.Href, "token") || strings.Contains(v.Href, reader) || v.Stored != reader {
		t.Errorf("token from the fragment: address %q, session storage %q; want it stored and gone from the address bar", v.Href, v.Stored)
	}
	if !strings.HasSuffix(strings.TrimSuffix(v.Href, v.Hash), "/ui/") {
		t.Errorf("page at %q, want /ui/ (redirected from /ui)", v.Href)
	}
	for name, kind := range map[string]string{"hv1": "chassis", "hv2": "chassis", "hv3": "chassis", "gw1": "gateway"} {
		n, ok := v.Nodes[name]
		if !ok || n.Kind != kind || n.State != "connected" || n.Carrier != "false" {
			t.Errorf("node %s: %+v (drawn: %v), want a connected %s, no switch selected", name, n, ok, kind)
		}
		if !strings.Contains(v.Text, name) {
			t.Errorf("the page does not show the name %s", name)
		}
	}
	for pair, state := range map[string]string{"hv1-hv2": "up", "hv1-hv3": "down", "hv2-hv3": "down"} {
		if got := v.Tunnels[pair]; got.State != state {
			t.Errorf("tunnel %s drawn %+v, want %s (all drawn: %v)", pair, got, state, v.Tunnels)
		}
	}
	if strings.Join(v.Switches, " ") != "blue:false red:false" {
		t.Errorf("switch list %v, want blue and red, none selected", v.Switches)
	}

	// 3. Select blue: its carriers are the three hypervisors, not gw1.
	b.click(`#switches [data-switch="blue"]`)
	b.waitFor("blue's ports", `document.querySelector('[data-selected-switch="blue"]') && document.querySelector('#details [data-port="ghost"]')`, 10*time.Second)
	v = b.view()
	if v.Hash != "#switch=blue" || strings.Join(v.Switches, " ") != "blue:true red:false" {
		t.Errorf("after clicking blue: hash %q, switches %v", v.Hash, v.Switches)
	}
	for name, carrier := range map[string]bool{"hv1": true, "hv2": true, "hv3": true, "gw1": false} {
		if n := v.Nodes[name]; (n.Carrier == "true") != carrier || n.Dim == carrier {
			t.Errorf("blue selected: node %s %+v, want carrier=%v", name, n, carrier)
		}
	}
	if v.Tunnels["hv1-hv3"].Highlight != "true" || v.Tunnels["gw1-hv1"].Highlight != "false" {
		t.Errorf("blue selected: tunnels %v, want hv1-hv3 highlighted and gw1-hv1 (red's) not", v.Tunnels)
	}
	for port, want := range map[string][2]string{"ui-a": {"true", "hv1"}, "ui-c": {"true", "hv3"}, "ghost": {"false", ""}} {
		if p := v.Ports[port]; p.Bound != want[0] || p.Chassis != want[1] {
			t.Errorf("port %s shown %+v, want bound=%s on %q", port, p, want[0], want[1])
		}
	}
	// Where the API gives the reason a port is unbound, the page shows it.
	var ghost struct {
		Status struct{ Reason string } `json:"status"`
	}
	json.Unmarshal(e.must("GET", "/v1/switches/blue/ports/ghost", nil), &ghost)
	if ghost.Status.Reason != "" && v.Ports["ghost"].Reason != ghost.Status.Reason {
		t.Errorf("ghost's reason shown %q, the API says %q", v.Ports["ghost"].Reason, ghost.Status.Reason)
	}

	// 4. Select red: hv1, hv2 and gw1 carry it; hv3 and its tunnels dim.
	b.click(`#switches [data-switch="red"]`)
	b.waitFor("red's bindings", `document.querySelector('[data-selected-switch="red"]') && document.querySelector('#details [data-binding]')`, 10*time.Second)
	v = b.view()
	for name, carrier := range map[string]bool{"hv1": true, "hv2": true, "hv3": false, "gw1": true} {
		if n := v.Nodes[name]; (n.Carrier == "true") != carrier || n.Dim == carrier {
			t.Errorf("red selected: node %s %+v, want carrier=%v", name, n, carrier)
		}
	}
	if v.Tunnels["hv1-hv3"].Highlight != "false" || v.Tunnels["hv1-hv2"].Highlight != "true" {
		t.Errorf("red selected: tunnels %v, want hv1-hv2 highlighted and hv1-hv3 not", v.Tunnels)
	}
	if strings.Join(v.Bindings, " ") != "gw1/p0/0" {
		t.Errorf("red's bindings shown %v, want gw1/p0/0", v.Bindings)
	}

	if *uiScreenshot != "" {
		b.click(`#switches [data-switch="blue"]`)
		b.waitFor("blue's ports", `document.querySelector('[data-selected-switch="blue"]') && document.querySelector('#details [data-port="ghost"]')`, 10*time.Second)
		time.Sleep(time.Second) // the dimming transition
		if err := b.screenshot(*uiScreenshot); err != nil {
			t.Errorf("screenshot: %v", err)
		} else {
			t.Logf("screenshot saved to %s", *uiScreenshot)
		}
	}
	b.pageErrors()
}
