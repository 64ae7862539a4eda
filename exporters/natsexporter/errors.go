package natsexporter

import "errors"

var (
	// ErrNotConnected means the exporter has no NATS connection right now; it
	// keeps reconnecting in the background. Retryable.
	ErrNotConnected = errors.New("nats: not connected")

	// ErrPubAckTimeout means JetStream did not acknowledge every message
	// before the export's deadline. Retryable: a retry with the same data
	// carries the same Nats-Msg-Id and is stored once.
	ErrPubAckTimeout = errors.New("jetstream: timed out waiting for PubAck")

	// ErrOversize means a single span or log record (with its resource and
	// scope) does not fit in one message. Permanent.
	ErrOversize = errors.New("item larger than the maximum message size")

	// ErrRejected means JetStream refused a message for good (for example
	// larger than the stream's max_msg_size). Permanent.
	ErrRejected = errors.New("jetstream: message rejected")
)
