package ovsdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/ovn-kubernetes/libovsdb/client"
	libovsdb "github.com/ovn-kubernetes/libovsdb/ovsdb"
)

// TxnError is the error Check and Transact return when ovsdb-server refused
// a transaction. Nothing of a refused transaction is committed.
//
// Branch on it with IsConstraintViolation, IsReferentialIntegrityViolation,
// IsWaitFailed and IsNotFound, or with errors.As on the libovsdb error types
// (*ovsdb.ConstraintViolation, *ovsdb.TimedOut, ...) that it wraps.
type TxnError struct {
	// Index is the position of the failing operation in the transaction, or
	// -1 when every operation succeeded but the commit failed: duplicate
	// index values, maxRows and referential integrity are checked at commit.
	Index int
	// Op is the failing operation; nil when Index is -1.
	Op *libovsdb.Operation
	// Err is libovsdb's typed error for the failure.
	Err libovsdb.OperationError
}

func (e *TxnError) Error() string {
	if e.Op == nil {
		return "ovsdb: transaction not committed: " + e.Err.Error()
	}
	return fmt.Sprintf("ovsdb: transaction failed at operation %d (%s %s): %s", e.Index, e.Op.Op, e.Op.Table, e.Err)
}

func (e *TxnError) Unwrap() error { return e.Err }

// Check turns the results of a transaction into an error: nil when the
// transaction committed, a *TxnError when ovsdb-server refused it.
//
// ovsdb-server answers with one result per operation (null after the first
// failing one) and, when the operations succeeded but the commit did not,
// one extra result carrying the commit error (RFC 7047 section 4.1.3).
func Check(results []libovsdb.OperationResult, ops []libovsdb.Operation) error {
	for i := range min(len(results), len(ops)) {
		if results[i].Error == "" {
			continue
		}
		// CheckOperationResults maps the RFC 7047 error names onto
		// libovsdb's types; feed it the failing operation alone.
		errs, _ := libovsdb.CheckOperationResults(results[i:i+1], ops[i:i+1])
		if len(errs) == 0 {
			break // unreachable: the result carries an error
		}
		return &TxnError{Index: i, Op: &ops[i], Err: errs[0]}
	}
	if len(results) > len(ops) && results[len(ops)].Error != "" {
		_, err := libovsdb.CheckOperationResults(results[len(ops):len(ops)+1], nil)
		var opErr libovsdb.OperationError
		if errors.As(err, &opErr) {
			return &TxnError{Index: -1, Err: opErr}
		}
		return fmt.Errorf("ovsdb: transaction not committed: %s", results[len(ops)].Error)
	}
	if len(results) < len(ops) {
		return fmt.Errorf("ovsdb: %d operations sent but only %d results received", len(ops), len(results))
	}
	return nil
}

// Transact runs ops as one transaction and checks the results (see Check).
// An empty transaction is not sent at all, so that a pass with nothing to do
// costs no round trip. Errors from the client itself (not connected, ctx
// expired while waiting for a reconnect) are wrapped, not TxnErrors.
//
// Only the loops that commit (reconciler, northbound store) call this;
// functions that build operations return them.
func Transact(ctx context.Context, c client.Client, ops ...libovsdb.Operation) ([]libovsdb.OperationResult, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	results, err := c.Transact(ctx, ops...)
	if err != nil {
		return nil, fmt.Errorf("ovsdb: transact: %w", err)
	}
	if err := Check(results, ops); err != nil {
		return results, err
	}
	return results, nil
}

// ExistsOps returns a wait operation that fails the transaction unless the
// row with this UUID exists in table. Prepend it to operations that must not
// silently match nothing (an update of a row someone just deleted); its
// failure makes IsNotFound true.
func ExistsOps(table, uuid string) []libovsdb.Operation {
	var timeout = 0
	return []libovsdb.Operation{{
		Op:      libovsdb.OperationWait,
		Table:   table,
		Timeout: &timeout,
		Where:   []libovsdb.Condition{libovsdb.NewCondition("_uuid", libovsdb.ConditionEqual, libovsdb.UUID{GoUUID: uuid})},
		Columns: []string{"_uuid"},
		Until:   string(libovsdb.WaitConditionEqual),
		Rows:    []libovsdb.Row{{"_uuid": libovsdb.UUID{GoUUID: uuid}}},
	}}
}

// isExistsWait recognises the operation built by ExistsOps.
func isExistsWait(op *libovsdb.Operation) bool {
	if op == nil || op.Op != libovsdb.OperationWait || op.Until != string(libovsdb.WaitConditionEqual) ||
		len(op.Columns) != 1 || op.Columns[0] != "_uuid" || len(op.Rows) != 1 || len(op.Rows[0]) != 1 {
		return false
	}
	_, ok := op.Rows[0]["_uuid"]
	return ok
}

// IsConstraintViolation reports whether the transaction broke a schema
// constraint. At commit (TxnError.Index -1) that is a duplicate value in an
// index, such as a second Logical_Switch with the same name, or too many
// rows; in an operation it is a value outside the column's type (an enum,
// a range).
func IsConstraintViolation(err error) bool {
	var e *libovsdb.ConstraintViolation
	return errors.As(err, &e)
}

// IsReferentialIntegrityViolation reports whether the transaction would have
// left a reference to a missing row, or deleted a row still referenced.
func IsReferentialIntegrityViolation(err error) bool {
	var e *libovsdb.ReferentialIntegrityViolation
	return errors.As(err, &e)
}

// IsWaitFailed reports whether a wait operation's condition did not hold:
// the rows changed since they were read. Re-read and retry (optimistic
// concurrency). A failed ExistsOps is reported by IsNotFound instead.
func IsWaitFailed(err error) bool {
	var te *TxnError
	var to *libovsdb.TimedOut
	return errors.As(err, &te) && te.Op != nil && te.Op.Op == libovsdb.OperationWait &&
		errors.As(err, &to) && !isExistsWait(te.Op)
}

// IsNotFound reports whether a row that had to exist did not: an ExistsOps
// precondition failed, or a libovsdb cache lookup (client.Get) found nothing.
func IsNotFound(err error) bool {
	if errors.Is(err, client.ErrNotFound) {
		return true
	}
	var te *TxnError
	var to *libovsdb.TimedOut
	return errors.As(err, &te) && errors.As(err, &to) && isExistsWait(te.Op)
}

// IsConnectionLost reports whether err says the connection to the server
// went away under a call (as opposed to the server refusing it): the call
// may or may not have taken effect. libovsdb passes such errors through
// from its JSON-RPC layer unwrapped, hence the message check for that
// layer's ErrShutdown.
func IsConnectionLost(err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, client.ErrNotConnected), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return strings.Contains(err.Error(), "connection is shut down")
}
