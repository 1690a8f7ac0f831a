package hypervisor

import (
	"maps"
	"slices"
	"sort"
	"strconv"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	"github.com/ferry-sdn/ferry/ovsdb/rows"
	"github.com/ferry-sdn/ferry/ovsdb/vswitch"
)

// Bridge is a chassis' managed bridge as its OVSDB shows it.
type Bridge struct {
	UUID        string
	Name        string
	FailMode    string
	Protocols   []string
	DatapathID  string
	ExternalIDs map[string]string
	Controllers []Controller
	Ports       []Port
}

// Controller is a Controller row of the bridge.
type Controller struct {
	UUID   string
	Target string
	Owned  bool
}

// Port is a Port row of the bridge with its interfaces.
type Port struct {
	UUID       string
	Name       string
	Owned      bool
	Interfaces []Interface
}

// Interface is an Interface row.
type Interface struct {
	UUID          string
	Name          string
	Type          string
	Options       map[string]string
	OFPort        int
	OFPortRequest int
	ExternalIDs   map[string]string
	BFD           map[string]string
	BFDStatus     map[string]string
}

// Controller settings for rows ferry creates: reconnect within a second
// after ferryd restarts (OVS' default backoff reaches 8 s), and never
// in-band, whose hidden flows would sit beside ferry's.
const (
	controllerMaxBackoffMS = 1000
	controllerProbeMS      = 5000
)

// owned is the external_ids ferry gives the rows it creates.
var owned = map[string]string{rows.OwnerKey: rows.OwnerValue}

// protocols ferry needs; OpenFlow15 is required, older versions are kept
// so that operators' ovs-ofctl without -O keeps working.
var defaultProtocols = []string{"OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15"}

// A chassis' openflow option, as model spells it (hypervisor is a leaf
// and does not import model; realize passes the value through).
const (
	OpenFlowAuto = "auto"
	OpenFlow15   = "1.5"
	OpenFlow13   = "1.3"
)

// Protocols returns the protocols column ferry wants on an existing bridge
// whose column is have, given the chassis' openflow option (OpenFlow*),
// and whether that differs from have:
//   - "1.5": OpenFlow15 is added;
//   - "1.3": the column is the operator's and never rewritten;
//   - auto ("", the default): an empty column (OVS' default, nobody pinned
//     it) gets ferry's defaults, which include OpenFlow15; a pinned column
//     that allows 1.3 or 1.5 is left as it is, and the session speaks the
//     highest of them; one that allows neither gets OpenFlow15, since
//     ferry could not manage the bridge otherwise.
func Protocols(have []string, mode string) ([]string, bool) {
	if slices.Contains(have, "OpenFlow15") {
		return have, false
	}
	switch mode {
	case OpenFlow13:
		return have, false
	case OpenFlow15:
	default:
		if slices.Contains(have, "OpenFlow13") {
			return have, false
		}
	}
	if len(have) == 0 {
		return defaultProtocols, true
	}
	return append(slices.Clone(have), "OpenFlow15"), true
}

// tunnelOptions are the Interface options of a tunnel port. key=flow lets
// one port carry every switch: the pipeline sets tun_id per switch.
func tunnelOptions(t Tunnel) map[string]string {
	return map[string]string{"remote_ip": t.RemoteIP, "local_ip": t.LocalIP, "key": "flow"}
}

// tunnelBFD turns BFD on for every tunnel ferry creates, fast enough that
// a dead or cut-off endpoint shows as down within about a second (3 ×
// 300 ms), so that tunnel health is visible in switch status and metrics.
func tunnelBFD() map[string]string {
	return map[string]string{"enable": "true", "min_rx": "300", "min_tx": "300"}
}

// CreateOps returns the operations of a pass' first transaction: create the
// bridge if it is missing, bring its settings and controller in line, create
// and update tunnel ports. Nothing is deleted here (unreference before
// delete: flows still pointing at old ports go first). br is nil when the
// bridge does not exist; root is the Open_vSwitch row's UUID.
func CreateOps(root string, br *Bridge, st Config) []ovsdb.Operation {
	var ops []ovsdb.Operation
	var newPorts []string
	existing := make(map[string]Port)
	if br != nil {
		for _, p := range br.Ports {
			existing[p.Name] = p
		}
	}
	for _, t := range st.Tunnels {
		p, ok := existing[t.Name]
		if !ok {
			ifc, port := rows.NamedUUID("if", t.Name), rows.NamedUUID("port", t.Name)
			ops = append(ops,
				ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vswitch.InterfaceTable, UUIDName: ifc, Row: ovsdb.Row{
					"name":           t.Name,
					"type":           t.Type,
					"options":        rows.StringMap(tunnelOptions(t)),
					"ofport_request": t.OFPort,
					"bfd":            rows.StringMap(tunnelBFD()),
					"external_ids": rows.StringMap(map[string]string{
						rows.OwnerKey: rows.OwnerValue, rows.RemoteKey: t.Remote}),
				}},
				ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vswitch.PortTable, UUIDName: port, Row: ovsdb.Row{
					"name":         t.Name,
					"interfaces":   rows.UUIDSet(ifc),
					"external_ids": rows.StringMap(owned),
				}})
			newPorts = append(newPorts, port)
			continue
		}
		if !p.Owned || len(p.Interfaces) != 1 {
			continue // someone else's port with our name: never touch it
		}
		ifc := p.Interfaces[0]
		opts := tunnelOptions(t)
		if ifc.Type != t.Type || !maps.Equal(ifc.Options, opts) || !maps.Equal(ifc.BFD, tunnelBFD()) {
			ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: vswitch.InterfaceTable,
				Where: rows.WhereUUID(ifc.UUID),
				Row:   ovsdb.Row{"type": t.Type, "options": rows.StringMap(opts), "bfd": rows.StringMap(tunnelBFD())}})
		}
	}

	if br == nil {
		ifc, port, bridge := rows.NamedUUID("if", st.Bridge), rows.NamedUUID("port", st.Bridge), "ferry_bridge"
		ops = append(ops,
			ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vswitch.InterfaceTable, UUIDName: ifc, Row: ovsdb.Row{
				"name": st.Bridge, "type": "internal"}},
			ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vswitch.PortTable, UUIDName: port, Row: ovsdb.Row{
				"name": st.Bridge, "interfaces": rows.UUIDSet(ifc)}})
		var ctls []string
		for i, target := range st.Controllers {
			ctl := controllerName(i)
			ops = append(ops, controllerInsert(ctl, target))
			ctls = append(ctls, ctl)
		}
		ops = append(ops,
			ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vswitch.BridgeTable, UUIDName: bridge, Row: ovsdb.Row{
				"name":          st.Bridge,
				"datapath_type": st.DatapathType,
				"fail_mode":     "secure",
				"protocols":     rows.StringSet(defaultProtocols...),
				"controller":    rows.UUIDSet(ctls...),
				"ports":         rows.UUIDSet(append([]string{port}, newPorts...)...),
				"external_ids":  rows.StringMap(owned),
			}},
			ovsdb.Operation{Op: ovsdb.OperationMutate, Table: vswitch.OpenvSwitchTable, Where: rows.WhereUUID(root),
				Mutations: []ovsdb.Mutation{{Column: "bridges", Mutator: ovsdb.MutateOperationInsert, Value: rows.UUIDSet(bridge)}}})
		return ops
	}

	update := ovsdb.Row{}
	if br.FailMode != "secure" {
		update["fail_mode"] = "secure"
	}
	if protos, ok := Protocols(br.Protocols, st.OpenFlow); ok {
		update["protocols"] = rows.StringSet(protos...)
	}
	if len(update) > 0 {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: vswitch.BridgeTable, Where: rows.WhereUUID(br.UUID), Row: update})
	}

	var mutations []ovsdb.Mutation
	if len(st.Controllers) > 0 {
		// Every wanted target once, on a row of anyone's; ferry's rows
		// for other targets (a replica gone, an old address) go.
		have := map[string]bool{}
		var stale []string
		for _, c := range br.Controllers {
			switch {
			case slices.Contains(st.Controllers, c.Target):
				have[c.Target] = true
			case c.Owned:
				stale = append(stale, c.UUID)
			}
		}
		var added []string
		for i, target := range st.Controllers {
			if !have[target] {
				ops = append(ops, controllerInsert(controllerName(i), target))
				added = append(added, controllerName(i))
			}
		}
		if len(added) > 0 {
			mutations = append(mutations, ovsdb.Mutation{Column: "controller", Mutator: ovsdb.MutateOperationInsert, Value: rows.UUIDSet(added...)})
		}
		if len(stale) > 0 {
			mutations = append(mutations, ovsdb.Mutation{Column: "controller", Mutator: ovsdb.MutateOperationDelete, Value: rows.UUIDSet(stale...)})
		}
	}
	if len(newPorts) > 0 {
		mutations = append(mutations, ovsdb.Mutation{Column: "ports", Mutator: ovsdb.MutateOperationInsert, Value: rows.UUIDSet(newPorts...)})
	}
	if len(mutations) > 0 {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationMutate, Table: vswitch.BridgeTable, Where: rows.WhereUUID(br.UUID), Mutations: mutations})
	}
	return ops
}

// controllerName is the named UUID of the i-th controller row inserted.
func controllerName(i int) string { return "ferry_controller" + strconv.Itoa(i) }

func controllerInsert(name, target string) ovsdb.Operation {
	return ovsdb.Operation{Op: ovsdb.OperationInsert, Table: vswitch.ControllerTable, UUIDName: name, Row: ovsdb.Row{
		"target":           target,
		"max_backoff":      controllerMaxBackoffMS,
		"inactivity_probe": controllerProbeMS,
		"connection_mode":  "out-of-band",
		"external_ids":     rows.StringMap(owned),
	}}
}

// DeleteOps returns the operations of a pass' last transaction: remove the
// ports ferry owns that the desired state no longer has (their flows are
// gone by now). Rows ferry does not own are never touched.
func DeleteOps(br *Bridge, st Config) []ovsdb.Operation {
	if br == nil {
		return nil
	}
	want := make(map[string]bool, len(st.Tunnels))
	for _, t := range st.Tunnels {
		want[t.Name] = true
	}
	var gone []string
	for _, p := range br.Ports {
		if p.Owned && !want[p.Name] {
			gone = append(gone, p.UUID)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	sort.Strings(gone)
	return []ovsdb.Operation{{Op: ovsdb.OperationMutate, Table: vswitch.BridgeTable, Where: rows.WhereUUID(br.UUID),
		Mutations: []ovsdb.Mutation{{Column: "ports", Mutator: ovsdb.MutateOperationDelete, Value: rows.UUIDSet(gone...)}}}}
}

// GenerationOps records on the bridge the northbound generation whose
// changes it has realized, so that it survives a ferryd restart and an
// operator can read it with ovs-vsctl. Writing it only in passes that
// changed something keeps a no-op pass at zero transactions.
func GenerationOps(br *Bridge, gen int64) []ovsdb.Operation {
	if br == nil || br.ExternalIDs[rows.GenerationKey] == strconv.FormatInt(gen, 10) {
		return nil
	}
	return []ovsdb.Operation{{Op: ovsdb.OperationMutate, Table: vswitch.BridgeTable, Where: rows.WhereUUID(br.UUID),
		Mutations: []ovsdb.Mutation{
			{Column: "external_ids", Mutator: ovsdb.MutateOperationDelete, Value: rows.StringSet(rows.GenerationKey)},
			{Column: "external_ids", Mutator: ovsdb.MutateOperationInsert, Value: rows.StringMap(map[string]string{rows.GenerationKey: strconv.FormatInt(gen, 10)})},
		}}}
}

// TunnelOFPorts extracts, for DesiredChassis, the ofports of ferry's
// existing tunnel ports and every ofport in use on the bridge.
func TunnelOFPorts(br *Bridge) (tunnels map[string]int, used map[int]bool) {
	tunnels, used = make(map[string]int), make(map[int]bool)
	if br == nil {
		return
	}
	for _, p := range br.Ports {
		for _, ifc := range p.Interfaces {
			if ifc.OFPort > 0 {
				used[ifc.OFPort] = true
			}
			if ifc.OFPortRequest > 0 {
				used[ifc.OFPortRequest] = true
			}
			if p.Owned {
				switch {
				case ifc.OFPort > 0:
					tunnels[p.Name] = ifc.OFPort
				case ifc.OFPortRequest > 0:
					tunnels[p.Name] = ifc.OFPortRequest
				}
			}
		}
	}
	return
}

// ReleaseControllerOps removes the controllers ferry owns from the bridge,
// for a chassis deleted through the API.
func ReleaseControllerOps(br *Bridge) []ovsdb.Operation {
	if br == nil {
		return nil
	}
	var owned []string
	for _, c := range br.Controllers {
		if c.Owned {
			owned = append(owned, c.UUID)
		}
	}
	if len(owned) == 0 {
		return nil
	}
	return []ovsdb.Operation{{Op: ovsdb.OperationMutate, Table: vswitch.BridgeTable, Where: rows.WhereUUID(br.UUID),
		Mutations: []ovsdb.Mutation{{Column: "controller", Mutator: ovsdb.MutateOperationDelete, Value: rows.UUIDSet(owned...)}}}}
}
