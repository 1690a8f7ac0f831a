package hypervisor

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/cache"
	libmodel "github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ferry-sdn/ferry/ovsdb/rows"
	"github.com/ferry-sdn/ferry/ovsdb/vswitch"
)

// Observed is a chassis' Open_vSwitch database as the cache shows it.
type Observed struct {
	Root string // Open_vSwitch row UUID ("" when the database is empty)
	// SystemID is the Open_vSwitch external_ids:system-id, the host's
	// name for OVN and ferry ("" when unset).
	SystemID string
	Bridge   *Bridge // nil when the managed bridge does not exist
	VIFs     []VIF
	// Tunnels maps the remote device (chassis or gateway) of each of
	// ferry's tunnel ports to its BFD state.
	Tunnels map[string]string
}

// Tables are the Open_vSwitch tables a chassis loop monitors.
func Tables() []string {
	return []string{vswitch.OpenvSwitchTable, vswitch.BridgeTable, vswitch.PortTable, vswitch.InterfaceTable, vswitch.ControllerTable}
}

// Columns are the columns it reads: not statistics, status or link state,
// which OVS rewrites every few seconds.
func Columns() map[string][]string {
	return map[string][]string{
		vswitch.OpenvSwitchTable: {"bridges", "external_ids"},
		vswitch.BridgeTable:      {"name", "fail_mode", "protocols", "controller", "ports", "external_ids", "datapath_id", "datapath_type"},
		vswitch.PortTable:        {"name", "interfaces", "external_ids"},
		vswitch.InterfaceTable:   {"name", "type", "options", "ofport", "ofport_request", "external_ids", "bfd", "bfd_status"},
		vswitch.ControllerTable:  {"target", "external_ids"},
	}
}

// Tunnel states as switch status and metrics report them.
const (
	TunnelUp      = "up"
	TunnelDown    = "down"
	TunnelUnknown = "unknown"
)

// bfdState reduces an Interface's bfd_status to up, down or unknown (BFD
// not running yet, or the peer never answered since the port appeared).
func bfdState(status map[string]string) string {
	switch status["state"] {
	case "up":
		return TunnelUp
	case "down", "admin_down", "init":
		return TunnelDown
	}
	return TunnelUnknown
}

// combineStates is the state of a remote reached by several tunnels (one
// per encapsulation): up when any is up, since that proves the underlay
// carries the pair; else down when any is down; else unknown.
func combineStates(a, b string) string {
	switch {
	case a == TunnelUp || b == TunnelUp:
		return TunnelUp
	case a == TunnelDown || b == TunnelDown:
		return TunnelDown
	}
	return TunnelUnknown
}

// Observe reads the managed bridge from a client's cache (client.Cache();
// nil while not connected). No I/O; it takes the cache rather than the
// client so that this package needs no client.
func Observe(ctx context.Context, tc *cache.TableCache, bridgeName string) (Observed, error) {
	var obs Observed
	// Read libovsdb's cache in place: its List clones every row through
	// JSON, which at 10,000 VIFs dominated ferryd's CPU profile. Cached
	// rows are replaced, never modified, on update, so sharing them
	// read-only is safe.
	if tc == nil {
		return obs, errors.New("hypervisor: no cache (not connected)")
	}
	if err := ctx.Err(); err != nil {
		return obs, err
	}
	tableRows := func(table string) map[string]libmodel.Model {
		if t := tc.Table(table); t != nil {
			return t.RowsShallow()
		}
		return nil
	}
	for _, m := range tableRows(vswitch.OpenvSwitchTable) {
		root := m.(*vswitch.OpenvSwitch)
		obs.Root, obs.SystemID = root.UUID, root.ExternalIDs["system-id"]
	}
	if obs.Root == "" {
		return obs, nil
	}
	var br *vswitch.Bridge
	for _, m := range tableRows(vswitch.BridgeTable) {
		if b := m.(*vswitch.Bridge); b.Name == bridgeName {
			br = b
		}
	}
	if br == nil {
		return obs, nil
	}
	portRows, ifaceRows, ctlRows := tableRows(vswitch.PortTable), tableRows(vswitch.InterfaceTable), tableRows(vswitch.ControllerTable)
	portByUUID := make(map[string]*vswitch.Port, len(portRows))
	for u, m := range portRows {
		portByUUID[u] = m.(*vswitch.Port)
	}
	ifByUUID := make(map[string]*vswitch.Interface, len(ifaceRows))
	for u, m := range ifaceRows {
		ifByUUID[u] = m.(*vswitch.Interface)
	}
	ctlByUUID := make(map[string]*vswitch.Controller, len(ctlRows))
	for u, m := range ctlRows {
		ctlByUUID[u] = m.(*vswitch.Controller)
	}

	ob := &Bridge{
		UUID:        br.UUID,
		Name:        br.Name,
		ExternalIDs: br.ExternalIDs,
	}
	if br.FailMode != nil {
		ob.FailMode = *br.FailMode
	}
	if br.DatapathID != nil {
		ob.DatapathID = *br.DatapathID
	}
	for _, p := range br.Protocols {
		ob.Protocols = append(ob.Protocols, p)
	}
	for _, id := range br.Controller {
		if c := ctlByUUID[id]; c != nil {
			ob.Controllers = append(ob.Controllers, Controller{UUID: c.UUID, Target: c.Target, Owned: rows.Owned(c.ExternalIDs)})
		}
	}
	for _, id := range br.Ports {
		p := portByUUID[id]
		if p == nil {
			continue
		}
		op := Port{UUID: p.UUID, Name: p.Name, Owned: rows.Owned(p.ExternalIDs)}
		for _, iid := range p.Interfaces {
			ifc := ifByUUID[iid]
			if ifc == nil {
				continue
			}
			oi := Interface{UUID: ifc.UUID, Name: ifc.Name, Type: ifc.Type, Options: ifc.Options,
				ExternalIDs: ifc.ExternalIDs, BFD: ifc.BFD, BFDStatus: ifc.BFDStatus}
			if ifc.Ofport != nil {
				oi.OFPort = *ifc.Ofport
			}
			if ifc.OfportRequest != nil {
				oi.OFPortRequest = *ifc.OfportRequest
			}
			op.Interfaces = append(op.Interfaces, oi)
			if op.Owned {
				if remote := ifc.ExternalIDs[rows.RemoteKey]; remote != "" {
					if obs.Tunnels == nil {
						obs.Tunnels = make(map[string]string)
					}
					obs.Tunnels[remote] = combineStates(obs.Tunnels[remote], bfdState(ifc.BFDStatus))
				}
				continue
			}
			if ifc.Type == "internal" {
				continue
			}
			if vif, ok := vifOf(oi); ok {
				obs.VIFs = append(obs.VIFs, vif)
			}
		}
		ob.Ports = append(ob.Ports, op)
	}
	obs.Bridge = ob
	return obs, nil
}

// vifOf turns an Interface carrying a hypervisor's iface-id into a VIF.
// libvirt and OpenStack set iface-id; XenServer sets xs-vif-uuid (and
// xs-network-uuid) on vifD.N and on its tapD.N twin.
func vifOf(ifc Interface) (VIF, bool) {
	id := ifc.ExternalIDs["iface-id"]
	if id == "" {
		id = ifc.ExternalIDs["xs-vif-uuid"]
	}
	if id == "" {
		return VIF{}, false
	}
	v := VIF{
		Name:    ifc.Name,
		IfaceID: id,
		Network: ifc.ExternalIDs["xs-network-uuid"],
		OFPort:  ifc.OFPort,
		Active:  ifc.ExternalIDs["iface-status"] != "inactive",
	}
	if m, err := net.ParseMAC(ifc.ExternalIDs["attached-mac"]); err == nil && len(m) == 6 {
		v.MAC = m
	}
	return v, true
}

// ParseDatapathID reads Bridge.datapath_id (16 hex digits).
func ParseDatapathID(s string) (uint64, bool) {
	s = strings.TrimPrefix(s, "0x")
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil
}
