package realize

import (
	"maps"
	"slices"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/vtep"
)

// A per-switch limit keeps the first N MACs in MAC order and counts the rest.
func TestGatewayLimitMACsPerSwitch(t *testing.T) {
	snap, obs, views := gatewayLab(true)
	gw := snap.Gateways[0]
	gw.Limits = model.Limits{MACsPerSwitch: 2}
	for range 3 { // the choice is the same every time
		d := DesiredGateway(snap, Bind(snap, obs), gw, views, nil)
		want := []vtep.RemoteMAC{{MAC: "52:54:00:00:01:0a", IP: "198.18.1.11"}, {MAC: "52:54:00:00:01:0b", IP: "198.18.2.13"}}
		if !slices.Equal(d.Switches[0].RemoteMACs, want) {
			t.Fatalf("remote MACs %+v", d.Switches[0].RemoteMACs)
		}
		if !slices.Equal(d.HeldBack, []vtep.HeldBack{{Switch: "blue", MACs: 2, Reason: "macs_per_switch"}}) {
			t.Fatalf("held back %+v", d.HeldBack)
		}
	}
	// No limit, nothing held back.
	if d := DesiredGateway(snap, Bind(snap, obs), snap.Gateways[0], views, nil); len(d.HeldBack) != 0 || len(d.Switches[0].RemoteMACs) != 4 {
		t.Fatalf("unlimited: %+v", d)
	}
}

// A tunnel limit keeps the first N remote locators (IP order): MACs and
// flood targets behind the others, and their BFD, are held back.
func TestGatewayLimitTunnels(t *testing.T) {
	snap, obs, views := gatewayLab(true)
	gw := snap.Gateways[0]
	gw.Limits = model.Limits{Tunnels: 2}
	d := DesiredGateway(snap, Bind(snap, obs), gw, views, nil)
	s := d.Switches[0]
	for _, m := range s.RemoteMACs {
		if m.IP == "198.18.2.13" {
			t.Fatalf("MAC behind a third tunnel written: %+v", s.RemoteMACs)
		}
	}
	if len(s.RemoteMACs) != 3 || !slices.Equal(s.Flood, []string{"198.18.1.11", "198.18.1.12"}) {
		t.Fatalf("remote MACs %+v flood %v", s.RemoteMACs, s.Flood)
	}
	if slices.Contains(d.BFD, "198.18.2.13") {
		t.Fatalf("BFD on a held-back tunnel: %v", d.BFD)
	}
	if !slices.Equal(d.HeldBack, []vtep.HeldBack{{Switch: "blue", MACs: 1, Reason: "tunnels"}}) {
		t.Fatalf("held back %+v", d.HeldBack)
	}
}

// A total limit fills switches in name order, MACs in MAC order.
func TestGatewayLimitMACsTotal(t *testing.T) {
	macs := func(ms ...string) []vtep.RemoteMAC {
		var out []vtep.RemoteMAC
		for _, m := range ms {
			out = append(out, vtep.RemoteMAC{MAC: m, IP: "198.18.1.11"})
		}
		return out
	}
	d := vtep.Desired{Switches: []vtep.Switch{
		{Name: "red", RemoteMACs: macs("02:00:00:00:00:01", "02:00:00:00:00:02")},
		{Name: "blue", RemoteMACs: macs("02:00:00:00:00:03", "02:00:00:00:00:04")},
	}}
	applyLimits(&d, model.Limits{MACsTotal: 3, MACsPerSwitch: 2})
	if !slices.Equal(d.Switches[1].RemoteMACs, macs("02:00:00:00:00:03", "02:00:00:00:00:04")) ||
		!slices.Equal(d.Switches[0].RemoteMACs, macs("02:00:00:00:00:01")) {
		t.Fatalf("switches %+v", d.Switches)
	}
	if !slices.Equal(d.HeldBack, []vtep.HeldBack{{Switch: "red", MACs: 1, Reason: "macs_total"}}) {
		t.Fatalf("held back %+v", d.HeldBack)
	}
}

// TestExhausted: a full VTEP's limits are capped at what ferry holds, a
// configured limit below that stays, and no fault changes nothing.
func TestExhausted(t *testing.T) {
	gw := model.Gateway{Name: "gw1", Limits: model.Limits{Tunnels: 2}}
	for _, c := range []struct {
		faults        []string
		macs, tunnels int
		want          model.Limits
		reasons       map[string]string
	}{
		{nil, 5, 3, model.Limits{Tunnels: 2}, map[string]string{}},
		{[]string{"mac_table_exhaustion"}, 5, 3, model.Limits{Tunnels: 2, MACsTotal: 5}, map[string]string{"macs_total": "mac_table_exhaustion"}},
		{[]string{"tunnel_exhaustion"}, 5, 1, model.Limits{Tunnels: 1}, map[string]string{"tunnels": "tunnel_exhaustion"}},
		{[]string{"tunnel_exhaustion"}, 5, 3, model.Limits{Tunnels: 2}, map[string]string{}},
		{[]string{"mac_table_exhaustion"}, 0, 0, model.Limits{Tunnels: 2, MACsTotal: 1}, map[string]string{"macs_total": "mac_table_exhaustion"}},
	} {
		got, reasons := Exhausted(gw, c.faults, c.macs, c.tunnels)
		if got.Limits != c.want || !maps.Equal(reasons, c.reasons) {
			t.Errorf("Exhausted(%v, %d, %d) = %+v %v, want %+v %v", c.faults, c.macs, c.tunnels, got.Limits, reasons, c.want, c.reasons)
		}
	}
}
