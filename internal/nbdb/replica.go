package nbdb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	libmodel "github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// Replicas.
//
// A Replica row says that a ferryd is running. It is not the operator's
// intent: writing it moves no generation and wakes no device, and a
// snapshot does not hold it. Its lifetime is the replica's session (see
// internal/replica): the replica writes it, and whoever outlives it deletes
// it once the replica's lock is free.

// Replicas returns the replicas the cache holds, sorted by ID.
func (db *DB) Replicas() ([]model.Replica, error) {
	tc, live := db.cache()
	if !live {
		return nil, errNoCache
	}
	t := tc.Table(nb.ReplicaTable)
	if t == nil {
		return nil, nil
	}
	var out []model.Replica
	for _, m := range t.RowsShallow() {
		out = append(out, replicaModel(m.(*nb.Replica)))
	}
	slices.SortFunc(out, func(a, b model.Replica) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func replicaModel(r *nb.Replica) model.Replica {
	devices := slices.Clone(r.Devices)
	slices.Sort(devices)
	return model.Replica{ID: r.ID, API: r.Api, OpenFlow: r.Openflow,
		Started: time.UnixMilli(int64(r.Started)).UTC(), Devices: devices}
}

// PutReplica writes r's row, replacing any row with its ID, in one
// transaction that touches nothing else.
func (db *DB) PutReplica(ctx context.Context, r model.Replica) error {
	if r.ID == "" {
		return errorf(ErrInvalid, "id", "a replica needs an id")
	}
	devices := slices.Clone(r.Devices)
	slices.Sort(devices)
	row := &nb.Replica{ID: r.ID, Api: r.API, Openflow: r.OpenFlow, Started: int(r.Started.UnixMilli()), Devices: devices}
	what := "put replica " + r.ID
	del, err := db.replicaDelete(r.ID)
	if err != nil {
		return fmt.Errorf("nbdb: %s: %w", what, err)
	}
	ins, err := db.c.Create(row)
	if err != nil {
		return fmt.Errorf("nbdb: %s: %w", what, err)
	}
	return db.replicaTxn(ctx, what, append(del, ins...)...)
}

// DeleteReplica deletes the row of replica id, if there is one.
func (db *DB) DeleteReplica(ctx context.Context, id string) error {
	what := "delete replica " + id
	del, err := db.replicaDelete(id)
	if err != nil {
		return fmt.Errorf("nbdb: %s: %w", what, err)
	}
	return db.replicaTxn(ctx, what, del...)
}

// replicaDelete deletes by ID on the server, not by a UUID from the
// cache: the row may be newer than the cache.
func (db *DB) replicaDelete(id string) ([]ovsdb.Operation, error) {
	row := &nb.Replica{}
	return db.c.WhereAll(row, libmodel.Condition{Field: &row.ID, Function: ovsdb.ConditionEqual, Value: id}).Delete()
}

func (db *DB) replicaTxn(ctx context.Context, what string, ops ...ovsdb.Operation) error {
	if !db.Healthy() {
		return fmt.Errorf("nbdb: %s: %w", what, ErrUnavailable)
	}
	res, err := db.c.Transact(ctx, ops...)
	if err != nil {
		return unavailable(ctx, what, err)
	}
	if opErrs, err := ovsdb.CheckOperationResults(res, ops); err != nil {
		return fmt.Errorf("nbdb: %s: %w", what, txnError(err, opErrs))
	}
	return nil
}
