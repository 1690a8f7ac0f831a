package rest

import (
	"github.com/ferry-sdn/ferry/internal/model"
)

// The JSON bodies of the API. They are exported so that clients in Go
// (ferryctl) share them; openapi.json describes the same shapes, and a test
// checks that the two agree field by field.

// SwitchRequest is the body of POST /v1/switches.
type SwitchRequest struct {
	Name string `json:"name"`
	// VNI is the VXLAN network identifier (and GRE key); nil allocates
	// the lowest free one.
	VNI *int64 `json:"vni,omitempty"`
	// Encap is "vxlan" (the default) or "gre".
	Encap string `json:"encap,omitempty"`
	// XenServerNetworks adopts whole XenServer networks: every VIF whose
	// xs-network-uuid is listed joins the switch without a port of its own.
	XenServerNetworks []string `json:"xenserver_networks,omitempty"`
}

// SwitchPatch is the body of PATCH /v1/switches/{name}: the fields that can
// change after creation.
type SwitchPatch struct {
	XenServerNetworks *[]string `json:"xenserver_networks"`
}

// Switch is a logical switch as the API shows it.
type Switch struct {
	Name       string   `json:"name"`
	VNI        uint32   `json:"vni"`
	Encap      string   `json:"encap"`
	Generation int64    `json:"generation"`
	Ports      []string `json:"ports"` // names, sorted
	// XenServerNetworks are the adopted XenServer networks.
	XenServerNetworks []string           `json:"xenserver_networks"`
	Status            model.SwitchStatus `json:"status"`
}

// PortRequest is the body of POST /v1/switches/{switch}/ports.
type PortRequest struct {
	Name string `json:"name"`
	// IfaceID matches the Interface's external_ids:iface-id (libvirt,
	// OpenStack) or xs-vif-uuid (XenServer).
	IfaceID string `json:"iface_id"`
	// MAC is optional: without it ferry uses the Interface's attached-mac.
	MAC string `json:"mac,omitempty"`
}

// Port is a logical port as the API shows it.
type Port struct {
	Name    string           `json:"name"`
	Switch  string           `json:"switch"`
	IfaceID string           `json:"iface_id"`
	MAC     string           `json:"mac,omitempty"`
	Status  model.PortStatus `json:"status"`
}

// ChassisRequest is the body of POST /v1/chassis.
type ChassisRequest struct {
	Name string `json:"name"`
	// OVSDB is the hypervisor's OVSDB target: tcp:IP:PORT, ssl:IP:PORT or
	// unix:PATH, or "passive" for a host that dials ferry's --ovsdb-listen
	// (matched by its Open_vSwitch external_ids:system-id = name).
	OVSDB    string `json:"ovsdb"`
	TunnelIP string `json:"tunnel_ip"`
	// Bridge defaults to br-int; XenServer VIFs sit on xapiN/xenbrN.
	Bridge string `json:"bridge,omitempty"`
	// Kind is kvm (the default), xenserver or generic.
	Kind string `json:"kind,omitempty"`
	// Encaps defaults to ["vxlan", "gre"].
	Encaps []string `json:"encaps,omitempty"`
	// UnderlayMTU is the MTU between tunnel endpoints (default 1500).
	UnderlayMTU int `json:"underlay_mtu,omitempty"`
	// DatapathType is used if ferry has to create the bridge: "system"
	// (the default) or "netdev" (userspace, hosts without the kernel
	// module).
	DatapathType string `json:"datapath_type,omitempty"`
}

// Chassis is a registered hypervisor as the API shows it.
type Chassis struct {
	Name         string              `json:"name"`
	OVSDB        string              `json:"ovsdb"`
	TunnelIP     string              `json:"tunnel_ip"`
	Bridge       string              `json:"bridge"`
	Kind         string              `json:"kind"`
	Encaps       []string            `json:"encaps"`
	UnderlayMTU  int                 `json:"underlay_mtu"`
	DatapathType string              `json:"datapath_type,omitempty"`
	Generation   int64               `json:"generation"`
	Status       model.ChassisStatus `json:"status"`
}

// Error is the body of every error response.
type Error struct {
	Message string `json:"error"`
}

func (e *Error) Error() string { return e.Message }

// Health is the body of GET /healthz.
type Health struct {
	// Status is "ok" or "unavailable".
	Status     string `json:"status"`
	Northbound string `json:"northbound"` // "connected" or "disconnected"
	// Error says what is wrong when Status is not "ok", so that every
	// error response of the API has an "error" member.
	Error string `json:"error,omitempty"`
}

func switchJSON(sw model.Switch, st model.SwitchStatus) Switch {
	out := Switch{
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

func portJSON(p model.Port, st model.PortStatus) Port {
	out := Port{Name: p.Name, Switch: p.Switch, IfaceID: p.IfaceID, Status: st}
	if p.MAC != nil {
		out.MAC = p.MAC.String()
	}
	return out
}

func chassisJSON(ch model.Chassis, st model.ChassisStatus) Chassis {
	out := Chassis{
		Name:         ch.Name,
		OVSDB:        ch.OVSDB,
		Bridge:       ch.Bridge,
		Kind:         ch.Kind,
		Encaps:       ch.Encaps,
		Generation:   ch.Generation,
		Status:       st,
		UnderlayMTU:  ch.MTU(),
		DatapathType: ch.DatapathType,
	}
	if ch.TunnelIP != nil {
		out.TunnelIP = ch.TunnelIP.String()
	}
	if out.Encaps == nil {
		out.Encaps = []string{}
	}
	return out
}
