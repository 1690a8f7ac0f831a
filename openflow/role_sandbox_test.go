package openflow_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/openflow"
)

// twoControllers is br0 of a sandbox with two Controller rows, one per ferry
// Server (A the sandbox's, B a second one), as an HA bridge has one per
// replica. It returns each server's session, and B's log (A's is sb.logs).
func twoControllers(t *testing.T) (sb *sandbox, logsB *syncBuffer, a, b *openflow.Session) {
	t.Helper()
	sb = newSandbox(t)
	srvB, addrB, logsB := newServer(t)
	sb.ovs.Vsctl(t, "set-controller", "br0", "tcp:"+sb.addr, "tcp:"+addrB)
	if n := len(strings.Fields(sb.ovs.Vsctl(t, "--columns=_uuid", "--bare", "list", "controller"))); n != 2 {
		t.Fatalf("%d Controller rows, want 2", n)
	}
	return sb, logsB, waitSession(t, sb.srv, sb.dpid, nil), waitSession(t, srvB, sb.dpid, nil)
}

func requestRole(t *testing.T, s *openflow.Session, role openflow.Role, gen uint64) {
	t.Helper()
	got, g, err := s.RequestRole(ctx(t), role, gen)
	if err != nil || got != role || g != gen {
		t.Fatalf("RequestRole(%v, %d) = %v, %d, %v", role, gen, got, g, err)
	}
	if st := s.Role(); st.Role != role || st.Generation != gen {
		t.Fatalf("after RequestRole(%v, %d): Role() = %+v", role, gen, st)
	}
}

// waitRole waits for s's role to become want, as a ROLE_STATUS tells it.
func waitRole(t *testing.T, s *openflow.Session, want openflow.Role, gen uint64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if st := s.Role(); st.Role == want && st.Generation == gen {
			return
		}
		select {
		case <-s.RoleChanges():
		case <-deadline:
			t.Fatalf("role stayed %+v, want %v generation %d", s.Role(), want, gen)
		}
	}
}

// assertRefusedAsSlave checks that a commit from s failed because s is a
// slave, with nothing applied and the session still usable.
func assertRefusedAsSlave(t *testing.T, s *openflow.Session, c openflow.Changes) {
	t.Helper()
	err := s.Commit(ctx(t), c)
	var be *openflow.BundleError
	if !errors.Is(err, openflow.ErrNotMaster) || !errors.As(err, &be) {
		t.Fatalf("commit as slave: %v, want a *BundleError matching ErrNotMaster", err)
	}
	if openflow.IsDisconnected(err) {
		t.Fatalf("commit as slave reads as a disconnect: %v", err)
	}
	// Refusal is not a reason to drop the connection: the session still
	// reads, and stays the server's for its datapath.
	if err := s.Barrier(ctx(t)); err != nil {
		t.Fatalf("barrier after a refused commit: %v", err)
	}
	select {
	case <-s.Done():
		t.Fatalf("session ended after a refused commit: %v", s.Err())
	default:
	}
	if st := s.Role(); st.Role != openflow.RoleSlave {
		t.Fatalf("after IS_SLAVE: Role() = %+v, want slave", st)
	}
}

// TestSandboxRoles is fencing by OpenFlow roles against a real
// ovs-vswitchd: the bridge's master is whoever asked with the newest
// generation, a slave's flow changes are refused by OVS itself, and a
// controller that lost the bridge cannot take it back with its old
// generation.
func TestSandboxRoles(t *testing.T) {
	sb, logsB, a, b := twoControllers(t)
	if st := a.Role(); st.Role != openflow.RoleEqual {
		t.Fatalf("new session: Role() = %+v, want equal", st)
	}
	flows, groups := pipeline()

	// A owns the bridge (generation 1); B is a standby. B must say so: an
	// equal controller may write even while there is a master.
	requestRole(t, a, openflow.RoleMaster, 1)
	requestRole(t, b, openflow.RoleSlave, 1)
	if err := a.Commit(ctx(t), openflow.Changes{AddGroups: groups, AddFlows: flows}); err != nil {
		t.Fatalf("master's commit: %v", err)
	}
	foreign := openflow.Flow{Table: openflow.TableClassify, Priority: openflow.PriorityExact,
		Match: openflow.Match{InPort: vif3}, Actions: []openflow.Action{openflow.Output{Port: vif1}}}
	assertRefusedAsSlave(t, b, openflow.Changes{AddFlows: []openflow.Flow{foreign}})
	assertRefusedAsSlave(t, b, openflow.Changes{DeleteFlows: []openflow.FlowRef{flows[0].Ref()}, DeleteGroups: []uint32{1}})
	if got, want := dumpFlows(t, sb.ovs), flowStrings(flows); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the slave's commits, dump-flows:\n%s\nwant A's flows only:\n%s", fmtMap(got), fmtMap(want))
	}

	// Take-over: B becomes master with the next generation. A is told
	// (ROLE_STATUS) and is now fenced.
	requestRole(t, b, openflow.RoleMaster, 2)
	waitRole(t, a, openflow.RoleSlave, 2)
	assertRefusedAsSlave(t, a, openflow.Changes{DeleteFlows: []openflow.FlowRef{flows[0].Ref()}})
	assertRefusedAsSlave(t, a, openflow.Changes{AddFlows: []openflow.Flow{foreign}})
	// A, cut off and still believing it owns the bridge, tries to take it
	// back with the generation it had: refused as stale, still a slave.
	if _, _, err := a.RequestRole(ctx(t), openflow.RoleMaster, 1); !errors.Is(err, openflow.ErrStale) {
		t.Fatalf("master request with generation 1 after 2: %v, want ErrStale", err)
	}
	if st := a.Role(); st.Role != openflow.RoleSlave {
		t.Fatalf("after a stale request: Role() = %+v, want slave", st)
	}
	if got, want := dumpFlows(t, sb.ovs), flowStrings(flows); !reflect.DeepEqual(got, want) {
		t.Fatalf("after the fenced commits, dump-flows:\n%s\nwant:\n%s", fmtMap(got), fmtMap(want))
	}

	// Hitless: the new master dumps and finds everything A installed, so
	// its diff is empty and it sends nothing.
	dumped, err := b.DumpFlows(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	installed := map[openflow.FlowRef]bool{}
	for _, st := range dumped {
		installed[openflow.FlowRef{Table: st.Table, Cookie: st.Cookie}] = true
	}
	var missing []openflow.Flow
	for _, f := range flows {
		if !installed[f.Ref()] {
			missing = append(missing, f)
		}
	}
	dumpedGroups, err := b.DumpGroups(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 0 || len(installed) != len(flows) || !reflect.DeepEqual(dumpedGroups, groups) {
		t.Fatalf("new master's dump: missing %v, %d flows for %d desired, groups %v", missing, len(installed), len(flows), dumpedGroups)
	}
	before := b.Counters()
	if err := b.Commit(ctx(t), openflow.Changes{AddFlows: missing}); err != nil {
		t.Fatal(err)
	}
	if after := b.Counters(); after != before {
		t.Fatalf("take-over sent %+v, want nothing (before %+v)", after, before)
	}
	// Every refusal was the refused commit's error, none a stray one.
	for name, logs := range map[string]*syncBuffer{"A": sb.logs, "B": logsB} {
		if l := logs.String(); strings.Contains(l, "unsolicited") {
			t.Errorf("%s logged unsolicited errors:\n%s", name, l)
		}
	}
}

// TestSandboxRoleGenerationWraps: generations compare as a signed 64-bit
// distance, so the generation after 2^64-1 is 0, for OVS and for
// GenerationDistance alike.
func TestSandboxRoleGenerationWraps(t *testing.T) {
	_, _, a, b := twoControllers(t)
	const last = ^uint64(0)
	requestRole(t, a, openflow.RoleMaster, last-1)
	requestRole(t, b, openflow.RoleMaster, last)
	waitRole(t, a, openflow.RoleSlave, last)
	if openflow.GenerationDistance(0, last) != 1 {
		t.Fatalf("GenerationDistance(0, 2^64-1) = %d, want 1", openflow.GenerationDistance(0, last))
	}
	requestRole(t, a, openflow.RoleMaster, 0)
	waitRole(t, b, openflow.RoleSlave, 0)
	if _, _, err := b.RequestRole(ctx(t), openflow.RoleMaster, last); !errors.Is(err, openflow.ErrStale) {
		t.Fatalf("master request with 2^64-1 after 0: %v, want ErrStale", err)
	}
}

// TestSandboxRoleAfterReconnect: a role belongs to a connection. When the
// master's connection drops and OVS redials, the new session is equal again
// and the owner must request master again (with its generation, which is
// still current). An equal controller may write beside a master, so a
// non-owner must request slave on every session too.
func TestSandboxRoleAfterReconnect(t *testing.T) {
	sb, _, a, b := twoControllers(t)
	requestRole(t, a, openflow.RoleMaster, 7)
	a.Close()
	a2 := waitSession(t, sb.srv, sb.dpid, a)
	if st := a2.Role(); st.Role != openflow.RoleEqual {
		t.Fatalf("new session: Role() = %+v, want equal", st)
	}
	role, gen, err := a2.RequestRole(ctx(t), openflow.RoleNoChange, 0)
	if err != nil || role != openflow.RoleEqual || gen != 7 {
		t.Fatalf("switch says the new session is %v generation %d (%v), want equal, 7", role, gen, err)
	}
	requestRole(t, a2, openflow.RoleMaster, 7)

	flow := openflow.Flow{Table: openflow.TableClassify, Priority: openflow.PriorityDrop}
	if st := b.Role(); st.Role != openflow.RoleEqual {
		t.Fatalf("B never asked: Role() = %+v, want equal", st)
	}
	if err := b.Commit(ctx(t), openflow.Changes{AddFlows: []openflow.Flow{flow}}); err != nil {
		t.Fatalf("an equal controller beside a master: %v, want its commit applied", err)
	}
	requestRole(t, b, openflow.RoleSlave, 7)
	assertRefusedAsSlave(t, b, openflow.Changes{DeleteFlows: []openflow.FlowRef{flow.Ref()}})
	if got, want := dumpFlows(t, sb.ovs), flowStrings([]openflow.Flow{flow}); !reflect.DeepEqual(got, want) {
		t.Fatalf("dump-flows:\n%s\nwant:\n%s", fmtMap(got), fmtMap(want))
	}
}
