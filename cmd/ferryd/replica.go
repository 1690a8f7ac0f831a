package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/reconcile"
	"github.com/ferry-sdn/ferry/internal/replica"
	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/rest/api"
)

// apiURL is the REST API URL this replica advertises: --api-advertise, or
// derived from the address the API listens on when it names one.
func apiURL(cfg config, scheme string, ln net.Addr) string {
	if cfg.apiAdvertise != "" {
		return cfg.apiAdvertise
	}
	host, port, err := net.SplitHostPort(ln.String())
	if err != nil || net.ParseIP(host) == nil || net.ParseIP(host).IsUnspecified() {
		return ""
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// registeredDevices lists the devices of the snapshot as replica names
// them.
func registeredDevices(db *nbdb.DB) func() []string {
	return func() []string {
		snap := db.Snapshot()
		out := make([]string, 0, len(snap.Chassis)+len(snap.Gateways))
		for _, ch := range snap.Chassis {
			out = append(out, "chassis/"+ch.Name)
		}
		for _, gw := range snap.Gateways {
			out = append(out, "gateway/"+gw.Name)
		}
		return out
	}
}

// startReplica returns the manager of this replica and a function
// closing its lock session, or nil without --replica-id.
func startReplica(cfg config, nb []ovsdb.Target, peerTLS *tls.Config, db *nbdb.DB, self model.Replica, kick func(),
	reg prometheus.Registerer, logger *slog.Logger) (*replica.Manager, func(), error) {
	if cfg.replicaID == "" {
		return nil, func() {}, nil
	}
	locks, closeLocks, err := dialLocks(nb, peerTLS, logger)
	if err != nil {
		return nil, nil, err
	}
	self.ID, self.Started = cfg.replicaID, time.Now().UTC().Truncate(time.Millisecond)
	m := replica.New(replica.Config{Self: self, Store: db, Locks: locks, Devices: registeredDevices(db),
		OnChange: kick, Logger: logger})
	m.RegisterMetrics(reg)
	return m, closeLocks, nil
}

// dialLocks opens the lock session on the northbound database: on its
// leader, where the cluster's locks are arbitrated.
func dialLocks(nb []ovsdb.Target, peerTLS *tls.Config, logger *slog.Logger) (replica.Locks, func(), error) {
	// While there is no leader (an election after the leader died) every
	// member refuses the session: retry at least every second, so that a
	// replica owns its devices again soon after a leader is elected.
	l, err := ovsdb.NewLocks(ovsdb.LocksConfig{Targets: nb, TLS: peerTLS, Database: nbSchemaName, Logger: logger,
		MaxBackoff: time.Second})
	if err != nil {
		return nil, nil, fmt.Errorf("--replica-id: %w", err)
	}
	return namedLocks{l}, l.Close, nil
}

// namedLocks is ovsdb.Locks under replica's names ("ferry/device/…"),
// which ovsdb-server's lock ids cannot hold as they are.
type namedLocks struct{ l *ovsdb.Locks }

func (n namedLocks) Want(names []string) {
	ids := make([]string, len(names))
	for i, name := range names {
		ids[i] = ovsdb.LockName(name)
	}
	_ = n.l.SetWanted(ids) // LockName's are always valid
}

func (n namedLocks) Held(name string) bool { return n.l.Held(ovsdb.LockName(name)) }

func (n namedLocks) Changed() <-chan struct{} { return n.l.Changes() }

// nbSchemaName is the northbound database's name.
const nbSchemaName = "Ferry_Northbound"

// replicaStatus is the controller's status with the replicas of the
// manager: what the REST API reports.
type replicaStatus struct {
	*reconcile.Controller
	m       *replica.Manager
	healthy func() bool
}

// Replicas implements rest.ReplicaStatus.
func (s replicaStatus) Replicas() []api.Replica {
	var out []api.Replica
	for _, r := range s.m.Replicas() {
		out = append(out, api.Replica{ID: r.ID, API: r.API, OpenFlow: r.OpenFlow, Started: r.Started.Format(time.RFC3339Nano),
			Self: r.Self, Healthy: !r.Self || s.healthy(), Devices: r.Devices})
	}
	return out
}

// Self implements rest.ReplicaStatus.
func (s replicaStatus) Self() *api.ReplicaHealth {
	return &api.ReplicaHealth{ID: s.m.ID(), Registered: s.m.Registered() && s.healthy()}
}

// runReplica runs m until ctx ends, then stops it once the controller
// has stopped (done), so that no pass writes to a device after its lock
// went to another replica. Meanwhile it drains: it takes no new device
// (which would only be handed on again, moving its epoch twice).
func runReplica(ctx context.Context, m *replica.Manager, done <-chan struct{}) <-chan struct{} {
	stopped := make(chan struct{})
	mctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(stopped)
		m.Run(mctx)
	}()
	go func() {
		<-ctx.Done()
		m.Drain()
		<-done
		cancel()
	}()
	return stopped
}
