package vtep

import (
	"slices"
	"testing"

	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

// TestPath: the VTEP hop of a packet trace, from the rows: the logical
// switch of the VNI, its bindings, and whether the destination is learned
// and the source known.
func TestPath(t *testing.T) {
	f, blue, _ := converged()
	f.port("p1").VLANBindings[100] = blue
	f.UcastMacsLocal = append(f.UcastMacsLocal, hwvtep.UcastMacsLocal{UUID: f.id(), MAC: "02:00:00:b0:00:10", LogicalSwitch: blue, Locator: f.loc("198.18.3.31")})
	o := f.observed()

	p := o.Path(5000, "02:00:00:B0:00:10", "02:00:00:00:00:01")
	if p.LogicalSwitch != "ferry-blue" || !p.Learned || !p.ReturnPath ||
		!slices.Equal(p.Bindings, []PortVLAN{{"p0", 0}, {"p1", 100}}) {
		t.Fatalf("path %+v", p)
	}
	// Unknown destination and source: flooded, replies flooded too.
	if p := o.Path(5000, "02:00:00:00:09:09", "02:00:00:00:00:09"); p.Learned || p.ReturnPath || len(p.Bindings) != 2 {
		t.Fatalf("unknown MACs: %+v", p)
	}
	// No logical switch has the VNI: the VTEP drops it.
	if p := o.Path(5001, "02:00:00:b0:00:10", "02:00:00:00:00:01"); p.LogicalSwitch != "" || p.Bindings != nil {
		t.Fatalf("unknown VNI: %+v", p)
	}
}
