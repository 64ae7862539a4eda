package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/collector"
	"github.com/tapline/tapline/compliance"
	"github.com/tapline/tapline/config/configtype"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/proxy"
	"github.com/tapline/tapline/query"
	"github.com/tapline/tapline/ui"
)

// Config is the whole configuration of a tapline process. Each field is a
// named section with its own type; a section added later (collector, ingest,
// query, proxy, compliance) gets a field here, a line in Default and a line
// in sections.
type Config struct {
	// DataDir holds the embedded engines' data: DataDir/nats and
	// DataDir/clickhouse.
	DataDir string `yaml:"data_dir"`
	Log     Log    `yaml:"log"`
	// HTTP is the main HTTP listener: health, readiness, metrics, and later
	// the REST API and the UI.
	HTTP  HTTP       `yaml:"http"`
	Store Store      `yaml:"store"`
	Bus   bus.Config `yaml:"bus"`
	// Ingest moves everything from the bus into the store: consumer,
	// batching, backoff.
	Ingest ingest.Config `yaml:"ingest"`
	// Query is the query API: gRPC listener, limits and authentication.
	Query query.Config `yaml:"query"`
	// Collector is the OpenTelemetry Collector: its YAML file or the
	// built-in configuration's OTLP listeners.
	Collector collector.Config `yaml:"collector"`
	// Compliance is the evidence reports: schedules, output, signing key,
	// check thresholds and waivers.
	Compliance compliance.Config `yaml:"compliance"`
	// Proxy is the mTLS reverse-proxy tap: listeners, upstreams, routes
	// with their policies, identity sources and the event buffer.
	Proxy proxy.Config `yaml:"proxy"`
	// UI is the web UI on the HTTP listener: sessions and single sign-on.
	UI ui.Config `yaml:"ui"`
}

// DefaultDataDir is where data lives when data_dir is not set.
const DefaultDataDir = "tapline-data"

// Default returns the configuration used where the file, environment and
// flags say nothing.
func Default() Config {
	return Config{
		DataDir:    DefaultDataDir,
		Log:        DefaultLog(),
		HTTP:       DefaultHTTP(),
		Store:      DefaultStore(),
		Bus:        bus.Default(),
		Ingest:     ingest.Default(),
		Query:      query.Default(),
		Collector:  collector.Default(),
		Compliance: compliance.Default(),
		Proxy:      proxy.Default(),
		UI:         ui.Default(),
	}
}

// validator is what every section implements. Keys in its errors are
// relative to the section.
type validator interface{ Validate() error }

// sections lists the sections by YAML key, for validation.
func (c Config) sections() []struct {
	key string
	v   validator
} {
	return []struct {
		key string
		v   validator
	}{
		{"log", c.Log},
		{"http", c.HTTP},
		{"store", c.Store},
		{"bus", c.Bus},
		{"ingest", c.Ingest},
		{"query", c.Query},
		{"collector", c.Collector},
		{"compliance", c.Compliance},
		{"proxy", c.Proxy},
		{"ui", c.UI},
	}
}

// Validate checks every section and the data directory, and returns all
// problems found, each naming its key ("http.addr: invalid port \"99999\"").
func (c Config) Validate() error {
	return c.ValidateSections()
}

// CommandSections names the sections `tapline NAME` runs and validates
// (with data_dir, log and http); nil, meaning all, for `run` and for names
// it does not know.
func CommandSections(name string) []string {
	switch name {
	case "collector":
		return []string{"bus", "collector"}
	case "ingest":
		return []string{"bus", "store", "ingest"}
	case "migrate":
		return []string{"store"}
	case "proxy":
		return []string{"bus", "proxy"}
	case "query":
		// The UI it serves starts compliance reports on demand.
		return []string{"bus", "store", "query", "ui", "compliance"}
	case "report":
		return []string{"store", "compliance"}
	}
	return nil
}

// ValidateSections is Validate for a process that runs only some of the
// parts: it checks data_dir, log, http and the named sections (YAML keys,
// e.g. "bus", "ingest"), and leaves the others alone, so that `tapline
// ingest` does not need the proxy's certificate files. No names means every
// section.
func (c Config) ValidateSections(keys ...string) error {
	errs := []error{validateDataDir(c.DataDir)}
	known := map[string]bool{}
	for _, s := range c.sections() {
		known[s.key] = true
		if len(keys) > 0 && s.key != "log" && s.key != "http" && !slices.Contains(keys, s.key) {
			continue
		}
		errs = append(errs, configtype.InSection(s.key, s.v.Validate()))
	}
	for _, k := range keys {
		if !known[k] {
			errs = append(errs, fmt.Errorf("config: no section %q to validate", k))
		}
	}
	return errors.Join(errs...)
}

// validateDataDir checks that the data directory exists and can be read and
// written, or that it can be created.
func validateDataDir(dir string) error {
	if dir == "" {
		return configtype.Errorf("data_dir", "must not be empty")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return configtype.Errorf("data_dir", "%w", err)
	}
	// Walk up to the nearest existing directory: that is where the
	// directory will be created.
	check, mode, missing := abs, uint32(unix.R_OK|unix.W_OK|unix.X_OK), false
	for {
		fi, err := os.Stat(check)
		if err == nil {
			if !fi.IsDir() {
				if missing {
					return configtype.Errorf("data_dir", "cannot create %q: %q is not a directory", dir, check)
				}
				return configtype.Errorf("data_dir", "%q is not a directory", dir)
			}
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return configtype.Errorf("data_dir", "%q: %w", dir, unwrapPath(err))
		}
		parent := filepath.Dir(check)
		if parent == check {
			return configtype.Errorf("data_dir", "%q: no existing parent directory", dir)
		}
		check, mode, missing = parent, unix.W_OK|unix.X_OK, true
	}
	if err := unix.Access(check, mode); err != nil {
		if missing {
			return configtype.Errorf("data_dir", "cannot create %q in %q: %w", dir, check, err)
		}
		return configtype.Errorf("data_dir", "%q is not readable and writable: %w", dir, err)
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Log configures Tapline's own log (log/slog, to stderr).
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is text or json.
	Format string `yaml:"format"`
}

// DefaultLog logs at info level as text.
func DefaultLog() Log { return Log{Level: "info", Format: "text"} }

// Validate checks level and format.
func (l Log) Validate() error {
	var errs []error
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, configtype.Errorf("level", "%q is not one of debug, info, warn, error", l.Level))
	}
	switch l.Format {
	case "text", "json":
	default:
		errs = append(errs, configtype.Errorf("format", "%q is not one of text, json", l.Format))
	}
	return errors.Join(errs...)
}

// HTTP is the main HTTP listener.
type HTTP struct {
	// Addr is host:port. The default binds to loopback; use ":8080" or
	// "0.0.0.0:8080" to expose it.
	Addr string `yaml:"addr"`
	// TLS, when a certificate is set, serves HTTPS.
	TLS configtype.TLSServer `yaml:"tls"`
}

// DefaultHTTPAddr is the default address of the main HTTP listener.
const DefaultHTTPAddr = "127.0.0.1:8080"

// DefaultHTTP listens on 127.0.0.1:8080 in plain HTTP.
func DefaultHTTP() HTTP { return HTTP{Addr: DefaultHTTPAddr} }

// Validate checks the address and the TLS files.
func (h HTTP) Validate() error {
	return errors.Join(
		ValidateAddr("addr", h.Addr),
		configtype.InSection("tls", h.TLS.Validate()),
	)
}

// ValidateAddr checks a host:port listen address (port 0 picks a free port)
// and names key in its error.
func ValidateAddr(key, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return configtype.Errorf(key, "want host:port, got %q", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return configtype.Errorf(key, "invalid port %s", strconv.Quote(port))
	}
	return nil
}

// String is for debugging: the effective configuration as YAML, masked.
func (c Config) String() string {
	out, err := Marshal(c)
	if err != nil {
		return fmt.Sprintf("config: %v", err)
	}
	return string(out)
}
