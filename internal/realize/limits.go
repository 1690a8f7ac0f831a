package realize

import (
	"sort"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/vtep"
)

// applyLimits trims d to the gateway's limits. The choice is deterministic
// so that every ferryd (and every recompute) writes the same subset and the
// VTEP sees no churn: tunnels are kept in tunnel-IP order, MACs per switch
// in MAC order, and the total over switches in switch-name then MAC order.
// What is dropped is counted in d.HeldBack, by switch, with the first limit
// that dropped it.
func applyLimits(d *vtep.Desired, lim model.Limits) {
	if lim == (model.Limits{}) {
		return
	}
	held := make(map[string]*vtep.HeldBack)
	hold := func(sw, reason string, n int) {
		if n == 0 {
			return
		}
		h := held[sw]
		if h == nil {
			h = &vtep.HeldBack{Switch: sw, Reason: reason}
			held[sw] = h
		}
		h.MACs += n
	}
	if lim.Tunnels > 0 {
		ips := make(map[string]bool)
		for _, s := range d.Switches {
			for _, m := range s.RemoteMACs {
				ips[m.IP] = true
			}
			for _, ip := range s.Flood {
				ips[ip] = true
			}
		}
		all := make([]string, 0, len(ips))
		for ip := range ips {
			all = append(all, ip)
		}
		sort.Strings(all)
		keep := make(map[string]bool)
		for i, ip := range all {
			keep[ip] = i < lim.Tunnels
		}
		for i := range d.Switches {
			s := &d.Switches[i]
			macs := s.RemoteMACs[:0:0]
			for _, m := range s.RemoteMACs {
				if keep[m.IP] {
					macs = append(macs, m)
				}
			}
			hold(s.Name, "tunnels", len(s.RemoteMACs)-len(macs))
			s.RemoteMACs = macs
			s.Flood = keepStrings(s.Flood, keep)
		}
		d.BFD = keepStrings(d.BFD, keep)
	}
	if lim.MACsPerSwitch > 0 {
		for i := range d.Switches {
			s := &d.Switches[i]
			if n := len(s.RemoteMACs); n > lim.MACsPerSwitch {
				hold(s.Name, "macs_per_switch", n-lim.MACsPerSwitch)
				s.RemoteMACs = s.RemoteMACs[:lim.MACsPerSwitch:lim.MACsPerSwitch]
			}
		}
	}
	if lim.MACsTotal > 0 {
		order := make([]int, len(d.Switches))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return d.Switches[order[a]].Name < d.Switches[order[b]].Name })
		left := lim.MACsTotal
		for _, i := range order {
			s := &d.Switches[i]
			if n := len(s.RemoteMACs); n > left {
				hold(s.Name, "macs_total", n-left)
				s.RemoteMACs = s.RemoteMACs[:left:left]
			}
			left -= len(s.RemoteMACs)
		}
	}
	for _, s := range d.Switches {
		if h := held[s.Name]; h != nil {
			d.HeldBack = append(d.HeldBack, *h)
		}
	}
	sort.Slice(d.HeldBack, func(i, j int) bool { return d.HeldBack[i].Switch < d.HeldBack[j].Switch })
}

// keepStrings returns the members of ss that keep marks, in a new slice.
func keepStrings(ss []string, keep map[string]bool) []string {
	var out []string
	for _, s := range ss {
		if keep[s] {
			out = append(out, s)
		}
	}
	return out
}

// Exhausted caps a gateway's limits at what ferry holds on it while the
// VTEP reports it is full (switch_fault_status mac_table_exhaustion or
// tunnel_exhaustion): ferry adds nothing more until the fault clears, and
// what is held back is reported with the fault as its reason. macs and
// tunnels are what ferry holds now (vtep.Observed.Written); a VTEP full
// with none of ferry's MACs is capped at one, as 0 means unlimited.
func Exhausted(gw model.Gateway, faults []string, macs, tunnels int) (model.Gateway, map[string]string) {
	reasons := map[string]string{}
	capAt := func(limit *int, held int, reason, fault string) {
		held = max(held, 1)
		if *limit == 0 || held < *limit {
			*limit = held
			reasons[reason] = fault
		}
	}
	for _, f := range faults {
		switch f {
		case vtep.FaultMACTableExhaustion:
			capAt(&gw.Limits.MACsTotal, macs, "macs_total", f)
		case vtep.FaultTunnelExhaustion:
			capAt(&gw.Limits.Tunnels, tunnels, "tunnels", f)
		}
	}
	return gw, reasons
}
