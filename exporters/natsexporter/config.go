package natsexporter

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
)

// Config is the exporter's configuration as users write it in the collector
// YAML under `exporters: nats:`.
type Config struct {
	// URL is the NATS server URL, or several separated by commas
	// (nats://host:4222, tls://host:4222).
	URL string `mapstructure:"url"`

	// Subjects are the JetStream subjects per signal.
	Subjects SubjectsConfig `mapstructure:"subjects"`

	// EventNames lists the log record event names that go to Subjects.Events
	// instead of Subjects.Logs.
	EventNames []string `mapstructure:"event_names"`

	// Auth selects at most one way to authenticate to NATS.
	Auth AuthConfig `mapstructure:"auth"`

	// TLS turns TLS on when present (also implied by a tls:// URL).
	TLS configoptional.Optional[configtls.ClientConfig] `mapstructure:"tls"`

	// MaxInFlight bounds the asynchronous publishes awaiting a PubAck across
	// the concurrent exports of one exporter instance (the collector makes
	// one per signal); a publish beyond it waits for a free slot.
	MaxInFlight int `mapstructure:"max_in_flight"`

	// PublishTimeout bounds one export: publishing every message of the
	// payload and receiving all their PubAcks.
	PublishTimeout time.Duration `mapstructure:"publish_timeout"`

	// MaxMessageSize caps one message's size in bytes; a larger payload is
	// split by resource, scope and item. 0 means the server's max_payload.
	// Set it at or below the stream's max_msg_size if the stream has one.
	MaxMessageSize int `mapstructure:"max_message_size"`

	// ConnectTimeout bounds one connection attempt.
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`

	// ReconnectWait is the pause between reconnection attempts.
	ReconnectWait time.Duration `mapstructure:"reconnect_wait"`

	// SendingQueue is exporterhelper's in-memory (or persistent) queue. It is
	// off by default: a queue answers the client before JetStream stored the
	// data, which breaks the durability promise.
	SendingQueue configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`

	// RetryOnFailure is exporterhelper's retry. Off by default: the OTLP
	// client holds the data and retries on UNAVAILABLE / 503.
	RetryOnFailure configretry.BackOffConfig `mapstructure:"retry_on_failure"`
}

// SubjectsConfig names the subject each kind of payload is published to.
type SubjectsConfig struct {
	// Traces receives ExportTraceServiceRequest messages.
	Traces string `mapstructure:"traces"`
	// Logs receives ExportLogsServiceRequest messages of ordinary log records.
	Logs string `mapstructure:"logs"`
	// Events receives ExportLogsServiceRequest messages holding only records
	// whose event name is in Config.EventNames. Empty keeps them in Logs.
	Events string `mapstructure:"events"`
}

// AuthConfig holds NATS credentials. Set at most one of: token, user with
// password, credentials_file, nkey_seed_file.
type AuthConfig struct {
	// Token is a plain authentication token.
	Token configopaque.String `mapstructure:"token"`
	// User and Password are basic credentials.
	User     string              `mapstructure:"user"`
	Password configopaque.String `mapstructure:"password"`
	// CredentialsFile is a NATS .creds file (user JWT and nkey seed).
	CredentialsFile string `mapstructure:"credentials_file"`
	// NKeySeedFile is a file holding a user nkey seed.
	NKeySeedFile string `mapstructure:"nkey_seed_file"`
}

// Validate checks the configuration and names the offending YAML key.
func (c *Config) Validate() error {
	var errs []error
	if strings.TrimSpace(c.URL) == "" {
		errs = append(errs, errors.New("url must not be empty"))
	}
	for _, u := range strings.Split(c.URL, ",") {
		u = strings.TrimSpace(u)
		if u == "" {
			continue
		}
		if _, err := url.Parse(u); err != nil {
			errs = append(errs, fmt.Errorf("url %q: %w", u, err))
		}
	}
	if c.Subjects.Traces == "" {
		errs = append(errs, errors.New("subjects.traces must not be empty"))
	}
	if c.Subjects.Logs == "" {
		errs = append(errs, errors.New("subjects.logs must not be empty"))
	}
	for _, s := range []struct{ key, value string }{
		{"subjects.traces", c.Subjects.Traces},
		{"subjects.logs", c.Subjects.Logs},
		{"subjects.events", c.Subjects.Events},
	} {
		if strings.ContainsAny(s.value, "*> \t\r\n") {
			errs = append(errs, fmt.Errorf("%s %q must be a literal subject (no wildcards or spaces)", s.key, s.value))
		}
	}
	if c.Subjects.Events != "" && len(c.EventNames) == 0 {
		errs = append(errs, errors.New("event_names must not be empty when subjects.events is set"))
	}
	if c.MaxInFlight <= 0 {
		errs = append(errs, errors.New("max_in_flight must be > 0"))
	}
	if c.PublishTimeout <= 0 {
		errs = append(errs, errors.New("publish_timeout must be > 0"))
	}
	if c.MaxMessageSize < 0 {
		errs = append(errs, errors.New("max_message_size must be >= 0 (0 means the server's max_payload)"))
	} else if c.MaxMessageSize > 0 && c.MaxMessageSize < minMessageSize {
		errs = append(errs, fmt.Errorf("max_message_size must be 0 or >= %d", minMessageSize))
	}
	if c.ConnectTimeout <= 0 {
		errs = append(errs, errors.New("connect_timeout must be > 0"))
	}
	if c.ReconnectWait <= 0 {
		errs = append(errs, errors.New("reconnect_wait must be > 0"))
	}
	errs = append(errs, c.Auth.validate())
	return errors.Join(errs...)
}

func (a AuthConfig) validate() error {
	var set []string
	if a.Token != "" {
		set = append(set, "auth.token")
	}
	if a.User != "" || a.Password != "" {
		if a.User == "" {
			return errors.New("auth.password needs auth.user")
		}
		set = append(set, "auth.user")
	}
	if a.CredentialsFile != "" {
		set = append(set, "auth.credentials_file")
	}
	if a.NKeySeedFile != "" {
		set = append(set, "auth.nkey_seed_file")
	}
	if len(set) > 1 {
		return fmt.Errorf("set at most one of %s", strings.Join(set, ", "))
	}
	return nil
}

// minMessageSize is the smallest max_message_size accepted: below it even a
// lone span or log record rarely fits.
const minMessageSize = 1024
