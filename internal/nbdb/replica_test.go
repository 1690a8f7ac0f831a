package nbdb_test

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
)

// TestReplicas: a replica's row is written, replaced and deleted by ID,
// and none of it is a change of the network: the generation and the
// snapshot stay as they were.
func TestReplicas(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		if err := createChassis(t, db, "hv1", "tcp:198.18.255.11:6640", "198.18.1.11"); err != nil {
			t.Fatal(err)
		}
		before := db.Snapshot()
		started := time.UnixMilli(1_800_000_000_123).UTC()
		a := model.Replica{ID: "a", API: "http://198.18.255.1:8470", OpenFlow: "tcp:198.18.255.1:6653", Started: started}
		b := model.Replica{ID: "b", OpenFlow: "tcp:198.18.255.2:6653", Started: started}
		for _, r := range []model.Replica{a, b} {
			if err := db.PutReplica(ctx(t), r); err != nil {
				t.Fatal(err)
			}
		}
		a.API = "https://198.18.255.1:8470" // replaced, not added
		if err := db.PutReplica(ctx(t), a); err != nil {
			t.Fatal(err)
		}
		want := []model.Replica{a, b}
		waitReplicas(t, db, want)

		if err := db.DeleteReplica(ctx(t), "a"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteReplica(ctx(t), "nobody"); err != nil {
			t.Fatalf("deleting a replica that is not there: %v", err)
		}
		waitReplicas(t, db, want[1:])
		if after := db.Snapshot(); after.Generation != before.Generation || len(after.Chassis) != 1 {
			t.Errorf("replica rows moved the network: generation %d → %d, %d chassis", before.Generation, after.Generation, len(after.Chassis))
		}
		if err := db.PutReplica(ctx(t), model.Replica{}); !errors.Is(err, nbdb.ErrInvalid) {
			t.Errorf("a replica without id: %v", err)
		}
	})
}

func waitReplicas(t *testing.T, db *nbdb.DB, want []model.Replica) {
	t.Helper()
	var got []model.Replica
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if got, err = db.Replicas(); err != nil {
			t.Fatal(err)
		}
		if slices.EqualFunc(got, want, sameReplica) {
			return
		}
	}
	t.Fatalf("replicas %+v, want %+v", got, want)
}

func sameReplica(a, b model.Replica) bool {
	return a.ID == b.ID && a.API == b.API && a.OpenFlow == b.OpenFlow && a.Started.Equal(b.Started)
}

// TestTakeOwnership: the epoch starts at 1 and grows by one with every
// owner, whoever it is, and per device; only the owner publishes a
// device's realization.
func TestTakeOwnership(t *testing.T) {
	servers(t, func(t *testing.T, ep string) {
		db := nbdbtest.New(t, ep)
		gen := db.Snapshot().Generation
		for i, step := range []struct {
			device, replica string
			epoch           uint64
		}{
			{"chassis/hv1", "a", 1},
			{"chassis/hv2", "a", 1},
			{"chassis/hv1", "b", 2},
			{"chassis/hv1", "b", 3}, // taken again after a lost lock: a new epoch
			{"chassis/hv1", "a", 4},
		} {
			epoch, err := db.TakeOwnership(ctx(t), step.device, step.replica)
			if err != nil {
				t.Fatal(err)
			}
			if epoch != step.epoch {
				t.Errorf("step %d: %s taken by %s at epoch %d, want %d", i, step.device, step.replica, epoch, step.epoch)
			}
		}
		// The owner's realization is recorded; a former owner's is not.
		if err := db.PublishRealized(ctx(t), "a", map[string]int64{"chassis/hv1": 7}); err != nil {
			t.Fatal(err)
		}
		if err := db.PublishRealized(ctx(t), "b", map[string]int64{"chassis/hv1": 9, "chassis/hv2": 9}); err != nil {
			t.Fatal(err)
		}
		want := map[string]model.Owner{
			"chassis/hv1": {Device: "chassis/hv1", Replica: "a", Epoch: 4, Realized: 7},
			"chassis/hv2": {Device: "chassis/hv2", Replica: "a", Epoch: 1},
		}
		var got map[string]model.Owner
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			var err error
			if got, err = db.Owners(); err != nil {
				t.Fatal(err)
			}
			if maps.Equal(got, want) {
				break
			}
		}
		if !maps.Equal(got, want) {
			t.Errorf("owners %v, want %v", got, want)
		}
		if g := db.Snapshot().Generation; g != gen {
			t.Errorf("ownership moved the generation %d → %d", gen, g)
		}
	})
}
