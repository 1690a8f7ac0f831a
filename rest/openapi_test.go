package rest

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/internal/version"
	"github.com/ferry-sdn/ferry/rest/api"
	"github.com/ferry-sdn/ferry/rest/resttest"
)

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Required   []string                   `json:"required"`
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json is version %q, want 3.x", doc.OpenAPI)
	}
	return doc
}

// TestOpenAPIRoutes keeps the document and the router in step: every route
// must be documented, and every documented operation must be routed.
func TestOpenAPIRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for key := range item {
			switch key {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
				documented[strings.ToUpper(key)+" "+path] = true
			}
		}
	}
	routed := map[string]bool{}
	s := newServer(resttest.NewBackend(), nil, nil, nil)
	err := s.router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		path, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s has no method matcher", path)
			return nil
		}
		for _, m := range methods {
			routed[m+" "+path] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(routed) < 15 {
		t.Fatalf("walked only %d routes", len(routed))
	}
	for op := range routed {
		if !documented[op] {
			t.Errorf("route %s is missing from openapi.json", op)
		}
	}
	for op := range documented {
		if !routed[op] {
			t.Errorf("openapi.json lists %s, which the router lacks", op)
		}
	}
}

// TestOpenAPISchemas checks that every JSON type the API reads or writes is
// described field by field, with the fields that are always present marked
// required.
func TestOpenAPISchemas(t *testing.T) {
	doc := loadOpenAPI(t)
	types := map[string]any{
		"SwitchRequest":      api.SwitchRequest{},
		"Switch":             api.Switch{},
		"PortRequest":        api.PortRequest{},
		"Port":               api.Port{},
		"ChassisRequest":     api.ChassisRequest{},
		"Chassis":            api.Chassis{},
		"Error":              api.Error{},
		"Health":             api.Health{},
		"SwitchStatus":       model.SwitchStatus{},
		"SwitchChassis":      model.SwitchChassis{},
		"PortStatus":         model.PortStatus{},
		"ChassisStatus":      model.ChassisStatus{},
		"GatewayRequest":     api.GatewayRequest{},
		"Gateway":            api.Gateway{},
		"BindingRequest":     api.BindingRequest{},
		"Binding":            api.Binding{},
		"GatewayStatus":      model.GatewayStatus{},
		"GatewayPort":        model.GatewayPort{},
		"GatewayReplication": model.GatewayReplication{},
		"SwitchGateway":      model.SwitchGateway{},
		"SwitchTunnel":       model.SwitchTunnel{},
		"SwitchPatch":        api.SwitchPatch{},
		"PortPatch":          api.PortPatch{},
		"ChassisPatch":       api.ChassisPatch{},
		"SwitchSpec":         api.SwitchSpec{},
		"Version":            version.Info{},
		"GatewayMACs":        model.GatewayMACs{},
		"GatewayMAC":         model.GatewayMAC{},
		"DryRun":             api.DryRun{},
		"GatewayPatch":       api.GatewayPatch{},
		"Plan":               model.Plan{},
		"DevicePlan":         model.DevicePlan{},
		"FlowChanges":        model.FlowChanges{},
		"TraceRequest":       api.TraceRequest{},
		"Trace":              model.Trace{},
		"TraceView":          model.TraceView{},
		"TraceHop":           model.TraceHop{},
		"TraceOutput":        model.TraceOutput{},
	}
	for name, v := range types {
		schema, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("openapi.json has no schema %s", name)
			continue
		}
		var fields, always []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			tag := rt.Field(i).Tag.Get("json")
			field, opts, _ := strings.Cut(tag, ",")
			if field == "" || field == "-" {
				continue
			}
			fields = append(fields, field)
			if !strings.Contains(opts, "omitempty") {
				always = append(always, field)
			}
		}
		var documented []string
		for p := range schema.Properties {
			documented = append(documented, p)
		}
		slices.Sort(fields)
		slices.Sort(documented)
		if !slices.Equal(fields, documented) {
			t.Errorf("schema %s has properties %v, the Go type has %v", name, documented, fields)
		}
		// Responses: a field without omitempty is always there and
		// must be required. Requests are checked by the handler, which
		// is stricter than "required" in JSON schema.
		if strings.HasSuffix(name, "Request") {
			continue
		}
		slices.Sort(always)
		req := slices.Sorted(slices.Values(schema.Required))
		if !slices.Equal(always, req) {
			t.Errorf("schema %s requires %v, the Go type always has %v", name, req, always)
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	f := newFixture(t)
	r := f.do(t, http.MethodGet, "/v1/openapi.json", "").want(t, 200)
	if string(r.body) != string(OpenAPI()) {
		t.Fatal("served document differs from the embedded one")
	}
}

// TestOpenAPIErrorResponses: the document lists the refusals every
// operation can give: a body can be too slow (408), too large (413) or not
// JSON (415); a path variable can be malformed (400).
func TestOpenAPIErrorResponses(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"BadRequest", "RequestTimeout", "TooLarge", "UnsupportedMediaType"} {
		if doc.Components.Responses[name] == nil {
			t.Errorf("components.responses.%s missing", name)
		}
	}
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op struct {
				RequestBody json.RawMessage            `json:"requestBody"`
				Responses   map[string]json.RawMessage `json:"responses"`
			}
			if method == "parameters" || json.Unmarshal(raw, &op) != nil {
				continue
			}
			var want []string
			if op.RequestBody != nil {
				want = append(want, "408", "413", "415")
			}
			if strings.Contains(path, "{") {
				want = append(want, "400")
			}
			for _, code := range want {
				if op.Responses[code] == nil {
					t.Errorf("%s %s does not list %s", strings.ToUpper(method), path, code)
				}
			}
		}
	}
}
