package reconcile

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/ferry-sdn/ferry/hypervisor"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/openflow"
	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/ovsdb/vswitch"
	"github.com/ferry-sdn/ferry/vtep"
	"github.com/ferry-sdn/ferry/vtep/hwvtep"
)

// OpenFlow adapts the openflow server to Switches.
func OpenFlow(s *openflow.Server) Switches { return ofSwitches{s} }

type ofSwitches struct{ s *openflow.Server }

func (o ofSwitches) Session(dpid uint64, authorize openflow.Authorize) Session {
	ss := o.s.Bind(dpid, authorize)
	if ss == nil {
		return nil
	}
	return ofSession{ss}
}

func (o ofSwitches) Bound(dpid uint64) Session {
	if ss := o.s.Bound(dpid); ss != nil {
		return ofSession{ss}
	}
	return nil
}

func (o ofSwitches) Refused(dpid uint64) (openflow.Refusal, bool) { return o.s.Refused(dpid) }

type ofSession struct{ s *openflow.Session }

func (o ofSession) DumpFlows(ctx context.Context) ([]openflow.FlowRef, error) {
	stats, err := o.s.DumpFlows(ctx)
	if err != nil {
		return nil, err
	}
	var refs []openflow.FlowRef
	for _, st := range stats {
		if openflow.IsFerryCookie(st.Cookie) {
			refs = append(refs, openflow.FlowRef{Table: st.Table, Cookie: st.Cookie})
		}
	}
	return refs, nil
}

func (o ofSession) Version() uint8 { return o.s.Version() }

func (o ofSession) PacketOut(ctx context.Context, p openflow.PacketOut) error {
	return o.s.PacketOut(ctx, p)
}

func (o ofSession) PacketIns() <-chan openflow.PacketIn { return o.s.PacketIns() }

func (o ofSession) Close() { o.s.Close() }

func (o ofSession) DumpTable(ctx context.Context, table uint8) ([]openflow.FlowStat, error) {
	return o.s.DumpTable(ctx, table)
}

func (o ofSession) DumpGroups(ctx context.Context) ([]openflow.GroupEntry, error) {
	return o.s.DumpGroups(ctx)
}

func (o ofSession) Role() openflow.RoleStatus { return o.s.Role() }

func (o ofSession) CountFlows(ctx context.Context, cookie, mask uint64) (uint32, error) {
	return o.s.CountFlows(ctx, cookie, mask)
}

func (o ofSession) RequestRole(ctx context.Context, role openflow.Role, generation uint64) (openflow.Role, uint64, error) {
	return o.s.RequestRole(ctx, role, generation)
}

func (o ofSession) Commit(ctx context.Context, p realize.FlowPlan) error {
	return o.s.Commit(ctx, openflow.Changes{
		AddGroups:    p.AddGroups,
		ModifyGroups: p.ModifyGroups,
		DeleteFlows:  p.DeleteFlows,
		AddFlows:     p.AddFlows,
		DeleteGroups: p.DeleteGroups,
	})
}

// OVSDBDialer returns a DialFunc connecting to chassis databases with
// ovsdb.Conn: reconnecting forever, monitoring the tables ferry reads. A
// chassis whose ovsdb is "passive" is reached through passive's relay once
// it dials in; passive may be nil when ferryd has no --ovsdb-listen.
func OVSDBDialer(logger *slog.Logger, tlsConfig *tls.Config, passive *ovsdb.Passive) DialFunc {
	return func(ch model.Chassis, notify func()) (Device, error) {
		var targets []ovsdb.Target
		if ch.OVSDB == model.PassiveOVSDB {
			if passive == nil {
				return nil, errors.New("reconcile: chassis is passive but ferryd has no --ovsdb-listen")
			}
			targets = []ovsdb.Target{passive.RelayTarget(ch.Name)}
		} else {
			var err error
			if targets, err = ovsdb.ParseActiveTargets(ch.OVSDB); err != nil {
				return nil, err
			}
		}
		dbModel, err := vswitch.FullDatabaseModel()
		if err != nil {
			return nil, err
		}
		cfg := ovsdb.ConnConfig{
			Targets:  targets,
			Model:    dbModel,
			Tables:   hypervisor.Tables(),
			Columns:  hypervisor.Columns(),
			TLS:      tlsConfig,
			Logger:   logger.With("chassis", ch.Name),
			OnChange: notify,
			// A device's messages must not be able to crash ferryd.
			Guard: true,
			// Back in step within seconds of a link that heals: a dial
			// is cheap, the default 10 s backoff is not.
			MaxBackoff: deviceMaxBackoff,
		}
		if ch.OVSDB == model.PassiveOVSDB {
			// The relay socket appears within a second of the host
			// dialing in: poll it briskly rather than backing off to the
			// default maximum.
			cfg.MaxBackoff = time.Second
		}
		conn, err := ovsdb.NewConn(cfg)
		if err != nil {
			return nil, err
		}
		return device{conn}, nil
	}
}

type device struct{ c *ovsdb.Conn }

func (d device) Client() client.Client {
	if !d.c.Connected() {
		return nil
	}
	return d.c.Client()
}

func (d device) Close() { d.c.Close() }

// WhileConnected bounds a pass by the connection (see whileConnected).
func (d device) WhileConnected(ctx context.Context) (context.Context, context.CancelFunc) {
	return d.c.WhileConnected(ctx)
}

// deviceMaxBackoff bounds the wait between two dials of a device that is
// down: the soak saw a hypervisor back in step 7 s after a 24 s link cut
// healed, most of it libovsdb's backoff.
const deviceMaxBackoff = 2 * time.Second

// refusalShown is how long a refused message stays the reason a device
// shows for being disconnected.
const refusalShown = time.Minute

// Reason says why the device is not connected, as far as ferry knows: the
// last dial error, or a message refused lately.
func (d device) Reason() error {
	if err := d.c.DialError(); err != nil {
		return err
	}
	if err, at := d.c.LastRefusal(); err != nil && time.Since(at) < refusalShown {
		return err
	}
	return nil
}

// notConnected is the waiting error of a pass whose device is not
// connected, naming the cause in an operator's words (cause.go) when the
// device knows it: "ovsdb tcp:198.18.255.99:6640: connection refused
// (retrying)". A passive device has no address to dial: until its host
// dials in, the cause is that it has not, and passive says what the host
// must have to be matched ("system-id hv1").
func notConnected(target string, dev Device, passive string) error {
	why := "not connected"
	var err error
	if r, ok := dev.(interface{ Reason() error }); ok {
		err = r.Reason()
	}
	switch {
	case target == model.PassiveOVSDB && (err == nil || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)):
		// The relay socket exists only while the host is connected.
		why = fmt.Sprintf("no host with %s has dialed in to ferryd's --ovsdb-listen", passive)
	case err != nil:
		why = cause(err)
	}
	return waiting{fmt.Sprintf("ovsdb %s: %s (retrying)", target, why)}
}

// PassiveGatewayKey is the name under which a passive gateway's relay is
// kept in ovsdb.Passive: gateways and chassis have separate namespaces.
func PassiveGatewayKey(gateway string) string { return "gw:" + gateway }

// OVSDBGatewayDialer returns a DialGatewayFunc connecting to VTEP
// hardware_vtep databases, directly or through passive's relay.
func OVSDBGatewayDialer(logger *slog.Logger, tlsConfig *tls.Config, passive *ovsdb.Passive) DialGatewayFunc {
	return func(gw model.Gateway, notify func()) (Device, error) {
		var targets []ovsdb.Target
		if gw.OVSDB == model.PassiveOVSDB {
			if passive == nil {
				return nil, errors.New("reconcile: gateway is passive but ferryd has no --ovsdb-listen")
			}
			targets = []ovsdb.Target{passive.RelayTarget(PassiveGatewayKey(gw.Name))}
		} else {
			var err error
			if targets, err = ovsdb.ParseActiveTargets(gw.OVSDB); err != nil {
				return nil, err
			}
		}
		dbModel, err := hwvtep.FullDatabaseModel()
		if err != nil {
			return nil, err
		}
		cfg := ovsdb.ConnConfig{
			Targets:  targets,
			Model:    dbModel,
			Tables:   vtep.Tables(),
			TLS:      tlsConfig,
			Logger:   logger.With("gateway", gw.Name),
			OnChange: notify,
			// A device's messages must not be able to crash ferryd.
			Guard: true,
			// Back in step within seconds of a link that heals: a dial
			// is cheap, the default 10 s backoff is not.
			MaxBackoff: deviceMaxBackoff,
		}
		if gw.OVSDB == model.PassiveOVSDB {
			cfg.MaxBackoff = time.Second
		}
		conn, err := ovsdb.NewConn(cfg)
		if err != nil {
			return nil, err
		}
		return device{conn}, nil
	}
}
