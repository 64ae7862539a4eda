package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/collector"
)

// collectorCommand is `tapline collector`: the OpenTelemetry Collector
// distribution alone.
func (a *app) collectorCommand() *cobra.Command {
	var uris []string
	cmd := &cobra.Command{
		Use:   "collector",
		Short: "Run the collector alone: OTLP on 127.0.0.1:4317 (gRPC) and :4318 (HTTP) into NATS JetStream",
		Long: `Run Tapline's OpenTelemetry Collector distribution alone.

--config takes a collector YAML in the OpenTelemetry Collector's own format
(a file, or an env: or yaml: URI; repeat to merge several). Without it the
collector runs collector.config_file, or the built-in configuration: the OTLP
receiver on collector.otlp_grpc and collector.otlp_http, the nginx receiver
for Nginx's syslog access log on collector.nginx_syslog (UDP; "off" turns it
off), the memory_limiter, the accesslog processor on logs, and the nats
exporter, answering clients only after JetStream stored the data. Collector
YAML may use ${tapline:nats_url}, ${tapline:otlp_grpc_endpoint},
${tapline:otlp_http_endpoint} and ${tapline:nginx_syslog_endpoint}.

The bus is bus.url, or the embedded server of a tapline run on this machine
(bus.embedded.listen). Tapline's own configuration file comes from
$TAPLINE_CONFIG here (--config names the collector YAML); the collector's
metrics are on /metrics of the HTTP address with /healthz and /readyz.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfigFor("collector")
			if err != nil {
				return err
			}
			p, err := a.newProcess("tapline collector", cfg)
			if err != nil {
				return err
			}
			p.addCollector(a.version, uris)
			return p.svc.Run(cmd.Context())
		},
	}
	cmd.Flags().StringArrayVar(&uris, "config", nil,
		"collector YAML (OpenTelemetry Collector format): file or env:/yaml: URI, repeatable; default collector.config_file or the built-in configuration")
	return cmd
}

// addCollector adds the collector after the bus (when the process has one).
// uris override collector.config_file.
func (p *process) addCollector(version string, uris []string) *collectorComponent {
	set := p.cfg.Collector.Settings()
	if len(uris) > 0 {
		set.ConfigURIs = uris
	}
	set.NATS = natsSettings(p.cfg.Bus)
	set.Logger = p.logger.With("component", "collector")
	set.Registerer = p.reg
	set.Version = version
	set.OnFatal = p.svc.ReportFatal
	c := &collectorComponent{set: set, bus: p.bus}
	p.svc.Add("collector", c)
	p.svc.AddCheck("collector", c.ready)
	return c
}

// natsSettings is how the collector reaches the bus configured in cfg.
func natsSettings(cfg bus.Config) collector.NATS {
	if cfg.IsEmbedded() {
		return collector.NATS{URL: "nats://" + cfg.Embedded.Listen}
	}
	n := collector.NATS{URL: cfg.URL}
	// One method, in the bus's own order of precedence.
	switch {
	case cfg.CredentialsFile != "":
		n.Auth.CredentialsFile = cfg.CredentialsFile
	case cfg.NkeyFile != "":
		n.Auth.NKeySeedFile = cfg.NkeyFile
	case cfg.Token != "":
		n.Auth.Token = configopaque.String(cfg.Token.Value())
	case cfg.User != "":
		n.Auth.User, n.Auth.Password = cfg.User, configopaque.String(cfg.Password.Value())
	}
	if t := cfg.TLS; t.IsEnabled() {
		n.TLS = &collector.TLS{
			CAFile:             t.CA,
			CertFile:           t.Cert,
			KeyFile:            t.Key,
			ServerName:         t.ServerName,
			InsecureSkipVerify: t.InsecureSkipVerify,
		}
	}
	return n
}

// collectorComponent builds the collector in Start, once the bus it
// publishes to runs (an embedded server's address is known only then).
type collectorComponent struct {
	set collector.Settings
	bus *bus.Bus // nil: the bus runs in another process

	run started[collector.Collector]
}

func (c *collectorComponent) Start(ctx context.Context) error {
	set := c.set
	if c.bus != nil {
		if e := c.bus.Embedded(); e != nil && e.Addr() != "" {
			set.NATS = collector.NATS{URL: "nats://" + e.Addr()}
		}
	}
	col, err := collector.New(set)
	if err != nil {
		return err
	}
	if err := col.Start(ctx); err != nil {
		return err
	}
	c.run.set(col)
	return nil
}

func (c *collectorComponent) Shutdown(ctx context.Context) error {
	col := c.run.take()
	if col == nil {
		return nil
	}
	return col.Shutdown(ctx)
}

func (c *collectorComponent) ready(context.Context) error {
	col := c.run.get()
	if col == nil || !col.Ready() {
		return errors.New("collector pipelines not running")
	}
	return nil
}
