// Package tap turns what the proxy saw into Tapline events and spans and
// gets them onto the bus without ever holding up a request.
//
// Record calls (Access, TLS) only put a record into a bounded channel; when
// it is full the record is dropped and counted. One goroutine batches the
// records into OTLP messages — an ExportLogsServiceRequest of tapline.access
// and tapline.tls log records for bus.SubjectEvents, an
// ExportTraceServiceRequest of server spans for bus.SubjectTraces — and
// publishes them with a Nats-Msg-Id, retrying while the bus is away (a
// retried publish is stored once). Once publishing works again, the drops
// are reported as tapline.drop events.
//
// The package must not block its callers, and must not decide anything
// about requests: it only records.
package tap
