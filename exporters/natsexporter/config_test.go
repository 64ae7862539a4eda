package natsexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/tapline/tapline/event"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.MustNewIDWithName("nats", name).String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	if err := sub.Unmarshal(cfg); err != nil {
		return nil, err
	}
	return cfg, confmap.Validate(cfg)
}

func TestLoadConfig(t *testing.T) {
	custom := createDefaultConfig().(*Config)
	custom.URL = "nats://nats-1.example:4222,nats://nats-2.example:4222"
	custom.Subjects = SubjectsConfig{Traces: "custom.traces", Logs: "custom.logs", Events: "custom.events"}
	custom.EventNames = []string{event.AccessEvent}
	custom.Auth = AuthConfig{User: "collector", Password: "s3cret"}
	tlsCfg := configtls.NewDefaultClientConfig()
	tlsCfg.CAFile = "ca.pem"
	tlsCfg.ServerName = "nats.example"
	custom.TLS = configoptional.Some(tlsCfg)
	custom.MaxInFlight = 16
	custom.PublishTimeout = 3 * time.Second
	custom.MaxMessageSize = 65536
	custom.ConnectTimeout = 500 * time.Millisecond
	custom.ReconnectWait = 250 * time.Millisecond
	queue := exporterhelper.NewDefaultQueueConfig()
	queue.QueueSize = 100
	custom.SendingQueue = configoptional.Some(queue)
	custom.RetryOnFailure = configretry.BackOffConfig{
		Enabled:             true,
		InitialInterval:     time.Second,
		MaxInterval:         5 * time.Second,
		MaxElapsedTime:      30 * time.Second,
		Multiplier:          configretry.NewDefaultBackOffConfig().Multiplier,
		RandomizationFactor: configretry.NewDefaultBackOffConfig().RandomizationFactor,
	}

	noEvents := createDefaultConfig().(*Config)
	noEvents.Subjects.Events = ""

	tests := []struct {
		name    string
		want    *Config
		wantErr string
	}{
		{name: "", want: createDefaultConfig().(*Config)},
		{name: "custom", want: custom},
		{name: "no_events", want: noEvents},
		{name: "empty_url", wantErr: "url must not be empty"},
		{name: "bad_window", wantErr: "max_in_flight must be > 0"},
		{name: "bad_window", wantErr: "publish_timeout must be > 0"},
		{name: "two_auths", wantErr: "set at most one of auth.token, auth.credentials_file"},
		{name: "password_only", wantErr: "auth.password needs auth.user"},
		{name: "wildcard", wantErr: `subjects.traces "tapline.>" must be a literal subject`},
		{name: "small_message", wantErr: "max_message_size must be 0 or >= 1024"},
		{name: "unknown_key", wantErr: "servers"},
	}
	for _, tt := range tests {
		t.Run(tt.name+tt.wantErr, func(t *testing.T) {
			cfg, err := loadConfig(t, tt.name)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg)
		})
	}
}

func TestDefaultConfigIsDurable(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	require.NoError(t, confmap.Validate(cfg))
	require.False(t, cfg.SendingQueue.HasValue(), "an in-memory queue would answer the client before the PubAck")
	require.False(t, cfg.RetryOnFailure.Enabled)
	require.False(t, cfg.TLS.HasValue())
}
