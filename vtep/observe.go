package vtep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ovn-kubernetes/libovsdb/cache"
	"github.com/ovn-kubernetes/libovsdb/model"

	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

// ErrNoPhysicalSwitch is wrapped by Observed.PhysicalSwitch when the
// database has no Physical_Switch of that name (or none at all): the VTEP
// has not registered itself yet, which is a state to wait in, not a fault.
var ErrNoPhysicalSwitch = errors.New("no such physical switch")

// FaultUnsupportedSourceNode is the switch_fault_status a VTEP reports when
// it cannot do source-node replication.
const FaultUnsupportedSourceNode = "unsupported_source_node_replication"

// Tables are the hardware_vtep tables Observe reads; monitor at least these
// (ovsdb.ConnConfig.Tables). Logical_Router is read only when the client's
// model has it: older VTEP schemas lack it.
func Tables() []string {
	return []string{
		hwvtep.LogicalRouterTable, hwvtep.LogicalSwitchTable,
		hwvtep.McastMacsLocalTable, hwvtep.McastMacsRemoteTable,
		hwvtep.PhysicalLocatorTable, hwvtep.PhysicalLocatorSetTable,
		hwvtep.PhysicalPortTable, hwvtep.PhysicalSwitchTable,
		hwvtep.UcastMacsLocalTable, hwvtep.UcastMacsRemoteTable,
		hwvtep.TunnelTable,
	}
}

// Rows are the hardware_vtep rows an Observed is made of. Observe fills
// them from libovsdb's cache; tests build them by hand.
type Rows struct {
	PhysicalSwitches    []hwvtep.PhysicalSwitch
	PhysicalPorts       []hwvtep.PhysicalPort
	LogicalSwitches     []hwvtep.LogicalSwitch
	PhysicalLocators    []hwvtep.PhysicalLocator
	PhysicalLocatorSets []hwvtep.PhysicalLocatorSet
	UcastMacsLocal      []hwvtep.UcastMacsLocal
	UcastMacsRemote     []hwvtep.UcastMacsRemote
	McastMacsLocal      []hwvtep.McastMacsLocal
	McastMacsRemote     []hwvtep.McastMacsRemote
	LogicalRouters      []hwvtep.LogicalRouter
	Tunnels             []hwvtep.Tunnel
}

// Observed is one VTEP database as ferry needs to see it. It is immutable
// once built and holds no client.
type Observed struct {
	switches  []hwvtep.PhysicalSwitch // by name
	ports     map[string]*hwvtep.PhysicalPort
	lswitches map[string]*hwvtep.LogicalSwitch // by UUID
	lsByName  map[string]*hwvtep.LogicalSwitch
	locators  map[string]*hwvtep.PhysicalLocator // by UUID
	// locatorByIP finds the reusable locator of a tunnel IP: encapsulation
	// vxlan_over_ipv4 and no tunnel_key (the key is the logical switch's).
	locatorByIP map[string]string
	sets        map[string][]string                 // locator set UUID → locator UUIDs
	ucastRemote map[string][]hwvtep.UcastMacsRemote // by logical switch UUID, then row UUID
	mcastRemote map[string][]hwvtep.McastMacsRemote // by logical switch UUID, then row UUID
	ucastLocal  map[string][]hwvtep.UcastMacsLocal  // by logical switch UUID
	// pinned counts the references to a logical switch from rows ferry
	// never writes (the VTEP's own MAC tables, logical routers): while any
	// remain, ovsdb-server refuses to delete the logical switch.
	pinned  map[string]int
	tunnels map[string]*hwvtep.Tunnel // by UUID
}

// Observe reads the VTEP database from a client's cache (client.Cache();
// nil while not connected). It sends nothing to the server, and takes the
// cache rather than the client so that this package needs no client.
func Observe(ctx context.Context, tc *cache.TableCache) (*Observed, error) {
	// Read libovsdb's cache in place: List clones every row through JSON,
	// far too slow for a VTEP with tens of thousands of MACs. Cached rows
	// are replaced, never modified, so a shallow copy is safe.
	if tc == nil {
		return nil, errors.New("vtep: no cache (not connected)")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var r Rows
	each := func(table string, f func(m model.Model)) {
		if t := tc.Table(table); t != nil {
			for _, m := range t.RowsShallow() {
				f(m)
			}
		}
	}
	each(hwvtep.PhysicalSwitchTable, func(m model.Model) { r.PhysicalSwitches = append(r.PhysicalSwitches, *m.(*hwvtep.PhysicalSwitch)) })
	each(hwvtep.PhysicalPortTable, func(m model.Model) { r.PhysicalPorts = append(r.PhysicalPorts, *m.(*hwvtep.PhysicalPort)) })
	each(hwvtep.LogicalSwitchTable, func(m model.Model) { r.LogicalSwitches = append(r.LogicalSwitches, *m.(*hwvtep.LogicalSwitch)) })
	each(hwvtep.PhysicalLocatorTable, func(m model.Model) { r.PhysicalLocators = append(r.PhysicalLocators, *m.(*hwvtep.PhysicalLocator)) })
	each(hwvtep.PhysicalLocatorSetTable, func(m model.Model) {
		r.PhysicalLocatorSets = append(r.PhysicalLocatorSets, *m.(*hwvtep.PhysicalLocatorSet))
	})
	each(hwvtep.UcastMacsLocalTable, func(m model.Model) { r.UcastMacsLocal = append(r.UcastMacsLocal, *m.(*hwvtep.UcastMacsLocal)) })
	each(hwvtep.UcastMacsRemoteTable, func(m model.Model) { r.UcastMacsRemote = append(r.UcastMacsRemote, *m.(*hwvtep.UcastMacsRemote)) })
	each(hwvtep.McastMacsLocalTable, func(m model.Model) { r.McastMacsLocal = append(r.McastMacsLocal, *m.(*hwvtep.McastMacsLocal)) })
	each(hwvtep.McastMacsRemoteTable, func(m model.Model) { r.McastMacsRemote = append(r.McastMacsRemote, *m.(*hwvtep.McastMacsRemote)) })
	each(hwvtep.LogicalRouterTable, func(m model.Model) { r.LogicalRouters = append(r.LogicalRouters, *m.(*hwvtep.LogicalRouter)) })
	each(hwvtep.TunnelTable, func(m model.Model) { r.Tunnels = append(r.Tunnels, *m.(*hwvtep.Tunnel)) })
	return NewObserved(r), nil
}

// NewObserved indexes rows. It keeps references to the rows' maps and
// slices: do not change them afterwards.
func NewObserved(r Rows) *Observed {
	o := &Observed{
		switches:    slices.Clone(r.PhysicalSwitches),
		ports:       make(map[string]*hwvtep.PhysicalPort, len(r.PhysicalPorts)),
		lswitches:   make(map[string]*hwvtep.LogicalSwitch, len(r.LogicalSwitches)),
		lsByName:    make(map[string]*hwvtep.LogicalSwitch, len(r.LogicalSwitches)),
		locators:    make(map[string]*hwvtep.PhysicalLocator, len(r.PhysicalLocators)),
		locatorByIP: make(map[string]string),
		sets:        make(map[string][]string, len(r.PhysicalLocatorSets)),
		ucastRemote: make(map[string][]hwvtep.UcastMacsRemote),
		mcastRemote: make(map[string][]hwvtep.McastMacsRemote),
		ucastLocal:  make(map[string][]hwvtep.UcastMacsLocal),
		pinned:      make(map[string]int),
	}
	slices.SortFunc(o.switches, func(a, b hwvtep.PhysicalSwitch) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.UUID, b.UUID))
	})
	for i := range r.PhysicalPorts {
		o.ports[r.PhysicalPorts[i].UUID] = &r.PhysicalPorts[i]
	}
	for i := range r.LogicalSwitches {
		ls := &r.LogicalSwitches[i]
		o.lswitches[ls.UUID] = ls
		o.lsByName[ls.Name] = ls
	}
	for i := range r.PhysicalLocators {
		l := &r.PhysicalLocators[i]
		o.locators[l.UUID] = l
		if reusable(l) {
			o.locatorByIP[l.DstIP] = l.UUID
		}
	}
	for _, s := range r.PhysicalLocatorSets {
		o.sets[s.UUID] = s.Locators
	}
	for _, m := range r.UcastMacsRemote {
		o.ucastRemote[m.LogicalSwitch] = append(o.ucastRemote[m.LogicalSwitch], m)
	}
	for _, m := range r.McastMacsRemote {
		o.mcastRemote[m.LogicalSwitch] = append(o.mcastRemote[m.LogicalSwitch], m)
	}
	for _, m := range r.UcastMacsLocal {
		o.ucastLocal[m.LogicalSwitch] = append(o.ucastLocal[m.LogicalSwitch], m)
		o.pinned[m.LogicalSwitch]++
	}
	for _, m := range r.McastMacsLocal {
		o.pinned[m.LogicalSwitch]++
	}
	for _, lr := range r.LogicalRouters {
		for _, ls := range lr.SwitchBinding {
			o.pinned[ls]++
		}
	}
	// Row order in the cache is random: sort so that the rows kept among
	// duplicates, and the operations, are the same on every pass.
	for _, rows := range o.ucastRemote {
		slices.SortFunc(rows, func(a, b hwvtep.UcastMacsRemote) int { return cmp.Compare(a.UUID, b.UUID) })
	}
	for _, rows := range o.mcastRemote {
		slices.SortFunc(rows, func(a, b hwvtep.McastMacsRemote) int { return cmp.Compare(a.UUID, b.UUID) })
	}
	o.tunnels = make(map[string]*hwvtep.Tunnel, len(r.Tunnels))
	for i := range r.Tunnels {
		o.tunnels[r.Tunnels[i].UUID] = &r.Tunnels[i]
	}
	return o
}

func reusable(l *hwvtep.PhysicalLocator) bool {
	return l.EncapsulationType == Encapsulation && l.TunnelKey == nil
}

// owned reports whether ferry created the logical switch (ownership by
// role, as hardware_vtep has no external_ids).
func owned(ls *hwvtep.LogicalSwitch) bool {
	if ls == nil || ls.Description != Description {
		return false
	}
	_, ok := SwitchName(ls.Name)
	return ok
}

// PhysicalSwitch is a Physical_Switch as an operator and the API see it.
type PhysicalSwitch struct {
	UUID      string // the row's: what identifies the switch, whatever the target's spelling
	Name      string
	TunnelIPs []string // sorted
	Ports     []Port   // by name
	Faults    []string // switch_fault_status, sorted
}

// Port is a Physical_Port of a Physical_Switch.
type Port struct {
	Name   string
	Faults []string // port_fault_status, sorted
	// VLANs maps every bound VLAN to its Logical_Switch name, other
	// controllers' bindings included.
	VLANs map[uint16]string
}

// PhysicalSwitch returns the named Physical_Switch; "" names the only one.
// Errors wrap ErrNoPhysicalSwitch when there is none.
func (o *Observed) PhysicalSwitch(name string) (PhysicalSwitch, error) {
	row, err := o.physicalSwitch(name)
	if err != nil {
		return PhysicalSwitch{}, err
	}
	ps := PhysicalSwitch{
		UUID:      row.UUID,
		Name:      row.Name,
		TunnelIPs: sorted(row.TunnelIPs),
		Faults:    sorted(row.SwitchFaultStatus),
	}
	for _, pu := range row.Ports {
		p := o.ports[pu]
		if p == nil {
			continue
		}
		port := Port{Name: p.Name, Faults: sorted(p.PortFaultStatus), VLANs: make(map[uint16]string, len(p.VLANBindings))}
		for vlan, lsu := range p.VLANBindings {
			name := lsu
			if ls := o.lswitches[lsu]; ls != nil {
				name = ls.Name
			}
			port.VLANs[uint16(vlan)] = name
		}
		ps.Ports = append(ps.Ports, port)
	}
	slices.SortFunc(ps.Ports, func(a, b Port) int { return cmp.Compare(a.Name, b.Name) })
	return ps, nil
}

func (o *Observed) physicalSwitch(name string) (*hwvtep.PhysicalSwitch, error) {
	var found *hwvtep.PhysicalSwitch
	for i := range o.switches {
		ps := &o.switches[i]
		if name != "" && ps.Name != name {
			continue
		}
		if found != nil {
			if name == "" {
				return nil, errors.New("vtep: several physical switches in the database: name the one to drive")
			}
			return nil, fmt.Errorf("vtep: several physical switches named %q", name)
		}
		found = ps
	}
	if found == nil {
		if name == "" {
			return nil, fmt.Errorf("vtep: %w in the database", ErrNoPhysicalSwitch)
		}
		return nil, fmt.Errorf("vtep: %w: %q", ErrNoPhysicalSwitch, name)
	}
	return found, nil
}

// SupportsSourceNode reports whether the named Physical_Switch ("" = the
// only one) can do source-node replication, i.e. does not report
// FaultUnsupportedSourceNode. A missing switch reports false.
func (o *Observed) SupportsSourceNode(ps string) bool {
	row, err := o.physicalSwitch(ps)
	return err == nil && !slices.Contains(row.SwitchFaultStatus, FaultUnsupportedSourceNode)
}

// LocalMAC is a MAC the VTEP learned on its physical ports (Ucast_Macs_Local).
type LocalMAC struct {
	MAC    string // lower-case xx:xx:..
	IP     string // tunnel IP of the VTEP where it lives (the locator's dst_ip)
	IPAddr string // the host's IP, for ARP suppression; often ""
}

// LocalMACs returns the MACs the VTEP learned on ferry's logical switch for
// switch name, sorted by MAC; nil when that logical switch does not exist
// or is not ferry's.
func (o *Observed) LocalMACs(name string) []LocalMAC {
	ls := o.lsByName[LogicalSwitchName(name)]
	if ls == nil || !owned(ls) {
		return nil
	}
	var macs []LocalMAC
	for _, m := range o.ucastLocal[ls.UUID] {
		var ip string
		if l := o.locators[m.Locator]; l != nil {
			ip = l.DstIP
		}
		mac := strings.ToLower(m.MAC)
		if n, err := normalMAC(m.MAC); err == nil {
			mac = n
		}
		macs = append(macs, LocalMAC{MAC: mac, IP: ip, IPAddr: m.Ipaddr})
	}
	slices.SortFunc(macs, func(a, b LocalMAC) int {
		return cmp.Or(cmp.Compare(a.MAC, b.MAC), cmp.Compare(a.IP, b.IP), cmp.Compare(a.IPAddr, b.IPAddr))
	})
	return macs
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TunnelStates returns the BFD state of the physical switch's tunnels by
// remote tunnel IP: "up", "down", or "unknown" while BFD is off or has not
// reported.
func (o *Observed) TunnelStates(ps string) map[string]string {
	sw, err := o.physicalSwitch(ps)
	if err != nil {
		return nil
	}
	out := make(map[string]string)
	for _, tu := range sw.Tunnels {
		t := o.tunnels[tu]
		if t == nil {
			continue
		}
		l := o.locators[t.Remote]
		if l == nil {
			continue
		}
		switch t.BFDStatus["state"] {
		case "up":
			out[l.DstIP] = "up"
		case "down", "init", "admin_down":
			out[l.DstIP] = "down"
		default:
			out[l.DstIP] = "unknown"
		}
	}
	return out
}

// Fault names of switch_fault_status that say the VTEP is full.
const (
	FaultMACTableExhaustion = "mac_table_exhaustion"
	FaultTunnelExhaustion   = "tunnel_exhaustion"
)

// Written counts what ferry holds on the VTEP now: the Ucast_Macs_Remote
// rows of its logical switches and the distinct tunnel IPs they point to.
// A VTEP that reports exhaustion keeps what it holds and gets nothing
// more (realize caps the desired state at these).
func (o *Observed) Written() (macs, tunnels int) {
	ips := make(map[string]bool)
	for uuid, rows := range o.ucastRemote {
		if !owned(o.lswitches[uuid]) {
			continue
		}
		for _, r := range rows {
			macs++
			if l := o.locators[r.Locator]; l != nil {
				ips[l.DstIP] = true
			}
		}
	}
	return macs, len(ips)
}
