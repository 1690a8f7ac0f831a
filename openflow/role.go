package openflow

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	of "antrea.io/libOpenflow/openflow15"
)

// Role is a controller's role on a switch (OpenFlow 1.5.1 §6.3.6). A new
// connection is RoleEqual: full access, like every other equal controller.
// A switch has at most one master; slaves may read (dumps) but not write.
type Role uint32

// The ofp_controller_role values, in wire order.
const (
	// RoleNoChange asks for the current role without changing it.
	RoleNoChange Role = of.CR_ROLE_NOCHANGE
	RoleEqual    Role = of.CR_ROLE_EQUAL
	RoleMaster   Role = of.CR_ROLE_MASTER
	RoleSlave    Role = of.CR_ROLE_SLAVE
)

var roleNames = [...]string{"nochange", "equal", "master", "slave"}

func (r Role) String() string {
	if int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint32(r))
}

// Errors the switch reports about roles, matched with errors.Is against the
// *Error (or *BundleError) a request returns: callers branch on them, and a
// switch's error is the only authority on who may write.
var (
	// ErrStale: a master or slave request carried a generation older than
	// one the switch has seen (OFPRRFC_STALE). Another controller took the
	// bridge with a newer generation; this one must not write to it.
	ErrStale = errors.New("openflow: role request with a stale generation")
	// ErrRoleUnsupported: the switch does not do controller roles
	// (OFPRRFC_UNSUP, OFPRRFC_ID_UNSUP).
	ErrRoleUnsupported = errors.New("openflow: switch does not support controller roles")
	// ErrNotMaster: the switch refused a write because this connection is
	// a slave (OFPBRC_IS_SLAVE). It says nothing wrong about the
	// connection: the session stays up and its dumps keep working.
	ErrNotMaster = errors.New("openflow: connection is a slave")
)

// OpenFlow error types and codes the role errors map to.
const (
	errTypeBadRequest   = 1
	errCodeIsSlave      = 10
	errTypeRoleFailed   = 11
	errCodeStale        = 0
	errCodeUnsup        = 1
	errCodeIDUnsup      = 3
	roleMsgLen          = 24   // ofp_role_request / ofp_role_status without properties
	maxRoleStatus       = 1024 // the largest ROLE_STATUS read; properties are ignored
	roleReasonMasterReq = of.CRR_MASTER_REQUEST
)

// Is lets errors.Is match an *Error against ErrStale, ErrRoleUnsupported
// and ErrNotMaster.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrStale:
		return e.Type == errTypeRoleFailed && e.Code == errCodeStale
	case ErrRoleUnsupported:
		return e.Type == errTypeRoleFailed && (e.Code == errCodeUnsup || e.Code == errCodeIDUnsup)
	case ErrNotMaster:
		return e.Type == errTypeBadRequest && e.Code == errCodeIsSlave
	}
	return false
}

// GenerationDistance is how far generation a is ahead of b, the way the
// switch compares them (OpenFlow 1.5.1 §6.3.6): the unsigned difference read
// as a signed 64-bit number, so that generations may wrap around. A master
// or slave request whose generation is behind (negative distance) the
// newest the switch has seen is refused as stale. Whoever hands out
// generations must compare them with this, never with <.
func GenerationDistance(a, b uint64) int64 { return int64(a - b) }

// RoleStatus is a role as a switch reports it: in a ROLE_REPLY, or in a
// ROLE_STATUS when it changed the role on its own (another controller became
// master).
type RoleStatus struct {
	Role Role
	// Generation is the newest generation the switch has seen. OVS reports
	// 2^64-1 when no controller has sent one yet.
	Generation uint64
	// Reason is the ofp_controller_role_reason of a ROLE_STATUS
	// (0: another controller asked to be master); 0 in a reply.
	Reason uint8
}

// parseRole decodes an OFPT_ROLE_REPLY or OFPT_ROLE_STATUS (typ) from the
// switch. Both have the same fixed 24 bytes: role, then either a short ID or
// a reason, then the generation; a ROLE_STATUS may carry properties, which
// are ignored. A role other than equal, master or slave is an error: the
// session must not record something it cannot act on.
func parseRole(msg []byte, typ uint8) (RoleStatus, error) {
	if len(msg) < roleMsgLen {
		return RoleStatus{}, fmt.Errorf("openflow: %s of %d bytes is shorter than its %d bytes", msgTypeName(typ), len(msg), roleMsgLen)
	}
	if msg[1] != typ {
		return RoleStatus{}, fmt.Errorf("openflow: unexpected %s, want %s", msgTypeName(msg[1]), msgTypeName(typ))
	}
	st := RoleStatus{
		Role:       Role(binary.BigEndian.Uint32(msg[8:12])),
		Generation: binary.BigEndian.Uint64(msg[16:24]),
	}
	if typ == of.Type_RoleStatus {
		st.Reason = msg[12]
	}
	if st.Role != RoleEqual && st.Role != RoleMaster && st.Role != RoleSlave {
		return RoleStatus{}, fmt.Errorf("openflow: %s with unknown role %d", msgTypeName(typ), uint32(st.Role))
	}
	return st, nil
}

// roleRequest encodes an OFPT_ROLE_REQUEST (the same 24 bytes in 1.3).
func (s *Session) roleRequest(role Role, generation uint64, xid uint32) ([]byte, error) {
	m := of.NewRoleRequest()
	m.Role = uint32(role)
	m.GenerationId = generation
	return s.marshal(m, xid)
}

// RequestRole asks the switch for role with generation (ignored by the
// switch for RoleEqual and RoleNoChange) and returns the role and newest
// generation the switch then reports. A master request demotes the
// bridge's previous master to slave, which learns it from a ROLE_STATUS.
// The error matches ErrStale when generation is behind one the switch has
// seen, ErrRoleUnsupported when the switch has no roles.
//
// The role belongs to the connection: a new Session starts as RoleEqual,
// whatever its predecessor was, so an owner must request master again on
// every new session, and a non-owner slave — an equal controller may write
// even while another one is master.
func (s *Session) RequestRole(ctx context.Context, role Role, generation uint64) (Role, uint64, error) {
	if role > RoleSlave {
		return 0, 0, fmt.Errorf("openflow: request role: unknown role %d", uint32(role))
	}
	msg, err := s.roleRequest(role, generation, s.nextXid())
	if err != nil {
		return 0, 0, err
	}
	// The reader applies the reply to the session before anything it
	// reads later: a ROLE_STATUS right behind the reply must win over it.
	c := &call{done: make(chan struct{}), isRole: true}
	if err := s.send(ctx, binary.BigEndian.Uint32(msg[4:8]), msg, c); err != nil {
		return 0, 0, opError("request role "+role.String(), err)
	}
	return c.role.Role, c.role.Generation, nil
}

// Role is the session's role as the switch last reported it (role replies,
// ROLE_STATUS, OFPBRC_IS_SLAVE refusals), with the newest generation heard.
// A session that never asked is RoleEqual, generation 0.
func (s *Session) Role() RoleStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.role
}

// RoleChanges is kicked (capacity one, coalescing) whenever Role changes;
// the reconciler watches it to stop writing to a bridge another controller
// took.
func (s *Session) RoleChanges() <-chan struct{} { return s.roleCh }

// setRoleLocked records st; s.mu is held. It runs on the reader, in the
// order the switch sent things.
func (s *Session) setRoleLocked(st RoleStatus, why string) {
	if st == s.role {
		return
	}
	prev := s.role
	s.role = st
	select {
	case s.roleCh <- struct{}{}:
	default:
	}
	s.log().Info("openflow: controller role changed", "role", st.Role.String(), "was", prev.Role.String(),
		"generation", st.Generation, "by", why)
}

// roleStatus handles an asynchronous ROLE_STATUS: the switch changed this
// connection's role, typically because another controller became master.
func (s *Session) roleStatus(msg []byte) {
	st, err := parseRole(msg, of.Type_RoleStatus)
	if err != nil {
		s.log().Debug("openflow: ignoring role status", "error", err.Error())
		return
	}
	why := "role status"
	if st.Reason == roleReasonMasterReq {
		why = "another controller became master"
	}
	s.mu.Lock()
	s.setRoleLocked(st, why)
	s.mu.Unlock()
}

// learnSlaveLocked records that the switch refused a write because this
// connection is a slave; s.mu is held.
func (s *Session) learnSlaveLocked(e *Error) {
	if errors.Is(e, ErrNotMaster) && s.role.Role != RoleSlave {
		st := s.role
		st.Role, st.Reason = RoleSlave, 0
		s.setRoleLocked(st, "switch refused a write")
	}
}

func (s *Session) learnSlave(e *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.learnSlaveLocked(e)
}
