package collector

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tapline/tapline/collector/nginxreceiver"
	"github.com/tapline/tapline/exporters/natsexporter"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the built-in collector configuration, with its
// ${tapline:...} references unresolved.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }

// Settings are what a tapline process hands the collector.
type Settings struct {
	// ConfigURIs are collector YAML locations merged in order: file paths,
	// or file:, env: and yaml: URIs as otelcol accepts them. Empty means the
	// built-in configuration (DefaultYAML).
	ConfigURIs []string

	// NATS is how the built-in configuration's nats exporter reaches the
	// bus. Its URL is also ${tapline:nats_url} in any configuration.
	NATS NATS

	// OTLPGRPCEndpoint and OTLPHTTPEndpoint are the built-in configuration's
	// OTLP listeners (${tapline:otlp_grpc_endpoint},
	// ${tapline:otlp_http_endpoint}); defaults 127.0.0.1:4317 and :4318.
	OTLPGRPCEndpoint string
	OTLPHTTPEndpoint string

	// NginxSyslogEndpoint is where the built-in configuration's nginx
	// receiver listens for Nginx's syslog datagrams (UDP),
	// ${tapline:nginx_syslog_endpoint}. Empty or NginxSyslogOff leaves the
	// receiver out of the built-in configuration and makes the value "";
	// Tapline's configuration sets DefaultNginxSyslogEndpoint unless told
	// otherwise (collector.nginx_syslog).
	NginxSyslogEndpoint string

	// Logger receives the collector's logs. Nil keeps the collector's own
	// logging, as service::telemetry::logs configures it.
	Logger *slog.Logger

	// Registerer receives the collector's metrics (otelcol_receiver_*,
	// otelcol_exporter_*, tapline_natsexporter_*) at the level of
	// service::telemetry::metrics. Nil lets the collector serve them itself
	// as configured (by default on localhost:8888).
	Registerer prometheus.Registerer

	// Version is reported as the collector's build version.
	Version string

	// OnFatal, if set, is called once when the collector stops on its own
	// after a successful start (an asynchronous component error, a failed
	// configuration reload).
	OnFatal func(error)
}

// NATS is the bus connection for the built-in configuration.
type NATS struct {
	// URL of the NATS server(s); default nats://127.0.0.1:4222.
	URL string
	// Auth holds at most one set of credentials.
	Auth natsexporter.AuthConfig
	// TLS, when set, turns TLS on (a tls:// URL does too).
	TLS *TLS
}

// TLS is the client TLS of the nats exporter, in files.
type TLS struct {
	CAFile             string
	CertFile           string
	KeyFile            string
	ServerName         string
	InsecureSkipVerify bool
}

// Defaults of the built-in configuration.
const (
	DefaultOTLPGRPCEndpoint = "127.0.0.1:4317"
	DefaultOTLPHTTPEndpoint = "127.0.0.1:4318"
	// DefaultNginxSyslogEndpoint is the nginx receiver's syslog UDP address
	// in Tapline's default configuration.
	DefaultNginxSyslogEndpoint = nginxreceiver.DefaultUDPEndpoint
	// NginxSyslogOff, as NginxSyslogEndpoint (or collector.nginx_syslog),
	// turns the built-in nginx receiver off.
	NginxSyslogOff = "off"
)

// Collector is the OpenTelemetry Collector as a component of a tapline
// process.
type Collector struct {
	set Settings
	col *otelcol.Collector

	mu       sync.Mutex
	started  bool // Start was called
	running  bool // Start returned nil
	finished bool // Run returned
	stopping bool // Shutdown was called
	reported bool // Start returned runErr
	runDone  chan struct{}
	runErr   error
}

// New builds a collector from set; nothing runs until Start.
func New(set Settings) (*Collector, error) {
	set = set.withDefaults()
	var logging []zap.Option
	if set.Logger != nil {
		h := set.Logger.Handler()
		logging = append(logging, zap.WrapCore(func(zapcore.Core) zapcore.Core { return newSlogCore(h) }))
	}
	version := set.Version
	if version == "" {
		version = "dev"
	}
	col, err := otelcol.NewCollector(otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "tapline collector",
			Description: "Tapline collector (OpenTelemetry Collector distribution)",
			Version:     version,
		},
		Factories: func() (otelcol.Factories, error) {
			return Factories(set.Registerer)
		},
		// The caller's context stops the collector; signals are the
		// caller's business.
		DisableGracefulShutdown: true,
		SkipSettingGRPCLogger:   true,
		LoggingOptions:          logging,
		ConfigProviderSettings:  configProviderSettings(set),
	})
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	return &Collector{set: set, col: col}, nil
}

func (set Settings) withDefaults() Settings {
	if set.OTLPGRPCEndpoint == "" {
		set.OTLPGRPCEndpoint = DefaultOTLPGRPCEndpoint
	}
	if set.OTLPHTTPEndpoint == "" {
		set.OTLPHTTPEndpoint = DefaultOTLPHTTPEndpoint
	}
	if set.NATS.URL == "" {
		set.NATS.URL = natsexporter.DefaultURL
	}
	if set.NginxSyslogEndpoint == NginxSyslogOff {
		set.NginxSyslogEndpoint = ""
	}
	return set
}

// configProviderSettings resolves set.ConfigURIs, or the built-in
// configuration, with the file, env, yaml and tapline providers; ${VAR}
// alone means ${env:VAR}, as in otelcol.
func configProviderSettings(set Settings) otelcol.ConfigProviderSettings {
	uris := set.ConfigURIs
	if len(uris) == 0 {
		uris = []string{schemeTapline + ":" + docDefault}
		if set.NATS.hasOverrides() {
			uris = append(uris, schemeTapline+":"+docNATS)
		}
	}
	return otelcol.ConfigProviderSettings{
		ResolverSettings: confmap.ResolverSettings{
			URIs: uris,
			ProviderFactories: []confmap.ProviderFactory{
				fileprovider.NewFactory(),
				envprovider.NewFactory(),
				yamlprovider.NewFactory(),
				newTaplineProviderFactory(set),
			},
			DefaultScheme: "env",
		},
	}
}

// Start runs the collector and returns once its pipelines run (receivers
// listening), or with the reason they could not start. The collector keeps
// running after ctx ends; Shutdown stops it.
func (c *Collector) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return errors.New("collector: already started")
	}
	c.started = true
	done := make(chan struct{})
	c.runDone = done
	c.mu.Unlock()

	go func() {
		err := c.col.Run(context.WithoutCancel(ctx))
		c.mu.Lock()
		c.runErr, c.finished = err, true
		fatal := c.running && !c.stopping
		c.mu.Unlock()
		close(done)
		if fatal && c.set.OnFatal != nil {
			if err == nil {
				err = errors.New("stopped on its own")
			}
			c.set.OnFatal(fmt.Errorf("collector: %w", err))
		}
	}()

	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			c.mu.Lock()
			err := c.runErr
			c.reported = true
			c.mu.Unlock()
			if err == nil {
				err = errors.New("stopped before it started")
			}
			return fmt.Errorf("collector: start: %w", err)
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("collector: start: %w", ctx.Err()), c.Shutdown(context.WithoutCancel(ctx)))
		case <-tick.C:
			if c.col.GetState() != otelcol.StateRunning {
				continue
			}
			c.mu.Lock()
			finished := c.finished
			c.running = !finished
			c.mu.Unlock()
			if !finished {
				return nil
			}
		}
	}
}

// Ready reports whether the pipelines run.
func (c *Collector) Ready() bool {
	return c.col.GetState() == otelcol.StateRunning
}

// Done is closed when the collector has stopped (nil before Start).
func (c *Collector) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runDone
}

// Shutdown stops the receivers first, lets the pipelines finish their
// exports, then stops the exporters. Safe before Start and twice; returns
// ctx's error if the collector has not stopped by its deadline.
func (c *Collector) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	c.stopping = true
	done := c.runDone
	c.mu.Unlock()
	stopped := make(chan struct{})
	go func() {
		c.col.Shutdown()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		return fmt.Errorf("collector: shutdown: %w", ctx.Err())
	}
	if done == nil {
		return nil
	}
	<-done
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runErr != nil && !c.reported {
		return fmt.Errorf("collector: %w", c.runErr)
	}
	return nil
}

// Run runs a collector until ctx ends or the collector stops on its own.
func Run(ctx context.Context, set Settings) error {
	fatal := make(chan error, 1)
	set.OnFatal = func(err error) { fatal <- err }
	c, err := New(set)
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// ctx ended while the collector started: Start shut it
			// down, which is what ending ctx asks of Run.
			return nil
		}
		return err
	}
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return c.Shutdown(sctx)
	case err := <-fatal:
		return err
	}
}
