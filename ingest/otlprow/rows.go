package otlprow

import (
	"time"
)

// Table names the mapping fills.
const (
	TableTraces = "otel_traces"
	TableLogs   = "otel_logs"
	TableAccess = "access_events"
	TableTLS    = "tls_connections"
)

// Span is one otel_traces row.
type Span struct {
	Timestamp          time.Time
	TraceID            string
	SpanID             string
	ParentSpanID       string
	TraceState         string
	SpanName           string
	SpanKind           string
	ServiceName        string
	ResourceAttributes map[string]string // shared by the spans of one resource
	ScopeName          string
	ScopeVersion       string
	SpanAttributes     map[string]string
	Duration           uint64 // nanoseconds
	StatusCode         string
	StatusMessage      string
	EventTimestamps    []time.Time
	EventNames         []string
	EventAttributes    []map[string]string
	LinkTraceIDs       []string
	LinkSpanIDs        []string
	LinkTraceStates    []string
	LinkAttributes     []map[string]string
}

var spanColumns = []string{
	"Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
	"ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes",
	"Duration", "StatusCode", "StatusMessage",
	"Events.Timestamp", "Events.Name", "Events.Attributes",
	"Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes",
}

// SpanColumns returns the otel_traces columns in the order of Span.AppendValues.
func SpanColumns() []string { return append([]string(nil), spanColumns...) }

// AppendValues appends the row's values in SpanColumns order to dst.
func (r *Span) AppendValues(dst []any) []any {
	return append(dst,
		r.Timestamp, r.TraceID, r.SpanID, r.ParentSpanID, r.TraceState, r.SpanName, r.SpanKind,
		r.ServiceName, r.ResourceAttributes, r.ScopeName, r.ScopeVersion, r.SpanAttributes,
		r.Duration, r.StatusCode, r.StatusMessage,
		r.EventTimestamps, r.EventNames, r.EventAttributes,
		r.LinkTraceIDs, r.LinkSpanIDs, r.LinkTraceStates, r.LinkAttributes,
	)
}

// Log is one otel_logs row.
type Log struct {
	Timestamp          time.Time
	TraceID            string
	SpanID             string
	TraceFlags         uint8
	SeverityText       string
	SeverityNumber     uint8
	ServiceName        string
	Body               string
	ResourceSchemaURL  string
	ResourceAttributes map[string]string // shared by the records of one resource
	ScopeSchemaURL     string
	ScopeName          string
	ScopeVersion       string
	ScopeAttributes    map[string]string // shared by the records of one scope
	LogAttributes      map[string]string
	EventName          string
}

var logColumns = []string{
	"Timestamp", "TraceId", "SpanId", "TraceFlags", "SeverityText", "SeverityNumber",
	"ServiceName", "Body", "ResourceSchemaUrl", "ResourceAttributes", "ScopeSchemaUrl",
	"ScopeName", "ScopeVersion", "ScopeAttributes", "LogAttributes", "EventName",
}

// LogColumns returns the otel_logs columns in the order of Log.AppendValues.
func LogColumns() []string { return append([]string(nil), logColumns...) }

// AppendValues appends the row's values in LogColumns order to dst.
func (r *Log) AppendValues(dst []any) []any {
	return append(dst,
		r.Timestamp, r.TraceID, r.SpanID, r.TraceFlags, r.SeverityText, r.SeverityNumber,
		r.ServiceName, r.Body, r.ResourceSchemaURL, r.ResourceAttributes, r.ScopeSchemaURL,
		r.ScopeName, r.ScopeVersion, r.ScopeAttributes, r.LogAttributes, r.EventName,
	)
}

// Access is one access_events row: one request seen at one hop.
type Access struct {
	Timestamp       time.Time
	Duration        uint64 // nanoseconds
	Source          string
	ServiceName     string
	Node            string
	RequestID       string
	TraceID         string
	SpanID          string
	Method          string
	Scheme          string
	Host            string
	Path            string
	Query           string
	Route           string
	Protocol        string
	Status          uint16
	RequestBytes    uint64
	ResponseBytes   uint64
	ClientAddress   string
	ClientPort      uint16
	UpstreamAddress string
	UpstreamStatus  string
	UserAgent       string
	TLSVersion      string
	TLSCipher       string
	TLSResumed      bool
	TLSServerName   string
	MTLSVerified    bool
	PeerSPIFFEID    string
	PeerSubject     string
	PeerIssuer      string
	PeerSerial      string
	PeerNotAfter    time.Time // DateTime('UTC'): whole seconds, 1970-01-01 when unknown
	PeerFingerprint string
	Principal       string
	PrincipalType   string
	JWTIssuer       string
	JWTSubject      string
	JWTAudience     string
	JWTScopes       []string
	Decision        string
	Policy          string
	Reason          string
	ConnectionID    string
	Attributes      map[string]string
	Raw             string
}

var accessColumns = []string{
	"Timestamp", "Duration", "Source", "ServiceName", "Node", "RequestId", "TraceId", "SpanId",
	"Method", "Scheme", "Host", "Path", "Query", "Route", "Protocol", "Status",
	"RequestBytes", "ResponseBytes", "ClientAddress", "ClientPort", "UpstreamAddress",
	"UpstreamStatus", "UserAgent", "TlsVersion", "TlsCipher", "TlsResumed", "TlsServerName",
	"MtlsVerified", "PeerSpiffeId", "PeerSubject", "PeerIssuer", "PeerSerial", "PeerNotAfter",
	"PeerFingerprint", "Principal", "PrincipalType", "JwtIssuer", "JwtSubject", "JwtAudience",
	"JwtScopes", "Decision", "Policy", "Reason", "ConnectionId", "Attributes", "Raw",
}

// AccessColumns returns the access_events columns in the order of Access.AppendValues.
func AccessColumns() []string { return append([]string(nil), accessColumns...) }

// AppendValues appends the row's values in AccessColumns order to dst.
func (r *Access) AppendValues(dst []any) []any {
	return append(dst,
		r.Timestamp, r.Duration, r.Source, r.ServiceName, r.Node, r.RequestID, r.TraceID, r.SpanID,
		r.Method, r.Scheme, r.Host, r.Path, r.Query, r.Route, r.Protocol, r.Status,
		r.RequestBytes, r.ResponseBytes, r.ClientAddress, r.ClientPort, r.UpstreamAddress,
		r.UpstreamStatus, r.UserAgent, r.TLSVersion, r.TLSCipher, r.TLSResumed, r.TLSServerName,
		r.MTLSVerified, r.PeerSPIFFEID, r.PeerSubject, r.PeerIssuer, r.PeerSerial, r.PeerNotAfter,
		r.PeerFingerprint, r.Principal, r.PrincipalType, r.JWTIssuer, r.JWTSubject, r.JWTAudience,
		r.JWTScopes, r.Decision, r.Policy, r.Reason, r.ConnectionID, r.Attributes, r.Raw,
	)
}

// TLS is one tls_connections row: one TLS connection or failed handshake.
type TLS struct {
	Timestamp         time.Time
	Source            string
	ServiceName       string
	Node              string
	Listener          string
	ConnectionID      string
	ClientAddress     string
	ClientPort        uint16
	ServerName        string
	Established       bool
	Failure           string
	FailureDetail     string
	HandshakeDuration uint64 // nanoseconds
	TLSVersion        string
	TLSCipher         string
	TLSResumed        bool
	ALPN              string
	MTLSVerified      bool
	PeerSPIFFEID      string
	PeerSubject       string
	PeerIssuer        string
	PeerSerial        string
	PeerNotBefore     time.Time // DateTime('UTC'), 1970-01-01 when unknown
	PeerNotAfter      time.Time // DateTime('UTC'), 1970-01-01 when unknown
	PeerFingerprint   string
	Attributes        map[string]string
}

var tlsColumns = []string{
	"Timestamp", "Source", "ServiceName", "Node", "Listener", "ConnectionId", "ClientAddress",
	"ClientPort", "ServerName", "Established", "Failure", "FailureDetail", "HandshakeDuration",
	"TlsVersion", "TlsCipher", "TlsResumed", "Alpn", "MtlsVerified", "PeerSpiffeId",
	"PeerSubject", "PeerIssuer", "PeerSerial", "PeerNotBefore", "PeerNotAfter",
	"PeerFingerprint", "Attributes",
}

// TLSColumns returns the tls_connections columns in the order of TLS.AppendValues.
func TLSColumns() []string { return append([]string(nil), tlsColumns...) }

// AppendValues appends the row's values in TLSColumns order to dst.
func (r *TLS) AppendValues(dst []any) []any {
	return append(dst,
		r.Timestamp, r.Source, r.ServiceName, r.Node, r.Listener, r.ConnectionID, r.ClientAddress,
		r.ClientPort, r.ServerName, r.Established, r.Failure, r.FailureDetail, r.HandshakeDuration,
		r.TLSVersion, r.TLSCipher, r.TLSResumed, r.ALPN, r.MTLSVerified, r.PeerSPIFFEID,
		r.PeerSubject, r.PeerIssuer, r.PeerSerial, r.PeerNotBefore, r.PeerNotAfter,
		r.PeerFingerprint, r.Attributes,
	)
}
