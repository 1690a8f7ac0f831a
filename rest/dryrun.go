package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/ferry-sdn/ferry/internal/model"
	"github.com/ferry-sdn/ferry/rest/api"
)

// Trier is what a Backend may also do: run a write as a trial that
// commits nothing and returns the northbound state the write would make
// (internal/nbdb.DB implements it). Without it, dry runs answer 503.
type Trier interface {
	Trial(ctx context.Context, write func(ctx context.Context) error) (*model.Snapshot, error)
}

// Planner is what a Status may also do: compute what every device would be
// sent for a northbound state (internal/reconcile.Controller implements
// it). Without it, dry runs answer 503.
type Planner interface {
	Plan(ctx context.Context, snap *model.Snapshot) (model.Plan, error)
}

// dryRunParam reads ?dry_run.
func dryRunParam(r *http.Request) (bool, error) {
	v, ok := r.URL.Query()["dry_run"]
	if !ok {
		return false, nil
	}
	if len(v) != 1 {
		return false, errorf(http.StatusBadRequest, "dry_run: give it once")
	}
	dry, err := strconv.ParseBool(v[0])
	if err != nil {
		return false, errorf(http.StatusBadRequest, "dry_run: %q is not true or false", v[0])
	}
	return dry, nil
}

// write is handle for the routes that change the northbound state: with
// ?dry_run=true the handler runs as a trial, every check included, and the
// answer is the plan instead of the change. A dry run takes the role of
// the write it plans (admin): it shows the estate's configuration and
// costs a northbound transaction, like the write.
func (s *server) write(f handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dry, err := dryRunParam(r)
		if err == nil {
			if dry {
				err = s.dryRun(w, r, f)
			} else {
				err = f(w, r)
			}
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *server) dryRun(w http.ResponseWriter, r *http.Request, f handlerFunc) error {
	t, ok := s.b.(Trier)
	p, ok2 := s.st.(Planner)
	if !ok || !ok2 {
		return errorf(http.StatusServiceUnavailable, "dry_run: this server cannot plan writes")
	}
	if err := s.writable(); err != nil {
		return err
	}
	var res captured
	snap, err := t.Trial(r.Context(), func(ctx context.Context) error {
		return f(&res, r.WithContext(ctx))
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), writeTimeout)
	defer cancel()
	plan, err := p.Plan(ctx, snap)
	if err != nil {
		return err
	}
	out := api.DryRun{DryRun: true, Status: res.status(), Result: json.RawMessage("null"), Plan: plan}
	if body := bytes.TrimSpace(res.body.Bytes()); len(body) > 0 && json.Valid(body) {
		out.Result = body
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// captured is the response a handler writes during a dry run.
type captured struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (c *captured) Header() http.Header {
	if c.header == nil {
		c.header = http.Header{}
	}
	return c.header
}

func (c *captured) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *captured) Write(b []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return c.body.Write(b)
}

func (c *captured) status() int {
	if c.code == 0 {
		return http.StatusOK
	}
	return c.code
}
