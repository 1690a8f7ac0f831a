package reconcile

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/ovsdb/vswitch"
)

// observation is a chassis' Open_vSwitch database as the cache shows it.
type observation struct {
	root   string // Open_vSwitch row UUID ("" when the database is empty)
	bridge *realize.ObservedBridge
	vifs   []realize.Interface
	// tunnels maps the remote device (chassis or gateway) of each of
	// ferry's tunnel ports to its BFD state.
	tunnels map[string]string
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

// observe reads the managed bridge from the libovsdb cache (no I/O).
func observe(ctx context.Context, cli client.Client, bridgeName string) (observation, error) {
	var obs observation
	var roots []vswitch.OpenvSwitch
	if err := cli.List(ctx, &roots); err != nil {
		return obs, fmt.Errorf("reconcile: list Open_vSwitch: %w", err)
	}
	if len(roots) == 0 {
		return obs, nil
	}
	obs.root = roots[0].UUID
	var bridges []vswitch.Bridge
	if err := cli.List(ctx, &bridges); err != nil {
		return obs, fmt.Errorf("reconcile: list Bridge: %w", err)
	}
	var br *vswitch.Bridge
	for i := range bridges {
		if bridges[i].Name == bridgeName {
			br = &bridges[i]
		}
	}
	if br == nil {
		return obs, nil
	}
	var ports []vswitch.Port
	var ifaces []vswitch.Interface
	var ctls []vswitch.Controller
	if err := cli.List(ctx, &ports); err != nil {
		return obs, fmt.Errorf("reconcile: list Port: %w", err)
	}
	if err := cli.List(ctx, &ifaces); err != nil {
		return obs, fmt.Errorf("reconcile: list Interface: %w", err)
	}
	if err := cli.List(ctx, &ctls); err != nil {
		return obs, fmt.Errorf("reconcile: list Controller: %w", err)
	}
	portByUUID := make(map[string]*vswitch.Port, len(ports))
	for i := range ports {
		portByUUID[ports[i].UUID] = &ports[i]
	}
	ifByUUID := make(map[string]*vswitch.Interface, len(ifaces))
	for i := range ifaces {
		ifByUUID[ifaces[i].UUID] = &ifaces[i]
	}
	ctlByUUID := make(map[string]*vswitch.Controller, len(ctls))
	for i := range ctls {
		ctlByUUID[ctls[i].UUID] = &ctls[i]
	}

	ob := &realize.ObservedBridge{
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
			ob.Controllers = append(ob.Controllers, realize.ObservedController{UUID: c.UUID, Target: c.Target, Owned: ovsdb.Owned(c.ExternalIDs)})
		}
	}
	for _, id := range br.Ports {
		p := portByUUID[id]
		if p == nil {
			continue
		}
		op := realize.ObservedPort{UUID: p.UUID, Name: p.Name, Owned: ovsdb.Owned(p.ExternalIDs)}
		for _, iid := range p.Interfaces {
			ifc := ifByUUID[iid]
			if ifc == nil {
				continue
			}
			oi := realize.ObservedInterface{UUID: ifc.UUID, Name: ifc.Name, Type: ifc.Type, Options: ifc.Options,
				ExternalIDs: ifc.ExternalIDs, BFD: ifc.BFD, BFDStatus: ifc.BFDStatus}
			if ifc.Ofport != nil {
				oi.OFPort = *ifc.Ofport
			}
			if ifc.OfportRequest != nil {
				oi.OFPortRequest = *ifc.OfportRequest
			}
			op.Interfaces = append(op.Interfaces, oi)
			if op.Owned {
				if remote := ifc.ExternalIDs[ovsdb.RemoteKey]; remote != "" {
					if obs.tunnels == nil {
						obs.tunnels = make(map[string]string)
					}
					obs.tunnels[remote] = bfdState(ifc.BFDStatus)
				}
				continue
			}
			if ifc.Type == "internal" {
				continue
			}
			if vif, ok := vifOf(oi); ok {
				obs.vifs = append(obs.vifs, vif)
			}
		}
		ob.Ports = append(ob.Ports, op)
	}
	obs.bridge = ob
	return obs, nil
}

// vifOf turns an Interface carrying a hypervisor's iface-id into a VIF.
// libvirt and OpenStack set iface-id; XenServer sets xs-vif-uuid (and
// xs-network-uuid) on vifD.N and on its tapD.N twin.
func vifOf(ifc realize.ObservedInterface) (realize.Interface, bool) {
	id := ifc.ExternalIDs["iface-id"]
	if id == "" {
		id = ifc.ExternalIDs["xs-vif-uuid"]
	}
	if id == "" {
		return realize.Interface{}, false
	}
	v := realize.Interface{
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

// parseDatapathID reads Bridge.datapath_id (16 hex digits).
func parseDatapathID(s string) (uint64, bool) {
	s = strings.TrimPrefix(s, "0x")
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil
}
