package vtepcheck

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/internal/model"
	fovsdb "github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/ovsdb/rows"
	"github.com/ferry-sdn/ferry/vtep"
	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

// ProbeWait is how long the probe watches for the VTEP's refusal by
// default: a VTEP reports unsupported_source_node_replication when it
// processes the switch, within its own polling interval (ovs-vtep: about
// a second).
const ProbeWait = 3 * time.Second

// probeWait is the check's wait for the same refusal.
const probeWait = ProbeWait

// ProbeSourceNode tests once whether the VTEP does source-node
// replication, as vtep.xml recommends: a scratch logical switch with an
// unknown-dst flood set of two locators and replication_mode source_node,
// then wait (up to wait; 0: ProbeWait) for the VTEP to report
// unsupported_source_node_replication in a Physical_Switch's (or, where
// the schema has it, the Logical_Switch's) switch_fault_status. The
// scratch rows are removed on every path. A schema without
// replication_mode (before 1.6) cannot be asked for source-node
// replication: unsupported. err is set when the probe could not run (the
// VTEP refused the writes or went away); result is then "".
func ProbeSourceNode(ctx context.Context, cli client.Client, gateway string, wait time.Duration, log *slog.Logger) (result, evidence string, err error) {
	if wait <= 0 {
		wait = ProbeWait
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	schema := cli.Schema()
	lsCols := schema.Tables[hwvtep.LogicalSwitchTable].Columns
	if _, ok := lsCols["replication_mode"]; !ok {
		return model.SourceNodeUnsupported, fmt.Sprintf("hardware_vtep %s has no Logical_Switch replication_mode column (1.6): the VTEP chooses, and ferry assumes service_node", schema.Version), nil
	}
	r := &run{ctx: ctx, cli: cli, log: log, rep: model.GatewayCheck{Gateway: gateway}}
	defer r.cleanup()
	if err := r.insertSwitch(); err != nil {
		return "", "", fmt.Errorf("vtepcheck: probe: scratch switch: %w", err)
	}
	ops := append(r.locatorSetOps("set", locA, locB),
		ovsdb.Operation{Op: ovsdb.OperationInsert, Table: hwvtep.McastMacsRemoteTable,
			Row: ovsdb.Row{"MAC": "unknown-dst", "logical_switch": rows.UUID(r.ls), "locator_set": rows.UUID("set")}},
		ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: hwvtep.LogicalSwitchTable, Where: rows.WhereUUID(r.ls),
			Row: ovsdb.Row{"replication_mode": rows.Optional(vtep.SourceNode)}})
	if _, err := fovsdb.Transact(ctx, cli, ops...); err != nil {
		return "", "", fmt.Errorf("vtepcheck: probe: source_node flood set: %w", err)
	}
	_, lsFaults := lsCols["switch_fault_status"]
	deadline := time.Now().Add(wait)
	for {
		where, err := r.faulted(lsFaults)
		if err != nil {
			return "", "", fmt.Errorf("vtepcheck: probe: reading faults: %w", err)
		}
		if where != "" {
			return model.SourceNodeUnsupported, fmt.Sprintf("%s reported %s for scratch switch %s (replication_mode source_node, flood set {%s,%s})",
				where, vtep.FaultUnsupportedSourceNode, r.name, locA, locB), nil
		}
		if time.Now().After(deadline) {
			return model.SourceNodeSupported, fmt.Sprintf("no %s within %v of scratch switch %s asking for source_node with flood set {%s,%s}",
				vtep.FaultUnsupportedSourceNode, wait, r.name, locA, locB), nil
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("vtepcheck: probe: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// faulted names the row reporting unsupported source-node replication, ""
// if none does.
func (r *run) faulted(lsFaults bool) (string, error) {
	ps, err := r.sel(hwvtep.PhysicalSwitchTable, nil, "name", "switch_fault_status")
	if err != nil {
		return "", err
	}
	for _, row := range ps {
		if hasString(row["switch_fault_status"], vtep.FaultUnsupportedSourceNode) {
			return fmt.Sprintf("Physical_Switch %v", row["name"]), nil
		}
	}
	if !lsFaults {
		return "", nil
	}
	ls, err := r.sel(hwvtep.LogicalSwitchTable, rows.WhereUUID(r.ls), "switch_fault_status")
	if err != nil || len(ls) == 0 {
		return "", err
	}
	if hasString(ls[0]["switch_fault_status"], vtep.FaultUnsupportedSourceNode) {
		return "Logical_Switch " + r.name, nil
	}
	return "", nil
}

// hasString reports whether an OVSDB string set (or single string) holds s.
func hasString(v any, s string) bool {
	switch set := v.(type) {
	case ovsdb.OvsSet:
		return slices.ContainsFunc(set.GoSet, func(e any) bool { return e == s })
	case string:
		return set == s
	}
	return false
}
