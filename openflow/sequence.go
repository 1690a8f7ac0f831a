package openflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	of "antrea.io/libOpenflow/openflow15"
)

// An OpenFlow 1.3 bridge has no bundles (OVS implements them from 1.4), so
// a pass reaches it as a sequence of flow_mods and group_mods that the
// switch applies one at a time, in order, closed by a barrier. Frames keep
// flowing meanwhile, so the order is chosen for the states in between:
// nothing may point at what does not exist yet, and nothing is removed
// while something still points at it.
//
//  1. group adds, then group modifies: a flow added later may output to
//     them; a modify replaces a group's buckets in one message;
//  2. flow adds, later tables first: a table is filled before the flows
//     that goto it start sending frames there. An add replaces the flow
//     with the same match and priority in one message, so a MAC that moves
//     is never unknown in between;
//  3. flow deletes, earlier tables first: frames stop entering a table
//     before the flows they would have hit go;
//  4. group deletes, once no flow outputs to them.
//
// Within that order a frame meets either the old or the new state of each
// table it crosses, never a flow pointing into a gap, so none is
// misdelivered; at worst one is dropped or flooded as unknown unicast
// while a switch is half built or half torn down, as on a cold start.
func (c Changes) sequenceOps() []op {
	ops := c.groupChanges(make([]op, 0, c.Len()))
	adds := make([]op, 0, len(c.AddFlows))
	for i := range c.AddFlows {
		adds = append(adds, op{kind: opAddFlow, flow: &c.AddFlows[i]})
	}
	slices.SortStableFunc(adds, func(a, b op) int { return cmp.Compare(b.flow.Table, a.flow.Table) })
	ops = append(ops, adds...)
	dels := make([]op, 0, len(c.DeleteFlows))
	for _, r := range c.DeleteFlows {
		dels = append(dels, op{kind: opDeleteFlow, ref: r})
	}
	slices.SortStableFunc(dels, func(a, b op) int { return cmp.Compare(a.ref.Table, b.ref.Table) })
	ops = append(ops, dels...)
	for _, id := range c.DeleteGroups {
		ops = append(ops, op{kind: opDeleteGroup, gid: id})
	}
	return ops
}

// SequenceError is returned by Commit on an OpenFlow 1.3 session when the
// switch rejected messages of the sequence. The others were applied: the
// bridge is in neither the old nor the new state, and the caller must dump
// it before diffing again. It unwraps to the first rejection.
type SequenceError struct {
	Messages int // messages in the sequence
	Errs     []*Error
}

func (e *SequenceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "openflow: sequence of %d messages partly applied: %s", e.Messages, e.Errs[0].describe())
	if len(e.Errs) > 1 {
		fmt.Fprintf(&b, " (and %d more errors)", len(e.Errs)-1)
	}
	return b.String()
}

func (e *SequenceError) Unwrap() error { return e.Errs[0] }

// commitSequence is Commit without bundles: every change in sequenceOps
// order, then a barrier, in one write. The switch answers in order, so once
// the barrier is answered every rejection has arrived.
func (s *Session) commitSequence(ctx context.Context, c Changes) error {
	ops := c.sequenceOps()
	sink := &bundleSink{ops: ops, xids: make(map[uint32]int, len(ops))}
	msgs := make([][]byte, 0, len(ops)+1)
	for i, o := range ops {
		xid := s.nextXid()
		m, err := s.encodeOp(o, xid)
		if err != nil {
			return fmt.Errorf("%w (%s)", err, o)
		}
		msgs = append(msgs, m)
		sink.xids[xid] = i
	}
	barrierXid := s.nextXid()
	msgs = append(msgs, s.header(of.Type_BarrierRequest, barrierXid, 8))
	barrier := &call{done: make(chan struct{})}
	if err := s.expectWithSink(sink, map[uint32]*call{barrierXid: barrier}); err != nil {
		return fmt.Errorf("openflow: sequence not sent: %w", err)
	}
	defer s.forgetSink(sink)
	if err := s.write(msgs...); err != nil {
		s.forget(barrierXid)
		return fmt.Errorf("openflow: sequence of %d messages: outcome unknown: %w", len(ops), err)
	}
	s.countSent(c)
	if err := s.wait(ctx, barrierXid, barrier); err != nil {
		var ofErr *Error
		if !errors.As(err, &ofErr) {
			return fmt.Errorf("openflow: sequence of %d messages: outcome unknown: %w", len(ops), err)
		}
		sink.add(barrierXid, ofErr)
	} else if barrier.reply[1] != of.Type_BarrierReply {
		return fmt.Errorf("openflow: sequence of %d messages: outcome unknown: barrier answered with %s", len(ops), msgTypeName(barrier.reply[1]))
	}
	if errs := sink.errors(); len(errs) > 0 {
		for _, ctr := range []*counters{&s.counters, &s.srv.counters} {
			ctr.bundleErrors.Add(1)
		}
		return &SequenceError{Messages: len(ops), Errs: errs}
	}
	return nil
}
