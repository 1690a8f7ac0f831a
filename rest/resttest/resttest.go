package resttest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/nbdb"
	"github.com/ferry-sdn/ferry/rest/api"
)

// Backend is an in-memory rest.Backend.
type Backend struct {
	trialMu   sync.Mutex // one trial at a time
	mu        sync.Mutex
	snap      model.Snapshot
	unhealthy bool
	fail      error
	mutations int
}

// NewBackend returns an empty, healthy Backend.
func NewBackend() *Backend { return &Backend{} }

// SetHealthy sets what Healthy reports.
func (b *Backend) SetHealthy(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unhealthy = !ok
}

// FailWith makes every later mutation fail with err (nil: stop failing),
// to exercise the API's handling of backend failures.
func (b *Backend) FailWith(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fail = err
}

// Mutations counts the mutation calls that reached the backend, successful
// or not: bad input must never get this far.
func (b *Backend) Mutations() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mutations
}

// Trial implements rest.Trier: it runs write and puts the state back.
// Unlike nbdb's, a trial is not isolated from writes made meanwhile (they
// are undone with it): a test fake.
func (b *Backend) Trial(ctx context.Context, write func(ctx context.Context) error) (*model.Snapshot, error) {
	b.trialMu.Lock()
	defer b.trialMu.Unlock()
	saved := b.Snapshot()
	err := write(ctx)
	after := b.Snapshot()
	b.mu.Lock()
	b.snap = *saved
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return after, nil
}

// Healthy implements rest.Backend.
func (b *Backend) Healthy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.unhealthy
}

// Snapshot implements rest.Backend: a deep copy, so that callers cannot
// change the backend's state.
func (b *Backend) Snapshot() *model.Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := model.Snapshot{Generation: b.snap.Generation}
	for _, sw := range b.snap.Switches {
		sw.Ports = slices.Clone(sw.Ports)
		sw.Bindings = slices.Clone(sw.Bindings)
		sw.XenServerNetworks = slices.Clone(sw.XenServerNetworks)
		s.Switches = append(s.Switches, sw)
	}
	for _, ch := range b.snap.Chassis {
		ch.Encaps = slices.Clone(ch.Encaps)
		s.Chassis = append(s.Chassis, ch)
	}
	s.Gateways = slices.Clone(b.snap.Gateways)
	return &s
}

// begin counts a mutation and returns the injected failure, if any. The
// caller holds b.mu.
func (b *Backend) begin() error {
	b.mutations++
	return b.fail
}

func conflict(field, format string, args ...any) error {
	return &nbdb.Error{Kind: nbdb.ErrConflict, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &nbdb.Error{Kind: nbdb.ErrNotFound, Msg: fmt.Sprintf(format, args...)}
}

func (b *Backend) switchIndex(name string) int {
	return slices.IndexFunc(b.snap.Switches, func(sw model.Switch) bool { return sw.Name == name })
}

// CreateSwitch implements rest.Backend.
func (b *Backend) CreateSwitch(_ context.Context, sw model.Switch) (model.Switch, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return model.Switch{}, err
	}
	if b.switchIndex(sw.Name) >= 0 {
		return model.Switch{}, conflict("name", "switch %q already exists", sw.Name)
	}
	sw.Ports = []model.Port{}
	return b.addSwitch(sw)
}

// addSwitch adds a new switch, with what ports and bindings it has, at a
// new generation; VNI 0 allocates the lowest free one.
func (b *Backend) addSwitch(sw model.Switch) (model.Switch, error) {
	used := map[uint32]string{}
	for _, o := range b.snap.Switches {
		used[o.VNI] = o.Name
	}
	if sw.VNI == 0 {
		for sw.VNI = 1; used[sw.VNI] != ""; sw.VNI++ {
		}
	} else if other, ok := used[sw.VNI]; ok {
		return model.Switch{}, conflict("vni", "%d is already used by switch %q", sw.VNI, other)
	}
	if sw.Encap == "" {
		sw.Encap = model.EncapVXLAN
	}
	b.snap.Generation++
	sw.Generation = b.snap.Generation
	b.snap.Switches = append(b.snap.Switches, sw)
	slices.SortFunc(b.snap.Switches, func(a, c model.Switch) int { return strings.Compare(a.Name, c.Name) })
	return sw, nil
}

// DeleteSwitch implements rest.Backend.
func (b *Backend) DeleteSwitch(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return err
	}
	i := b.switchIndex(name)
	if i < 0 {
		return notFound("switch %q not found", name)
	}
	b.snap.Generation++
	b.snap.Switches = slices.Delete(b.snap.Switches, i, i+1)
	return nil
}

// SetXenServerNetworks implements rest.Backend.
func (b *Backend) SetXenServerNetworks(_ context.Context, name string, networks []string) (model.Switch, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return model.Switch{}, err
	}
	i := b.switchIndex(name)
	if i < 0 {
		return model.Switch{}, notFound("switch %q not found", name)
	}
	b.snap.Generation++
	sw := b.snap.Switches[i]
	sw.XenServerNetworks = slices.Clone(networks)
	sw.Generation = b.snap.Generation
	b.snap.Switches[i] = sw
	return sw, nil
}

// CreatePort implements rest.Backend.
func (b *Backend) CreatePort(_ context.Context, p model.Port) (model.Port, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return model.Port{}, err
	}
	if err := b.addPorts(p.Switch, []model.Port{p}, ""); err != nil {
		return model.Port{}, err
	}
	return p, nil
}

// CreatePorts implements rest.Backend: all or nothing, one generation.
func (b *Backend) CreatePorts(_ context.Context, switchName string, ports []model.Port) ([]model.Port, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return nil, err
	}
	for i := range ports {
		ports[i].Switch = switchName
	}
	if err := b.addPorts(switchName, ports, "ports"); err != nil {
		return nil, err
	}
	return ports, nil
}

// addPorts adds ports to a switch at a new generation, or nothing;
// list names the items in errors ("ports[3].iface_id"; "": one port).
func (b *Backend) addPorts(switchName string, ports []model.Port, list string) error {
	i := b.switchIndex(switchName)
	if i < 0 {
		return notFound("switch %q not found", switchName)
	}
	field := func(k int, name string) string {
		if list == "" {
			return name
		}
		return fmt.Sprintf("%s[%d].%s", list, k, name)
	}
	for k, p := range ports {
		for _, sw := range b.snap.Switches {
			for _, o := range append(slices.Clone(sw.Ports), ports[:k]...) {
				if sw.Name == switchName && o.Name == p.Name {
					return conflict(field(k, "name"), "port %q already exists on switch %q", p.Name, switchName)
				}
				if o.IfaceID == p.IfaceID {
					return conflict(field(k, "iface_id"), "%q is already used by port %q on switch %q", p.IfaceID, o.Name, sw.Name)
				}
			}
		}
	}
	b.snap.Generation++
	sw := &b.snap.Switches[i]
	sw.Generation = b.snap.Generation
	sw.Ports = append(slices.Clone(sw.Ports), ports...)
	slices.SortFunc(sw.Ports, func(a, c model.Port) int { return strings.Compare(a.Name, c.Name) })
	return nil
}

// ApplySwitch implements rest.Backend: the switch becomes sw (VNI 0 keeps
// or allocates), at a new generation unless nothing differs.
func (b *Backend) ApplySwitch(_ context.Context, sw model.Switch) (model.Switch, nbdb.Applied, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return model.Switch{}, "", err
	}
	if sw.Encap == "" {
		sw.Encap = model.EncapVXLAN
	}
	sw.XenServerNetworks = slices.Sorted(slices.Values(sw.XenServerNetworks))
	for k := range sw.Ports {
		sw.Ports[k].Switch = sw.Name
	}
	for k := range sw.Bindings {
		sw.Bindings[k].Switch = sw.Name
	}
	slices.SortFunc(sw.Ports, func(a, c model.Port) int { return strings.Compare(a.Name, c.Name) })
	slices.SortFunc(sw.Bindings, func(a, c model.GatewayBinding) int {
		return strings.Compare(fmt.Sprint(a.Gateway, a.Port, a.VLAN), fmt.Sprint(c.Gateway, c.Port, c.VLAN))
	})
	for k, p := range sw.Ports {
		for _, o := range b.snap.Switches {
			if j := slices.IndexFunc(o.Ports, func(q model.Port) bool { return q.IfaceID == p.IfaceID }); j >= 0 && o.Name != sw.Name {
				return model.Switch{}, "", conflict(fmt.Sprintf("ports[%d].iface_id", k), "%q is already used by port %q on switch %q", p.IfaceID, o.Ports[j].Name, o.Name)
			}
		}
	}
	if sw.Ports == nil {
		sw.Ports = []model.Port{}
	}
	i := b.switchIndex(sw.Name)
	if i < 0 {
		created, err := b.addSwitch(sw)
		return created, nbdb.Created, err
	}
	cur := b.snap.Switches[i]
	if sw.VNI != 0 && sw.VNI != cur.VNI {
		return model.Switch{}, "", conflict("vni", "switch %q has VNI %d; a VNI cannot change", sw.Name, cur.VNI)
	}
	if cur.Encap == sw.Encap && slices.Equal(cur.XenServerNetworks, sw.XenServerNetworks) && reflect.DeepEqual(cur.Ports, sw.Ports) &&
		slices.Equal(cur.Bindings, sw.Bindings) {
		return cur, nbdb.Unchanged, nil
	}
	b.snap.Generation++
	cur.Encap, cur.XenServerNetworks = sw.Encap, sw.XenServerNetworks
	cur.Ports, cur.Bindings = sw.Ports, sw.Bindings
	cur.Generation = b.snap.Generation
	b.snap.Switches[i] = cur
	return cur, nbdb.Configured, nil
}

// DeletePort implements rest.Backend.
func (b *Backend) DeletePort(_ context.Context, switchName, portName string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return err
	}
	i := b.switchIndex(switchName)
	if i < 0 {
		return notFound("switch %q not found", switchName)
	}
	sw := &b.snap.Switches[i]
	j := slices.IndexFunc(sw.Ports, func(p model.Port) bool { return p.Name == portName })
	if j < 0 {
		return notFound("port %q not found on switch %q", portName, switchName)
	}
	b.snap.Generation++
	sw.Generation = b.snap.Generation
	sw.Ports = slices.Delete(slices.Clone(sw.Ports), j, j+1)
	return nil
}

// PutPort implements rest.Backend: the port becomes p (created if
// missing), at a new generation unless nothing differs.
func (b *Backend) PutPort(_ context.Context, p model.Port) (model.Port, nbdb.Applied, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return model.Port{}, "", err
	}
	return b.replacePort(p.Switch, p.Name, true, func(model.Port) model.Port { return p })
}

// PatchPort implements rest.Backend.
func (b *Backend) PatchPort(_ context.Context, switchName, portName string, c nbdb.PortChange) (model.Port, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return model.Port{}, err
	}
	p, _, err := b.replacePort(switchName, portName, false, func(p model.Port) model.Port {
		if c.IfaceID != nil {
			p.IfaceID = *c.IfaceID
		}
		if c.SetMAC {
			p.MAC = c.MAC
		}
		if c.PortSecurity != nil {
			p.PortSecurity = c.PortSecurity
		}
		if c.SetIPs {
			p.IPs = c.IPs
		}
		return p
	})
	return p, err
}

// replacePort sets port portName of switchName to change(current), or
// creates change(zero port) when create allows it.
func (b *Backend) replacePort(switchName, portName string, create bool, change func(model.Port) model.Port) (model.Port, nbdb.Applied, error) {
	i := b.switchIndex(switchName)
	if i < 0 {
		return model.Port{}, "", notFound("switch %q not found", switchName)
	}
	sw := &b.snap.Switches[i]
	j := slices.IndexFunc(sw.Ports, func(p model.Port) bool { return p.Name == portName })
	if j < 0 && !create {
		return model.Port{}, "", notFound("port %q not found on switch %q", portName, switchName)
	}
	cur := model.Port{Switch: switchName, Name: portName}
	if j >= 0 {
		cur = sw.Ports[j]
	}
	p := change(cur)
	p.Switch, p.Name = switchName, portName
	if j >= 0 && model.SamePortConfig(cur, p) {
		return cur, nbdb.Unchanged, nil
	}
	for _, o := range b.snap.Switches {
		for _, q := range o.Ports {
			if q.IfaceID == p.IfaceID && !(o.Name == switchName && q.Name == portName) {
				return model.Port{}, "", conflict("iface_id", "%q is already used by port %q on switch %q", p.IfaceID, q.Name, o.Name)
			}
		}
	}
	applied := nbdb.Configured
	ports := slices.Clone(sw.Ports)
	if j >= 0 {
		ports[j] = p
	} else {
		applied, ports = nbdb.Created, append(ports, p)
		slices.SortFunc(ports, func(a, c model.Port) int { return strings.Compare(a.Name, c.Name) })
	}
	b.snap.Generation++
	sw.Generation, sw.Ports = b.snap.Generation, ports
	return p, applied, nil
}

// CreateChassis implements rest.Backend.
func (b *Backend) CreateChassis(_ context.Context, ch model.Chassis) (model.Chassis, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return model.Chassis{}, err
	}
	for _, o := range b.snap.Chassis {
		switch {
		case o.Name == ch.Name:
			return model.Chassis{}, conflict("name", "chassis %q already exists", ch.Name)
		case o.TunnelIP.Equal(ch.TunnelIP):
			return model.Chassis{}, conflict("tunnel_ip", "%s is already used by chassis %q", ch.TunnelIP, o.Name)
		case o.OVSDB == ch.OVSDB:
			return model.Chassis{}, conflict("ovsdb", "%s is already used by chassis %q", ch.OVSDB, o.Name)
		}
	}
	if ch.Bridge == "" {
		ch.Bridge = model.DefaultBridge
	}
	if ch.Kind == "" {
		ch.Kind = model.KindKVM
	}
	if len(ch.Encaps) == 0 {
		ch.Encaps = []string{model.EncapVXLAN, model.EncapGRE}
	}
	b.snap.Generation++
	ch.Generation = b.snap.Generation
	b.snap.Chassis = append(b.snap.Chassis, ch)
	slices.SortFunc(b.snap.Chassis, func(a, c model.Chassis) int { return strings.Compare(a.Name, c.Name) })
	return ch, nil
}

// PatchChassis implements rest.Backend.
func (b *Backend) PatchChassis(_ context.Context, name string, c nbdb.ChassisChange) (model.Chassis, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return model.Chassis{}, err
	}
	i := slices.IndexFunc(b.snap.Chassis, func(ch model.Chassis) bool { return ch.Name == name })
	if i < 0 {
		return model.Chassis{}, notFound("chassis %q not found", name)
	}
	ch := c.Apply(b.snap.Chassis[i])
	for j, o := range b.snap.Chassis {
		switch {
		case j == i:
		case o.TunnelIP.Equal(ch.TunnelIP):
			return model.Chassis{}, conflict("tunnel_ip", "%s is already used by chassis %q", ch.TunnelIP, o.Name)
		case o.OVSDB == ch.OVSDB:
			return model.Chassis{}, conflict("ovsdb", "%s is already used by chassis %q", ch.OVSDB, o.Name)
		}
	}
	if reflect.DeepEqual(ch, b.snap.Chassis[i]) {
		return ch, nil
	}
	b.snap.Generation++
	ch.Generation = b.snap.Generation
	b.snap.Chassis[i] = ch
	return ch, nil
}

// DeleteChassis implements rest.Backend.
func (b *Backend) DeleteChassis(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return err
	}
	i := slices.IndexFunc(b.snap.Chassis, func(ch model.Chassis) bool { return ch.Name == name })
	if i < 0 {
		return notFound("chassis %q not found", name)
	}
	b.snap.Generation++
	b.snap.Chassis = slices.Delete(b.snap.Chassis, i, i+1)
	return nil
}

// CreateGateway implements rest.Backend.
func (b *Backend) CreateGateway(_ context.Context, gw model.Gateway) (model.Gateway, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return model.Gateway{}, err
	}
	if _, ok := b.snap.GatewayByName(gw.Name); ok {
		return model.Gateway{}, conflict("name", "gateway %q already exists", gw.Name)
	}
	b.snap.Generation++
	gw.Generation = b.snap.Generation
	b.snap.Gateways = append(b.snap.Gateways, gw)
	slices.SortFunc(b.snap.Gateways, func(a, c model.Gateway) int { return strings.Compare(a.Name, c.Name) })
	return gw, nil
}

// PatchGateway implements rest.Backend.
func (b *Backend) PatchGateway(_ context.Context, name string, c nbdb.GatewayChange) (model.Gateway, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return model.Gateway{}, err
	}
	i := slices.IndexFunc(b.snap.Gateways, func(gw model.Gateway) bool { return gw.Name == name })
	if i < 0 {
		return model.Gateway{}, notFound("gateway %q not found", name)
	}
	gw := b.snap.Gateways[i]
	if lim := c.Apply(gw.Limits); lim != gw.Limits {
		b.snap.Generation++
		gw.Limits, gw.Generation = lim, b.snap.Generation
		b.snap.Gateways[i] = gw
	}
	return gw, nil
}

// DeleteGateway implements rest.Backend.
func (b *Backend) DeleteGateway(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return err
	}
	i := slices.IndexFunc(b.snap.Gateways, func(gw model.Gateway) bool { return gw.Name == name })
	if i < 0 {
		return notFound("gateway %q not found", name)
	}
	for _, sw := range b.snap.Switches {
		for _, bd := range sw.Bindings {
			if bd.Gateway == name {
				return conflict("name", "gateway %q still has bindings", name)
			}
		}
	}
	b.snap.Generation++
	b.snap.Gateways = slices.Delete(b.snap.Gateways, i, i+1)
	return nil
}

// CreateBinding implements rest.Backend.
func (b *Backend) CreateBinding(_ context.Context, bd model.GatewayBinding) (model.GatewayBinding, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return model.GatewayBinding{}, err
	}
	i := b.switchIndex(bd.Switch)
	if i < 0 {
		return model.GatewayBinding{}, notFound("switch %q not found", bd.Switch)
	}
	if _, ok := b.snap.GatewayByName(bd.Gateway); !ok {
		return model.GatewayBinding{}, notFound("gateway %q not found", bd.Gateway)
	}
	for _, sw := range b.snap.Switches {
		for _, o := range sw.Bindings {
			if o.Gateway == bd.Gateway && o.Port == bd.Port && o.VLAN == bd.VLAN {
				return model.GatewayBinding{}, conflict("vlan", "%s/%s/%d is already bound to switch %q", bd.Gateway, bd.Port, bd.VLAN, o.Switch)
			}
		}
	}
	b.snap.Generation++
	sw := b.snap.Switches[i]
	sw.Bindings = append(slices.Clone(sw.Bindings), bd)
	sw.Generation = b.snap.Generation
	b.snap.Switches[i] = sw
	return bd, nil
}

// DeleteBinding implements rest.Backend.
func (b *Backend) DeleteBinding(_ context.Context, bd model.GatewayBinding) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.begin(); err != nil {
		return err
	}
	i := b.switchIndex(bd.Switch)
	if i < 0 {
		return notFound("switch %q not found", bd.Switch)
	}
	sw := b.snap.Switches[i]
	j := slices.Index(sw.Bindings, bd)
	if j < 0 {
		return notFound("binding %s/%s/%d not found", bd.Gateway, bd.Port, bd.VLAN)
	}
	b.snap.Generation++
	sw.Bindings = slices.Delete(slices.Clone(sw.Bindings), j, j+1)
	sw.Generation = b.snap.Generation
	b.snap.Switches[i] = sw
	return nil
}

// Status is an in-memory rest.Status: it reports what the test set, and
// zero values otherwise.
type Status struct {
	mu       sync.Mutex
	chassis  map[string]model.ChassisStatus
	switches map[string]model.SwitchStatus
	ports    map[[2]string]model.PortStatus
	gateways map[string]model.GatewayStatus
	macs     map[string]model.GatewayMACs
	check    func(name string) (model.GatewayCheck, error)
	plan     func(snap *model.Snapshot) (model.Plan, error)
	trace    func(q model.TraceQuery) (model.Trace, error)
	replicas []api.Replica
}

// NewStatus returns a Status reporting nothing realized.
func NewStatus() *Status {
	return &Status{
		chassis:  map[string]model.ChassisStatus{},
		switches: map[string]model.SwitchStatus{},
		ports:    map[[2]string]model.PortStatus{},
		gateways: map[string]model.GatewayStatus{},
	}
}

// SetChassis sets the status reported for a chassis.
func (s *Status) SetChassis(name string, st model.ChassisStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chassis[name] = st
}

// SetSwitch sets the status reported for a switch.
func (s *Status) SetSwitch(name string, st model.SwitchStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.switches[name] = st
}

// SetPort sets the status reported for a port.
func (s *Status) SetPort(switchName, portName string, st model.PortStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ports[[2]string{switchName, portName}] = st
}

// SetGateway sets the status reported for a gateway.
func (s *Status) SetGateway(name string, st model.GatewayStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gateways[name] = st
}

// Gateway implements rest.Status.
func (s *Status) Gateway(name string) model.GatewayStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gateways[name]
}

// Chassis implements rest.Status.
func (s *Status) Chassis(name string) model.ChassisStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.chassis[name]
}

// Switch implements rest.Status.
func (s *Status) Switch(sw model.Switch) model.SwitchStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.switches[sw.Name]
}

// Port implements rest.Status.
func (s *Status) Port(p model.Port) model.PortStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ports[[2]string{p.Switch, p.Name}]
}
