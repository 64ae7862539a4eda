package natsexporter

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/event"
)

// Type is the component type users write in the collector YAML.
var Type = component.MustNewType("nats")

// Stability of the traces and logs exporters.
const stability = component.StabilityLevelAlpha

// Defaults of the configuration.
const (
	DefaultURL            = "nats://127.0.0.1:4222"
	DefaultMaxInFlight    = 256
	DefaultPublishTimeout = 10 * time.Second
	DefaultConnectTimeout = 2 * time.Second
	DefaultReconnectWait  = time.Second
)

// NewFactory returns the factory of the NATS JetStream exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		Type,
		createDefaultConfig,
		exporter.WithTraces(createTraces, stability),
		exporter.WithLogs(createLogs, stability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		URL: DefaultURL,
		Subjects: SubjectsConfig{
			Traces: bus.SubjectTraces,
			Logs:   bus.SubjectLogs,
			Events: bus.SubjectEvents,
		},
		EventNames:     []string{event.AccessEvent, event.TLSEvent},
		TLS:            configoptional.Default(configtls.NewDefaultClientConfig()),
		MaxInFlight:    DefaultMaxInFlight,
		PublishTimeout: DefaultPublishTimeout,
		ConnectTimeout: DefaultConnectTimeout,
		ReconnectWait:  DefaultReconnectWait,
		SendingQueue:   configoptional.Default(exporterhelper.NewDefaultQueueConfig()),
		RetryOnFailure: disabledRetry(),
	}
}

func disabledRetry() configretry.BackOffConfig {
	r := configretry.NewDefaultBackOffConfig()
	r.Enabled = false
	return r
}

func createTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	c := cfg.(*Config)
	e, err := newExporter(c, set, "traces")
	if err != nil {
		return nil, fmt.Errorf("create nats traces exporter: %w", err)
	}
	return exporterhelper.NewTraces(ctx, set, cfg, e.pushTraces, helperOptions(c, e)...)
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	e, err := newExporter(c, set, "logs")
	if err != nil {
		return nil, fmt.Errorf("create nats logs exporter: %w", err)
	}
	return exporterhelper.NewLogs(ctx, set, cfg, e.pushLogs, helperOptions(c, e)...)
}

func helperOptions(c *Config, e *natsExporter) []exporterhelper.Option {
	return []exporterhelper.Option{
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
		// The push itself waits for PubAcks until publish_timeout; the
		// helper's timeout gives the same bound to the context.
		exporterhelper.WithTimeout(exporterhelper.TimeoutConfig{Timeout: c.PublishTimeout}),
		exporterhelper.WithQueue(c.SendingQueue),
		exporterhelper.WithRetry(c.RetryOnFailure),
		// Payloads are split and copied, never modified in place.
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
	}
}
