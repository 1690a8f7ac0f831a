package ovsdb

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/ovsdb/nb"
	"github.com/ovn-kubernetes/libovsdb/client"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
)

func TestCheckResults(t *testing.T) {
	ops := []libovsdb.Operation{{Op: "insert", Table: "A"}, {Op: "wait", Table: "B"}, {Op: "delete", Table: "C"}}
	ok := libovsdb.OperationResult{}
	for _, tc := range []struct {
		name    string
		results []libovsdb.OperationResult
		check   func(error) bool
		index   int
	}{
		{name: "success", results: []libovsdb.OperationResult{ok, ok, ok}, check: func(err error) bool { return err == nil }},
		{name: "op fails", results: []libovsdb.OperationResult{ok, {Error: "timed out", Details: `"where" clause test failed`}, {}},
			check: IsWaitFailed, index: 1},
		{name: "commit fails", results: []libovsdb.OperationResult{ok, ok, ok, {Error: "constraint violation", Details: "dup"}},
			check: IsConstraintViolation, index: -1},
		{name: "referential", results: []libovsdb.OperationResult{ok, ok, ok, {Error: "referential integrity violation"}},
			check: IsReferentialIntegrityViolation, index: -1},
		{name: "short", results: []libovsdb.OperationResult{ok},
			check: func(err error) bool { return err != nil && strings.Contains(err.Error(), "only 1 results") }},
		{name: "unknown error", results: []libovsdb.OperationResult{{Error: "syntax error", Details: "x"}},
			check: func(err error) bool { return err != nil && !IsWaitFailed(err) && !IsConstraintViolation(err) }},
	} {
		err := Check(tc.results, ops)
		if !tc.check(err) {
			t.Errorf("%s: unexpected %v", tc.name, err)
			continue
		}
		var te *TxnError
		if errors.As(err, &te) && te.Index != tc.index {
			t.Errorf("%s: Index = %d, want %d", tc.name, te.Index, tc.index)
		}
	}
	if IsNotFound(errors.New("x")) || IsWaitFailed(nil) || IsConstraintViolation(nil) {
		t.Error("Is… true for unrelated errors")
	}
	if !IsNotFound(fmt.Errorf("lookup: %w", client.ErrNotFound)) {
		t.Error("IsNotFound false for client.ErrNotFound")
	}
}

func TestTransactEmpty(t *testing.T) {
	// No operations: no round trip, so no client is needed at all.
	res, err := Transact(testCtx(t), nil)
	if res != nil || err != nil {
		t.Errorf("Transact() = %v, %v", res, err)
	}
}

func TestTransactErrors(t *testing.T) {
	requireOVS(t)
	srv := startServer(t, shortTempDir(t), nb.SchemaJSON)
	c := connectNB(t, srv.Target())
	waitReady(t, c)
	cl := c.Client()
	ctx := testCtx(t)
	createSwitch(t, c, "blue", 100)

	// Duplicate name: the REST layer's 409.
	ops, err := cl.Create(&nb.LogicalSwitch{Name: "blue", Vni: 101, Encap: nb.LogicalSwitchEncapVxlan})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Transact(ctx, cl, ops...)
	if !IsConstraintViolation(err) || IsWaitFailed(err) || IsNotFound(err) {
		t.Fatalf("duplicate name: %v", err)
	}
	var te *TxnError
	if !errors.As(err, &te) || te.Index != -1 || !strings.HasPrefix(err.Error(), "ovsdb: ") {
		t.Errorf("duplicate name: %#v", err)
	}

	// A wait whose rows changed: optimistic concurrency.
	timeout := 0
	wait := libovsdb.Operation{
		Op: libovsdb.OperationWait, Table: nb.LogicalSwitchTable, Timeout: &timeout,
		Where:   []libovsdb.Condition{libovsdb.NewCondition("name", libovsdb.ConditionEqual, "blue")},
		Columns: []string{"vni"}, Until: string(libovsdb.WaitConditionEqual),
		Rows: []libovsdb.Row{{"vni": 999}},
	}
	insert, err := cl.Create(&nb.LogicalSwitch{Name: "after-wait", Vni: 5, Encap: nb.LogicalSwitchEncapGre})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Transact(ctx, cl, append([]libovsdb.Operation{wait}, insert...)...)
	if !IsWaitFailed(err) || IsNotFound(err) || IsConstraintViolation(err) {
		t.Fatalf("failed wait: %v", err)
	}
	if !errors.As(err, &te) || te.Index != 0 {
		t.Errorf("failed wait: %#v", err)
	}
	// The wait holds with the right value, and then the insert commits.
	wait.Rows = []libovsdb.Row{{"vni": 100}}
	if _, err := Transact(ctx, cl, append([]libovsdb.Operation{wait}, insert...)...); err != nil {
		t.Fatalf("wait that holds: %v", err)
	}

	// Update of a row that is gone: ExistsOps makes it a not-found.
	var blue nb.LogicalSwitch
	blue.Name = "blue"
	if err := cl.Get(ctx, &blue); err != nil {
		t.Fatal(err)
	}
	gone := "6a0c4b2e-0000-4000-8000-000000000000"
	upd := libovsdb.Operation{
		Op: libovsdb.OperationUpdate, Table: nb.LogicalSwitchTable,
		Where: []libovsdb.Condition{libovsdb.NewCondition("_uuid", libovsdb.ConditionEqual, libovsdb.UUID{GoUUID: gone})},
		Row:   libovsdb.Row{"vni": 7},
	}
	_, err = Transact(ctx, cl, append(ExistsOps(nb.LogicalSwitchTable, gone), upd)...)
	if !IsNotFound(err) || IsWaitFailed(err) {
		t.Fatalf("missing row: %v", err)
	}
	upd.Where = []libovsdb.Condition{libovsdb.NewCondition("_uuid", libovsdb.ConditionEqual, libovsdb.UUID{GoUUID: blue.UUID})}
	if _, err := Transact(ctx, cl, append(ExistsOps(nb.LogicalSwitchTable, blue.UUID), upd)...); err != nil {
		t.Fatalf("existing row: %v", err)
	}

	// A reference to a missing row.
	ops, err = cl.Create(&nb.LogicalSwitch{Name: "dangling", Vni: 6, Encap: nb.LogicalSwitchEncapVxlan, Ports: []string{gone}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Transact(ctx, cl, ops...); !IsReferentialIntegrityViolation(err) {
		t.Fatalf("dangling reference: %v", err)
	}

	// Cache lookups.
	missing := nb.LogicalSwitch{Name: "nope"}
	if err := cl.Get(ctx, &missing); !IsNotFound(err) {
		t.Errorf("Get of a missing row: %v", err)
	}
}
