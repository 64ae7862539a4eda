// Package otlprow maps OTLP traces and logs to the rows of Tapline's tables.
//
// Spans go to otel_traces and log records to otel_logs exactly as the
// OpenTelemetry Collector contrib clickhouseexporter fills those tables, so
// SQL and dashboards written for that exporter read Tapline's tables
// unchanged: ServiceName is the resource's service.name, attribute values are
// stored as pcommon.Value.AsString gives them (ints in decimal, bools as
// true/false, doubles in the shortest ECMAScript form, bytes in base64, maps
// and arrays as JSON), SpanKind and StatusCode are the pdata names (Server,
// Client, ..., Unset, Ok, Error), Duration is end minus start in nanoseconds,
// and events and links fill the Events.* and Links.* nested columns. Two
// deliberate differences, both for input the exporter would store as
// garbage: a span that ends before it starts gets Duration 0 (the exporter's
// unsigned subtraction wraps around), and a time past the end of
// DateTime64(9) (year 2262) is stored as that end.
//
// Log records whose event name is event.AccessEvent or event.TLSEvent become
// access_events or tls_connections rows instead of otel_logs rows. Their
// attributes fill the named columns (the keys are the constants of package
// event); every attribute that fills no column, and every resource
// attribute except service.name, is kept in the Attributes map. A value that
// cannot be read as its column's type (a not_after that is not an RFC 3339
// time, a status code of "abc") is never dropped: it stays in Attributes under
// its own key and event.AttrParseError says why. The source's raw line
// (tapline.raw, or the record's body when that attribute is absent) is kept
// whole in access_events.Raw; for TLS events the body is the TLS library's
// failure text (FailureDetail).
//
// Mapping allocates as little as it can: a Rows value keeps its row slices,
// maps and nested slices from one batch to the next and refills them.
//
// The package does no I/O and knows nothing of JetStream or of the engine;
// it must not drop a record it was given.
package otlprow
