package collector

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/pipeline"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"

	"github.com/tapline/tapline/collector/nginxreceiver"
	"github.com/tapline/tapline/exporters/natsexporter"
)

// resolve returns the collector configuration set would run.
func resolve(t *testing.T, set Settings) (*otelcol.Config, error) {
	t.Helper()
	factories, err := Factories(nil)
	require.NoError(t, err)
	cp, err := otelcol.NewConfigProvider(configProviderSettings(set.withDefaults()))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, cp.Shutdown(context.Background())) })
	cfg, err := cp.Get(context.Background(), factories)
	if err != nil {
		return nil, err
	}
	return cfg, confmap.Validate(cfg)
}

func TestFactories(t *testing.T) {
	f, err := Factories(nil)
	require.NoError(t, err)
	names := func(m map[component.Type]string) []string {
		var out []string
		for k := range m {
			out = append(out, k.String())
		}
		return out
	}
	var receivers, processors, exporters []string
	for k := range f.Receivers {
		receivers = append(receivers, k.String())
	}
	for k := range f.Processors {
		processors = append(processors, k.String())
	}
	for k := range f.Exporters {
		exporters = append(exporters, k.String())
	}
	require.ElementsMatch(t, []string{"otlp", "nginx"}, receivers)
	require.ElementsMatch(t, []string{"memory_limiter", "batch", "accesslog"}, processors)
	require.ElementsMatch(t, []string{"nats"}, exporters)
	require.ElementsMatch(t, receivers, names(f.ReceiverModules), "every receiver has its module")
	require.ElementsMatch(t, processors, names(f.ProcessorModules))
	require.ElementsMatch(t, exporters, names(f.ExporterModules))
	require.NotNil(t, f.Telemetry)
}

// TestDefaultConfig checks the durability promise in the built-in
// configuration (no batch processor, no sending queue, no exporter retry)
// and its pipelines, with the nginx receiver on and off.
func TestDefaultConfig(t *testing.T) {
	otlpID, nginxID := component.MustNewID("otlp"), component.MustNewID("nginx")
	tests := []struct {
		name          string
		nginx         string
		wantLogs      []component.ID
		wantNginxUDP  string
		wantReceivers int
	}{
		{"nginx on", "127.0.0.1:15514", []component.ID{otlpID, nginxID}, "127.0.0.1:15514", 2},
		{"nginx empty", "", []component.ID{otlpID}, "", 1},
		{"nginx off", NginxSyslogOff, []component.ID{otlpID}, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := resolve(t, Settings{NATS: NATS{URL: "nats://bus.example:4222"}, OTLPGRPCEndpoint: "127.0.0.1:14317",
				NginxSyslogEndpoint: tt.nginx})
			require.NoError(t, err)

			otlp := cfg.Receivers[otlpID].(*otlpreceiver.Config)
			require.Equal(t, "127.0.0.1:14317", otlp.Protocols.GRPC.Get().NetAddr.Endpoint)
			require.Equal(t, DefaultOTLPHTTPEndpoint, otlp.Protocols.HTTP.Get().ServerConfig.NetAddr.Endpoint)
			require.Len(t, cfg.Receivers, tt.wantReceivers)
			if tt.wantNginxUDP != "" {
				nginx := cfg.Receivers[nginxID].(*nginxreceiver.Config)
				require.Equal(t, nginxreceiver.SyslogConfig{UDP: tt.wantNginxUDP}, nginx.Syslog)
				require.Empty(t, nginx.Files.Include)
			}

			nats := cfg.Exporters[component.MustNewID("nats")].(*natsexporter.Config)
			require.Equal(t, "nats://bus.example:4222", nats.URL)
			require.False(t, nats.SendingQueue.HasValue(), "no in-memory queue before the PubAck")
			require.False(t, nats.RetryOnFailure.Enabled)

			limiter := component.MustNewID("memory_limiter")
			for _, p := range []struct {
				sig        pipeline.Signal
				receivers  []component.ID
				processors []component.ID
			}{
				{pipeline.SignalTraces, []component.ID{otlpID}, []component.ID{limiter}},
				// memory_limiter first: refuse before mapping.
				{pipeline.SignalLogs, tt.wantLogs, []component.ID{limiter, component.MustNewID("accesslog")}},
			} {
				got := cfg.Service.Pipelines[pipeline.NewID(p.sig)]
				require.NotNil(t, got, p.sig.String())
				require.Equal(t, p.receivers, got.Receivers, p.sig.String())
				require.Equal(t, p.processors, got.Processors, "%s: no batch processor", p.sig)
				require.Equal(t, []component.ID{component.MustNewID("nats")}, got.Exporters)
			}
			require.Len(t, cfg.Service.Pipelines, 2)
		})
	}
}

// TestNginxSyslogValue: a user's configuration gets the endpoint, or "" when
// it is off (which turns the receiver's UDP listener off).
func TestNginxSyslogValue(t *testing.T) {
	for _, tt := range []struct{ set, want string }{
		{"127.0.0.1:15514", "127.0.0.1:15514"},
		{NginxSyslogOff, ""},
		{"", ""},
	} {
		t.Run(tt.set, func(t *testing.T) {
			cfg, err := resolve(t, Settings{NginxSyslogEndpoint: tt.set, ConfigURIs: []string{"yaml:" + `
receivers:
  nginx:
    syslog: {udp: "${tapline:nginx_syslog_endpoint}", tcp: 127.0.0.1:15515}
exporters:
  nats:
service:
  pipelines:
    logs: {receivers: [nginx], exporters: [nats]}
`}})
			require.NoError(t, err)
			nginx := cfg.Receivers[component.MustNewID("nginx")].(*nginxreceiver.Config)
			require.Equal(t, tt.want, nginx.Syslog.UDP)
		})
	}
}

func TestDefaultConfigNATSCredentials(t *testing.T) {
	cfg, err := resolve(t, Settings{NATS: NATS{
		URL:  "tls://bus.example:4222",
		Auth: natsexporter.AuthConfig{User: "collector", Password: "pw"},
		TLS:  &TLS{CAFile: "ca.pem", ServerName: "bus"},
	}})
	require.NoError(t, err)
	nats := cfg.Exporters[component.MustNewID("nats")].(*natsexporter.Config)
	require.Equal(t, natsexporter.AuthConfig{User: "collector", Password: "pw"}, nats.Auth)
	want := configtls.NewDefaultClientConfig()
	want.CAFile = "ca.pem"
	want.ServerName = "bus"
	require.Equal(t, configoptional.Some(want), nats.TLS)
}

// TestUserConfig: a user's collector YAML, with tapline: and env: values,
// and a yaml: override after it.
func TestUserConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "collector.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: ${tapline:otlp_grpc_endpoint}
processors:
  batch:
exporters:
  nats/events:
    url: ${tapline:nats_url}
    subjects:
      traces: ${env:TAPLINE_TEST_COLLECTOR_SUBJECT}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [nats/events]
`), 0o600))
	t.Setenv("TAPLINE_TEST_COLLECTOR_SUBJECT", "custom.traces")
	cfg, err := resolve(t, Settings{
		ConfigURIs: []string{file, "yaml:exporters::nats/events::max_in_flight: 7"},
		NATS:       NATS{URL: "nats://10.0.0.1:4222"},
	})
	require.NoError(t, err)
	nats := cfg.Exporters[component.MustNewIDWithName("nats", "events")].(*natsexporter.Config)
	require.Equal(t, "nats://10.0.0.1:4222", nats.URL)
	require.Equal(t, "custom.traces", nats.Subjects.Traces)
	require.Equal(t, 7, nats.MaxInFlight)
	require.Len(t, cfg.Service.Pipelines, 1)
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	tests := []struct {
		name    string
		uris    []string
		wantErr string
	}{
		{"unknown tapline value", []string{"tapline:default", "yaml:exporters::nats::url: ${tapline:nope}"}, "unknown tapline:nope"},
		{"missing file", []string{filepath.Join(dir, "absent.yaml")}, "absent.yaml"},
		{"bad exporter key", []string{"tapline:default", "yaml:exporters::nats::max_in_flight: 0"}, "max_in_flight must be > 0"},
		{"unknown component", []string{write("u.yaml", "exporters:\n  kafka:\n")}, "kafka"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := resolve(t, Settings{ConfigURIs: tt.uris})
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestDefaultYAMLIsACopy(t *testing.T) {
	a := DefaultYAML()
	a[0] = 'X'
	require.NotEqual(t, a[0], DefaultYAML()[0])
	require.Contains(t, string(DefaultYAML()), "${tapline:nats_url}")
}
