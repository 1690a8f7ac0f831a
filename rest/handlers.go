package rest

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/rest/api"
)

func (s *server) listSwitches(w http.ResponseWriter, _ *http.Request) error {
	snap := s.b.Snapshot()
	out := make([]api.Switch, 0, len(snap.Switches))
	for _, sw := range snap.Switches {
		out = append(out, switchJSON(sw, s.st.Switch(sw)))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getSwitch(w http.ResponseWriter, r *http.Request) error {
	sw, err := s.lookupSwitch(s.b.Snapshot(), vars(r)["name"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, switchJSON(sw, s.st.Switch(sw)))
	return nil
}

func (s *server) createSwitch(w http.ResponseWriter, r *http.Request) error {
	var req api.SwitchRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	sw, err := checkSwitchRequest(&req)
	if err != nil {
		return err
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	sw, err = s.b.CreateSwitch(ctx, sw)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/switches/"+url.PathEscape(sw.Name))
	writeJSON(w, http.StatusCreated, switchJSON(sw, s.st.Switch(sw)))
	return nil
}

func (s *server) patchSwitch(w http.ResponseWriter, r *http.Request) error {
	var req api.SwitchPatch
	if err := decode(w, r, &req); err != nil {
		return err
	}
	nets, err := checkSwitchPatch(&req)
	if err != nil {
		return err
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	sw, err := s.b.SetXenServerNetworks(ctx, vars(r)["name"], nets)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, switchJSON(sw, s.st.Switch(sw)))
	return nil
}

func (s *server) deleteSwitch(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	if err := s.b.DeleteSwitch(ctx, vars(r)["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) listPorts(w http.ResponseWriter, r *http.Request) error {
	sw, err := s.lookupSwitch(s.b.Snapshot(), vars(r)["switch"])
	if err != nil {
		return err
	}
	out := make([]api.Port, 0, len(sw.Ports))
	for _, p := range sw.Ports {
		out = append(out, portJSON(p, s.st.Port(p)))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getPort(w http.ResponseWriter, r *http.Request) error {
	vars := vars(r)
	sw, err := s.lookupSwitch(s.b.Snapshot(), vars["switch"])
	if err != nil {
		return err
	}
	for _, p := range sw.Ports {
		if p.Name == vars["port"] {
			writeJSON(w, http.StatusOK, portJSON(p, s.st.Port(p)))
			return nil
		}
	}
	return errorf(http.StatusNotFound, "port %q not found on switch %q", vars["port"], sw.Name)
}

// createPort creates one port, or, when the body is a JSON array, every
// port of the array in one transaction: all or none.
func (s *server) createPort(w http.ResponseWriter, r *http.Request) error {
	swName := vars(r)["switch"]
	data, err := readBody(w, r, maxBulkBodyBytes)
	if err != nil {
		return err
	}
	if isList(data) {
		return s.createPorts(w, r, swName, data)
	}
	if len(data) > maxBodyBytes {
		return errorf(http.StatusRequestEntityTooLarge, "request body: larger than %d bytes", maxBodyBytes)
	}
	var req api.PortRequest
	if err := decodeJSON(data, &req, ""); err != nil {
		return err
	}
	p, err := checkPortRequest(&req, swName)
	if err != nil {
		return err
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	p, err = s.b.CreatePort(ctx, p)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/switches/"+url.PathEscape(swName)+"/ports/"+url.PathEscape(p.Name))
	writeJSON(w, http.StatusCreated, portJSON(p, s.st.Port(p)))
	return nil
}

func (s *server) createPorts(w http.ResponseWriter, r *http.Request, swName string, data []byte) error {
	var raw []json.RawMessage
	if err := decodeJSON(data, &raw, ""); err != nil {
		return err
	}
	if len(raw) == 0 {
		return errorf(http.StatusBadRequest, "request body: an empty array; expected a JSON object or an array of them")
	}
	reqs, err := decodeList[api.PortRequest](raw, "ports")
	if err != nil {
		return err
	}
	ports, err := checkPortListRequest(reqs, swName)
	if err != nil {
		return err
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	ports, err = s.b.CreatePorts(ctx, swName, ports)
	if err != nil {
		return err
	}
	out := make([]api.Port, 0, len(ports))
	for _, p := range ports {
		out = append(out, portJSON(p, s.st.Port(p)))
	}
	w.Header().Set("Location", "/v1/switches/"+url.PathEscape(swName)+"/ports")
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// putSwitch makes a switch exactly what the body describes (api.SwitchSpec):
// 201 when it created the switch, 200 otherwise, and the Ferry-Applied
// header says "created", "configured" or "unchanged".
func (s *server) putSwitch(w http.ResponseWriter, r *http.Request) error {
	name := vars(r)["name"]
	data, err := readBody(w, r, maxBulkBodyBytes)
	if err != nil {
		return err
	}
	req, err := decodeSwitchSpec(data)
	if err != nil {
		return err
	}
	sw, err := checkSwitchSpec(&req, name)
	if err != nil {
		return err
	}
	if err := s.checkGatewayPorts(sw.Bindings); err != nil {
		return err
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	sw, applied, err := s.b.ApplySwitch(ctx, sw)
	if err != nil {
		return err
	}
	writeApplied(w, applied, "/v1/switches/"+url.PathEscape(sw.Name), switchJSON(sw, s.st.Switch(sw)))
	return nil
}

// writeApplied answers a PUT: 201 with a Location when it created the
// object, 200 otherwise, and what it did in the Ferry-Applied header.
func writeApplied(w http.ResponseWriter, applied nbdb.Applied, location string, body any) {
	code := http.StatusOK
	if applied == nbdb.Created {
		code = http.StatusCreated
		w.Header().Set("Location", location)
	}
	w.Header().Set(api.AppliedHeader, string(applied))
	writeJSON(w, code, body)
}

// decodeSwitchSpec decodes a whole switch, naming a bad port or binding by
// its index ("ports[3].mac: must be a string").
func decodeSwitchSpec(data []byte) (api.SwitchSpec, error) {
	var spec api.SwitchSpec
	var items struct {
		Ports    []json.RawMessage `json:"ports"`
		Bindings []json.RawMessage `json:"bindings"`
	}
	if err := json.Unmarshal(data, &items); err != nil {
		// Malformed, or ports/bindings not arrays: the strict decoding
		// says so in the usual words.
		return spec, decodeJSON(data, &spec, "")
	}
	if _, err := decodeList[api.PortRequest](items.Ports, "ports"); err != nil {
		return spec, err
	}
	if _, err := decodeList[api.BindingRequest](items.Bindings, "bindings"); err != nil {
		return spec, err
	}
	return spec, decodeJSON(data, &spec, "")
}

// putPort makes a port exactly what the body says (api.PortRequest): 201
// when it created the port, 200 otherwise, and the Ferry-Applied header
// says "created", "configured" or "unchanged".
func (s *server) putPort(w http.ResponseWriter, r *http.Request) error {
	vars := vars(r)
	var req api.PortRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	p, err := checkPortPut(&req, vars["switch"], vars["port"])
	if err != nil {
		return err
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	p, applied, err := s.b.PutPort(ctx, p)
	if err != nil {
		return err
	}
	writeApplied(w, applied, "/v1/switches/"+url.PathEscape(p.Switch)+"/ports/"+url.PathEscape(p.Name), portJSON(p, s.st.Port(p)))
	return nil
}

// patchPort changes the fields the body names (api.PortPatch).
func (s *server) patchPort(w http.ResponseWriter, r *http.Request) error {
	vars := vars(r)
	var req api.PortPatch
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, err := checkPortPatch(&req)
	if err != nil {
		return err
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	p, err := s.b.PatchPort(ctx, vars["switch"], vars["port"], c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, portJSON(p, s.st.Port(p)))
	return nil
}

func (s *server) deletePort(w http.ResponseWriter, r *http.Request) error {
	vars := vars(r)
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	if err := s.b.DeletePort(ctx, vars["switch"], vars["port"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchChassis changes the fields the body names (api.ChassisPatch); the
// reconciler moves the other chassis' tunnels.
func (s *server) patchChassis(w http.ResponseWriter, r *http.Request) error {
	var req chassisPatchBody
	if err := decode(w, r, &req); err != nil {
		return err
	}
	c, err := checkChassisPatch(&req)
	if err != nil {
		return err
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	ch, err := s.b.PatchChassis(ctx, vars(r)["name"], c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, chassisJSON(ch, s.st.Chassis(ch.Name)))
	return nil
}

func (s *server) listChassis(w http.ResponseWriter, _ *http.Request) error {
	snap := s.b.Snapshot()
	out := make([]api.Chassis, 0, len(snap.Chassis))
	for _, ch := range snap.Chassis {
		out = append(out, chassisJSON(ch, s.st.Chassis(ch.Name)))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getChassis(w http.ResponseWriter, r *http.Request) error {
	name := vars(r)["name"]
	ch, ok := s.b.Snapshot().ChassisByName(name)
	if !ok {
		return errorf(http.StatusNotFound, "chassis %q not found", name)
	}
	writeJSON(w, http.StatusOK, chassisJSON(ch, s.st.Chassis(ch.Name)))
	return nil
}

func (s *server) createChassis(w http.ResponseWriter, r *http.Request) error {
	var req api.ChassisRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	ch, err := checkChassisRequest(&req)
	if err = s.checkTLSTarget(err, ch.OVSDB); err != nil {
		return err
	}
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	ch, err = s.b.CreateChassis(ctx, ch)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/chassis/"+url.PathEscape(ch.Name))
	writeJSON(w, http.StatusCreated, chassisJSON(ch, s.st.Chassis(ch.Name)))
	return nil
}

func (s *server) deleteChassis(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel, err := s.writeCtx(r)
	if err != nil {
		return err
	}
	defer cancel()
	if err := s.b.DeleteChassis(ctx, vars(r)["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) lookupSwitch(snap *model.Snapshot, name string) (model.Switch, error) {
	sw, ok := snap.Switch(name)
	if !ok {
		return model.Switch{}, errorf(http.StatusNotFound, "switch %q not found", name)
	}
	return sw, nil
}

// vars returns the route's path variables decoded (the router matches on
// the encoded path).
func vars(r *http.Request) map[string]string {
	out := mux.Vars(r)
	for k, v := range out {
		if d, err := url.PathUnescape(v); err == nil {
			out[k] = d
		}
	}
	return out
}
