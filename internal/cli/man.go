package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// manCmd writes a man page per command (ferryctl.1, ferryctl-switch.1,
// ferryctl-switch-create.1, ...) into a directory, for the packages. It is
// hidden: operators read the pages, they do not make them.
func (a *app) manCmd() *cobra.Command {
	c := &cobra.Command{
		Use:                   "man DIR",
		Short:                 "write ferryctl's man pages (section 1) into DIR",
		Hidden:                true,
		Args:                  cobra.ArbitraryArgs,
		DisableFlagsInUseLine: true,
	}
	c.RunE = func(c *cobra.Command, args []string) error {
		a.cmd = c
		if len(args) != 1 || args[0] == "" {
			return a.usage("give one directory")
		}
		if err := os.MkdirAll(args[0], 0o755); err != nil {
			return fmt.Errorf("man: %w", err)
		}
		root := c.Root()
		root.DisableAutoGenTag = true // the same pages from the same source: reproducible packages
		header := &doc.GenManHeader{Title: "FERRYCTL", Section: "1", Source: "ferry", Manual: "ferry manual"}
		if err := doc.GenManTree(root, header, args[0]); err != nil {
			return fmt.Errorf("man: %w", err)
		}
		return nil
	}
	return c
}
