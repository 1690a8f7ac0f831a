package ovsdb

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// poisoner relays between a client and a real ovsdb-server, and can slip
// a message of its own into what the server sends, between two of the
// server's messages: a hostile or broken device.
type poisoner struct {
	t      *testing.T
	ln     net.Listener
	server Target
	mu     sync.Mutex
	next   []string // messages to inject, one per connection
	conns  int
}

func startPoisoner(t *testing.T, dir string, server Target) *poisoner {
	ln, err := net.Listen("unix", filepath.Join(dir, "poison.sock"))
	if err != nil {
		t.Fatal(err)
	}
	p := &poisoner{t: t, ln: ln, server: server}
	t.Cleanup(func() { ln.Close() })
	go p.serve()
	return p
}

func (p *poisoner) target() Target { return Target{Scheme: Unix, Path: p.ln.Addr().String()} }

func (p *poisoner) inject(msgs ...string) {
	p.mu.Lock()
	p.next = append(p.next, msgs...)
	p.mu.Unlock()
}

func (p *poisoner) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("unix", p.server.Path)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns++
		p.mu.Unlock()
		go func() {
			defer c.Close()
			defer up.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, err := up.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
		go func() {
			defer c.Close()
			defer up.Close()
			sent := 0
			_ = readMessages(up, DefaultMaxMessage, func(msg []byte) error {
				if _, err := c.Write(msg); err != nil {
					return err
				}
				// After the monitor reply (the server's third message:
				// list_dbs, get_schema, monitor), once.
				if sent++; sent != 3 {
					return nil
				}
				p.mu.Lock()
				var poison string
				if len(p.next) > 0 {
					poison, p.next = p.next[0], p.next[1:]
				}
				p.mu.Unlock()
				_, err := c.Write([]byte(poison))
				return err
			}, nil)
		}()
	}
}

// Messages that panic libovsdb or the JSON-RPC package under it when they
// reach them unguarded (each found by fuzzing or by reading their
// decoders): ferryd would crash. Guarded, each closes the connection, is
// counted, and the Conn reconnects and goes on.
var poisonMessages = []string{
	`{}`,
	`{"id":null,"method":"update2","params":[]}`,
	`{"id":null,"method":"update3","params":["ferry",{}]}`,
	`{"id":null,"method":"update2","params":[null,{"Logical_Switch":{"u":{"modify":{"name":[]}}}}]}`,
	`{"id":null,"method":"update","params":[null,{"Logical_Switch":{"u":{"new":{"name":["set",1]}}}}]}`,
	`{"id":null,"method":"update2","params":[null,{"Logical_Switch":{"u":{"insert":{"ports":["map",[1]]}}}}]}`,
	// The JSON-RPC layer reads a reply's id through a pointer null or
	// absence leaves nil; an empty method makes a reply (review finding).
	`{"id":null}`,
	`{"method":""}`,
	`{"id":null,"result":1}`,
	// A reply to an id not (yet) asked for: it could land on a call
	// libovsdb has registered before the guard saw its request.
	`{"id":999999,"result":[{"rows":[{"name":["set",1]}]}],"error":null}`,
}

func TestGuardSurvivesPoison(t *testing.T) {
	requireOVS(t)
	skipIfRace(t)
	dir := shortTempDir(t)
	srv := startServer(t, dir, nb.SchemaJSON)
	p := startPoisoner(t, dir, srv.Target())
	m, _ := nb.FullDatabaseModel()
	c, err := NewConn(ConnConfig{
		Targets: []Target{p.target()}, Model: m, Logger: testLogger(t), Guard: true,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	waitReady(t, c)
	if got := c.Endpoint(); got != p.target().String() {
		t.Errorf("Endpoint = %q, want the target it stands for, %q", got, p.target())
	}
	for i, poison := range poisonMessages {
		p.inject(poison)
		// Reconnect: the poisoner injects on the new connection.
		before := c.Rejected()
		c.Client().Disconnect()
		eventually(t, 10*time.Second, "the poisoned connection refused", func() bool { return c.Rejected() == before+1 })
		if err, _ := c.LastRefusal(); err == nil || !strings.HasPrefix(err.Error(), "ovsdb: ") {
			t.Errorf("poison %d: LastRefusal = %v", i, err)
		} else {
			t.Logf("poison %d refused: %v", i, err)
		}
		eventually(t, 10*time.Second, "reconnect after the poison", c.Connected)
	}
	// Still a working client: a transaction goes through and the cache
	// follows.
	createSwitch(t, c, "after", 9)
	eventually(t, 5*time.Second, "the new switch in the cache", func() bool {
		return slices.Contains(switchNames(t, c), "after")
	})
}

// FuzzCheckMessage: whatever a device sends, checkMessage is total, and a
// message it lets through decodes without a panic as libovsdb decodes it.
//
// Run with: go test ./ovsdb/ -run '^$' -fuzz '^FuzzCheckMessage$' -fuzztime 1m
func FuzzCheckMessage(f *testing.F) {
	for _, m := range poisonMessages {
		f.Add([]byte(m), "")
	}
	for _, s := range []struct{ msg, method string }{
		{`{"id":1,"result":["Open_vSwitch","_Server"],"error":null}`, "list_dbs"},
		{`{"id":1,"result":[{"rows":[{"name":"br-int","ports":["set",[["uuid","0f249c80-f4d8-4727-8c92-8daf3e4a5890"]]]}]},{"uuid":["uuid","0f249c80-f4d8-4727-8c92-8daf3e4a5890"]},{"count":1}],"error":null}`, "transact"},
		{`{"id":1,"result":[{"error":"constraint violation","details":"x"}],"error":null}`, "transact"},
		{`{"id":2,"result":[true,"7d1e",{"Bridge":{"u":{"modify":{"external_ids":["map",[["a","b"]]]}}}}],"error":null}`, "monitor_cond_since"},
		{`{"id":3,"result":{"Bridge":{"u":{"new":{"name":"x"},"old":{"name":"y"}}}},"error":null}`, "monitor"},
		{`{"id":4,"result":{"name":"Open_vSwitch","version":"8.3.1","tables":{"Bridge":{"columns":{"name":{"type":"string"}}}}},"error":null}`, "get_schema"},
		{`{"id":"echo","method":"echo","params":[]}`, ""},
		{`{"id":null,"method":"update3","params":[["ferry"],"7d1e",{"Bridge":{"u":{"delete":null}}}]}`, ""},
		{`{"id":5,"result":null,"error":{"error":"unknown database"}}`, "get_schema"},
	} {
		f.Add([]byte(s.msg), s.method)
	}
	f.Fuzz(func(t *testing.T, msg []byte, method string) {
		if err := checkMessage(msg, func(uint64) string { return method }); err != nil {
			if !strings.HasPrefix(err.Error(), "ovsdb: ") {
				t.Fatalf("error %q", err)
			}
			return
		}
		// What passes must decode as libovsdb decodes it: checkMessage's
		// decoding is libovsdb's, so running it again must not panic.
		_ = checkMessage(msg, func(uint64) string { return method })
		// And the JSON-RPC layer's own reading must hold: a message
		// without a method is a reply with a non-null id.
		var env struct {
			Method string           `json:"method"`
			ID     *json.RawMessage `json:"id"`
		}
		if json.Unmarshal(msg, &env) == nil && env.Method == "" && env.ID == nil {
			t.Fatalf("passed a reply without an id: %s", msg)
		}
	})
}

// FuzzSplitter: however a stream is cut into reads, the splitter finds
// the same messages (or the same first error), and each is within bounds.
//
// Run with: go test ./ovsdb/ -run '^$' -fuzz '^FuzzSplitter$' -fuzztime 1m
func FuzzSplitter(f *testing.F) {
	for _, m := range poisonMessages {
		f.Add([]byte(m+"\n"+m), uint8(3))
	}
	f.Add([]byte(`{"a":"}\"{"} [1] {"b":[{}]}`), uint8(1))
	f.Add([]byte(`{"id":1,"result":"\\\\"}{"id":2}`), uint8(5))
	split := func(data []byte, chunk int) (msgs []string, err error) {
		sp := splitter{max: 256}
		for len(data) > 0 {
			n := min(chunk, len(data))
			part := data[:n]
			data = data[n:]
			for len(part) > 0 {
				m, rest, err := sp.feed(part)
				if err != nil {
					return msgs, err
				}
				if m != nil {
					if len(m) > 256 {
						return msgs, fmt.Errorf("message of %d bytes passed a 256-byte limit", len(m))
					}
					msgs = append(msgs, string(m))
				}
				part = rest
			}
		}
		return msgs, nil
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		whole, werr := split(data, len(data)+1)
		cut, cerr := split(data, int(chunk)+1)
		if !slices.Equal(whole, cut) || (werr == nil) != (cerr == nil) {
			t.Fatalf("whole: %q, %v\ncut by %d: %q, %v", whole, werr, int(chunk)+1, cut, cerr)
		}
	})
}

// Guard directories of processes that are gone (ferryd killed with
// SIGKILL) are removed by the next process; those of live ones stay.
func TestSweepGuardDirs(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(tmp, guardDirPrefix+strconv.Itoa(cmd.Process.Pid)+"-1")
	live := filepath.Join(tmp, guardDirPrefix+strconv.Itoa(os.Getpid())+"-2")
	other := filepath.Join(tmp, guardDirPrefix+"x")
	// What an older ferryd named its directories (a random number where
	// the pid now is): never taken for a pid.
	older := filepath.Join(tmp, "ferry-ovsdb-2421199073")
	for _, d := range []string{dead, live, other, older} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	sweepGuardDirs()
	for d, want := range map[string]bool{dead: false, live: true, other: true, older: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
}
