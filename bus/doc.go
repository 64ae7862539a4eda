// Package bus is Tapline's plumbing for NATS JetStream: the embedded NATS
// server (loopback only, file store in the data directory), connecting to it
// or to an external NATS with credentials and TLS, and the one stream TAPLINE
// with its subjects (subjects.go), created or updated idempotently.
//
// It moves bytes: it must not decode OTLP or know what the messages mean.
// Publishers set HeaderMsgID so that a retried publish is stored once.
package bus
