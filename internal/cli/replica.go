package cli

import (
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ferry-sdn/ferry/rest/api"
)

// Replicas.

func (a *app) replicaCmd() *cobra.Command {
	return noun("replica", "the ferryd replicas sharing the estate (several ferryds on one clustered northbound database)",
		a.replicaListCmd())
}

func (a *app) replicaListCmd() *cobra.Command {
	c := a.leaf("list", "list the live replicas and how many devices each owns (-o wide: which)", func([]string) error {
		data, err := a.call(http.MethodGet, "/v1/replicas", nil)
		if err != nil {
			return err
		}
		return emit(a, data, func(rs []api.Replica) error {
			header := []string{"ID", "SELF", "HEALTHY", "API", "OPENFLOW", "DEVICES", "STARTED"}
			if a.wide() {
				header = append(header, "OWNS")
			}
			var rows [][]string
			for _, r := range rs {
				self := ""
				if r.Self {
					self = "*"
				}
				row := []string{r.ID, dash(self), yesNo(r.Healthy), dash(r.API), r.OpenFlow, itoa(len(r.Devices)), r.Started}
				if a.wide() {
					row = append(row, dash(strings.Join(r.Devices, ",")))
				}
				rows = append(rows, row)
			}
			return table(a.stdout, "No replicas (this ferryd runs without --replica-id).", header, rows)
		})
	})
	c.Aliases = listAliases
	return c
}
