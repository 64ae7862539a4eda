package main

import (
	"github.com/spf13/cobra"
)

// runCommand is `tapline run`: everything in one process.
func (a *app) runCommand() *cobra.Command {
	var httpAddr string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run Tapline all-in-one: embedded NATS and ClickHouse, schema migrations, HTTP on 127.0.0.1:8080",
		Long: `Run Tapline all-in-one.

Starts the embedded NATS JetStream server (data in DATA_DIR/nats), the
embedded ClickHouse engine (DATA_DIR/clickhouse) or connects to a ClickHouse
server (store.engine: clickhouse), applies the schema migrations, and serves
/healthz, /readyz and /metrics on the HTTP address. SIGINT or SIGTERM stop it
cleanly; data is kept and the next run continues from it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var extra []string
			if httpAddr != "" {
				extra = append(extra, "http.addr="+httpAddr)
			}
			cfg, err := a.loadConfig(extra...)
			if err != nil {
				return err
			}
			p, err := a.newProcess("tapline run", cfg)
			if err != nil {
				return err
			}
			p.addBus()
			p.addStore()
			p.addCollector(a.version, nil)
			p.addIngest()
			if cfg.Proxy.Configured() {
				p.addProxy()
			}
			p.addUI(p.addQuery(), a.version)
			p.addCompliance(a.version)
			return p.svc.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&httpAddr, "http-addr", "", "HTTP listen address (http.addr); default 127.0.0.1:8080")
	return cmd
}
