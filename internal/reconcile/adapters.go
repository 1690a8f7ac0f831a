package reconcile

import (
	"context"
	"crypto/tls"
	"log/slog"

	"github.com/ovn-kubernetes/libovsdb/client"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/realize"
	"github.com/ferry-sdn/ferry/openflow"
	"github.com/ferry-sdn/ferry/ovsdb"
	"github.com/ferry-sdn/ferry/ovsdb/vswitch"
)

// OpenFlow adapts the openflow server to Switches.
func OpenFlow(s *openflow.Server) Switches { return ofSwitches{s} }

type ofSwitches struct{ s *openflow.Server }

func (o ofSwitches) Session(dpid uint64) Session {
	ss := o.s.Session(dpid)
	if ss == nil {
		return nil
	}
	return ofSession{ss}
}

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

func (o ofSession) DumpGroups(ctx context.Context) ([]openflow.GroupEntry, error) {
	return o.s.DumpGroups(ctx)
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

// chassisTables are the Open_vSwitch tables a chassis loop reads.
var chassisTables = []string{"Open_vSwitch", "Bridge", "Port", "Interface", "Controller"}

// OVSDBDialer returns a DialFunc connecting to chassis databases with
// ovsdb.Conn: reconnecting forever, monitoring the tables ferry reads.
func OVSDBDialer(logger *slog.Logger, tlsConfig *tls.Config) DialFunc {
	return func(ch model.Chassis, notify func()) (Device, error) {
		targets, err := ovsdb.ParseActiveTargets(ch.OVSDB)
		if err != nil {
			return nil, err
		}
		dbModel, err := vswitch.FullDatabaseModel()
		if err != nil {
			return nil, err
		}
		conn, err := ovsdb.NewConn(ovsdb.ConnConfig{
			Targets:  targets,
			Model:    dbModel,
			Tables:   chassisTables,
			TLS:      tlsConfig,
			Logger:   logger.With("chassis", ch.Name),
			OnChange: notify,
		})
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
