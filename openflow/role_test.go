package openflow

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	of "antrea.io/libOpenflow/openflow15"
)

// roleMsg is an OFPT_ROLE_REPLY or OFPT_ROLE_STATUS as a switch sends it.
func roleMsg(typ uint8, xid uint32, role Role, reason uint8, gen uint64) []byte {
	m := header(typ, xid, roleMsgLen)
	binary.BigEndian.PutUint32(m[8:12], uint32(role))
	if typ == of.Type_RoleStatus {
		m[12] = reason
	}
	binary.BigEndian.PutUint64(m[16:24], gen)
	return m
}

func TestGenerationDistance(t *testing.T) {
	for _, c := range []struct {
		a, b uint64
		want int64
	}{
		{2, 1, 1},
		{1, 2, -1},
		{5, 5, 0},
		{0, math.MaxUint64, 1},  // wrapped: 0 is the generation after 2^64-1
		{math.MaxUint64, 0, -1}, // and 2^64-1 is older than 0
		{1 << 63, 0, math.MinInt64},
		{1<<63 - 1, 0, math.MaxInt64},
	} {
		if got := GenerationDistance(c.a, c.b); got != c.want {
			t.Errorf("GenerationDistance(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestRoleErrorsMatch(t *testing.T) {
	for _, c := range []struct {
		e    *Error
		want error
	}{
		{&Error{Type: 11, Code: 0}, ErrStale},
		{&Error{Type: 11, Code: 1}, ErrRoleUnsupported},
		{&Error{Type: 11, Code: 3}, ErrRoleUnsupported},
		{&Error{Type: 1, Code: 10}, ErrNotMaster},
		{&Error{Type: 11, Code: 2}, nil}, // OFPRRFC_BAD_ROLE: a bug of ours, not a state
		{&Error{Type: 1, Code: 0}, nil},
		{&Error{Type: 10, Code: 0}, nil},
	} {
		wrapped := opError("request role master", &BundleError{Errs: []*Error{c.e}})
		for _, target := range []error{ErrStale, ErrRoleUnsupported, ErrNotMaster} {
			if got := errors.Is(wrapped, target); got != (target == c.want) {
				t.Errorf("%s: errors.Is(%v) = %v", c.e.Name(), target, got)
			}
		}
	}
}

// TestRoleOverFakeSwitch: the session encodes the request as the spec says,
// applies the reply and a ROLE_STATUS in the order the switch sent them,
// and learns that it is a slave from an IS_SLAVE refusal.
func TestRoleOverFakeSwitch(t *testing.T) {
	srv, addr, _ := startServer(t, nil)
	f := dialFake(t, addr, 0xabc)
	s := sessionOf(t, srv, 0xabc)
	ctx := context.Background()
	if st := s.Role(); st != (RoleStatus{Role: RoleEqual}) {
		t.Fatalf("new session: %+v", st)
	}

	type result struct {
		role Role
		gen  uint64
		err  error
	}
	res := make(chan result, 1)
	request := func(role Role, gen uint64) []byte {
		go func() {
			r, g, err := s.RequestRole(ctx, role, gen)
			res <- result{r, g, err}
		}()
		req := f.readSkippingEchoes()
		if req[1] != of.Type_RoleRequest || len(req) != roleMsgLen ||
			Role(binary.BigEndian.Uint32(req[8:12])) != role || binary.BigEndian.Uint64(req[16:24]) != gen {
			t.Fatalf("role request % x, want role %v generation %d", req, role, gen)
		}
		return req
	}

	// The reply and, right behind it, a ROLE_STATUS demoting the session:
	// the status is newer and wins.
	req := request(RoleMaster, 3)
	f.send(append(roleMsg(of.Type_RoleReply, xidOf(req), RoleMaster, 0, 3),
		roleMsg(of.Type_RoleStatus, 0, RoleSlave, of.CRR_MASTER_REQUEST, 4)...))
	if r := <-res; r.err != nil || r.role != RoleMaster || r.gen != 3 {
		t.Fatalf("RequestRole = %+v", r)
	}
	waitFor(t, "role status", func() bool { return s.Role() == RoleStatus{Role: RoleSlave, Generation: 4} })
	select {
	case <-s.RoleChanges():
	default:
		t.Fatal("RoleChanges not kicked")
	}

	// A stale refusal is ErrStale and leaves the role alone.
	req = request(RoleMaster, 3)
	f.sendError(xidOf(req), 11, 0)
	if r := <-res; !errors.Is(r.err, ErrStale) || errors.Is(r.err, ErrRoleUnsupported) {
		t.Fatalf("stale request: %+v", r)
	}
	if st := s.Role(); st.Role != RoleSlave {
		t.Fatalf("after a stale refusal: %+v", st)
	}

	// A malformed reply fails the request, not the session.
	req = request(RoleNoChange, 0)
	f.send(roleMsg(of.Type_RoleReply, xidOf(req), 9, 0, 0))
	if r := <-res; r.err == nil {
		t.Fatal("reply with role 9 accepted")
	}
	if s.isClosed() {
		t.Fatal("session closed by a bad role reply")
	}

	// Back to master; then a refused barrier (any request) with IS_SLAVE
	// says the switch demoted us without telling.
	req = request(RoleMaster, 5)
	f.send(roleMsg(of.Type_RoleReply, xidOf(req), RoleMaster, 0, 5))
	if r := <-res; r.err != nil || s.Role().Role != RoleMaster {
		t.Fatalf("RequestRole = %+v, Role %+v", r, s.Role())
	}
	errs := make(chan error, 1)
	go func() { errs <- s.Barrier(ctx) }()
	b := f.readSkippingEchoes()
	f.sendError(xidOf(b), 1, 10)
	if err := <-errs; !errors.Is(err, ErrNotMaster) {
		t.Fatalf("barrier: %v, want ErrNotMaster", err)
	}
	if st := s.Role(); st != (RoleStatus{Role: RoleSlave, Generation: 5}) {
		t.Fatalf("after IS_SLAVE: %+v", st)
	}
	if s.isClosed() {
		t.Fatal("session closed by IS_SLAVE")
	}
}

// TestCommitAsSlave: OVS answers every message of a slave's bundle with
// OFPBRC_IS_SLAVE. Commit waits for all of them (they are the bundle's
// errors, not unsolicited ones to warn about), names the first refused
// change, sends no discard, and leaves the session up.
func TestCommitAsSlave(t *testing.T) {
	srv, addr, logs := startServer(t, nil)
	f := dialFake(t, addr, 1)
	s := sessionOf(t, srv, 1)
	flows := []Flow{{Table: 0, Priority: 1}, {Table: 0, Priority: 2}}
	errc := make(chan error, 1)
	go func() { errc <- s.Commit(context.Background(), Changes{AddFlows: flows}) }()
	var msgs [][]byte
	for range len(flows) + 2 { // open, adds, close
		msgs = append(msgs, f.readSkippingEchoes())
	}
	f.sendError(xidOf(msgs[0]), errTypeBadRequest, errCodeIsSlave)
	// The open's refusal may reach Commit before the others are sent.
	time.Sleep(50 * time.Millisecond)
	for _, m := range msgs[1:] {
		f.sendError(xidOf(m), errTypeBadRequest, errCodeIsSlave)
	}
	err := <-errc
	var be *BundleError
	if !errors.As(err, &be) || !errors.Is(err, ErrNotMaster) || len(be.Errs) != len(flows) ||
		!strings.Contains(err.Error(), "priority=1") {
		t.Fatalf("commit as slave: %v (%+v)", err, be)
	}
	// The next thing the switch hears is ours, not a discard.
	go func() { errc <- s.Barrier(context.Background()) }()
	if m := f.readSkippingEchoes(); m[1] != of.Type_BarrierRequest {
		t.Fatalf("after a slave's refused bundle: %s, want the barrier", msgTypeName(m[1]))
	} else {
		f.send(header(of.Type_BarrierReply, xidOf(m), 8))
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if l := logs.String(); strings.Contains(l, "unsolicited") {
		t.Errorf("refusals logged as unsolicited:\n%s", l)
	}
	if s.Role().Role != RoleSlave {
		t.Errorf("role %+v after IS_SLAVE", s.Role())
	}
}
