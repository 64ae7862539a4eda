package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tapline/tapline/config"
)

// configCommand is `tapline config print|keys`.
func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the configuration",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprint(a.stderr, cmd.UsageString())
			return usageError{fmt.Errorf("%s: a subcommand is required (print, keys)", cmd.CommandPath())}
		},
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "print",
		Short: "Print the effective configuration (defaults, file, environment, flags) with secrets masked",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			out, err := config.Marshal(cfg)
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(out)
			return err
		},
	}, &cobra.Command{
		Use:   "keys",
		Short: "List the configuration keys with their environment variables",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			for _, k := range config.Keys() {
				fmt.Fprintf(a.stdout, "%-48s %s\n", k, config.EnvName(k))
			}
			return nil
		},
	})
	return cmd
}
