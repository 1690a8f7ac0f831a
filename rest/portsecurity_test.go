package rest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/ferry-sdn/ferry/internal/nbdb/nbdbtest"
	"github.com/ferry-sdn/ferry/rest/api"
)

// A port's port_security and ips are stored, shown and checked field by
// field on every path that writes a port: POST of one port or a list, PUT
// of a whole switch, PUT and PATCH of one port.
func TestPortSecurityFields(t *testing.T) {
	f := newFixture(t)
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	var p api.Port
	f.do(t, "POST", "/v1/switches/blue/ports",
		`{"name":"vm1","iface_id":"if-1","port_security":false,"ips":["2001:DB8::1","198.18.100.1"]}`).want(t, 201).decode(t, &p)
	if p.PortSecurity == nil || *p.PortSecurity || !slices.Equal(p.IPs, []string{"198.18.100.1", "2001:db8::1"}) {
		t.Fatalf("created %+v: want port_security false and the addresses canonical, IPv4 first", p)
	}
	var raw map[string]any
	f.do(t, "POST", "/v1/switches/blue/ports", `{"name":"vm2","iface_id":"if-2"}`).want(t, 201).decode(t, &raw)
	if _, ok := raw["port_security"]; ok {
		t.Fatalf("a port left at the default shows port_security: %v", raw)
	}
	if st := raw["status"].(map[string]any); st["port_security"] != false {
		t.Fatalf("status of an unbound port: %v", st)
	}

	item := func(extra string) string { return `{"name":"x","iface_id":"y",` + extra + `}` }
	bad := []struct {
		name, extra, field, fragment string
	}{
		{"ips not a list", `"ips":"198.18.0.1"`, "ips", "must be an array of strings"},
		{"ips garbage", `"ips":["nope"]`, "ips", `"nope": not an IPv4 or IPv6 address`},
		{"ips unspecified", `"ips":["0.0.0.0"]`, "ips", "unspecified"},
		{"ips this network", `"ips":["0.1.2.3"]`, "ips", "unspecified"},
		{"ips ::", `"ips":["::"]`, "ips", "unspecified"},
		{"ips broadcast", `"ips":["255.255.255.255"]`, "ips", "broadcast"},
		{"ips multicast", `"ips":["224.0.0.251"]`, "ips", "multicast"},
		{"ips IPv6 multicast", `"ips":["ff02::1"]`, "ips", "multicast"},
		{"ips loopback", `"ips":["127.0.0.1"]`, "ips", "loopback"},
		{"ips zone", `"ips":["fe80::1%eth0"]`, "ips", "zone"},
		{"ips mapped", `"ips":["::ffff:198.18.0.1"]`, "ips", "IPv4-mapped"},
		{"ips twice", `"ips":["2001:db8::1","2001:db8:0::1"]`, "ips", "listed twice"},
		{"ips too many", `"ips":[` + manyIPs(65) + `]`, "ips", "at most 64"},
		{"port_security not a boolean", `"port_security":"yes"`, "port_security", "must be true or false"},
	}
	var one, list, spec []badInput
	for _, b := range bad {
		one = append(one, badInput{b.name, item(b.extra), 400, []string{b.field + ": ", b.fragment}})
		list = append(list, badInput{b.name, portsJSON(4, 2, item(b.extra)), 400, []string{"ports[2]." + b.field + ": ", b.fragment}})
		spec = append(spec, badInput{b.name, `{"ports":` + portsJSON(3, 1, item(b.extra)) + `}`, 400, []string{"ports[1]." + b.field + ": ", b.fragment}})
	}
	checkBad(t, f, "/v1/switches/blue/ports", one)
	checkBad(t, f, "/v1/switches/blue/ports", list)
	checkBadWith(t, f, http.MethodPut, "/v1/switches/blue", spec)
	checkBadWith(t, f, http.MethodPut, "/v1/switches/blue/ports/x", one)
	// Several mistakes at once are all named.
	f.do(t, "POST", "/v1/switches/blue/ports", item(`"ips":["nope","224.0.0.1"]`)).want(t, 400, `"nope"`, `"224.0.0.1"`)
}

func manyIPs(n int) string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf(`"198.18.%d.%d"`, i/200, 1+i%200))
	}
	return strings.Join(out, ",")
}

// PUT and PATCH of one port, against the real northbound store: PUT
// creates (201), replaces (200, configured) or finds nothing to do (200,
// unchanged: no transaction); PATCH changes what it names.
func TestPutAndPatchPort(t *testing.T) {
	db := nbdbtest.New(t, nbdbtest.InMemory(t))
	f := &fixture{h: NewHandler(db, nil, nil, nil)}
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 201)
	const path = "/v1/switches/blue/ports/vm1"
	body := `{"iface_id":"if-1","mac":"02:00:00:00:00:01","ips":["198.18.100.1"]}`
	r := f.do(t, "PUT", path, body).want(t, 201)
	if r.header.Get(api.AppliedHeader) != "created" || r.header.Get("Location") != path {
		t.Fatalf("PUT of a new port: %s, Location %q", r.header.Get(api.AppliedHeader), r.header.Get("Location"))
	}
	gen := db.Snapshot().Generation
	if r := f.do(t, "PUT", path, body).want(t, 200); r.header.Get(api.AppliedHeader) != "unchanged" || db.Snapshot().Generation != gen {
		t.Fatalf("the same PUT: %s, generation %d -> %d", r.header.Get(api.AppliedHeader), gen, db.Snapshot().Generation)
	}
	var p api.Port
	p = api.Port{}
	r = f.do(t, "PUT", path, `{"name":"vm1","iface_id":"if-1","port_security":false}`).want(t, 200)
	r.decode(t, &p)
	if r.header.Get(api.AppliedHeader) != "configured" || p.PortSecurity == nil || *p.PortSecurity || p.MAC != "" || len(p.IPs) != 0 {
		t.Fatalf("PUT replacing the port: %s %+v", r.header.Get(api.AppliedHeader), p)
	}
	f.do(t, "PUT", path, `{"name":"vm2","iface_id":"if-1"}`).want(t, 400, "name:", "vm1")
	f.do(t, "PUT", "/v1/switches/green/ports/vm1", `{"iface_id":"if-9"}`).want(t, 404, "green")

	f.do(t, "PATCH", path, `{"port_security":true,"ips":["2001:db8::1"]}`).want(t, 200).decode(t, &p)
	if p.PortSecurity == nil || !*p.PortSecurity || !slices.Equal(p.IPs, []string{"2001:db8::1"}) || p.IfaceID != "if-1" {
		t.Fatalf("PATCH: %+v", p)
	}
	p = api.Port{} // decoding into p keeps what the body leaves out
	f.do(t, "PATCH", path, `{"ips":[],"mac":"02:00:00:00:00:02"}`).want(t, 200).decode(t, &p)
	if len(p.IPs) != 0 || p.MAC != "02:00:00:00:00:02" || p.PortSecurity == nil || !*p.PortSecurity {
		t.Fatalf("PATCH clearing ips, setting mac: %+v", p)
	}
	p = api.Port{}
	f.do(t, "PATCH", path, `{"mac":""}`).want(t, 200).decode(t, &p)
	if p.MAC != "" {
		t.Fatalf("PATCH removing the MAC: %+v", p)
	}
	gen = db.Snapshot().Generation
	f.do(t, "PATCH", path, `{}`).want(t, 400, "names no field")
	f.do(t, "PATCH", path, `{"ips":["ff02::1"]}`).want(t, 400, "ips:", "multicast")
	f.do(t, "PATCH", path, `{"port_security":1}`).want(t, 400, "port_security: must be true or false")
	f.do(t, "PATCH", path, `{"name":"vm9"}`).want(t, 400, "name: unknown field")
	f.do(t, "PATCH", path, `{"iface_id":""}`).want(t, 400, "iface_id: required")
	f.do(t, "PATCH", "/v1/switches/blue/ports/vm9", `{"port_security":false}`).want(t, 404, "vm9")
	if db.Snapshot().Generation != gen {
		t.Fatalf("refused PATCHes moved the generation")
	}
	f.do(t, "POST", "/v1/switches/blue/ports", `{"name":"vm2","iface_id":"if-2"}`).want(t, 201)
	f.do(t, "PATCH", path, `{"iface_id":"if-2"}`).want(t, 409, "iface_id:", "vm2")
}
