package bus_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/bus"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(c *bus.Config)
		wantErr string
	}{
		{"default", func(*bus.Config) {}, ""},
		{"random port", func(c *bus.Config) { c.Embedded.Listen = "127.0.0.1:0" }, ""},
		{"ipv6 loopback", func(c *bus.Config) { c.Embedded.Listen = "[::1]:4222" }, ""},
		{"not loopback", func(c *bus.Config) { c.Embedded.Listen = "0.0.0.0:4222" }, "embedded.listen: \"0.0.0.0\" is not a loopback address"},
		{"bad port", func(c *bus.Config) { c.Embedded.Listen = "127.0.0.1:99999" }, "embedded.listen: invalid port \"99999\""},
		{"no port", func(c *bus.Config) { c.Embedded.Listen = "127.0.0.1" }, "embedded.listen: want host:port"},
		{"max age", func(c *bus.Config) { c.Stream.MaxAge = 0 }, "stream.max_age: must be > 0"},
		{"max bytes", func(c *bus.Config) { c.Stream.MaxBytes = -1 }, "stream.max_bytes: must be > 0"},
		{"window", func(c *bus.Config) { c.Stream.DuplicateWindow = 0 }, "stream.duplicate_window: must be > 0"},
		{"window beyond age", func(c *bus.Config) { c.Stream.MaxAge, c.Stream.DuplicateWindow = time.Minute, time.Hour }, "stream.duplicate_window: must not exceed max_age"},
		{"replicas embedded", func(c *bus.Config) { c.Stream.Replicas = 3 }, "stream.replicas: the embedded server is a single node"},
		{"replicas external", func(c *bus.Config) { c.URL, c.Stream.Replicas = "nats://nats:4222", 3 }, ""},
		{"replicas range", func(c *bus.Config) { c.URL, c.Stream.Replicas = "nats://nats:4222", 7 }, "stream.replicas: must be between 1 and 5"},
		{"external urls", func(c *bus.Config) { c.URL = "nats://a:4222, tls://b:4222" }, ""},
		{"bad url scheme", func(c *bus.Config) { c.URL = "http://a:4222" }, "url: unsupported scheme \"http\""},
		{"bad url port", func(c *bus.Config) { c.URL = "nats://a:70000" }, "url: invalid port \"70000\""},
		{"token on embedded", func(c *bus.Config) { c.Token = "x" }, "token: only used with an external server"},
		{"tls on embedded", func(c *bus.Config) { c.TLS.Enabled = true }, "tls: only used with an external server"},
		{"two auth methods", func(c *bus.Config) { c.URL, c.Token, c.User = "nats://a:4222", "x", "u" }, "set only one of"},
		{"password without user", func(c *bus.Config) { c.URL, c.Password = "nats://a:4222", "p" }, "password: needs user"},
		{"missing creds file", func(c *bus.Config) { c.URL, c.CredentialsFile = "nats://a:4222", "/nonexistent/x.creds" }, "credentials_file: cannot read \"/nonexistent/x.creds\""},
		{"tls key without cert", func(c *bus.Config) { c.URL, c.TLS.Key = "tls://a:4222", "k.pem" }, "tls.cert: required when key is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := bus.Default()
			tt.change(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
