package ovstest

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// SourceNodeRefuser makes a hardware_vtep database act like a VTEP that
// cannot do source-node replication, the case vtep.xml describes: while it
// runs, a Logical_Switch asking for replication_mode source_node gets
// unsupported_source_node_replication in every Physical_Switch's
// switch_fault_status, and is set back to service_node, so that ovs-vtep
// (which obeys the column) floods as a service-node-only VTEP does: to one
// locator of the flood set. It records which switches asked.
type SourceNodeRefuser struct {
	mu    sync.Mutex
	asked []string
	stop  chan struct{}
	done  chan struct{}
}

// RefuseSourceNode starts a refuser over vtepctl (vtep-ctl with its --db
// and any namespace already given) until the test ends.
func RefuseSourceNode(t testing.TB, vtepctl func(args ...string) (string, error)) *SourceNodeRefuser {
	r := &SourceNodeRefuser{stop: make(chan struct{}), done: make(chan struct{})}
	go r.run(vtepctl)
	t.Cleanup(r.Stop)
	return r
}

func (r *SourceNodeRefuser) run(vtepctl func(args ...string) (string, error)) {
	defer close(r.done)
	for {
		out, err := vtepctl("--bare", "--columns=name", "find", "Logical_Switch", "replication_mode=source_node")
		if err == nil && strings.TrimSpace(out) != "" {
			for _, name := range strings.Fields(out) {
				r.mu.Lock()
				r.asked = append(r.asked, name)
				r.mu.Unlock()
				vtepctl("set", "Logical_Switch", name, "replication_mode=service_node")
			}
			if ps, err := vtepctl("list-ps"); err == nil {
				for _, p := range strings.Fields(ps) {
					vtepctl("set", "Physical_Switch", p, "switch_fault_status=unsupported_source_node_replication")
				}
			}
		}
		select {
		case <-r.stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Asked returns the logical switches that asked for source-node
// replication, in the order seen.
func (r *SourceNodeRefuser) Asked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.asked...)
}

// Stop ends the refuser; the faults it set stay.
func (r *SourceNodeRefuser) Stop() {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
}
