package cli

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/ferry-sdn/ferry/internal/version"
)

// versions is the output of `ferryctl version -o json`.
type versions struct {
	Client version.Info  `json:"client"`
	Server *version.Info `json:"server,omitempty"`
}

// versionCmd prints ferryctl's version and ferryd's (GET /v1/version),
// like kubectl version: --client leaves the server out, for a machine
// that has no ferryd to ask.
func (a *app) versionCmd() *cobra.Command {
	var clientOnly bool
	c := a.leaf("version [--client]", "print ferryctl's version and commit, and ferryd's", func([]string) error {
		v := versions{Client: version.Get()}
		var serverErr error
		if !clientOnly {
			data, err := a.call(http.MethodGet, "/v1/version", nil)
			switch {
			case isStatus(err, http.StatusNotFound):
				serverErr = fmt.Errorf("ferryd at %s does not tell its version (no GET /v1/version): it is older than this ferryctl", a.c.base)
			case err != nil:
				serverErr = err
			default:
				var s version.Info
				if err := decode(data, &s); err != nil {
					return err
				}
				v.Server = &s
			}
		}
		if a.machine() {
			out, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			if err := a.write(append(out, '\n')); err != nil {
				return err
			}
			return serverErr
		}
		rows := []string{"Client", "ferryctl " + v.Client.String()}
		if v.Server != nil {
			rows = append(rows, "Server", "ferryd "+v.Server.String())
		}
		if err := fields(a.stdout, rows...); err != nil {
			return err
		}
		return serverErr
	})
	c.Flags().BoolVar(&clientOnly, "client", false, "print only ferryctl's version: ask no server")
	return c
}
