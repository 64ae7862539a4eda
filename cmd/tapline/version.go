package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// versionCommand is `tapline version`.
func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and commit of this binary",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(a.stdout, "tapline %s (commit %s, %s, %s/%s)\n",
				a.version, a.commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
