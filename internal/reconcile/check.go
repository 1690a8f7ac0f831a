package reconcile

import (
	"context"
	"fmt"
	"sync"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/vtepcheck"
)

// errNoGateway: registered in the snapshot, no loop yet.
var errNoGateway = fmt.Errorf("reconcile: %w (no gateway loop yet)", model.ErrGatewayOffline)

// checking holds the names of the gateways being checked: one check at a
// time per VTEP, so two scratch switches never race for a VNI.
var checking sync.Map

// CheckGateway runs the conformance suite (internal/vtepcheck) on the connection
// of the gateway's own loop, so rest never talks to a device. The loop
// keeps running: the scratch switch does not carry ferry's ownership mark,
// so the loop's diff neither deletes nor adopts it. It implements
// rest.CheckStatus.
func (c *Controller) CheckGateway(ctx context.Context, name string) (model.GatewayCheck, error) {
	if owner := c.ownerOf(gatewayDeviceName(name)); owner != "" {
		if _, mine := c.owns(gatewayDeviceName(name)); !mine {
			// Two writers on one VTEP would race for the scratch
			// switch's VNI and the loop's own rows.
			return model.GatewayCheck{}, fmt.Errorf("reconcile: %w: run the check on replica %s", model.ErrNotOwner, owner)
		}
	}
	g := c.gateway(name)
	if g == nil {
		return model.GatewayCheck{}, errNoGateway
	}
	d := g.l.dev.Load()
	if d == nil || (*d).Client() == nil {
		return model.GatewayCheck{}, fmt.Errorf("reconcile: %w", model.ErrGatewayOffline)
	}
	if _, busy := checking.LoadOrStore(name, struct{}{}); busy {
		return model.GatewayCheck{}, fmt.Errorf("reconcile: %w", model.ErrCheckRunning)
	}
	defer checking.Delete(name)
	return vtepcheck.Run(ctx, (*d).Client(), name, c.log.With("gateway", name, "check", true)), nil
}
