package rest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	"github.com/ferry-sdn/ferry/rest/api"
)

// portsJSON is a JSON array of n good ports; bad, when not empty, replaces
// the item at index k.
func portsJSON(n, k int, bad string) string {
	items := make([]string, n)
	for i := range n {
		items[i] = fmt.Sprintf(`{"name":"vm%d","iface_id":"if-%d"}`, i, i)
	}
	if bad != "" {
		items[k] = bad
	}
	return "[" + strings.Join(items, ",") + "]"
}

// TestCreatePortList covers POST /v1/switches/{switch}/ports with an
// array: every mistake names its item, and nothing reaches the backend.
func TestCreatePortList(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	checkBad(t, f, "/v1/switches/blue/ports", []badInput{
		{"item without iface_id", portsJSON(5, 3, `{"name":"x"}`), 400, []string{"ports[3].iface_id: required"}},
		{"bad mac", portsJSON(5, 2, `{"name":"x","iface_id":"y","mac":"nope"}`), 400, []string{"ports[2].mac:"}},
		{"mac type", portsJSON(5, 2, `{"name":"x","iface_id":"y","mac":5}`), 400, []string{"ports[2].mac: must be a string"}},
		{"unknown field", portsJSON(5, 1, `{"name":"x","iface_id":"y","colour":"red"}`), 400, []string{"ports[1].colour: unknown field"}},
		{"not an object", portsJSON(3, 1, `"vm1"`), 400, []string{"ports[1]: must be a JSON object"}},
		{"name twice", portsJSON(4, 3, `{"name":"vm1","iface_id":"y"}`), 400, []string{"ports[3].name:", "also ports[1]"}},
		{"iface_id twice", portsJSON(4, 3, `{"name":"x","iface_id":"if-0"}`), 400, []string{"ports[3].iface_id:", "also ports[0]"}},
		{"empty list", `[]`, 400, []string{"empty array"}},
		{"malformed list", `[{"name":"x","iface_id":"y"},`, 400, []string{"malformed JSON"}},
	})
	var out []api.Port
	r := f.do(t, "POST", "/v1/switches/blue/ports", portsJSON(3, 0, "")).want(t, 201)
	r.decode(t, &out)
	if len(out) != 3 || out[2].Name != "vm2" || out[2].Switch != "blue" || r.header.Get("Location") != "/v1/switches/blue/ports" {
		t.Fatalf("created %+v (Location %q)", out, r.header.Get("Location"))
	}
	// A list too large for one port still fits the bulk limit.
	pad := strings.Repeat("x", 250)
	big := strings.ReplaceAll(portsJSON(4500, 0, ""), `"if-`, `"`+pad+`-`)
	if len(big) <= maxBodyBytes {
		t.Fatalf("test list is only %d bytes", len(big))
	}
	f.do(t, "POST", "/v1/switches", `{"name":"big"}`).want(t, 201)
	f.do(t, "POST", "/v1/switches/big/ports", big).want(t, 201)
}

// TestPutSwitch covers PUT /v1/switches/{name} against the fake backend:
// validation, naming the item, and the status codes.
func TestPutSwitch(t *testing.T) {
	f := newFixture(t)
	f.st.SetGateway("gw1", model.GatewayStatus{Connected: true, Ports: []model.GatewayPort{{Name: "p0"}}})
	for _, c := range []badInput{
		{"name differs", `{"name":"red"}`, 400, []string{"name:", "red", "blue"}},
		{"bad vni", `{"vni":0}`, 400, []string{"vni: must be between 1 and 16777215"}},
		{"bad port", `{"ports":` + portsJSON(5, 3, `{"name":"x"}`) + `}`, 400, []string{"ports[3].iface_id: required"}},
		{"port field type", `{"ports":` + portsJSON(5, 4, `{"name":"x","iface_id":7}`) + `}`, 400, []string{"ports[4].iface_id: must be a string"}},
		{"ports not a list", `{"ports":{"name":"x"}}`, 400, []string{"ports:"}},
		{"unknown port field", `{"ports":[{"name":"x","iface_id":"y","switch":"z"}]}`, 400, []string{"ports[0].switch: unknown field"}},
		{"unknown field", `{"colour":"red"}`, 400, []string{"colour: unknown field"}},
		{"bad binding", `{"bindings":[{"gateway":"gw1","port":"p0"},{"gateway":"gw1","port":"p0","vlan":5000}]}`, 400, []string{"bindings[1].vlan:"}},
		{"binding twice", `{"bindings":[{"gateway":"gw1","port":"p0"},{"gateway":"gw1","port":"p0","vlan":0}]}`, 400, []string{"bindings[1].vlan:", "listed twice"}},
		{"unknown gateway port", `{"bindings":[{"gateway":"gw1","port":"p9"}]}`, 400, []string{"bindings[0].port:", "p9"}},
		{"every mistake", `{"vni":-1,"ports":[{"name":"-x"},{"name":"y","iface_id":"z"}]}`, 400, []string{"vni:", "ports[0].name:", "ports[0].iface_id:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := f.b.Mutations()
			f.do(t, "PUT", "/v1/switches/blue", c.body).want(t, c.code, c.fragments...)
			if f.b.Mutations() != before {
				t.Fatal("bad input reached the backend")
			}
		})
	}
	var sw api.Switch
	r := f.do(t, "PUT", "/v1/switches/blue", `{"ports":[{"name":"vm1","iface_id":"if-1"}]}`).want(t, 201)
	r.decode(t, &sw)
	if r.header.Get(api.AppliedHeader) != "created" || r.header.Get("Location") != "/v1/switches/blue" || !slices.Equal(sw.Ports, []string{"vm1"}) {
		t.Fatalf("created %+v, headers %v", sw, r.header)
	}
	r = f.do(t, "PUT", "/v1/switches/blue", `{"name":"blue","ports":[{"name":"vm1","iface_id":"if-1"}]}`).want(t, 200)
	if r.header.Get(api.AppliedHeader) != "unchanged" {
		t.Fatalf("second PUT: %v", r.header)
	}
	f.do(t, "PUT", "/v1/switches/blue", `{"ports":[]}`).want(t, 200)
}

// TestPutSwitchWithNorthbound runs PUT and the port list against the real
// store: idempotent (no generation), all or nothing, one generation per
// change.
func TestPutSwitchWithNorthbound(t *testing.T) {
	db := nbdbtest.New(t, nbdbtest.InMemory(t))
	f := &fixture{h: NewHandler(db, nil, nil, nil)}
	f.do(t, "POST", "/v1/gateways", `{"name":"gw1","ovsdb":"tcp:198.18.255.31:6640"}`).want(t, 201)
	f.do(t, "POST", "/v1/switches", `{"name":"red"}`).want(t, 201)
	f.do(t, "POST", "/v1/switches/red/ports", `{"name":"r1","iface_id":"taken"}`).want(t, 201)

	body := `{"encap":"gre","ports":` + portsJSON(4, 0, "") + `,"bindings":[{"gateway":"gw1","port":"p0","vlan":10}]}`
	var sw api.Switch
	r := f.do(t, "PUT", "/v1/switches/blue", body).want(t, 201)
	r.decode(t, &sw)
	if sw.VNI != 2 || sw.Encap != "gre" || len(sw.Ports) != 4 || r.header.Get(api.AppliedHeader) != "created" {
		t.Fatalf("created %+v", sw)
	}
	gen := db.Snapshot().Generation
	for range 2 {
		r = f.do(t, "PUT", "/v1/switches/blue", body).want(t, 200)
		r.decode(t, &sw)
		if r.header.Get(api.AppliedHeader) != "unchanged" || db.Snapshot().Generation != gen || sw.Generation != gen {
			t.Fatalf("same body again: %s, generation %d -> %d", r.header.Get(api.AppliedHeader), gen, db.Snapshot().Generation)
		}
	}

	// A conflicting item at index 3: nothing of the body is applied.
	bad := `{"encap":"vxlan","ports":` + portsJSON(5, 3, `{"name":"x","iface_id":"taken"}`) + `}`
	f.do(t, "PUT", "/v1/switches/blue", bad).want(t, http.StatusConflict, "ports[3].iface_id:", "r1")
	redList := strings.ReplaceAll(portsJSON(5, 3, `{"name":"x","iface_id":"taken"}`), `"if-`, `"red-`)
	f.do(t, "POST", "/v1/switches/red/ports", redList).want(t, 409, "ports[3].iface_id")
	f.do(t, "PUT", "/v1/switches/blue", `{"vni":9}`).want(t, 409, "vni:")
	f.do(t, "PUT", "/v1/switches/blue", `{"bindings":[{"gateway":"gw9","port":"p0"}]}`).want(t, 404, "bindings[0].gateway:")
	if g := db.Snapshot().Generation; g != gen {
		t.Fatalf("refused requests moved the generation %d -> %d", gen, g)
	}
	red, _ := db.Snapshot().Switch("red")
	if len(red.Ports) != 1 {
		t.Fatalf("red has %d ports after a refused list", len(red.Ports))
	}

	// A change: one transaction, one generation.
	r = f.do(t, "PUT", "/v1/switches/blue", `{"ports":`+portsJSON(2, 0, "")+`}`).want(t, 200)
	r.decode(t, &sw)
	if r.header.Get(api.AppliedHeader) != "configured" || db.Snapshot().Generation != gen+1 || !slices.Equal(sw.Ports, []string{"vm0", "vm1"}) || sw.Encap != "vxlan" {
		t.Fatalf("changed %+v (%s), generation %d", sw, r.header.Get(api.AppliedHeader), db.Snapshot().Generation)
	}
	var bindings []api.Binding
	f.do(t, "GET", "/v1/switches/blue/bindings", "").want(t, 200).decode(t, &bindings)
	if len(bindings) != 0 {
		t.Fatalf("bindings left: %+v", bindings)
	}
	var ports []api.Port
	f.do(t, "POST", "/v1/switches/red/ports", `[{"name":"r2","iface_id":"a"},{"name":"r3","iface_id":"b"}]`).want(t, 201).decode(t, &ports)
	if len(ports) != 2 || db.Snapshot().Generation != gen+2 {
		t.Fatalf("list: %+v, generation %d", ports, db.Snapshot().Generation)
	}
}
