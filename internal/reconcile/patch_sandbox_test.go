package reconcile

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
)

// A registration changed through PATCH /v1/chassis keeps its rank against
// a younger one reaching the same device: the rank is the generation
// that created the chassis (model.Chassis.Created), not the one of its
// last change, so the younger one stays held back however often the older
// is changed.
func TestSandboxPatchedChassisKeepsItsDevice(t *testing.T) {
	s := newSandbox(t)
	s.blueAcross()
	s.registerHV1Again()

	// hv1, registered at generation 1, is changed after hv1-again was
	// registered.
	s.update(func(n *model.Snapshot) {
		n.Chassis = slices.Clone(n.Chassis)
		i := slices.IndexFunc(n.Chassis, func(c model.Chassis) bool { return c.Name == "hv1" })
		n.Chassis[i].Created, n.Chassis[i].Generation = 1, n.Generation+1
		n.Chassis[i].UnderlayMTU = 9000
	})
	// hv1 claims again with its rank first, then hv1-again looks (twice:
	// a pass may have been under way when it was asked for).
	for _, name := range []string{"hv1", "hv1-again", "hv1-again"} {
		l := s.ctl.loop(name).l
		passes := l.passes.Load()
		l.resync()
		deadline := time.Now().Add(10 * time.Second)
		for l.passes.Load() == passes {
			if time.Now().After(deadline) {
				t.Fatalf("%s made no pass", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // the pass that started
	}
	if st := s.ctl.Chassis("hv1"); st.Conflict != "" {
		t.Errorf("the patched, older registration lost its device: %+v", st)
	}
	if st := s.ctl.Chassis("hv1-again"); !strings.Contains(st.Conflict, `chassis "hv1"`) {
		t.Errorf("the younger registration took the device of the patched one: %+v", st)
	}
}
