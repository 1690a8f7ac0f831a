package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Hardware VTEP gateways and their VLAN bindings. The server gains these
// routes in a later release; until then every command says so instead of
// showing a bare 404. The shapes are those the API will take, declared
// here because package rest does not have them yet.

// gateway is the body of POST /v1/gateways and the known part of a
// gateway as the API shows it.
type gateway struct {
	Name           string `json:"name"`
	OVSDB          string `json:"ovsdb"`
	PhysicalSwitch string `json:"physical_switch,omitempty"`
}

// binding is the body of POST /v1/switches/{switch}/bindings: VLAN VLAN of
// the gateway's port Port joins the switch.
type binding struct {
	Gateway string `json:"gateway"`
	Port    string `json:"port"`
	VLAN    int    `json:"vlan"`
}

// errNoGatewayAPI is returned when the server does not know /v1/gateways.
var errNoGatewayAPI = errors.New("this ferryd has no gateway API (GET /v1/gateways answered HTTP 404); gateways and VLAN bindings need a newer ferryd")

// callGateway is call for the gateway and binding routes: a 404 means
// "no such gateway/switch" on a server that has them and "no such route"
// on one that does not, so the collection route tells the two apart.
func (a *app) callGateway(method, p string, in any) ([]byte, error) {
	data, err := a.call(method, p, in)
	if !isStatus(err, http.StatusNotFound) {
		return data, err
	}
	if p != "/v1/gateways" {
		if _, perr := a.call(http.MethodGet, "/v1/gateways", nil); !isStatus(perr, http.StatusNotFound) {
			return nil, err
		}
	}
	return nil, errNoGatewayAPI
}

func gatewayCreate(a *app, args []string) error {
	fs := a.flags()
	ovsdb := fs.String("ovsdb", "", "")
	ps := fs.String("physical-switch", "", "")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if err := a.require(fs, "ovsdb"); err != nil {
		return err
	}
	data, err := a.callGateway(http.MethodPost, "/v1/gateways", gateway{Name: pos[0], OVSDB: *ovsdb, PhysicalSwitch: *ps})
	if err != nil {
		return err
	}
	return emit(a, data, func(g gateway) error {
		return a.say("gateway %s created: OVSDB %s, physical switch %s", g.Name, g.OVSDB, dash(g.PhysicalSwitch))
	})
}

func gatewayList(a *app, args []string) error {
	if _, err := a.parse(a.flags(), args); err != nil {
		return err
	}
	data, err := a.callGateway(http.MethodGet, "/v1/gateways", nil)
	if err != nil {
		return err
	}
	return emit(a, data, func(gws []gateway) error {
		var rows [][]string
		for _, g := range gws {
			rows = append(rows, []string{g.Name, g.OVSDB, dash(g.PhysicalSwitch)})
		}
		return table(a.stdout, "No gateways.", []string{"NAME", "OVSDB", "PHYSICAL SWITCH"}, rows)
	})
}

// gatewayShow prints every member of the gateway, known or not, so that
// what the server adds later (status) shows up.
func gatewayShow(a *app, args []string) error {
	pos, err := a.parse(a.flags(), args)
	if err != nil {
		return err
	}
	data, err := a.callGateway(http.MethodGet, path("v1", "gateways", pos[0]), nil)
	if err != nil {
		return err
	}
	return emit(a, data, func(g map[string]json.RawMessage) error {
		known := []string{"name", "ovsdb", "physical_switch"}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range g {
				if !slices.Contains(known, k) && !yield(k) {
					return
				}
			}
		})
		var kv []string
		for _, k := range append(known, keys...) {
			if v, ok := g[k]; ok {
				kv = append(kv, label(k), plain(v))
			}
		}
		return fields(a.stdout, kv...)
	})
}

// label turns "physical_switch" into "Physical switch".
func label(key string) string {
	s := strings.ReplaceAll(key, "_", " ")
	switch s {
	case "ovsdb":
		return "OVSDB"
	case "":
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// plain shows a JSON string without quotes and anything else as compact
// JSON.
func plain(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return dash(s)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, v); err != nil {
		return string(v)
	}
	return out.String()
}

func gatewayDelete(a *app, args []string) error {
	pos, err := a.parse(a.flags(), args)
	if err != nil {
		return err
	}
	if _, err := a.callGateway(http.MethodDelete, path("v1", "gateways", pos[0]), nil); err != nil {
		return err
	}
	return a.say("gateway %s deleted", pos[0])
}

func bindingCreate(a *app, args []string) error {
	fs := a.flags()
	gw := fs.String("gateway", "", "")
	port := fs.String("port", "", "")
	vlan := fs.Int("vlan", 0, "")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if err := a.require(fs, "gateway", "port", "vlan"); err != nil {
		return err
	}
	b := binding{Gateway: *gw, Port: *port, VLAN: *vlan}
	data, err := a.callGateway(http.MethodPost, path("v1", "switches", pos[0], "bindings"), b)
	if err != nil {
		return err
	}
	return emit(a, data, func(json.RawMessage) error {
		return a.say("VLAN %d on gateway %s port %s bound to switch %s", b.VLAN, b.Gateway, b.Port, pos[0])
	})
}

func bindingList(a *app, args []string) error {
	pos, err := a.parse(a.flags(), args)
	if err != nil {
		return err
	}
	data, err := a.callGateway(http.MethodGet, path("v1", "switches", pos[0], "bindings"), nil)
	if err != nil {
		return err
	}
	return emit(a, data, func(bs []binding) error {
		var rows [][]string
		for _, b := range bs {
			rows = append(rows, []string{b.Gateway, b.Port, itoa(b.VLAN)})
		}
		return table(a.stdout, "No bindings on switch "+pos[0]+".", []string{"GATEWAY", "PORT", "VLAN"}, rows)
	})
}

func bindingDelete(a *app, args []string) error {
	pos, err := a.parse(a.flags(), args)
	if err != nil {
		return err
	}
	if _, err := strconv.Atoi(pos[3]); err != nil {
		return a.usage("VLAN %q is not a number", pos[3])
	}
	if _, err := a.callGateway(http.MethodDelete, path("v1", "switches", pos[0], "bindings", pos[1], pos[2], pos[3]), nil); err != nil {
		return err
	}
	return a.say("VLAN %s on gateway %s port %s unbound from switch %s", pos[3], pos[1], pos[2], pos[0])
}
