package openflow

// FlowRef names an installed flow by its table and cookie, which is all a
// delete needs: ferry's cookies are content identities (see Flow.Cookie), so
// a dump's (table, cookie) pairs are the installed-flow set.
type FlowRef struct {
	Table  uint8
	Cookie uint64
}

// Ref returns the flow's reference.
func (f Flow) Ref() FlowRef { return FlowRef{Table: f.Table, Cookie: f.Cookie()} }
