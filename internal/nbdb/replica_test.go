package nbdb_test

import (
	"errors"
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
		a.Devices = []string{"gateway/gw1", "chassis/hv1"}
		if err := db.PutReplica(ctx(t), a); err != nil {
			t.Fatal(err)
		}
		want := []model.Replica{a, b}
		want[0].Devices = []string{"chassis/hv1", "gateway/gw1"} // sorted
		want[1].Devices = []string{}
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
	return a.ID == b.ID && a.API == b.API && a.OpenFlow == b.OpenFlow && a.Started.Equal(b.Started) &&
		slices.Equal(a.Devices, b.Devices)
}
