package realize

import (
	"slices"

	"github.com/ferry-sdn/ferry/openflow"
)

// FlowPlan is the OpenFlow part of a pass: one bundle.
type FlowPlan struct {
	AddGroups    []openflow.GroupEntry
	ModifyGroups []openflow.GroupEntry
	DeleteFlows  []openflow.FlowRef
	AddFlows     []openflow.Flow
	DeleteGroups []uint32
}

// Empty reports whether the plan changes nothing.
func (p FlowPlan) Empty() bool {
	return len(p.AddGroups)+len(p.ModifyGroups)+len(p.DeleteFlows)+len(p.AddFlows)+len(p.DeleteGroups) == 0
}

// FlowMods counts the flow_mods the plan sends.
func (p FlowPlan) FlowMods() int { return len(p.DeleteFlows) + len(p.AddFlows) }

// ReleasePlan removes every flow and group of ferry's that a dump found,
// for a chassis that is no longer managed.
func ReleasePlan(flows []openflow.FlowRef, groups []openflow.GroupEntry) FlowPlan {
	p := FlowPlan{DeleteFlows: slices.Clone(flows)}
	slices.SortFunc(p.DeleteFlows, compareRefs)
	for _, g := range groups {
		if openflow.IsFerryGroup(g.ID) {
			p.DeleteGroups = append(p.DeleteGroups, g.ID)
		}
	}
	slices.Sort(p.DeleteGroups)
	return p
}

func compareRefs(a, b openflow.FlowRef) int {
	if a.Table != b.Table {
		return int(a.Table) - int(b.Table)
	}
	switch {
	case a.Cookie < b.Cookie:
		return -1
	case a.Cookie > b.Cookie:
		return 1
	}
	return 0
}
