package rest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/api"
)

// Tracer is what a Status may also do: trace a frame through the logical
// and the real pipeline (internal/reconcile.Controller implements it, on
// its device loops' connections: rest never talks to a device). Without
// it, traces answer 503.
type Tracer interface {
	Trace(ctx context.Context, q model.TraceQuery) (model.Trace, error)
}

// traceTimeout bounds one trace: an ofproto/trace or a flow dump per hop.
const traceTimeout = 30 * time.Second

// getTrace answers GET /v1/trace?switch=&from=&dst_mac=…
func (s *server) getTrace(w http.ResponseWriter, r *http.Request) error {
	v := r.URL.Query()
	req := api.TraceRequest{Switch: v.Get("switch"), From: v.Get("from"), SrcMAC: v.Get("src_mac"), DstMAC: v.Get("dst_mac"),
		EthType: v.Get("ethertype"), IPSrc: v.Get("ip_src"), IPDst: v.Get("ip_dst")}
	if s := v.Get("vlan"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return errorf(http.StatusBadRequest, "vlan: %q is not a number from 0 to 4095", s)
		}
		req.VLAN = n
	}
	return s.trace(w, r, req)
}

// postTrace answers POST /v1/trace: the same question as a JSON body. A
// reader may POST it: it changes nothing.
func (s *server) postTrace(w http.ResponseWriter, r *http.Request) error {
	var req api.TraceRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	return s.trace(w, r, req)
}

func (s *server) trace(w http.ResponseWriter, r *http.Request, req api.TraceRequest) error {
	q, err := TraceQuery(req)
	if err != nil {
		return err
	}
	sw, ok := s.b.Snapshot().Switch(q.Switch)
	if !ok {
		return errorf(http.StatusNotFound, "switch: %q not found", q.Switch)
	}
	if !slices.ContainsFunc(sw.Ports, func(p model.Port) bool { return p.Name == q.From }) {
		return errorf(http.StatusNotFound, "from: port %q not found on switch %q", q.From, q.Switch)
	}
	t, ok := s.st.(Tracer)
	if !ok {
		return errorf(http.StatusServiceUnavailable, "trace: this server cannot trace frames")
	}
	ctx, cancel := context.WithTimeout(r.Context(), traceTimeout)
	defer cancel()
	res, err := t.Trace(ctx, q)
	switch {
	case err == nil:
	case errors.Is(err, model.ErrTraceSwitch):
		// The controller's estate lags the snapshot by a moment.
		return errorf(http.StatusNotFound, "switch: %q not found", q.Switch)
	case errors.Is(err, model.ErrTracePort):
		return errorf(http.StatusNotFound, "from: port %q not found on switch %q", q.From, q.Switch)
	default:
		return errorf(http.StatusServiceUnavailable, "trace: %v", err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// TraceQuery validates a trace request. It is total: any request gives a
// query or a 400 naming the field.
func TraceQuery(req api.TraceRequest) (model.TraceQuery, error) {
	q := model.TraceQuery{Switch: req.Switch, From: req.From, VLAN: uint16(req.VLAN)}
	switch {
	case req.Switch == "":
		return q, errorf(http.StatusBadRequest, "switch: required")
	case req.From == "":
		return q, errorf(http.StatusBadRequest, "from: required (the logical port the frame enters by)")
	case req.DstMAC == "":
		return q, errorf(http.StatusBadRequest, "dst_mac: required")
	case req.VLAN < 0 || req.VLAN > 4095:
		return q, errorf(http.StatusBadRequest, "vlan: %d is not from 0 to 4095", req.VLAN)
	}
	var err error
	if q.DstMAC, err = traceMAC("dst_mac", req.DstMAC); err != nil {
		return q, err
	}
	if req.SrcMAC != "" {
		if q.SrcMAC, err = traceMAC("src_mac", req.SrcMAC); err != nil {
			return q, err
		}
	}
	for _, f := range []struct {
		name, v string
		to      *netip.Addr
	}{{"ip_src", req.IPSrc, &q.IPSrc}, {"ip_dst", req.IPDst, &q.IPDst}} {
		if f.v == "" {
			continue
		}
		a, err := netip.ParseAddr(f.v)
		if err != nil || a.Zone() != "" {
			return q, errorf(http.StatusBadRequest, "%s: %q is not an IPv4 or IPv6 address", f.name, f.v)
		}
		*f.to = a.Unmap()
	}
	if q.IPSrc.IsValid() && q.IPDst.IsValid() && q.IPSrc.Is4() != q.IPDst.Is4() {
		return q, errorf(http.StatusBadRequest, "ip_dst: %s is not of the same family as ip_src %s", q.IPDst, q.IPSrc)
	}
	if q.EthType, err = traceEthType(req.EthType); err != nil {
		return q, err
	}
	return q, nil
}

func traceMAC(field, s string) (net.HardwareAddr, error) {
	m, err := net.ParseMAC(s)
	if err != nil || len(m) != 6 {
		return nil, errorf(http.StatusBadRequest, "%s: %q is not an Ethernet address (02:00:00:00:00:01)", field, s)
	}
	return m, nil
}

func traceEthType(s string) (uint16, error) {
	switch strings.ToLower(s) {
	case "":
		return 0, nil
	case "arp":
		return 0x0806, nil
	case "ip", "ipv4":
		return 0x0800, nil
	case "ipv6":
		return 0x86dd, nil
	}
	n, err := strconv.ParseUint(s, 0, 16)
	if err != nil || n < 0x600 {
		return 0, errorf(http.StatusBadRequest, "ethertype: %q is not arp, ip, ipv6 or an Ethernet type from 0x0600 to 0xffff", s)
	}
	return uint16(n), nil
}
