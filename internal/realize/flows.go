package realize

import (
	"sort"

	"github.com/ferry-sdn/ferry/openflow"
)

// Installed is what ferry knows to be in a bridge's OpenFlow tables: its
// own flows by reference and its own groups with their content. It is filled
// from a dump after every (re)connect and then kept in step with what each
// committed bundle changed.
type Installed struct {
	Flows  map[openflow.FlowRef]bool
	Groups map[uint32]string // group ID → GroupEntry.String()
}

// NewInstalled returns an empty installed set.
func NewInstalled() *Installed {
	return &Installed{Flows: make(map[openflow.FlowRef]bool), Groups: make(map[uint32]string)}
}

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

// DiffFlows returns the bundle that turns installed into desired. Flows are
// compared by cookie (content identity), groups by content.
func DiffFlows(inst *Installed, flows []openflow.Flow, groups []openflow.GroupEntry) FlowPlan {
	return DiffFlowsRefs(inst, flows, nil, groups)
}

// DiffFlowsRefs is DiffFlows with the flows' references precomputed (refs
// nil computes them): a no-op pass then costs a map lookup per flow.
func DiffFlowsRefs(inst *Installed, flows []openflow.Flow, refs []openflow.FlowRef, groups []openflow.GroupEntry) FlowPlan {
	var p FlowPlan
	want := make(map[openflow.FlowRef]bool, len(flows))
	for i, f := range flows {
		var ref openflow.FlowRef
		if refs != nil {
			ref = refs[i]
		} else {
			ref = f.Ref()
		}
		if want[ref] {
			continue
		}
		want[ref] = true
		if !inst.Flows[ref] {
			p.AddFlows = append(p.AddFlows, f)
		}
	}
	for ref := range inst.Flows {
		if !want[ref] {
			p.DeleteFlows = append(p.DeleteFlows, ref)
		}
	}
	sort.Slice(p.DeleteFlows, func(i, j int) bool {
		a, b := p.DeleteFlows[i], p.DeleteFlows[j]
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		return a.Cookie < b.Cookie
	})

	wantGroups := make(map[uint32]bool, len(groups))
	for _, g := range groups {
		wantGroups[g.ID] = true
		have, ok := inst.Groups[g.ID]
		switch {
		case !ok:
			p.AddGroups = append(p.AddGroups, g)
		case have != g.String():
			p.ModifyGroups = append(p.ModifyGroups, g)
		}
	}
	for id := range inst.Groups {
		if !wantGroups[id] {
			p.DeleteGroups = append(p.DeleteGroups, id)
		}
	}
	sort.Slice(p.DeleteGroups, func(i, j int) bool { return p.DeleteGroups[i] < p.DeleteGroups[j] })
	return p
}

// Apply records a committed plan.
func (inst *Installed) Apply(p FlowPlan) {
	for _, g := range p.AddGroups {
		inst.Groups[g.ID] = g.String()
	}
	for _, g := range p.ModifyGroups {
		inst.Groups[g.ID] = g.String()
	}
	for _, ref := range p.DeleteFlows {
		delete(inst.Flows, ref)
	}
	for _, f := range p.AddFlows {
		inst.Flows[f.Ref()] = true
	}
	for _, id := range p.DeleteGroups {
		delete(inst.Groups, id)
	}
}
