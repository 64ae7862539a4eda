// Package natsexporter is an OpenTelemetry Collector exporter (component type
// "nats") that publishes traces and logs as OTLP protobuf
// (ExportTraceServiceRequest / ExportLogsServiceRequest) to NATS JetStream.
//
// Its promise is durability: ConsumeTraces and ConsumeLogs return only after
// JetStream acknowledged (PubAck) every message of the payload, so a receiver
// that answers its client after the pipeline returns answers "stored". Every
// message carries a Nats-Msg-Id derived from its content, so a retried publish
// of the same data, by the collector or by the OTLP client, is stored once
// inside the stream's duplicate window.
//
// While NATS is unreachable the exporter returns retryable errors (OTLP
// clients see UNAVAILABLE / 503) and reconnects in the background; it never
// buffers data in memory on its own. Log records whose event name marks them
// as Tapline access or TLS events are published to their own subject.
//
// The package must not create or change JetStream streams: the stream that
// binds the subjects belongs to the operator (or to Tapline's bus setup).
package natsexporter
