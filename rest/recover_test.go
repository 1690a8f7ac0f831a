package rest

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ferry-sdn/ferry/internal/crash"
	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/resttest"
)

// panicky is a backend with a bug: creating a switch panics.
type panicky struct{ *resttest.Backend }

func (panicky) CreateSwitch(context.Context, model.Switch) (model.Switch, error) {
	panic("bug in the backend")
}

// A panic while serving one request answers that request with a JSON 500,
// is logged and counted, and the API goes on serving.
func TestHandlerPanicIsRecovered(t *testing.T) {
	b := resttest.NewBackend()
	f := &fixture{h: NewHandler(panicky{b}, nil, prometheus.NewRegistry(), nil), b: b}
	before := crash.Count("rest")
	f.do(t, "POST", "/v1/switches", `{"name":"blue"}`).want(t, 500, "internal error")
	if got := crash.Count("rest"); got != before+1 {
		t.Errorf("recovered panics: %d, want %d", got, before+1)
	}
	f.do(t, "GET", "/v1/switches", "").want(t, 200)
}
