package rest

import (
	"net/http"

	"github.com/ferry-sdn/ferry/internal/model"
)

// MACStatus is what a Status may also report: the MACs in each VTEP's
// tables. It is separate from Status so that a Status without it (an
// older or a test one) still serves the rest of the API; the gateway's
// MACs are then empty.
type MACStatus interface {
	GatewayMACs(name string) model.GatewayMACs
}

// listGatewayMACs answers GET /v1/gateways/{name}/macs from what the
// gateway loop last saw and wrote: rest never asks a device itself.
func (s *server) listGatewayMACs(w http.ResponseWriter, r *http.Request) error {
	name := vars(r)["name"]
	if _, ok := s.b.Snapshot().GatewayByName(name); !ok {
		return errorf(http.StatusNotFound, "gateway %q not found", name)
	}
	var macs model.GatewayMACs
	if ms, ok := s.st.(MACStatus); ok {
		macs = ms.GatewayMACs(name)
	}
	if macs.Local == nil {
		macs.Local = []model.GatewayMAC{}
	}
	if macs.Remote == nil {
		macs.Remote = []model.GatewayMAC{}
	}
	writeJSON(w, http.StatusOK, macs)
	return nil
}
