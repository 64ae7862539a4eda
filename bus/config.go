package bus

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tapline/tapline/config/configtype"
)

// Config is the bus section of the configuration file. Keys in Validate's
// messages are relative to the section ("stream.max_age"); the top-level
// configuration reports them under "bus.".
type Config struct {
	// URL of an external NATS (nats://host:4222, tls://host:4222, several
	// comma-separated). Empty means the embedded server.
	URL string `yaml:"url"`
	// CredentialsFile is a NATS .creds file (user JWT and nkey seed).
	CredentialsFile string `yaml:"credentials_file"`
	// NkeyFile is a file holding an nkey seed ("SU...").
	NkeyFile string `yaml:"nkey_file"`
	// Token is a bearer token for servers configured with one.
	Token configtype.Secret `yaml:"token"`
	// User and Password for servers with user/password authorization.
	User     string            `yaml:"user"`
	Password configtype.Secret `yaml:"password"`
	// TLS for an external server.
	TLS configtype.TLSClient `yaml:"tls"`
	// Embedded is the embedded server, used when URL is empty.
	Embedded EmbeddedConfig `yaml:"embedded"`
	// Stream sets the limits of the TAPLINE stream.
	Stream StreamConfig `yaml:"stream"`
}

// EmbeddedConfig is the embedded NATS server.
type EmbeddedConfig struct {
	// Listen is the loopback host:port the server listens on, so that other
	// tapline processes on this machine can reach it. Port 0 picks a free
	// port. The embedded server has no authentication, so it must not
	// listen beyond loopback: use an external NATS for that.
	Listen string `yaml:"listen"`
	// StoreDir is where JetStream keeps its files; empty means DATA_DIR/nats.
	StoreDir string `yaml:"store_dir"`
}

// StreamConfig holds the TAPLINE stream's limits.
type StreamConfig struct {
	// MaxAge is how long a message is kept at most, read or not.
	MaxAge time.Duration `yaml:"max_age"`
	// MaxBytes is the stream's size limit; the oldest messages go first.
	MaxBytes configtype.ByteSize `yaml:"max_bytes"`
	// DuplicateWindow is how long a Nats-Msg-Id is remembered: a publish
	// retried inside it is stored once.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
	// Replicas is the number of copies in a NATS cluster (1 to 5). The
	// embedded server is a single node: 1.
	Replicas int `yaml:"replicas"`
}

// DefaultListen is the embedded server's default address.
const DefaultListen = "127.0.0.1:4222"

// Default returns the bus section's defaults: embedded server on
// 127.0.0.1:4222, messages kept 72 h or 10 GiB, a 2-minute duplicate window.
func Default() Config {
	return Config{
		Embedded: EmbeddedConfig{Listen: DefaultListen},
		Stream: StreamConfig{
			MaxAge:          72 * time.Hour,
			MaxBytes:        10 << 30,
			DuplicateWindow: 2 * time.Minute,
			Replicas:        1,
		},
	}
}

// IsEmbedded reports whether the embedded server is used.
func (c Config) IsEmbedded() bool { return strings.TrimSpace(c.URL) == "" }

// Validate checks the section. It reads no files except to check that the
// named credential and TLS files can be opened.
func (c Config) Validate() error {
	var errs []error
	if c.IsEmbedded() {
		errs = append(errs, configtype.InSection("embedded", c.Embedded.Validate()))
		for _, f := range []struct {
			key string
			set bool
		}{
			{"credentials_file", c.CredentialsFile != ""}, {"nkey_file", c.NkeyFile != ""},
			{"token", c.Token != ""}, {"user", c.User != ""}, {"password", c.Password != ""},
			{"tls", c.TLS.IsEnabled()},
		} {
			if f.set {
				errs = append(errs, configtype.Errorf(f.key, "only used with an external server (set url)"))
			}
		}
	} else {
		for _, u := range strings.Split(c.URL, ",") {
			errs = append(errs, validateURL(strings.TrimSpace(u)))
		}
		auth := 0
		for _, set := range []bool{c.CredentialsFile != "", c.NkeyFile != "", c.Token != "", c.User != ""} {
			if set {
				auth++
			}
		}
		if auth > 1 {
			errs = append(errs, configtype.Errorf("credentials_file", "set only one of credentials_file, nkey_file, token, user"))
		}
		if c.Password != "" && c.User == "" {
			errs = append(errs, configtype.Errorf("password", "needs user"))
		}
		if c.CredentialsFile != "" {
			errs = append(errs, configtype.Readable("credentials_file", c.CredentialsFile))
		}
		if c.NkeyFile != "" {
			errs = append(errs, configtype.Readable("nkey_file", c.NkeyFile))
		}
		errs = append(errs, configtype.InSection("tls", c.TLS.Validate()))
	}
	errs = append(errs, configtype.InSection("stream", c.Stream.Validate(c.IsEmbedded())))
	return errors.Join(errs...)
}

// Validate checks the embedded server's settings.
func (c EmbeddedConfig) Validate() error {
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return configtype.Errorf("listen", "want host:port, got %q", c.Listen)
	}
	if err := validatePort(port); err != nil {
		return configtype.Errorf("listen", "%w", err)
	}
	if !isLoopback(host) {
		return configtype.Errorf("listen", "%q is not a loopback address: the embedded server has no authentication; use an external NATS (bus.url) to share the bus across machines", host)
	}
	return nil
}

// Validate checks the stream limits; embedded means a single-node server.
func (c StreamConfig) Validate(embedded bool) error {
	var errs []error
	if c.MaxAge <= 0 {
		errs = append(errs, configtype.Errorf("max_age", "must be > 0, got %s", c.MaxAge))
	}
	if c.MaxBytes <= 0 {
		errs = append(errs, configtype.Errorf("max_bytes", "must be > 0, got %d", int64(c.MaxBytes)))
	}
	if c.DuplicateWindow <= 0 {
		errs = append(errs, configtype.Errorf("duplicate_window", "must be > 0, got %s", c.DuplicateWindow))
	} else if c.MaxAge > 0 && c.DuplicateWindow > c.MaxAge {
		errs = append(errs, configtype.Errorf("duplicate_window", "must not exceed max_age (%s)", c.MaxAge))
	}
	switch {
	case c.Replicas < 1 || c.Replicas > 5:
		errs = append(errs, configtype.Errorf("replicas", "must be between 1 and 5, got %d", c.Replicas))
	case embedded && c.Replicas != 1:
		errs = append(errs, configtype.Errorf("replicas", "the embedded server is a single node: must be 1, got %d", c.Replicas))
	}
	return errors.Join(errs...)
}

func validateURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return configtype.Errorf("url", "want nats://host:port, got %q", raw)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return configtype.Errorf("url", "unsupported scheme %q (want nats, tls, ws or wss)", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if err := validatePort(p); err != nil {
			return configtype.Errorf("url", "%w", err)
		}
	}
	return nil
}

func validatePort(p string) error {
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return errors.New("invalid port " + strconv.Quote(p))
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
