package rest

import (
	"net/http"

	"github.com/ferry-sdn/ferry/rest/api"
)

// ReplicaStatus is what a Status may also report: the ferryd replicas
// sharing the estate. Without it (one ferryd, or a test Status) the list
// is empty.
type ReplicaStatus interface {
	Replicas() []api.Replica
	// Self is this replica's part of /healthz; nil without replicas.
	Self() *api.ReplicaHealth
}

// listReplicas answers GET /v1/replicas from this replica's view of the
// northbound database.
func (s *server) listReplicas(w http.ResponseWriter, _ *http.Request) error {
	out := []api.Replica{}
	if rs, ok := s.st.(ReplicaStatus); ok {
		out = append(out, rs.Replicas()...)
	}
	for i := range out {
		if out[i].Devices == nil {
			out[i].Devices = []string{}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
