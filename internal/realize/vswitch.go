package realize

import (
	"slices"
	"sort"
	"strconv"

	"github.com/ovn-kubernetes/libovsdb/ovsdb"

	ferryovsdb "github.com/ferry-sdn/ferry/ovsdb"
)

// ObservedBridge is a chassis' managed bridge as its OVSDB shows it.
type ObservedBridge struct {
	UUID        string
	Name        string
	FailMode    string
	Protocols   []string
	DatapathID  string
	ExternalIDs map[string]string
	Controllers []ObservedController
	Ports       []ObservedPort
}

// ObservedController is a Controller row of the bridge.
type ObservedController struct {
	UUID   string
	Target string
	Owned  bool
}

// ObservedPort is a Port row of the bridge with its interfaces.
type ObservedPort struct {
	UUID       string
	Name       string
	Owned      bool
	Interfaces []ObservedInterface
}

// ObservedInterface is an Interface row.
type ObservedInterface struct {
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

// protocols ferry needs; OpenFlow15 is required, older versions are kept
// so that operators' ovs-ofctl without -O keeps working.
var defaultProtocols = []string{"OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15"}

func owner() ovsdb.OvsMap {
	return ovsdb.OvsMap{GoMap: map[any]any{ferryovsdb.OwnerKey: ferryovsdb.OwnerValue}}
}

func strSet(vs ...string) ovsdb.OvsSet {
	s := ovsdb.OvsSet{GoSet: make([]any, 0, len(vs))}
	for _, v := range vs {
		s.GoSet = append(s.GoSet, v)
	}
	return s
}

func uuidSet(ids ...string) ovsdb.OvsSet {
	s := ovsdb.OvsSet{GoSet: make([]any, 0, len(ids))}
	for _, id := range ids {
		s.GoSet = append(s.GoSet, ovsdb.UUID{GoUUID: id})
	}
	return s
}

func strMap(m map[string]string) ovsdb.OvsMap {
	om := ovsdb.OvsMap{GoMap: make(map[any]any, len(m))}
	for k, v := range m {
		om.GoMap[k] = v
	}
	return om
}

func whereUUID(id string) []ovsdb.Condition {
	return []ovsdb.Condition{ovsdb.NewCondition("_uuid", ovsdb.ConditionEqual, ovsdb.UUID{GoUUID: id})}
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

// named UUIDs must be OVSDB identifiers.
func namedUUID(kind, name string) string {
	b := []byte("ferry_" + kind + "_" + name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// CreateOps returns the operations of a pass' first transaction: create the
// bridge if it is missing, bring its settings and controller in line, create
// and update tunnel ports. Nothing is deleted here (unreference before
// delete: flows still pointing at old ports go first). br is nil when the
// bridge does not exist; root is the Open_vSwitch row's UUID.
func CreateOps(root string, br *ObservedBridge, st BridgeConfig) []ovsdb.Operation {
	var ops []ovsdb.Operation
	var newPorts []string
	existing := make(map[string]ObservedPort)
	if br != nil {
		for _, p := range br.Ports {
			existing[p.Name] = p
		}
	}
	for _, t := range st.Tunnels {
		p, ok := existing[t.Name]
		if !ok {
			ifc, port := namedUUID("if", t.Name), namedUUID("port", t.Name)
			ops = append(ops,
				ovsdb.Operation{Op: ovsdb.OperationInsert, Table: "Interface", UUIDName: ifc, Row: ovsdb.Row{
					"name":           t.Name,
					"type":           t.Type,
					"options":        strMap(tunnelOptions(t)),
					"ofport_request": t.OFPort,
					"bfd":            strMap(tunnelBFD()),
					"external_ids": strMap(map[string]string{
						ferryovsdb.OwnerKey: ferryovsdb.OwnerValue, ferryovsdb.RemoteKey: t.Remote}),
				}},
				ovsdb.Operation{Op: ovsdb.OperationInsert, Table: "Port", UUIDName: port, Row: ovsdb.Row{
					"name":         t.Name,
					"interfaces":   uuidSet(ifc),
					"external_ids": owner(),
				}})
			newPorts = append(newPorts, port)
			continue
		}
		if !p.Owned || len(p.Interfaces) != 1 {
			continue // someone else's port with our name: never touch it
		}
		ifc := p.Interfaces[0]
		opts := tunnelOptions(t)
		if ifc.Type != t.Type || !mapsEqual(ifc.Options, opts) || !mapsEqual(ifc.BFD, tunnelBFD()) {
			ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: "Interface",
				Where: whereUUID(ifc.UUID),
				Row:   ovsdb.Row{"type": t.Type, "options": strMap(opts), "bfd": strMap(tunnelBFD())}})
		}
	}

	if br == nil {
		ifc, port, ctl, bridge := namedUUID("if", st.Bridge), namedUUID("port", st.Bridge), "ferry_controller", "ferry_bridge"
		ops = append(ops,
			ovsdb.Operation{Op: ovsdb.OperationInsert, Table: "Interface", UUIDName: ifc, Row: ovsdb.Row{
				"name": st.Bridge, "type": "internal"}},
			ovsdb.Operation{Op: ovsdb.OperationInsert, Table: "Port", UUIDName: port, Row: ovsdb.Row{
				"name": st.Bridge, "interfaces": uuidSet(ifc)}},
			controllerInsert(ctl, st.Controller),
			ovsdb.Operation{Op: ovsdb.OperationInsert, Table: "Bridge", UUIDName: bridge, Row: ovsdb.Row{
				"name":          st.Bridge,
				"datapath_type": st.DatapathType,
				"fail_mode":     "secure",
				"protocols":     strSet(defaultProtocols...),
				"controller":    uuidSet(ctl),
				"ports":         uuidSet(append([]string{port}, newPorts...)...),
				"external_ids":  owner(),
			}},
			ovsdb.Operation{Op: ovsdb.OperationMutate, Table: "Open_vSwitch", Where: whereUUID(root),
				Mutations: []ovsdb.Mutation{{Column: "bridges", Mutator: ovsdb.MutateOperationInsert, Value: uuidSet(bridge)}}})
		return ops
	}

	update := ovsdb.Row{}
	if br.FailMode != "secure" {
		update["fail_mode"] = "secure"
	}
	if !slices.Contains(br.Protocols, "OpenFlow15") {
		protos := br.Protocols
		if len(protos) == 0 {
			protos = defaultProtocols
		} else {
			protos = append(slices.Clone(protos), "OpenFlow15")
		}
		update["protocols"] = strSet(protos...)
	}
	if len(update) > 0 {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationUpdate, Table: "Bridge", Where: whereUUID(br.UUID), Row: update})
	}

	var mutations []ovsdb.Mutation
	if st.Controller != "" {
		have := false
		var stale []string
		for _, c := range br.Controllers {
			switch {
			case c.Target == st.Controller:
				have = true
			case c.Owned:
				stale = append(stale, c.UUID)
			}
		}
		if !have {
			ops = append(ops, controllerInsert("ferry_controller", st.Controller))
			mutations = append(mutations, ovsdb.Mutation{Column: "controller", Mutator: ovsdb.MutateOperationInsert, Value: uuidSet("ferry_controller")})
		}
		if len(stale) > 0 {
			mutations = append(mutations, ovsdb.Mutation{Column: "controller", Mutator: ovsdb.MutateOperationDelete, Value: uuidSet(stale...)})
		}
	}
	if len(newPorts) > 0 {
		mutations = append(mutations, ovsdb.Mutation{Column: "ports", Mutator: ovsdb.MutateOperationInsert, Value: uuidSet(newPorts...)})
	}
	if len(mutations) > 0 {
		ops = append(ops, ovsdb.Operation{Op: ovsdb.OperationMutate, Table: "Bridge", Where: whereUUID(br.UUID), Mutations: mutations})
	}
	return ops
}

func controllerInsert(name, target string) ovsdb.Operation {
	return ovsdb.Operation{Op: ovsdb.OperationInsert, Table: "Controller", UUIDName: name, Row: ovsdb.Row{
		"target":           target,
		"max_backoff":      controllerMaxBackoffMS,
		"inactivity_probe": controllerProbeMS,
		"connection_mode":  "out-of-band",
		"external_ids":     owner(),
	}}
}

// DeleteOps returns the operations of a pass' last transaction: remove the
// ports ferry owns that the desired state no longer has (their flows are
// gone by now). Rows ferry does not own are never touched.
func DeleteOps(br *ObservedBridge, st BridgeConfig) []ovsdb.Operation {
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
	return []ovsdb.Operation{{Op: ovsdb.OperationMutate, Table: "Bridge", Where: whereUUID(br.UUID),
		Mutations: []ovsdb.Mutation{{Column: "ports", Mutator: ovsdb.MutateOperationDelete, Value: uuidSet(gone...)}}}}
}

// GenerationOps records on the bridge the northbound generation whose
// changes it has realized, so that it survives a ferryd restart and an
// operator can read it with ovs-vsctl. Writing it only in passes that
// changed something keeps a no-op pass at zero transactions.
func GenerationOps(br *ObservedBridge, gen int64) []ovsdb.Operation {
	if br == nil || br.ExternalIDs[ferryovsdb.GenerationKey] == strconv.FormatInt(gen, 10) {
		return nil
	}
	return []ovsdb.Operation{{Op: ovsdb.OperationMutate, Table: "Bridge", Where: whereUUID(br.UUID),
		Mutations: []ovsdb.Mutation{
			{Column: "external_ids", Mutator: ovsdb.MutateOperationDelete, Value: strSet(ferryovsdb.GenerationKey)},
			{Column: "external_ids", Mutator: ovsdb.MutateOperationInsert, Value: strMap(map[string]string{ferryovsdb.GenerationKey: strconv.FormatInt(gen, 10)})},
		}}}
}

// TunnelOFPorts extracts, for DesiredChassis, the ofports of ferry's
// existing tunnel ports and every ofport in use on the bridge.
func TunnelOFPorts(br *ObservedBridge) (tunnels map[string]int, used map[int]bool) {
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

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

// ReleaseControllerOps removes the controllers ferry owns from the bridge,
// for a chassis deleted through the API.
func ReleaseControllerOps(br *ObservedBridge) []ovsdb.Operation {
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
	return []ovsdb.Operation{{Op: ovsdb.OperationMutate, Table: "Bridge", Where: whereUUID(br.UUID),
		Mutations: []ovsdb.Mutation{{Column: "controller", Mutator: ovsdb.MutateOperationDelete, Value: uuidSet(owned...)}}}}
}
