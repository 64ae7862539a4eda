package collector

import (
	"errors"
	"net"
	"strconv"

	"github.com/tapline/tapline/config/configtype"
)

// Config is the collector section of Tapline's configuration file. The
// collector's own pipelines are configured in the OpenTelemetry Collector's
// YAML (ConfigFile), not here; without one the built-in configuration runs
// with the listeners below.
type Config struct {
	// ConfigFile is a collector YAML file (OpenTelemetry Collector format)
	// run instead of the built-in configuration. It may use
	// ${tapline:nats_url}, ${tapline:otlp_grpc_endpoint},
	// ${tapline:otlp_http_endpoint} and ${tapline:nginx_syslog_endpoint}.
	ConfigFile string `yaml:"config_file"`
	// OTLPGRPC is the built-in configuration's OTLP/gRPC listen address.
	OTLPGRPC string `yaml:"otlp_grpc"`
	// OTLPHTTP is the built-in configuration's OTLP/HTTP listen address.
	OTLPHTTP string `yaml:"otlp_http"`
	// NginxSyslog is the built-in configuration's UDP listen address for
	// Nginx's syslog access log (the nginx receiver); "" or "off" leaves
	// the receiver out.
	NginxSyslog string `yaml:"nginx_syslog"`
}

// Default returns the collector section's defaults: the built-in
// configuration on 127.0.0.1:4317 (gRPC) and 127.0.0.1:4318 (HTTP), with
// Nginx syslog on 127.0.0.1:5514 (UDP).
func Default() Config {
	return Config{OTLPGRPC: DefaultOTLPGRPCEndpoint, OTLPHTTP: DefaultOTLPHTTPEndpoint,
		NginxSyslog: DefaultNginxSyslogEndpoint}
}

// Validate checks the listen addresses and that the configuration file can
// be read. Keys are relative to the section ("otlp_grpc").
func (c Config) Validate() error {
	var errs []error
	for _, a := range []struct{ key, addr string }{{"otlp_grpc", c.OTLPGRPC}, {"otlp_http", c.OTLPHTTP}} {
		if err := validateListen(a.addr); err != nil {
			errs = append(errs, configtype.Errorf(a.key, "%v", err))
		}
	}
	if on := c.NginxSyslog != "" && c.NginxSyslog != NginxSyslogOff; on {
		if err := validateListen(c.NginxSyslog); err != nil {
			errs = append(errs, configtype.Errorf("nginx_syslog", "%v (or \"off\")", err))
		}
	}
	if c.ConfigFile != "" {
		errs = append(errs, configtype.Readable("config_file", c.ConfigFile))
	}
	return errors.Join(errs...)
}

func validateListen(addr string) error {
	if addr == "" {
		return errors.New("must not be empty")
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port, got " + strconv.Quote(addr))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("invalid port " + strconv.Quote(port))
	}
	return nil
}

// Settings returns the collector settings for this section; the caller adds
// the bus, logger and registry.
func (c Config) Settings() Settings {
	set := Settings{OTLPGRPCEndpoint: c.OTLPGRPC, OTLPHTTPEndpoint: c.OTLPHTTP, NginxSyslogEndpoint: c.NginxSyslog}
	if c.ConfigFile != "" {
		set.ConfigURIs = []string{"file:" + c.ConfigFile}
	}
	return set
}
