package openflow

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	of "antrea.io/libOpenflow/openflow15"
	"antrea.io/libOpenflow/util"
)

// Changes is what one reconcile pass changes on one bridge. Commit applies
// it as a single atomic bundle, in this order: group adds, group modifies,
// flow deletes, flow adds, group deletes — so a flow never references a
// group that does not exist yet, and a group is deleted only after the flows
// using it (OVS deletes flows that still output to a deleted group).
type Changes struct {
	AddGroups    []GroupEntry
	ModifyGroups []GroupEntry // replaces the buckets of existing groups
	// DeleteFlows are deleted by identity: table plus exact cookie
	// (Flow.Cookie), without match fields — which is all a dump yields.
	DeleteFlows []FlowRef
	// AddFlows are OFPFC_ADDs with cookie Flow.Cookie(); an add replaces a
	// flow with the same match and priority.
	AddFlows     []Flow
	DeleteGroups []uint32
}

// Len is the number of flow_mods and group_mods c amounts to.
func (c Changes) Len() int {
	return len(c.AddGroups) + len(c.ModifyGroups) + len(c.DeleteFlows) + len(c.AddFlows) + len(c.DeleteGroups)
}

// Empty reports whether c changes nothing.
func (c Changes) Empty() bool { return c.Len() == 0 }

type opKind uint8

const (
	opAddGroup opKind = iota
	opModifyGroup
	opDeleteFlow
	opAddFlow
	opDeleteGroup
)

// op is one message of a bundle, kept unencoded-readable so that an error
// can name what failed.
type op struct {
	kind  opKind
	flow  *Flow
	ref   FlowRef
	group *GroupEntry
	gid   uint32
}

func (o op) String() string {
	switch o.kind {
	case opAddGroup:
		return "group_mod add " + o.group.String()
	case opModifyGroup:
		return "group_mod modify " + o.group.String()
	case opDeleteFlow:
		return fmt.Sprintf("flow_mod delete table=%d,cookie=%#x/-1", o.ref.Table, o.ref.Cookie)
	case opAddFlow:
		return fmt.Sprintf("flow_mod add cookie=%#x, %s", o.flow.Cookie(), o.flow.String())
	default:
		return fmt.Sprintf("group_mod delete group_id=%d", o.gid)
	}
}

func (o op) message() (util.Message, error) {
	switch o.kind {
	case opAddGroup:
		return groupMod(*o.group, of.OFPGC_ADD)
	case opModifyGroup:
		return groupMod(*o.group, of.OFPGC_MODIFY)
	case opDeleteFlow:
		return flowDelete(o.ref), nil
	case opAddFlow:
		return flowMod(*o.flow)
	default:
		return groupDelete(o.gid), nil
	}
}

// encodeOp encodes one change in the session's version with the given xid.
func (s *Session) encodeOp(o op, xid uint32) ([]byte, error) {
	switch o.kind {
	case opAddGroup, opModifyGroup:
		return s.groupModFor(*o.group, o.kind == opModifyGroup, xid)
	case opDeleteGroup:
		if s.wire() == Version13 {
			return groupDelete13(o.gid, xid), nil
		}
		return marshal(groupDelete(o.gid), xid)
	}
	m, err := o.message()
	if err != nil {
		return nil, err
	}
	return s.marshal(m, xid)
}

// ops lists c in bundle order.
func (c Changes) ops() []op {
	ops := c.groupChanges(make([]op, 0, c.Len()))
	for _, r := range c.DeleteFlows {
		ops = append(ops, op{kind: opDeleteFlow, ref: r})
	}
	for i := range c.AddFlows {
		ops = append(ops, op{kind: opAddFlow, flow: &c.AddFlows[i]})
	}
	for _, id := range c.DeleteGroups {
		ops = append(ops, op{kind: opDeleteGroup, gid: id})
	}
	return ops
}

// groupChanges appends c's group adds, then its group modifies: what both
// orders start with.
func (c Changes) groupChanges(ops []op) []op {
	for i := range c.AddGroups {
		ops = append(ops, op{kind: opAddGroup, group: &c.AddGroups[i]})
	}
	for i := range c.ModifyGroups {
		ops = append(ops, op{kind: opModifyGroup, group: &c.ModifyGroups[i]})
	}
	return ops
}

// bundleSink collects the errors the switch reports for messages added to a
// bundle: at add time with the add's xid, at commit time with the embedded
// message's xid — the same number, since we give both the same xid.
type bundleSink struct {
	ops  []op
	xids map[uint32]int // xid → index in ops; read-only once registered

	mu   sync.Mutex
	errs []*Error
}

func (b *bundleSink) add(xid uint32, e *Error) {
	if i, ok := b.xids[xid]; ok {
		e.Op = b.ops[i].String()
	}
	b.mu.Lock()
	b.errs = append(b.errs, e)
	b.mu.Unlock()
}

func (b *bundleSink) errors() []*Error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*Error(nil), b.errs...)
}

const bundleFlags = of.BF_ATOMIC | of.BF_ORDERED

// encodeBundle encodes c as the messages of bundle id: open, one add per
// change, close. It allocates xids but sends nothing, so an encoding error
// leaves the switch untouched.
func (s *Session) encodeBundle(id uint32, c Changes) (msgs [][]byte, openXid, closeXid uint32, sink *bundleSink, err error) {
	ops := c.ops()
	sink = &bundleSink{ops: ops, xids: make(map[uint32]int, len(ops))}
	msgs = make([][]byte, 0, len(ops)+2)
	openXid = s.nextXid()
	open, err := marshal(of.NewBundleCtrl(id, of.BCT_OPEN_REQUEST, bundleFlags), openXid)
	if err != nil {
		return nil, 0, 0, nil, err
	}
	msgs = append(msgs, open)
	for i, o := range ops {
		xid := s.nextXid()
		inner, err := s.encodeOp(o, xid)
		if err != nil {
			return nil, 0, 0, nil, fmt.Errorf("%w (%s)", err, o)
		}
		add, err := bundleAdd(id, bundleFlags, inner)
		if err != nil {
			return nil, 0, 0, nil, fmt.Errorf("%w (%s)", err, o)
		}
		msgs = append(msgs, add)
		sink.xids[xid] = i
	}
	closeXid = s.nextXid()
	cl, err := marshal(of.NewBundleCtrl(id, of.BCT_CLOSE_REQUEST, bundleFlags), closeXid)
	if err != nil {
		return nil, 0, 0, nil, err
	}
	msgs = append(msgs, cl)
	return msgs, openXid, closeXid, sink, nil
}

// Commit applies c as one OpenFlow bundle (atomic, ordered) and returns once
// the switch has committed it. An empty c sends nothing.
//
// The bundle is opened, filled and closed in one write; only when the close
// reply shows that the switch accepted every message is it committed. (OVS
// validates most of a message when it is added and, should that fail, would
// otherwise commit the bundle without it.) If the switch rejects anything,
// the bundle is discarded, nothing is applied, and a *BundleError is
// returned; it unwraps to the *Error naming the failing message when the
// switch says which.
//
// If ctx ends or the connection drops after the commit was sent, the outcome
// is unknown and the error says so; dump the tables to find out.
func (s *Session) Commit(ctx context.Context, c Changes) error {
	if c.Empty() {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("openflow: bundle not sent: %w", err)
	}
	if s.wire() == Version13 {
		return s.commitSequence(ctx, c)
	}
	n := c.Len()
	id := s.bundleID.Add(1)
	msgs, openXid, closeXid, sink, err := s.encodeBundle(id, c)
	if err != nil {
		return err
	}
	openCall := &call{done: make(chan struct{})}
	closeCall := &call{done: make(chan struct{})}
	if err := s.expectBundle(openXid, openCall, closeXid, closeCall, sink); err != nil {
		return fmt.Errorf("openflow: bundle not sent: %w", err)
	}
	defer s.forgetSink(sink)
	if err := s.write(msgs...); err != nil {
		s.forget(openXid, closeXid)
		return fmt.Errorf("openflow: bundle not applied: %w", err)
	}
	s.countSent(c)

	if err := s.wait(ctx, openXid, openCall); err != nil {
		var ofErr *Error
		if errors.As(err, &ofErr) {
			// The switch answers in order: once the close is answered,
			// every add has been, and their errors (a slave gets one
			// per message) are the bundle's, not unsolicited ones.
			_ = s.wait(ctx, closeXid, closeCall)
		}
		s.forget(closeXid)
		return s.bundleFailed(id, n, "open", err, sink)
	}
	if err := checkBundleReply(openCall.reply, of.BCT_OPEN_REPLY); err != nil {
		s.forget(closeXid)
		return s.bundleFailed(id, n, "open", err, sink)
	}
	if err := s.wait(ctx, closeXid, closeCall); err != nil {
		return s.bundleFailed(id, n, "close", err, sink)
	}
	if err := checkBundleReply(closeCall.reply, of.BCT_CLOSE_REPLY); err != nil {
		return s.bundleFailed(id, n, "close", err, sink)
	}
	if len(sink.errors()) > 0 {
		return s.bundleFailed(id, n, "add", nil, sink)
	}

	commit, err := marshal(of.NewBundleCtrl(id, of.BCT_COMMIT_REQUEST, bundleFlags), s.nextXid())
	if err != nil {
		return err
	}
	cc, err := s.roundTrip(ctx, commit, false)
	if err == nil {
		err = checkBundleReply(cc.reply, of.BCT_COMMIT_REPLY)
	}
	if err != nil {
		var ofErr *Error
		if !errors.As(err, &ofErr) {
			// Cancelled or disconnected after sending the commit.
			return fmt.Errorf("openflow: bundle of %d messages: commit outcome unknown: %w", n, err)
		}
		return s.bundleFailed(id, n, "commit", err, sink)
	}
	return nil
}

// expectBundle registers the open and close calls and the error sink of
// every added message in one go.
func (s *Session) expectBundle(openXid uint32, openCall *call, closeXid uint32, closeCall *call, sink *bundleSink) error {
	return s.expectWithSink(sink, map[uint32]*call{openXid: openCall, closeXid: closeCall})
}

// expectWithSink registers calls and the error sink of every message of
// sink in one go, so that no reply can arrive before its call is known.
func (s *Session) expectWithSink(sink *bundleSink, calls map[uint32]*call) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.disconnectedLocked()
	}
	for xid, c := range calls {
		s.pending[xid] = c
	}
	c := &call{sink: sink}
	for xid := range sink.xids {
		s.pending[xid] = c
	}
	return nil
}

func (s *Session) forgetSink(sink *bundleSink) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for xid := range sink.xids {
		delete(s.pending, xid)
	}
}

func (s *Session) countSent(c Changes) {
	flows := uint64(len(c.DeleteFlows) + len(c.AddFlows))
	groups := uint64(len(c.AddGroups) + len(c.ModifyGroups) + len(c.DeleteGroups))
	for _, ctr := range []*counters{&s.counters, &s.srv.counters} {
		ctr.bundles.Add(1)
		ctr.flowMods.Add(flows)
		ctr.groupMods.Add(groups)
	}
}

// bundleFailed discards the bundle (best effort) and builds the error: the
// switch's complaint about a specific message if it made one, otherwise the
// error of the stage that failed.
func (s *Session) bundleFailed(id uint32, n int, stage string, err error, sink *bundleSink) error {
	be := &BundleError{Messages: n, Stage: stage, Errs: sink.errors(), Err: err}
	var ofErr *Error
	if len(be.Errs) > 0 || errors.As(err, &ofErr) {
		for _, ctr := range []*counters{&s.counters, &s.srv.counters} {
			ctr.bundleErrors.Add(1)
		}
	}
	// A failed commit already discarded the bundle; a lost connection
	// discards it too; a slave's bundle was never opened, and it may not
	// discard one either.
	if stage != "commit" && !IsDisconnected(err) && !errors.Is(be, ErrNotMaster) {
		s.discard(id)
	}
	return be
}

// discard drops a bundle the switch still holds. Failure is harmless: OVS
// also drops uncommitted bundles on disconnect and after an idle timeout.
func (s *Session) discard(id uint32) {
	msg, err := marshal(of.NewBundleCtrl(id, of.BCT_DISCARD_REQUEST, bundleFlags), s.nextXid())
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = s.roundTrip(ctx, msg, false)
}

// bundleCtrlLen is an ofp_bundle_ctrl_msg without properties.
const bundleCtrlLen = 16

// checkBundleReply checks that reply is the OFPT_BUNDLE_CONTROL reply
// expected. Lengths first: reply is whatever the switch sent with the
// request's xid.
func checkBundleReply(reply []byte, want uint16) error {
	if len(reply) < 8 {
		return fmt.Errorf("openflow: bundle reply of %d bytes is shorter than a header", len(reply))
	}
	if reply[1] != of.Type_BundleControl {
		return fmt.Errorf("openflow: unexpected bundle reply %s", msgTypeName(reply[1]))
	}
	if len(reply) < bundleCtrlLen {
		return fmt.Errorf("openflow: bundle reply of %d bytes is shorter than its %d-byte body", len(reply), bundleCtrlLen)
	}
	if got := binary.BigEndian.Uint16(reply[12:14]); got != want {
		return fmt.Errorf("openflow: bundle reply type %d, want %d", got, want)
	}
	return nil
}
