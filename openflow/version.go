package openflow

import "fmt"

// OpenFlow wire versions ferry speaks. 1.5 is the default: bundles make a
// pass atomic. 1.3 is for bridges whose protocols the operator pinned
// (Open vSwitch 2.5 era hosts, whose 1.4/1.5 support is incomplete): there
// a pass is an ordered sequence of flow_mods and group_mods closed by a
// barrier (see Session.Commit).
const (
	Version13 uint8 = 0x04
	Version15 uint8 = 0x06
)

// VersionName renders a wire version as operators write it ("1.3").
func VersionName(v uint8) string {
	switch v {
	case 1:
		return "1.0"
	case 2, 3, 4, 5, 6:
		return fmt.Sprintf("1.%d", v-1)
	}
	return fmt.Sprintf("wire version %#x", v)
}

// chooseVersion is the version both ends speak, under OpenFlow's rule: with
// a version bitmap in the peer's hello, the highest version in both
// bitmaps; without one, the lower of the two header versions, which must
// then be one ferry speaks. 0 means none.
func chooseVersion(seen *[256]bool, hasBitmap bool, header uint8) uint8 {
	if !hasBitmap {
		switch {
		case header >= Version15:
			return Version15
		case header == Version13:
			return Version13
		}
		return 0
	}
	for _, v := range []uint8{Version15, Version13} {
		if seen[v] {
			return v
		}
	}
	return 0
}
