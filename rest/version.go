package rest

import (
	"net/http"

	"github.com/ferry-sdn/ferry/internal/version"
)

// getVersion answers GET /v1/version: which build of ferryd this is, for
// `ferryctl version` and for operators comparing a fleet.
func (s *server) getVersion(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, version.Get())
	return nil
}
