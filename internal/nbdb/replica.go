package nbdb

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	libmodel "github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// Replicas and device owners.
//
// A Replica row says that a ferryd is running; a Device_Owner row which
// replica owns a device, and since which epoch. Neither is the operator's
// intent: writing them moves no generation and wakes no device, and a
// snapshot does not hold them. A replica row lives as long as the
// replica's session (see internal/replica): the replica writes it, and
// whoever outlives it deletes it once the replica's lock is free. An
// owner row is written only by the holder of the device's lock, and never
// deleted: a bridge remembers the highest role generation it was sent
// (until ovs-vswitchd restarts), so a device registered again under the
// same name must go on from its old epoch, not start over at 1.

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
	return model.Replica{ID: r.ID, API: r.Api, OpenFlow: r.Openflow, Started: time.UnixMilli(int64(r.Started)).UTC()}
}

// PutReplica writes r's row, replacing any row with its ID, in one
// transaction that touches nothing else.
func (db *DB) PutReplica(ctx context.Context, r model.Replica) error {
	if r.ID == "" {
		return errorf(ErrInvalid, "id", "a replica needs an id")
	}
	row := &nb.Replica{ID: r.ID, Api: r.API, Openflow: r.OpenFlow, Started: int(r.Started.UnixMilli())}
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

// Owners returns the device owners the cache holds, by device.
func (db *DB) Owners() (map[string]model.Owner, error) {
	tc, live := db.cache()
	if !live {
		return nil, errNoCache
	}
	out := map[string]model.Owner{}
	t := tc.Table(nb.DeviceOwnerTable)
	if t == nil {
		return out, nil
	}
	for _, m := range t.RowsShallow() {
		r := m.(*nb.DeviceOwner)
		out[r.Device] = model.Owner{Device: r.Device, Replica: r.Replica, Epoch: uint64(r.Epoch), Realized: int64(r.RealizedGeneration)}
	}
	return out, nil
}

// TakeOwnership records replica as the owner of device with the next
// epoch, and returns it. Call it only while holding the device's lock:
// the lock, not this row, is what keeps two replicas from owning one
// device; the row tells the others, and its epoch fences the previous
// owner on the bridge.
func (db *DB) TakeOwnership(ctx context.Context, device, replica string) (uint64, error) {
	what := "take ownership of " + device
	if !db.Healthy() {
		return 0, fmt.Errorf("nbdb: %s: %w", what, ErrUnavailable)
	}
	where := []ovsdb.Condition{{Column: "device", Function: ovsdb.ConditionEqual, Value: device}}
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		// The epoch moves on the server, and is read back in the same
		// transaction: no reading of the cache can be stale here.
		ops := []ovsdb.Operation{
			{Op: ovsdb.OperationUpdate, Table: nb.DeviceOwnerTable, Where: where, Row: ovsdb.Row{"replica": replica}},
			{Op: ovsdb.OperationMutate, Table: nb.DeviceOwnerTable, Where: where,
				Mutations: []ovsdb.Mutation{{Column: "epoch", Mutator: ovsdb.MutateOperationAdd, Value: 1}}},
			{Op: ovsdb.OperationSelect, Table: nb.DeviceOwnerTable, Where: where, Columns: []string{"epoch"}},
		}
		res, err := db.c.Transact(ctx, ops...)
		if err != nil {
			return 0, unavailable(ctx, what, err)
		}
		if opErrs, err := ovsdb.CheckOperationResults(res, ops); err != nil {
			return 0, fmt.Errorf("nbdb: %s: %w", what, txnError(err, opErrs))
		}
		if rows := res[2].Rows; len(rows) == 1 {
			if epoch, ok := intValue(rows[0]["epoch"]); ok && epoch > 0 {
				return uint64(epoch), nil
			}
			return 0, fmt.Errorf("nbdb: %s: the server answered epoch %v", what, rows[0]["epoch"])
		}
		// No row yet: the first owner ever.
		ins := []ovsdb.Operation{{Op: ovsdb.OperationInsert, Table: nb.DeviceOwnerTable,
			Row: ovsdb.Row{"device": device, "replica": replica, "epoch": 1}}}
		res, err = db.c.Transact(ctx, ins...)
		if err != nil {
			return 0, unavailable(ctx, what, err)
		}
		opErrs, err := ovsdb.CheckOperationResults(res, ins)
		if err == nil {
			return 1, nil
		}
		if constraintViolation(err, opErrs) == nil {
			return 0, fmt.Errorf("nbdb: %s: %w", what, txnError(err, opErrs))
		}
		// Someone inserted it meanwhile (a previous owner whose lock
		// was just lost): move its epoch on.
	}
	return 0, fmt.Errorf("nbdb: %s: gave up after %d attempts", what, maxAttempts)
}

// PublishRealized records, for each device replica still owns, the
// generation it is in step with, in one transaction. A device another
// replica took meanwhile is left alone: its row names the new owner.
func (db *DB) PublishRealized(ctx context.Context, replica string, realized map[string]int64) error {
	if len(realized) == 0 {
		return nil
	}
	var ops []ovsdb.Operation
	for _, d := range slices.Sorted(maps.Keys(realized)) {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: nb.DeviceOwnerTable,
			Where: []ovsdb.Condition{
				{Column: "device", Function: ovsdb.ConditionEqual, Value: d},
				{Column: "replica", Function: ovsdb.ConditionEqual, Value: replica},
			},
			Row: ovsdb.Row{"realized_generation": int(realized[d])}})
	}
	return db.replicaTxn(ctx, "publish realization", ops...)
}

// intValue reads an integer the way a JSON decoder may have left it.
func intValue(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return int64(n), true
	case float64:
		return int64(n), n == float64(int64(n))
	}
	return 0, false
}
