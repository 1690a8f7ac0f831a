package ovstest

import (
	"encoding/json"
	"net"
	"testing"
	"time"
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
