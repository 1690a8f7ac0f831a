package resttest

import (
	"slices"

	"github.com/ferry-sdn/ferry/rest/api"
)

// SetReplicas sets the replicas reported.
func (s *Status) SetReplicas(rs []api.Replica) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replicas = slices.Clone(rs)
}

// Replicas implements rest.ReplicaStatus.
func (s *Status) Replicas() []api.Replica {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.replicas)
}

// Self implements rest.ReplicaStatus: the replica marked self, if any.
func (s *Status) Self() *api.ReplicaHealth {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.replicas {
		if r.Self {
			return &api.ReplicaHealth{ID: r.ID, Registered: r.Healthy}
		}
	}
	return nil
}
