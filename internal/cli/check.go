package cli

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/ferry-sdn/ferry/internal/model"
)

// gatewayCheckCmd runs the VTEP conformance suite (POST
// /v1/gateways/{name}/check) and prints the graded report; it exits
// non-zero when an item failed, so a script can gate on it.
func (a *app) gatewayCheckCmd() *cobra.Command {
	c := a.leaf("check NAME",
		"run the conformance suite against a gateway on a scratch logical switch and grade each item pass, fail or unsupported (admin; writes to the VTEP and cleans up)",
		func(pos []string) error {
			data, err := a.callGateway(http.MethodPost, path("v1", "gateways", pos[0], "check"), nil)
			if noRoute(err) {
				return errors.New("this ferryd cannot check gateways (no POST /v1/gateways/{name}/check): it is older than this ferryctl")
			}
			if err != nil {
				return err
			}
			var rep model.GatewayCheck
			if err := decode(data, &rep); err != nil {
				return err
			}
			err = emit(a, data, func(rep model.GatewayCheck) error {
				tw := newTable(a.stdout)
				fmt.Fprintln(tw, "ITEM\tRESULT\tEVIDENCE")
				for _, it := range rep.Items {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", it.Name, it.Result, it.Evidence)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
				for _, l := range rep.LeftBehind {
					fmt.Fprintf(a.stdout, "left behind: %s\n", l)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if rep.Failed() {
				return fmt.Errorf("gateway %s failed the check", pos[0])
			}
			if len(rep.LeftBehind) > 0 {
				return fmt.Errorf("gateway %s: the check left %d row(s) behind", pos[0], len(rep.LeftBehind))
			}
			return nil
		})
	a.argKinds(c, gatewayArg)
	return c
}
