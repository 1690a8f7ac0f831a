package ovstest

import (
	"encoding/json"
	"net"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// CaptureMonitor sends one monitor_cond request for the given tables and
// columns (nil columns: all) to the instance's ovsdb-server over a raw
// socket and returns the "result" member of its answer exactly as the
// server sent it: the initial table-updates2 a libovsdb client receives.
// Fuzz targets use such captures as seeds.
func (i *Instance) CaptureMonitor(t testing.TB, db string, tables map[string][]string) json.RawMessage {
	t.Helper()
	c, err := net.DialTimeout("unix", i.DBSock, 5*time.Second)
	if err != nil {
		t.Fatalf("ovstest: capture: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	reqs := map[string][]map[string]any{}
	for table, cols := range tables {
		r := map[string]any{}
		if cols != nil {
			r["columns"] = cols
		}
		reqs[table] = []map[string]any{r}
	}
	msg := map[string]any{"method": "monitor_cond", "params": []any{db, "capture", reqs}, "id": "capture"}
	if err := json.NewEncoder(c).Encode(msg); err != nil {
		t.Fatalf("ovstest: capture: %v", err)
	}
	dec := json.NewDecoder(c)
	for {
		var reply struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		if err := dec.Decode(&reply); err != nil {
			t.Fatalf("ovstest: capture: %v", err)
		}
		if string(reply.ID) != `"capture"` {
			continue // an echo request or a notification
		}
		if len(reply.Error) > 0 && string(reply.Error) != "null" {
			t.Fatalf("ovstest: capture: monitor_cond: %s", reply.Error)
		}
		return reply.Result
	}
}

// Cache returns an empty libovsdb cache for a model and schema, as a
// client holds it: fuzz targets feed it updates and read it as ferry does.
func Cache(tb testing.TB, clientModel model.ClientDBModel, schema ovsdb.DatabaseSchema) *cache.TableCache {
	tb.Helper()
	dbModel, errs := model.NewDatabaseModel(schema, clientModel)
	if len(errs) > 0 {
		tb.Fatal(errs)
	}
	discard := logr.Discard()
	tc, err := cache.NewTableCache(dbModel, nil, &discard)
	if err != nil {
		tb.Fatal(err)
	}
	return tc
}

// Decodes reports whether data decodes into v without an error or a panic:
// what ferry's OVSDB guard (ovsdb/guard.go) lets reach libovsdb.
func Decodes(data []byte, v any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return json.Unmarshal(data, v) == nil
}

// MonitorFuzz is the scaffolding of a fuzz target that feeds a device's
// monitor updates into libovsdb's cache on top of a capture (see
// CaptureMonitor).
type MonitorFuzz struct {
	model  model.ClientDBModel
	schema ovsdb.DatabaseSchema
	base   ovsdb.TableUpdates2
	// Rows maps each captured table to its row UUIDs, for seeds.
	Rows map[string][]string
}

// NewMonitorFuzz reads the capture at path and seeds f with it and with
// the deletion of each of its rows.
func NewMonitorFuzz(f *testing.F, path string, clientModel model.ClientDBModel, schema ovsdb.DatabaseSchema) *MonitorFuzz {
	f.Helper()
	initial, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	m := &MonitorFuzz{model: clientModel, schema: schema, Rows: map[string][]string{}}
	if err := json.Unmarshal(initial, &m.base); err != nil {
		f.Fatalf("%s: %v", path, err)
	}
	f.Add(initial)
	for table, rows := range m.base {
		for uuid := range rows {
			m.Rows[table] = append(m.Rows[table], uuid)
			f.Add([]byte(`{"` + table + `":{"` + uuid + `":{"delete":null}}}`))
		}
	}
	return m
}

// Apply returns a cache holding the capture with the update data applied,
// or nil when data is not an update libovsdb can decode (ferry's OVSDB
// guard, ovsdb/guard.go, never lets such a message reach libovsdb). An
// update the cache refuses is ignored, as libovsdb ignores it.
func (m *MonitorFuzz) Apply(t *testing.T, data []byte) *cache.TableCache {
	var upd ovsdb.TableUpdates2
	if !Decodes(data, &upd) {
		return nil
	}
	tc := Cache(t, m.model, m.schema)
	if err := tc.Populate2(m.base); err != nil {
		t.Fatal(err)
	}
	_ = tc.Update2(nil, upd)
	return tc
}
