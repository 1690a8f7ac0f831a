package ovsdb

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// rawWriteTimeout bounds one of ferry's own writes to a host that dialed
// in, so a host that stopped reading cannot block its session forever.
const rawWriteTimeout = 10 * time.Second

// RawConn is a host's inbound connection before it is relayed: a minimal
// JSON-RPC client for PassiveConfig.Identify. Echo requests from the host
// are answered meanwhile.
type RawConn struct {
	s *session
}

// RemoteAddr is the host's address as ferry sees it (after NAT).
func (c *RawConn) RemoteAddr() net.Addr { return c.s.conn.RemoteAddr() }

// TLS returns the state of a pssl: connection (the host's certificate
// chain is in PeerCertificates), nil for ptcp: and punix:.
func (c *RawConn) TLS() *tls.ConnectionState {
	if tc, ok := c.s.conn.(*tls.Conn); ok {
		st := tc.ConnectionState()
		return &st
	}
	return nil
}

// RPCError is a JSON-RPC error answer from the host.
type RPCError struct {
	Method string
	Err    json.RawMessage // the "error" member as sent
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("ovsdb: %s: host answered error %s", e.Method, e.Err)
}

type rawReply struct {
	result json.RawMessage
	err    json.RawMessage
}

// decode returns the answer's error as an *RPCError, or decodes its
// result into result (if not nil).
func (r rawReply) decode(method string, result any) error {
	if len(r.err) > 0 && !bytes.Equal(r.err, []byte("null")) {
		return &RPCError{Method: method, Err: r.err}
	}
	if result != nil {
		if err := json.Unmarshal(r.result, result); err != nil {
			return fmt.Errorf("ovsdb: %s: bad result: %w", method, err)
		}
	}
	return nil
}

// Call sends a JSON-RPC request and decodes its result into result (if not
// nil). It returns an *RPCError when the host answers with an error. If ctx
// ends first, the answer is still awaited in the background: the relay
// does not start until it has arrived (a local client must not receive it).
func (c *RawConn) Call(ctx context.Context, method string, params []any, result any) error {
	s := c.s
	if params == nil {
		params = []any{}
	}
	ch := make(chan rawReply, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("ovsdb: %s: connection closed", method)
	}
	s.nextID++
	// Strings, never numbers: nothing a client could mistake for its own.
	id := "ferry-" + strconv.FormatUint(s.nextID, 10)
	s.calls[id] = ch
	s.mu.Unlock()
	if err := s.write(map[string]any{"method": method, "params": params, "id": id}); err != nil {
		s.shutdown("cannot write to host", err)
		return fmt.Errorf("ovsdb: %s: %w", method, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return fmt.Errorf("ovsdb: %s: connection closed before the answer", method)
		}
		return r.decode(method, result)
	case <-ctx.Done():
		return fmt.Errorf("ovsdb: %s: %w", method, ctx.Err())
	}
}

// write sends one message of ferry's own (never after the switch).
func (s *session) write(msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.conn.SetWriteDeadline(time.Now().Add(rawWriteTimeout))
	_, err = s.conn.Write(b)
	_ = s.conn.SetWriteDeadline(time.Time{})
	return err
}

// probe sends an echo request whose answer nobody waits for: any traffic
// proves the host alive, and the pending call holds the switch until the
// answer has been consumed.
func (s *session) probe() error {
	s.mu.Lock()
	s.nextID++
	id := "ferry-" + strconv.FormatUint(s.nextID, 10)
	s.calls[id] = make(chan rawReply, 1)
	s.mu.Unlock()
	return s.write(map[string]any{"method": "echo", "params": []any{}, "id": id})
}

// handleMessage handles a message from the host before the switch: it
// answers echo requests and delivers answers to ferry's calls.
func (s *session) handleMessage(msg []byte) error {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method *string         `json:"method"`
		Params json.RawMessage `json:"params"`
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		return fmt.Errorf("ovsdb: bad JSON-RPC message from host: %w", err)
	}
	hasID := len(m.ID) > 0 && !bytes.Equal(m.ID, []byte("null"))
	switch {
	case m.Method != nil && hasID:
		reply := map[string]any{"id": m.ID, "result": nil, "error": nil}
		if *m.Method == "echo" {
			params := m.Params
			if len(params) == 0 {
				params = json.RawMessage("[]")
			}
			reply["result"] = params
		} else {
			reply["error"] = "unknown method"
		}
		return s.write(reply)
	case m.Method != nil:
		return nil // a notification: nothing is monitored yet
	case hasID:
		var id string
		if json.Unmarshal(m.ID, &id) != nil {
			return nil // not an answer to ferry
		}
		s.mu.Lock()
		ch, ok := s.calls[id]
		delete(s.calls, id)
		s.mu.Unlock()
		if ok {
			ch <- rawReply{result: m.Result, err: m.Error} // buffered, used once
		}
	}
	return nil
}

// splitterKeep is the most buffer a splitter keeps between messages.
const splitterKeep = 1 << 20

// splitter cuts a byte stream into JSON-RPC messages (JSON objects,
// optionally separated by whitespace) without decoding them, so that the
// stream can be handed over between two messages with nothing lost.
type splitter struct {
	buf   []byte
	depth int
	str   bool // inside a string
	esc   bool // after a backslash inside a string
	max   int  // longest message; 0 means maxUnattachedMessage
}

// feed consumes data up to the end of the first message that completes in
// it. It returns that message (valid until the next call; nil if none
// completed) and the unconsumed rest of data.
func (sp *splitter) feed(data []byte) (msg, rest []byte, err error) {
	if sp.depth == 0 {
		if cap(sp.buf) > splitterKeep {
			// Do not hold on to the largest message ever seen (an
			// initial monitor reply) for the connection's lifetime.
			sp.buf = nil
		} else {
			sp.buf = sp.buf[:0]
		}
	}
	for i, b := range data {
		if sp.depth == 0 {
			switch b {
			case ' ', '\t', '\r', '\n':
				continue
			case '{':
			default:
				return nil, nil, fmt.Errorf("ovsdb: host sent %q where a JSON-RPC message should start", b)
			}
		}
		sp.buf = append(sp.buf, b)
		switch {
		case sp.str && sp.esc:
			sp.esc = false
		case sp.str && b == '\\':
			sp.esc = true
		case sp.str && b == '"':
			sp.str = false
		case sp.str:
		case b == '"':
			sp.str = true
		case b == '{' || b == '[':
			sp.depth++
		case b == '}' || b == ']':
			sp.depth--
			if sp.depth == 0 {
				return sp.buf, data[i+1:], nil
			}
		}
		if limit := cmp.Or(sp.max, maxUnattachedMessage); len(sp.buf) > limit {
			return nil, nil, fmt.Errorf("ovsdb: message from host longer than %d bytes", limit)
		}
	}
	return nil, nil, nil
}

// boundary reports whether the stream is between two messages.
func (sp *splitter) boundary() bool { return sp.depth == 0 }

// selectRows runs one select on the host's database.
func selectRows(ctx context.Context, c *RawConn, db, table string, columns []string) ([]map[string]json.RawMessage, error) {
	op := map[string]any{"op": "select", "table": table, "where": []any{}, "columns": columns}
	var results []struct {
		Rows    []map[string]json.RawMessage `json:"rows"`
		Error   string                       `json:"error"`
		Details string                       `json:"details"`
	}
	if err := c.Call(ctx, "transact", []any{db, op}, &results); err != nil {
		return nil, err
	}
	if len(results) == 0 {
		return nil, fmt.Errorf("ovsdb: select %s.%s: no result", db, table)
	}
	if r := results[0]; r.Error != "" {
		return nil, fmt.Errorf("ovsdb: select %s.%s: %s: %s", db, table, r.Error, r.Details)
	}
	return results[0].Rows, nil
}

// IdentifyBySystemID names a hypervisor by the external_ids:system-id of
// its Open_vSwitch record (the chassis name OVN uses too; the host UUID on
// XenServer). Register such hosts under that name.
func IdentifyBySystemID(ctx context.Context, c *RawConn) (string, error) {
	rows, err := selectRows(ctx, c, "Open_vSwitch", "Open_vSwitch", []string{"external_ids"})
	if err != nil {
		return "", err
	}
	if len(rows) != 1 {
		return "", fmt.Errorf("ovsdb: host has %d Open_vSwitch records, want 1", len(rows))
	}
	var ids libovsdb.OvsMap
	if err := json.Unmarshal(rows[0]["external_ids"], &ids); err != nil {
		return "", fmt.Errorf("ovsdb: host's external_ids: %w", err)
	}
	id, _ := ids.GoMap["system-id"].(string)
	if id == "" {
		return "", errors.New("ovsdb: host has no external_ids:system-id (set it with ovs-vsctl set Open_vSwitch . external_ids:system-id=NAME)")
	}
	return id, nil
}

// IdentifyByPhysicalSwitch names a hardware VTEP by its one Physical_Switch
// in the hardware_vtep database. A VTEP with several physical switches, or
// none, cannot be told apart by name and is refused.
func IdentifyByPhysicalSwitch(ctx context.Context, c *RawConn) (string, error) {
	rows, err := selectRows(ctx, c, "hardware_vtep", "Physical_Switch", []string{"name"})
	if err != nil {
		return "", err
	}
	if len(rows) != 1 {
		return "", fmt.Errorf("ovsdb: VTEP has %d Physical_Switch records, want 1", len(rows))
	}
	var name string
	if err := json.Unmarshal(rows[0]["name"], &name); err != nil || name == "" {
		return "", fmt.Errorf("ovsdb: VTEP's Physical_Switch has no name")
	}
	return name, nil
}
