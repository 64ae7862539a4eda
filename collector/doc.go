// Package collector is Tapline's OpenTelemetry Collector distribution, built
// in code with otelcol: the OTLP receiver, the memory_limiter and batch
// processors, the NATS JetStream exporter, and Tapline's Nginx receiver and
// access-log processor. It reads a standard collector YAML; a default one is
// built in (default.yaml) whose pipelines answer an OTLP client only after
// JetStream stored the data, and which takes Nginx's syslog access log too
// (the nginx receiver, unless Settings.NginxSyslogEndpoint is off).
//
// The package runs the collector as a component of a tapline process (New,
// Start, Shutdown) or alone (Run). It must not add pipeline stages of its
// own that acknowledge data before the exporter does, and it leaves
// process-wide matters to its caller: SIGINT and SIGTERM (the caller's
// context ends the collector) and the gRPC logger. Only SIGHUP is taken, as
// otelcol does, to reload the configuration.
package collector
