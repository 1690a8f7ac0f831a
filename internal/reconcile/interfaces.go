package reconcile

import (
	"context"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/openflow"
)

// Northbound gives the current northbound snapshot.
type Northbound interface {
	Snapshot() *model.Snapshot
}

// Switches finds the OpenFlow session of a bridge by datapath ID.
type Switches interface {
	// Session returns the session of the bridge with datapath dpid once
	// a connection that claims it comes from a peer authorize accepts;
	// nil until then. Connections authorize refuses are closed.
	Session(dpid uint64, authorize openflow.Authorize) Session
	// Bound returns the session already bound to datapath dpid, or nil:
	// for readers that must not decide who the bridge is.
	Bound(dpid uint64) Session
	// Refused returns the last connection refused for datapath dpid.
	Refused(dpid uint64) (openflow.Refusal, bool)
}

// Session is a live OpenFlow connection to one bridge.
type Session interface {
	// DumpFlows returns the references of ferry's installed flows.
	DumpFlows(ctx context.Context) ([]openflow.FlowRef, error)
	// DumpTable returns ferry's flows in one table with their counters.
	DumpTable(ctx context.Context, table uint8) ([]openflow.FlowStat, error)
	// DumpGroups returns ferry's installed groups.
	DumpGroups(ctx context.Context) ([]openflow.GroupEntry, error)
	// Commit applies a plan as one atomic bundle.
	Commit(ctx context.Context, p realize.FlowPlan) error
}

// Roles is what a Session may also do: OpenFlow controller roles, with
// which the owner of a bridge among several replicas is its master and a
// bridge refuses the flows of a replica that lost it.
type Roles interface {
	Role() openflow.RoleStatus
	RequestRole(ctx context.Context, role openflow.Role, generation uint64) (openflow.Role, uint64, error)
}

// FlowCounter is what a Session may also do: count the bridge's flows by
// cookie, cheaply, for drift checks.
type FlowCounter interface {
	CountFlows(ctx context.Context, cookie, mask uint64) (uint32, error)
}

// Device is an OVSDB connection to a chassis' Open_vSwitch database that
// keeps reconnecting on its own and monitors the tables ferry reads.
type Device interface {
	// Client returns nil while the database is not connected.
	Client() client.Client
	Close()
}

// DialFunc opens a Device for a chassis; notify is called (from any
// goroutine, possibly often) whenever the device's cache or connection
// state changes.
type DialFunc func(ch model.Chassis, notify func()) (Device, error)
