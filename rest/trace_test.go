package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/api"
)

// traceFixture has switch blue with port p1.
func traceFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t)
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	f.do(t, "POST", "/v1/switches/blue/ports", `{"name":"p1","iface_id":"vm1"}`).want(t, 201)
	return f
}

// Both forms of the question reach the tracer as the same query, and its
// answer is served as is.
func TestTrace(t *testing.T) {
	f := traceFixture(t)
	var got []model.TraceQuery
	f.st.SetTrace(func(q model.TraceQuery) (model.Trace, error) {
		got = append(got, q)
		return model.Trace{Switch: q.Switch, From: q.From, VNI: 7, Disagreements: []string{"hop 1: differs"}}, nil
	})
	var tr api.Trace
	f.do(t, "GET", "/v1/trace?switch=blue&from=p1&dst_mac=02:00:00:00:00:02&src_mac=02:00:00:00:00:01&vlan=100&ethertype=arp&ip_src=198.18.100.1&ip_dst=198.18.100.2", "").
		want(t, 200).decode(t, &tr)
	if tr.VNI != 7 || len(tr.Disagreements) != 1 {
		t.Fatalf("answer %+v", tr)
	}
	f.do(t, "POST", "/v1/trace", `{"switch":"blue","from":"p1","dst_mac":"02:00:00:00:00:02","src_mac":"02:00:00:00:00:01","vlan":100,"ethertype":"0x0806","ip_src":"198.18.100.1","ip_dst":"198.18.100.2"}`).
		want(t, 200)
	if len(got) != 2 {
		t.Fatalf("queries %+v", got)
	}
	for _, q := range got {
		if q.Switch != "blue" || q.From != "p1" || q.DstMAC.String() != "02:00:00:00:00:02" || q.SrcMAC.String() != "02:00:00:00:00:01" ||
			q.VLAN != 100 || q.EthType != 0x0806 || q.IPSrc.String() != "198.18.100.1" || q.IPDst.String() != "198.18.100.2" {
			t.Fatalf("query %+v", q)
		}
	}
}

func TestTraceRefusals(t *testing.T) {
	f := traceFixture(t)
	for _, tc := range []struct {
		query string
		code  int
		field string
	}{
		{"from=p1&dst_mac=02:00:00:00:00:02", 400, "switch"},
		{"switch=blue&dst_mac=02:00:00:00:00:02", 400, "from"},
		{"switch=blue&from=p1", 400, "dst_mac"},
		{"switch=blue&from=p1&dst_mac=nope", 400, "dst_mac"},
		{"switch=blue&from=p1&dst_mac=02:00:00:00:00:02:03:04", 400, "dst_mac"},
		{"switch=blue&from=p1&dst_mac=02:00:00:00:00:02&src_mac=x", 400, "src_mac"},
		{"switch=blue&from=p1&dst_mac=02:00:00:00:00:02&vlan=4096", 400, "vlan"},
		{"switch=blue&from=p1&dst_mac=02:00:00:00:00:02&vlan=x", 400, "vlan"},
		{"switch=blue&from=p1&dst_mac=02:00:00:00:00:02&ethertype=0x10", 400, "ethertype"},
		{"switch=blue&from=p1&dst_mac=02:00:00:00:00:02&ip_src=1.2.3", 400, "ip_src"},
		{"switch=blue&from=p1&dst_mac=02:00:00:00:00:02&ip_src=198.18.0.1&ip_dst=fe80::1", 400, "ip_dst"},
		{"switch=red&from=p1&dst_mac=02:00:00:00:00:02", 404, "switch"},
		{"switch=blue&from=p9&dst_mac=02:00:00:00:00:02", 404, "from"},
	} {
		f.do(t, "GET", "/v1/trace?"+tc.query, "").want(t, tc.code, tc.field+":")
	}
	f.do(t, "POST", "/v1/trace", `{"switch":"blue","from":"p1","dst_mac":"02:00:00:00:00:02","vlan":-1}`).want(t, 400, "vlan:")
	f.do(t, "POST", "/v1/trace", `{"switch":"blue","from":"p9","dst_mac":"02:00:00:00:00:02"}`).want(t, 404, "from:")
	// The controller's estate may lag the snapshot: its not-found errors
	// are 404s too, and anything else it cannot do is a 503.
	for _, tc := range []struct {
		err   error
		code  int
		field string
	}{{model.ErrTraceSwitch, 404, "switch:"}, {model.ErrTracePort, 404, "from:"}, {errors.New("no estate yet"), 503, "trace:"}} {
		f.st.SetTrace(func(model.TraceQuery) (model.Trace, error) { return model.Trace{}, fmt.Errorf("reconcile: %w", tc.err) })
		f.do(t, "GET", "/v1/trace?switch=blue&from=p1&dst_mac=02:00:00:00:00:02", "").want(t, tc.code, tc.field)
		f.do(t, "POST", "/v1/trace", `{"switch":"blue","from":"p1","dst_mac":"02:00:00:00:00:02"}`).want(t, tc.code, tc.field)
	}
	// A server whose status cannot trace says so.
	f.h = NewHandler(f.b, nil, nil, nil)
	f.do(t, "GET", "/v1/trace?switch=blue&from=p1&dst_mac=02:00:00:00:00:02", "").want(t, 503, "trace")
}

// FuzzTraceQuery: the trace decoder is total (a query or a 400, never a
// panic), and what it accepts is well formed.
func FuzzTraceQuery(f *testing.F) {
	f.Add(`{"switch":"blue","from":"p1","dst_mac":"02:00:00:00:00:02","vlan":100,"ethertype":"arp","ip_src":"198.18.100.1"}`)
	f.Add(`{"switch":"b","from":"p","dst_mac":"ff:ff:ff:ff:ff:ff","ethertype":"0xffff","ip_src":"::ffff:1.2.3.4","ip_dst":"fe80::1%eth0"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var req api.TraceRequest
		if json.Unmarshal([]byte(body), &req) != nil {
			return
		}
		q, err := TraceQuery(req)
		if err != nil {
			if !strings.Contains(err.Error(), ":") {
				t.Fatalf("error %q names no field", err)
			}
			return
		}
		if len(q.DstMAC) != 6 || q.SrcMAC != nil && len(q.SrcMAC) != 6 || q.VLAN > 4095 || q.Switch == "" || q.From == "" {
			t.Fatalf("accepted %+v", q)
		}
	})
}
