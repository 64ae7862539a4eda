package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tapline/tapline/store/schema"
)

// migrateCommand is `tapline migrate [--print]`.
func (a *app) migrateCommand() *cobra.Command {
	var print bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the ClickHouse schema migrations (every service also applies them on start)",
		Long: `Apply the ClickHouse schema migrations to the configured engine and report
what changed. Running it again changes nothing.

With --print, write the schema's SQL for the configured options (database,
cluster, index layout, retention) to stdout instead, without connecting.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfigFor("migrate")
			if err != nil {
				return err
			}
			if print {
				stmts, err := schema.Render(cfg.Store.Schema)
				if err != nil {
					return fmt.Errorf("render schema: %w", err)
				}
				for _, s := range stmts {
					fmt.Fprintf(a.stdout, "-- %s: %s\n%s;\n\n", s.Migration, s.Name, s.SQL)
				}
				return nil
			}
			dir, err := dataDir(cfg)
			if err != nil {
				return err
			}
			logger := newLogger(cfg.Log, a.stderr)
			ctx := cmd.Context()
			eng, err := openEngine(ctx, cfg.Store, dir, logger)
			if err != nil {
				return err
			}
			applied, err := schema.Migrate(ctx, eng, cfg.Store.Schema)
			closeErr := eng.Close()
			if err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
			if closeErr != nil {
				return fmt.Errorf("store: close: %w", closeErr)
			}
			if len(applied) == 0 {
				fmt.Fprintf(a.stdout, "schema up to date (database %s)\n", eng.Database())
				return nil
			}
			for _, name := range applied {
				fmt.Fprintf(a.stdout, "applied %s\n", name)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&print, "print", false, "print the schema SQL instead of applying it")
	return cmd
}
