package main

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/service"
)

// ingestCommand is `tapline ingest`: the bus → store ingest alone. Several
// processes share one durable consumer, so it scales by running more of them.
func (a *app) ingestCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "ingest",
		Short: "Move everything from NATS JetStream into ClickHouse (several processes share one consumer)",
		Long: `Run the ingest alone.

Reads the TAPLINE stream through the durable consumer (ingest.consumer) on
the bus (bus.url, or an embedded server when it is empty), writes traces,
logs, access events and TLS connections to the store in batches, records
each batch in the ingest ledger, and acknowledges only what is stored.
Several ingest processes may share the consumer; each keeps its own ledger
chain (ingest.chain, default the host name and process id).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfigFor("ingest")
			if err != nil {
				return err
			}
			p, err := a.newProcess("tapline ingest", cfg)
			if err != nil {
				return err
			}
			p.addBus()
			p.addStore()
			p.addIngest()
			return p.svc.Run(cmd.Context())
		},
	}
}

// addIngest adds the ingest, built once the bus and the store run.
func (p *process) addIngest() {
	b, s := p.bus, p.store
	logger := p.logger.With("component", "ingest")
	p.svc.Add("ingest", service.Lazy(func(ctx context.Context) (*ingest.Ingester, error) {
		return ingest.New(p.cfg.Ingest, s.Engine(), b.JetStream(), p.reg, logger)
	}))
}
