package nbdb

import (
	"strconv"

	"github.com/ovn-kubernetes/libovsdb/model"
	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/ovsdb/nb"
)

// newPortName is the named UUID of the i-th port inserted in the
// transaction that references it from its switch.
func newPortName(i int) string { return "ferry_new_port" + strconv.Itoa(i) }

// newBindingName is the same for bindings.
func newBindingName(i int) string { return "ferry_new_binding" + strconv.Itoa(i) }

// bumpGenerationOps returns the operations that make a transaction
// conditional on NB_Global still being at g.Generation and move it to next.
// The wait has timeout 0: it fails at once, aborting the transaction, when
// another writer got there first. The transaction also writes id under
// TxnKey in NB_Global's external_ids (replacing the previous writer's),
// so that the writer can recognise its own commit when the reply is lost
// or the server ran the transaction twice (see DB.apply).
func (db *DB) bumpGenerationOps(g *nb.NBGlobal, next int, id string) ([]ovsdb.Operation, error) {
	zero := 0
	wait := ovsdb.Operation{
		Op:      ovsdb.OperationWait,
		Table:   nb.NBGlobalTable,
		Timeout: &zero,
		// The generation is in the condition as well as in the expected
		// row because libovsdb's server skips comparing columns whose
		// expected value is the default (generation 0 in a new database).
		Where: []ovsdb.Condition{
			ovsdb.NewCondition("_uuid", ovsdb.ConditionEqual, ovsdb.UUID{GoUUID: g.UUID}),
			ovsdb.NewCondition("generation", ovsdb.ConditionEqual, g.Generation),
		},
		Columns: []string{"generation"},
		Until:   string(ovsdb.WaitConditionEqual),
		Rows:    []ovsdb.Row{{"generation": g.Generation}},
	}
	row := &nb.NBGlobal{UUID: g.UUID, Generation: next}
	update, err := db.c.Where(row).Update(row, &row.Generation)
	if err != nil {
		return nil, err
	}
	// A map's insert mutation keeps an existing key: delete it first.
	tag, err := db.c.Where(row).Mutate(row,
		model.Mutation{Field: &row.ExternalIDs, Mutator: ovsdb.MutateOperationDelete, Value: []string{TxnKey}},
		model.Mutation{Field: &row.ExternalIDs, Mutator: ovsdb.MutateOperationInsert, Value: map[string]string{TxnKey: id}})
	if err != nil {
		return nil, err
	}
	return append(append([]ovsdb.Operation{wait}, update...), tag...), nil
}

// TxnKey is the NB_Global external_ids key that names the transaction that
// made the current generation: a random id per DB.apply call.
const TxnKey = "ferry/txn"

// GlobalUUID is the UUID ferry gives the NB_Global row it creates, so that
// two ferryds creating it at once collide instead of making two rows.
const GlobalUUID = "f3e77a00-6e6e-4b00-8000-000000000001"

// createGlobalOps inserts the NB_Global row at generation 0, unless it
// exists. Two guards, because the servers differ: ovsdb-server refuses a
// second row with the same UUID ("duplicate uuid") and enforces maxRows;
// libovsdb's in-memory server does neither, but its wait, which skips
// comparing default values, fails whenever a row with GlobalUUID exists.
// The generation column is spelled out because an insert without columns
// is a syntax error to ovsdb-server, and libovsdb's Create leaves out
// columns at their default.
func createGlobalOps() []ovsdb.Operation {
	zero := 0
	return []ovsdb.Operation{{
		Op:      ovsdb.OperationWait,
		Table:   nb.NBGlobalTable,
		Timeout: &zero,
		Where:   []ovsdb.Condition{ovsdb.NewCondition("_uuid", ovsdb.ConditionEqual, ovsdb.UUID{GoUUID: GlobalUUID})},
		Columns: []string{"generation"},
		Until:   string(ovsdb.WaitConditionNotEqual),
		Rows:    []ovsdb.Row{{"generation": 0}},
	}, {
		Op:    ovsdb.OperationInsert,
		Table: nb.NBGlobalTable,
		UUID:  GlobalUUID,
		Row:   ovsdb.Row{"generation": 0},
	}}
}

func (db *DB) createSwitchOps(sw *nb.LogicalSwitch) ([]ovsdb.Operation, error) {
	return db.c.Create(sw)
}

// deleteSwitchOps deletes the switch; its ports, referenced only from it,
// are garbage-collected by the server (Logical_Port is not a root table).
func (db *DB) deleteSwitchOps(uuid string) ([]ovsdb.Operation, error) {
	return db.c.Where(&nb.LogicalSwitch{UUID: uuid}).Delete()
}

// addPortsOps inserts ports (whose UUIDs must be named, newPortName), adds
// them to the switch and stamps the switch with generation next.
func (db *DB) addPortsOps(switchUUID string, ports []*nb.LogicalPort, next int) ([]ovsdb.Operation, error) {
	var ops []ovsdb.Operation
	names := make([]string, len(ports))
	for i, p := range ports {
		create, err := db.c.Create(p)
		if err != nil {
			return nil, err
		}
		ops = append(ops, create...)
		names[i] = p.UUID
	}
	sw := &nb.LogicalSwitch{UUID: switchUUID}
	mutate, err := db.c.Where(sw).Mutate(sw, model.Mutation{
		Field:   &sw.Ports,
		Mutator: ovsdb.MutateOperationInsert,
		Value:   names,
	})
	if err != nil {
		return nil, err
	}
	stamp, err := db.stampSwitchOps(switchUUID, next)
	if err != nil {
		return nil, err
	}
	ops = append(ops, mutate...)
	return append(ops, stamp...), nil
}

// deletePortOps removes the port from its switch, which garbage-collects
// the port row, and stamps the switch with generation next.
func (db *DB) deletePortOps(switchUUID, portUUID string, next int) ([]ovsdb.Operation, error) {
	sw := &nb.LogicalSwitch{UUID: switchUUID}
	ops, err := db.c.Where(sw).Mutate(sw, model.Mutation{
		Field:   &sw.Ports,
		Mutator: ovsdb.MutateOperationDelete,
		Value:   []string{portUUID},
	})
	if err != nil {
		return nil, err
	}
	stamp, err := db.stampSwitchOps(switchUUID, next)
	if err != nil {
		return nil, err
	}
	return append(ops, stamp...), nil
}

// replacePortOps inserts port row (named UUID), puts it in the switch in
// place of the port old ("": none) and stamps the switch with next. The
// old row, no longer referenced, is garbage-collected.
func (db *DB) replacePortOps(switchUUID, old string, row *nb.LogicalPort, next int) ([]ovsdb.Operation, error) {
	if old == "" {
		return db.addPortsOps(switchUUID, []*nb.LogicalPort{row}, next)
	}
	ops, err := db.c.Create(row)
	if err != nil {
		return nil, err
	}
	sw := &nb.LogicalSwitch{UUID: switchUUID}
	mutate, err := db.c.Where(sw).Mutate(sw,
		model.Mutation{Field: &sw.Ports, Mutator: ovsdb.MutateOperationDelete, Value: []string{old}},
		model.Mutation{Field: &sw.Ports, Mutator: ovsdb.MutateOperationInsert, Value: []string{row.UUID}})
	if err != nil {
		return nil, err
	}
	stamp, err := db.stampSwitchOps(switchUUID, next)
	if err != nil {
		return nil, err
	}
	return append(append(ops, mutate...), stamp...), nil
}

func (db *DB) stampSwitchOps(switchUUID string, next int) ([]ovsdb.Operation, error) {
	sw := &nb.LogicalSwitch{UUID: switchUUID, Generation: next}
	return db.c.Where(sw).Update(sw, &sw.Generation)
}

func (db *DB) createChassisOps(ch *nb.Chassis) ([]ovsdb.Operation, error) {
	return db.c.Create(ch)
}

func (db *DB) deleteChassisOps(uuid string) ([]ovsdb.Operation, error) {
	return db.c.Where(&nb.Chassis{UUID: uuid}).Delete()
}
