package rest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/rest/api"
)

func gatewayJSON(gw model.Gateway, st model.GatewayStatus) api.Gateway {
	if st.TunnelIPs == nil {
		st.TunnelIPs = []string{}
	}
	if st.Ports == nil {
		st.Ports = []model.GatewayPort{}
	}
	if st.Faults == nil {
		st.Faults = []string{}
	}
	return api.Gateway{Name: gw.Name, OVSDB: gw.OVSDB, PhysicalSwitch: gw.PhysicalSwitch, Generation: gw.Generation,
		Limits: api.Limits{MACsPerSwitch: gw.Limits.MACsPerSwitch, MACsTotal: gw.Limits.MACsTotal, Tunnels: gw.Limits.Tunnels}, Status: st}
}

func bindingJSON(b model.GatewayBinding) api.Binding {
	return api.Binding{Switch: b.Switch, Gateway: b.Gateway, Port: b.Port, VLAN: b.VLAN}
}

func checkGatewayRequest(r *api.GatewayRequest) (model.Gateway, error) {
	var p problems
	checkName(&p, "name", r.Name)
	gw := model.Gateway{Name: r.Name, PhysicalSwitch: r.PhysicalSwitch}
	if r.OVSDB == model.PassiveOVSDB {
		gw.OVSDB = r.OVSDB
	} else if target, err := checkTarget(r.OVSDB); err != nil {
		p.add("ovsdb", "%s", err)
	} else {
		gw.OVSDB = target
	}
	if r.PhysicalSwitch != "" {
		checkDeviceName(&p, "physical_switch", r.PhysicalSwitch)
	}
	gw.Limits = checkLimits(&p, r.Profile, r.Limits)
	return gw, p.err()
}

// Profiles are vendors' published VTEP capacities; docs/gateways.md gives
// the source of every number (0: no published limit).
var Profiles = map[string]model.Limits{
	"cumulus":  {MACsPerSwitch: 0, MACsTotal: 0, Tunnels: 0},
	"arista":   {MACsPerSwitch: 0, MACsTotal: 0, Tunnels: 0},
	"aruba-cx": {MACsPerSwitch: 2048, MACsTotal: 0, Tunnels: 0},
	"dell":     {MACsPerSwitch: 0, MACsTotal: 15000, Tunnels: 0},
	"ovs-vtep": {},
}

// maxLimit bounds a limit to what the schema's integer and any real VTEP
// hold.
const maxLimit = 1 << 30

func checkLimits(p *problems, profile string, r *api.LimitsRequest) model.Limits {
	var lim model.Limits
	if profile != "" {
		l, ok := Profiles[profile]
		if !ok {
			names := make([]string, 0, len(Profiles))
			for n := range Profiles {
				names = append(names, n)
			}
			slices.Sort(names)
			p.add("profile", "%q: unknown (one of %s)", profile, strings.Join(names, ", "))
		}
		lim = l
	}
	if r == nil {
		return lim
	}
	set := func(field string, v *int64, dst *int) {
		switch {
		case v == nil:
		case *v < 0 || *v > maxLimit:
			p.add(field, "must be between 0 (unlimited) and %d", maxLimit)
		default:
			*dst = int(*v)
		}
	}
	set("limits.macs_per_switch", r.MACsPerSwitch, &lim.MACsPerSwitch)
	set("limits.macs_total", r.MACsTotal, &lim.MACsTotal)
	set("limits.tunnels", r.Tunnels, &lim.Tunnels)
	return lim
}

// checkDeviceName accepts what hardware switches call their switches and
// ports ("Ethernet1/1", "xe-0/0/1:2"): printable, no spaces, bounded.
// '/' stays allowed (it is %2F in a URL); "." and ".." do not, as a
// Location header holding them would point at another path.
func checkDeviceName(p *problems, field, name string) {
	switch {
	case name == "":
		p.add(field, "required")
	case len(name) > maxNameLen:
		p.add(field, "longer than %d characters", maxNameLen)
	case name == "." || name == "..":
		p.add(field, "%q: not a name", name)
	case !printable(name) || strings.ContainsFunc(name, unicode.IsSpace) || strings.ContainsAny(name, `"\`):
		p.add(field, "%q: must be printable without spaces or quotes", name)
	}
}

func checkBindingRequest(r *api.BindingRequest, switchName string) (model.GatewayBinding, error) {
	var p problems
	b := checkBinding(&p, r, switchName)
	return b, p.err()
}

func checkBinding(p *problems, r *api.BindingRequest, switchName string) model.GatewayBinding {
	checkName(p, "gateway", r.Gateway)
	checkDeviceName(p, "port", r.Port)
	b := model.GatewayBinding{Switch: switchName, Gateway: r.Gateway, Port: r.Port}
	if r.VLAN != nil {
		if *r.VLAN < 0 || *r.VLAN > 4095 {
			p.add("vlan", "must be between 0 (untagged) and 4095")
		} else {
			b.VLAN = uint16(*r.VLAN)
		}
	}
	return b
}

// checkGatewayPorts is checkGatewayPort for the bindings of a whole
// switch.
func (s *server) checkGatewayPorts(bindings []model.GatewayBinding) error {
	var p problems
	for i, b := range bindings {
		s.checkGatewayPort(p.at("bindings", i), b)
	}
	return p.err()
}

// checkGatewayPort refuses a binding to a port the physical switch does
// not have, while the gateway is connected (its ports are known); an
// unreachable gateway's binding is accepted and realized when it connects.
func (s *server) checkGatewayPort(p *problems, b model.GatewayBinding) {
	st := s.st.Gateway(b.Gateway)
	if !st.Connected || slices.ContainsFunc(st.Ports, func(gp model.GatewayPort) bool { return gp.Name == b.Port }) {
		return
	}
	names := make([]string, 0, len(st.Ports))
	for _, gp := range st.Ports {
		names = append(names, gp.Name)
	}
	p.add("port", "%q is not a port of gateway %q (it has %v)", b.Port, b.Gateway, names)
}

func (s *server) listGateways(w http.ResponseWriter, _ *http.Request) error {
	snap := s.b.Snapshot()
	out := make([]api.Gateway, 0, len(snap.Gateways))
	for _, gw := range snap.Gateways {
		out = append(out, gatewayJSON(gw, s.st.Gateway(gw.Name)))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getGateway(w http.ResponseWriter, r *http.Request) error {
	name := vars(r)["name"]
	gw, ok := s.b.Snapshot().GatewayByName(name)
	if !ok {
		return errorf(http.StatusNotFound, "gateway %q not found", name)
	}
	writeJSON(w, http.StatusOK, gatewayJSON(gw, s.st.Gateway(gw.Name)))
	return nil
}

func (s *server) createGateway(w http.ResponseWriter, r *http.Request) error {
	var req api.GatewayRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	gw, err := checkGatewayRequest(&req)
	if err = s.checkTLSTarget(err, gw.OVSDB); err != nil {
		return err
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	if gw, err = s.b.CreateGateway(ctx, gw); err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/gateways/"+url.PathEscape(gw.Name))
	writeJSON(w, http.StatusCreated, gatewayJSON(gw, s.st.Gateway(gw.Name)))
	return nil
}

func (s *server) patchGateway(w http.ResponseWriter, r *http.Request) error {
	var req api.GatewayPatch
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, err := checkGatewayPatch(&req)
	if err != nil {
		return err
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	gw, err := s.b.PatchGateway(ctx, vars(r)["name"], c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, gatewayJSON(gw, s.st.Gateway(gw.Name)))
	return nil
}

// checkGatewayPatch turns a PATCH body into the change: a profile replaces
// every limit, the limits given override.
func checkGatewayPatch(r *api.GatewayPatch) (nbdb.GatewayChange, error) {
	var p problems
	var c nbdb.GatewayChange
	if r.Profile == "" && r.Limits == nil {
		p.add("limits", "give limits or a profile to change")
		return c, p.err()
	}
	if r.Profile != "" {
		lim := checkLimits(&p, r.Profile, nil)
		c.Profile = &lim
	}
	if l := r.Limits; l != nil {
		got := checkLimits(&p, "", l)
		if l.MACsPerSwitch != nil {
			c.MACsPerSwitch = &got.MACsPerSwitch
		}
		if l.MACsTotal != nil {
			c.MACsTotal = &got.MACsTotal
		}
		if l.Tunnels != nil {
			c.Tunnels = &got.Tunnels
		}
	}
	return c, p.err()
}

func (s *server) deleteGateway(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	if err := s.b.DeleteGateway(ctx, vars(r)["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) listBindings(w http.ResponseWriter, r *http.Request) error {
	sw, err := s.lookupSwitch(s.b.Snapshot(), vars(r)["switch"])
	if err != nil {
		return err
	}
	out := make([]api.Binding, 0, len(sw.Bindings))
	for _, b := range sw.Bindings {
		out = append(out, bindingJSON(b))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) createBinding(w http.ResponseWriter, r *http.Request) error {
	var req api.BindingRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	b, err := checkBindingRequest(&req, vars(r)["switch"])
	if err != nil {
		return err
	}
	var p problems
	if s.checkGatewayPort(&p, b); p.err() != nil {
		return p.err()
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	if b, err = s.b.CreateBinding(ctx, b); err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/v1/switches/%s/bindings/%s/%s/%d",
		url.PathEscape(b.Switch), url.PathEscape(b.Gateway), url.PathEscape(b.Port), b.VLAN))
	writeJSON(w, http.StatusCreated, bindingJSON(b))
	return nil
}

// bindingPath reads the binding a /bindings/{gateway}/{port}/{vlan} path
// names.
func bindingPath(r *http.Request) (model.GatewayBinding, error) {
	v := vars(r)
	vlan, err := strconv.ParseUint(v["vlan"], 10, 16)
	if err != nil || vlan > 4095 {
		return model.GatewayBinding{}, errorf(http.StatusBadRequest, "vlan: %q is not a VLAN (0-4095)", v["vlan"])
	}
	return model.GatewayBinding{Switch: v["switch"], Gateway: v["gateway"], Port: v["port"], VLAN: uint16(vlan)}, nil
}

// getBinding answers the Location a created binding is given.
func (s *server) getBinding(w http.ResponseWriter, r *http.Request) error {
	want, err := bindingPath(r)
	if err != nil {
		return err
	}
	sw, err := s.lookupSwitch(s.b.Snapshot(), want.Switch)
	if err != nil {
		return err
	}
	for _, b := range sw.Bindings {
		if b.Gateway == want.Gateway && b.Port == want.Port && b.VLAN == want.VLAN {
			writeJSON(w, http.StatusOK, bindingJSON(b))
			return nil
		}
	}
	return errorf(http.StatusNotFound, "switch %q has no binding %s/%s VLAN %d", want.Switch, want.Gateway, want.Port, want.VLAN)
}

func (s *server) deleteBinding(w http.ResponseWriter, r *http.Request) error {
	b, err := bindingPath(r)
	if err != nil {
		return err
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	if err := s.b.DeleteBinding(ctx, b); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
