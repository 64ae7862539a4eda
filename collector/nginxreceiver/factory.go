package nginxreceiver

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
)

// Type is the component type users write in the collector YAML.
var Type = component.MustNewType("nginx")

const stability = component.StabilityLevelAlpha

// Defaults of the configuration.
const (
	DefaultUDPEndpoint   = "127.0.0.1:5514"
	DefaultMaxLineBytes  = 64 * 1024
	DefaultServiceName   = "nginx"
	DefaultPollInterval  = 250 * time.Millisecond
	DefaultRotationGrace = 5 * time.Second
)

// NewFactory returns the factory of the Nginx access-log receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(Type, createDefaultConfig,
		receiver.WithLogs(createLogs, stability))
}

func createDefaultConfig() component.Config {
	return &Config{
		Syslog: SyslogConfig{UDP: DefaultUDPEndpoint},
		Files: FilesConfig{
			StartAt:       StartAtEnd,
			PollInterval:  DefaultPollInterval,
			RotationGrace: DefaultRotationGrace,
		},
		MaxLineBytes: DefaultMaxLineBytes,
		ServiceName:  DefaultServiceName,
	}
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("nginx receiver: unexpected config type %T", cfg)
	}
	return newReceiver(c, set, next)
}
