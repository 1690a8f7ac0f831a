package rest

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
)

// CheckStatus is what a Status may also do: run the VTEP conformance
// suite on the gateway loop's own connection (rest never talks to a
// device). A Status without it answers 503.
type CheckStatus interface {
	CheckGateway(ctx context.Context, name string) (model.GatewayCheck, error)
}

// checkTimeout bounds one check: a handful of transactions.
const checkTimeout = 30 * time.Second

// checkGateway answers POST /v1/gateways/{name}/check. It is a POST, for
// admins only, because the check writes (and removes) a scratch logical
// switch on the VTEP.
func (s *server) checkGateway(w http.ResponseWriter, r *http.Request) error {
	name := vars(r)["name"]
	// The registration comes from the northbound snapshot: with the
	// northbound down it may be stale, so like every POST this waits.
	if err := s.writable(); err != nil {
		return err
	}
	if _, ok := s.b.Snapshot().GatewayByName(name); !ok {
		return errorf(http.StatusNotFound, "gateway %q not found", name)
	}
	cs, ok := s.st.(CheckStatus)
	if !ok {
		return errorf(http.StatusServiceUnavailable, "gateway %q: this server cannot run checks", name)
	}
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	rep, err := cs.CheckGateway(ctx, name)
	switch {
	case err == nil:
	case errors.Is(err, model.ErrCheckRunning), errors.Is(err, model.ErrNotOwner):
		return errorf(http.StatusConflict, "gateway %q: %v", name, err)
	default:
		return errorf(http.StatusServiceUnavailable, "gateway %q: %v", name, err)
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
