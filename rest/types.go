package rest

import (
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/api"
)

func switchJSON(sw model.Switch, st model.SwitchStatus) api.Switch {
	out := api.Switch{
		Name:              sw.Name,
		VNI:               sw.VNI,
		Encap:             sw.Encap,
		Generation:        sw.Generation,
		Ports:             make([]string, 0, len(sw.Ports)),
		Status:            st,
		XenServerNetworks: sw.XenServerNetworks,
	}
	if out.XenServerNetworks == nil {
		out.XenServerNetworks = []string{}
	}
	if out.Status.Tunnels == nil {
		out.Status.Tunnels = []model.SwitchTunnel{}
	}
	if out.Status.Gateways == nil {
		out.Status.Gateways = []model.SwitchGateway{}
	}
	for _, p := range sw.Ports {
		out.Ports = append(out.Ports, p.Name)
	}
	if out.Status.Chassis == nil {
		out.Status.Chassis = []model.SwitchChassis{}
	}
	return out
}

func portJSON(p model.Port, st model.PortStatus) api.Port {
	out := api.Port{Name: p.Name, Switch: p.Switch, IfaceID: p.IfaceID, PortSecurity: p.PortSecurity, Status: st}
	if p.MAC != nil {
		out.MAC = p.MAC.String()
	}
	for _, a := range p.IPs {
		out.IPs = append(out.IPs, a.String())
	}
	return out
}

func chassisJSON(ch model.Chassis, st model.ChassisStatus) api.Chassis {
	out := api.Chassis{
		Name:         ch.Name,
		OVSDB:        ch.OVSDB,
		Bridge:       ch.Bridge,
		Kind:         ch.Kind,
		Encaps:       ch.Encaps,
		Generation:   ch.Generation,
		Status:       st,
		UnderlayMTU:  ch.MTU(),
		DatapathType: ch.DatapathType,
		OpenFlow:     ch.OpenFlow,
		Relay:        ch.Relay,
	}
	if out.OpenFlow == "" {
		out.OpenFlow = model.OpenFlowAuto
	}
	if ch.TunnelIP != nil {
		out.TunnelIP = ch.TunnelIP.String()
	}
	if out.Encaps == nil {
		out.Encaps = []string{}
	}
	out.OpenFlowPeers = make([]string, 0, len(ch.OpenFlowPeers))
	for _, a := range ch.OpenFlowPeers {
		out.OpenFlowPeers = append(out.OpenFlowPeers, a.String())
	}
	return out
}
