package nbdb_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	libmodel "github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// The estate the write-path benchmarks run against: the default ferrybench
// profile's 500 switches and 10,000 ports, in a real ovsdb-server.
const (
	benchSwitches = 500
	benchPorts    = 10000
)

// populate creates benchSwitches switches through db and benchPorts ports
// with raw transactions, one per switch, that bump the generation as DB
// does: filling the estate through single creates would time the code
// under test.
func populate(b *testing.B, db *nbdb.DB, c client.Client) {
	b.Helper()
	ctx := context.Background()
	for i := range benchSwitches {
		if _, err := db.CreateSwitch(ctx, model.Switch{Name: fmt.Sprintf("sw%03d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	// c is a second client: wait until its cache has every switch.
	var g nb.NBGlobal
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var globals []nb.NBGlobal // List fills only the rows a non-empty slice names
		if err := c.List(ctx, &globals); err != nil {
			b.Fatal(err)
		}
		if len(globals) == 1 && globals[0].Generation == benchSwitches {
			g = globals[0]
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("NB_Global: %v", globals)
		}
	}
	var switches []nb.LogicalSwitch
	if err := c.List(ctx, &switches); err != nil {
		b.Fatal(err)
	}
	perSwitch := benchPorts / benchSwitches
	for i, sw := range switches {
		g.Generation++
		var ops []ovsdb.Operation
		var names []string
		for j := range perSwitch {
			name := fmt.Sprintf("p%d", j)
			p := &nb.LogicalPort{UUID: name, Switch: sw.Name, Name: fmt.Sprintf("bulk%d", j), IfaceID: fmt.Sprintf("bulk-%d-%d", i, j)}
			o, err := c.Create(p)
			if err != nil {
				b.Fatal(err)
			}
			ops = append(ops, o...)
			names = append(names, name)
		}
		swm := &nb.LogicalSwitch{UUID: sw.UUID, Generation: g.Generation}
		o, err := c.Where(swm).Mutate(swm, libmodel.Mutation{Field: &swm.Ports, Mutator: ovsdb.MutateOperationInsert, Value: names})
		if err != nil {
			b.Fatal(err)
		}
		ops = append(ops, o...)
		o, err = c.Where(swm).Update(swm, &swm.Generation)
		if err != nil {
			b.Fatal(err)
		}
		ops = append(ops, o...)
		gm := &nb.NBGlobal{UUID: g.UUID, Generation: g.Generation}
		o, err = c.Where(gm).Update(gm, &gm.Generation)
		if err != nil {
			b.Fatal(err)
		}
		ops = append(ops, o...)
		res, err := c.Transact(ctx, ops...)
		if err == nil {
			_, err = ovsdb.CheckOperationResults(res, ops)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	// Wait until db's cache holds the whole estate.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s := db.Snapshot()
		if s.Generation == int64(g.Generation) {
			n := 0
			for _, sw := range s.Switches {
				n += len(sw.Ports)
			}
			if n == benchPorts {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("cache did not reach generation %d", g.Generation)
		}
	}
}

func benchDB(b *testing.B) *nbdb.DB {
	b.Helper()
	ep := nbdbtest.OVSDBServer(b)
	c := nbdbtest.Connect(b, ep)
	db := nbdb.New(c, nil)
	raw := nbdbtest.Connect(b, ep)
	populate(b, db, raw)
	// A second monitoring client would make every write's update cost
	// twice in this process: ferryd has one.
	raw.Close()
	return db
}

// BenchmarkCreatePort measures single-port creates, one call per port, on
// an estate of 10,000 ports: sequentially, and from 4 concurrent writers
// (the REST API's clients).
func BenchmarkCreatePort(b *testing.B) {
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			db := benchDB(b)
			ctx := context.Background()
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						p := model.Port{Switch: fmt.Sprintf("sw%03d", i%benchSwitches), Name: fmt.Sprintf("new%d", i), IfaceID: fmt.Sprintf("new-%d-%d", w, i)}
						if _, err := db.CreatePort(ctx, p); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ports/s")
		})
	}
}

// BenchmarkSnapshotAfterWrite measures what one port create costs the next
// Snapshot at 10,000 ports: the reconciler takes one after every change.
func BenchmarkSnapshotAfterWrite(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	var build time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		p := model.Port{Switch: fmt.Sprintf("sw%03d", i%benchSwitches), Name: fmt.Sprintf("snap%d", i), IfaceID: fmt.Sprintf("snap-%d", i)}
		if _, err := db.CreatePort(ctx, p); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t := time.Now()
		if s := db.Snapshot(); len(s.Switches) != benchSwitches {
			b.Fatalf("%d switches", len(s.Switches))
		}
		build += time.Since(t)
	}
	b.ReportMetric(float64(build.Microseconds())/float64(b.N), "µs/snapshot")
}
