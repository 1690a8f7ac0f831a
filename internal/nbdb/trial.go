package nbdb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/model"
)

// A trial is a write run for its outcome only (a dry run): every check a
// real write makes, the same operations sent to the server, and nothing
// committed. The server runs the write's operations, then selects every
// table, then aborts: the selects see the write's effect inside the
// transaction, and the abort undoes it. So a trial is exact — the same
// lookups, the same VNI allocation, the same server-side checks of
// types and references — and costs one transaction.
type trial struct {
	snap *model.Snapshot // the northbound state the write would make; nil: no change
}

type trialKey struct{}

// Trial runs write, which calls DB's mutations with the context it is
// given, as a trial: nothing is committed. It returns the snapshot the
// write would produce (the current one when the write changes nothing)
// and the write's error, which is the error the real write would return
// (indexes are checked on the snapshot's rows as the server would at
// commit).
func (db *DB) Trial(ctx context.Context, write func(ctx context.Context) error) (*model.Snapshot, error) {
	t := &trial{}
	if err := write(context.WithValue(ctx, trialKey{}, t)); err != nil {
		return nil, err
	}
	if t.snap == nil {
		return db.Snapshot(), nil
	}
	return t.snap, nil
}

func trialOf(ctx context.Context) *trial {
	t, _ := ctx.Value(trialKey{}).(*trial)
	return t
}

// IsTrial reports whether ctx belongs to a trial (see Trial).
func IsTrial(ctx context.Context) bool { return trialOf(ctx) != nil }

// trialOps appends to a write's operations one select per table and the
// abort that undoes them all.
func trialOps(tc *cache.TableCache, ops []ovsdb.Operation) []ovsdb.Operation {
	for _, table := range slices.Sorted(maps.Keys(tc.DatabaseModel().Types())) {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationSelect, Table: table, Where: []ovsdb.Condition{}})
	}
	return append(ops, ovsdb.Operation{Op: ovsdb.OperationAbort})
}

// trialResult splits a trial transaction's results: those of the write's
// own n operations, for the usual checks, and the state the selects saw,
// built into a snapshot when the write's operations all succeeded.
func (db *DB) trialResult(tc *cache.TableCache, ops []ovsdb.Operation, res []ovsdb.OperationResult, n int) ([]ovsdb.OperationResult, *model.Snapshot, error) {
	own := res[:min(n, len(res))]
	for _, r := range res {
		// libovsdb's in-memory server checks every operation before
		// running any, and takes abort for an operation on table "".
		if strings.HasPrefix(r.Error, `table "" not found`) {
			return own, nil, fmt.Errorf("nbdb: trial: %w: the server cannot run a dry run (no abort operation)", ErrUnavailable)
		}
	}
	for _, r := range own {
		if r.Error != "" {
			return own, nil, nil // the usual checks report it
		}
	}
	if len(res) < len(ops) || res[len(ops)-1].Error != "aborted" {
		// libovsdb's in-memory server, for one, has no abort.
		return own, nil, fmt.Errorf("nbdb: trial: %w: the server cannot run a dry run (it did not abort the transaction: %d results for %d operations)", ErrUnavailable, len(res), len(ops))
	}
	data := make(ovsdb.TableUpdates2)
	for i, op := range ops[n : len(ops)-1] {
		rows := make(ovsdb.TableUpdate2, len(res[n+i].Rows))
		for _, row := range res[n+i].Rows {
			u, ok := row["_uuid"].(ovsdb.UUID)
			if !ok {
				return own, nil, fmt.Errorf("trial: a %s row without _uuid", op.Table)
			}
			row = maps.Clone(row)
			delete(row, "_uuid")
			delete(row, "_version")
			rows[u.GoUUID] = &ovsdb.RowUpdate2{Initial: &row}
		}
		data[op.Table] = rows
	}
	scratch, err := cache.NewTableCache(tc.DatabaseModel(), nil, nil)
	if err != nil {
		return own, nil, fmt.Errorf("trial: %w", err)
	}
	if err := scratch.Populate2(data); err != nil {
		var idx *cache.ErrIndexExists
		if errors.As(err, &idx) {
			// The server would refuse the commit for this index.
			return own, nil, errorf(ErrConflict, "", "the change conflicts with an existing row of %s (%v)", idx.Table, idx.Value)
		}
		return own, nil, fmt.Errorf("trial: %w", err)
	}
	st, _, _ := db.buildOnce(scratch, &snapState{
		switches: newChildren[*switchState](),
		ports:    newChildren[model.Port](),
		bindings: newChildren[model.GatewayBinding](),
	}, nil)
	st.switches.commit()
	return own, st.snap, nil
}

// storedIn is stored for a write that may be a trial: a trial's result is
// in the trial's snapshot, not the cache.
func (db *DB) storedIn(ctx context.Context, name string) (model.Switch, error) {
	t := trialOf(ctx)
	if t == nil || t.snap == nil {
		return db.stored(name)
	}
	sw, ok := t.snap.Switch(name)
	if !ok {
		return model.Switch{}, errorf(ErrNotFound, "", "switch %q not found", name)
	}
	return sw, nil
}
