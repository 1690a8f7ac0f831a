package realize

import (
	"slices"

	"github.com/ferry-sdn/ferry/openflow"
)

// The flow builders: one small function per kind of flow of the pipeline
// (openflow/pipeline.go declares tables, marks and priorities;
// docs/pipeline.md names the builder of every row). Each returns the flows
// of one switch; none knows about any other switch.

var gotoL2 = openflow.TableL2

// tableMissDrops are the bridge-wide flows: every table drops what nothing
// else matched, declared rather than implied so that dump-flows shows the
// whole pipeline.
func tableMissDrops() []openflow.Flow {
	return []openflow.Flow{
		{Table: openflow.TableClassify, Priority: openflow.PriorityDrop},
		{Table: openflow.TableL2, Priority: openflow.PriorityDrop},
	}
}

// vifClassify puts a frame from a local VIF on its switch, marked as local.
func vifClassify(vni uint64, ofport uint32) openflow.Flow {
	return openflow.Flow{
		Table: openflow.TableClassify, Priority: openflow.PriorityExact,
		Match:         openflow.Match{InPort: ofport},
		Actions:       []openflow.Action{openflow.SetTunnelID{ID: vni}},
		WriteMetadata: &openflow.Metadata{Value: openflow.MetaFromLocal, Mask: ^uint64(0)},
		GotoTable:     &gotoL2,
	}
}

// tunnelClassify accepts the switch's frames from a tunnel port, marked
// with where they came from (a tunnel, or a VTEP this chassis replicates
// for).
func tunnelClassify(vni uint64, ofport uint32, mark uint64) openflow.Flow {
	return openflow.Flow{
		Table: openflow.TableClassify, Priority: openflow.PriorityExact,
		Match:         openflow.Match{InPort: ofport, HasTunID: true, TunID: vni},
		WriteMetadata: &openflow.Metadata{Value: mark, Mask: ^uint64(0)},
		GotoTable:     &gotoL2,
	}
}

// localMAC delivers the switch's frames for a local VIF's MAC, from
// anywhere.
func localMAC(vni uint64, mac []byte, ofport uint32) openflow.Flow {
	return openflow.Flow{
		Table: openflow.TableL2, Priority: openflow.PriorityExact,
		Match:   openflow.Match{HasTunID: true, TunID: vni, EthDst: mac},
		Actions: []openflow.Action{openflow.Output{Port: ofport}},
	}
}

// remoteMAC sends local frames for a MAC behind a tunnel into that tunnel,
// and drops frames for it that arrive from a tunnel: they were
// misdirected, and flooding them to local VIFs (or sending them back into
// a tunnel) would be wrong.
func remoteMAC(vni uint64, mac []byte, tunnel uint32) []openflow.Flow {
	return []openflow.Flow{{
		Table: openflow.TableL2, Priority: openflow.PriorityExact,
		Match:   openflow.Match{HasTunID: true, TunID: vni, HasMetadata: true, Metadata: openflow.MetaFromLocal, EthDst: mac},
		Actions: []openflow.Action{openflow.Output{Port: tunnel}},
	}, {
		Table: openflow.TableL2, Priority: openflow.PriorityExact,
		Match: openflow.Match{HasTunID: true, TunID: vni, HasMetadata: true, Metadata: openflow.MetaFromTunnel, EthDst: mac},
	}}
}

// floodFlow hands the switch's frames with a direction mark that no exact
// flow matched (broadcast, multicast, unknown unicast) to a flood group.
func floodFlow(vni uint64, mark uint64, group uint32) openflow.Flow {
	return openflow.Flow{
		Table: openflow.TableL2, Priority: openflow.PriorityFlood,
		Match:   openflow.Match{HasTunID: true, TunID: vni, HasMetadata: true, Metadata: mark},
		Actions: []openflow.Action{openflow.Group{ID: group}},
	}
}

// floodGroups are the switch's two flood groups (head-end replication):
// from local VIFs to the other local VIFs and every remote endpoint, from
// tunnels to local VIFs only (split horizon).
func floodGroups(vni uint32, local []uint32, tunnels []uint32) []openflow.GroupEntry {
	fromLocal, fromTunnel := openflow.FloodGroups(vni)
	localBuckets := make([][]openflow.Action, 0, len(local)+len(tunnels))
	for _, p := range local {
		localBuckets = append(localBuckets, []openflow.Action{openflow.Output{Port: p}})
	}
	all := slices.Clone(localBuckets)
	for _, p := range tunnels {
		all = append(all, []openflow.Action{openflow.Output{Port: p}})
	}
	return []openflow.GroupEntry{{ID: fromLocal, Buckets: all}, {ID: fromTunnel, Buckets: localBuckets}}
}
