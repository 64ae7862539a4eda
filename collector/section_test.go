package collector

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSectionValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{name: "default", mod: func(*Config) {}},
		{name: "empty grpc", mod: func(c *Config) { c.OTLPGRPC = "" }, wantErr: "otlp_grpc: must not be empty"},
		{name: "no port", mod: func(c *Config) { c.OTLPHTTP = "localhost" }, wantErr: `otlp_http: want host:port, got "localhost"`},
		{name: "bad port", mod: func(c *Config) { c.OTLPGRPC = "0.0.0.0:99999" }, wantErr: `otlp_grpc: invalid port "99999"`},
		{name: "nginx off", mod: func(c *Config) { c.NginxSyslog = NginxSyslogOff }},
		{name: "nginx empty", mod: func(c *Config) { c.NginxSyslog = "" }},
		{name: "nginx no port", mod: func(c *Config) { c.NginxSyslog = "127.0.0.1" }, wantErr: `nginx_syslog: want host:port, got "127.0.0.1" (or "off")`},
		{name: "missing file", mod: func(c *Config) { c.ConfigFile = filepath.Join(t.TempDir(), "nope.yaml") }, wantErr: "config_file: cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mod(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestSectionSettings(t *testing.T) {
	c := Default()
	require.Equal(t, Settings{OTLPGRPCEndpoint: DefaultOTLPGRPCEndpoint, OTLPHTTPEndpoint: DefaultOTLPHTTPEndpoint,
		NginxSyslogEndpoint: "127.0.0.1:5514"}, c.Settings())
	c.ConfigFile = "/etc/otelcol.yaml"
	require.Equal(t, []string{"file:/etc/otelcol.yaml"}, c.Settings().ConfigURIs)
}
