package bus

// The one JetStream stream and its subjects. Every message on them is OTLP
// protobuf (ExportTraceServiceRequest or ExportLogsServiceRequest), except on
// SubjectDLQ, which holds a message exactly as it was received.
const (
	StreamName    = "TAPLINE"
	SubjectTraces = "tapline.traces" // ExportTraceServiceRequest
	SubjectLogs   = "tapline.logs"   // ExportLogsServiceRequest (application logs)
	SubjectEvents = "tapline.events" // ExportLogsServiceRequest of tapline.access / tapline.tls events
	SubjectDLQ    = "tapline.dlq"    // undecodable messages, reason in HeaderDLQReason
)

// Headers set on published messages.
const (
	// HeaderMsgID is JetStream's de-duplication header: a retried publish with
	// the same id inside the stream's duplicate window is stored once.
	HeaderMsgID = "Nats-Msg-Id"
	// HeaderDLQReason says why a message was dead-lettered.
	HeaderDLQReason = "Tapline-Dlq-Reason"
	// HeaderDLQSubject and HeaderDLQSequence say where the message came from.
	HeaderDLQSubject  = "Tapline-Dlq-Subject"
	HeaderDLQSequence = "Tapline-Dlq-Sequence"
)
