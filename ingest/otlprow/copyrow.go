package otlprow

import (
	"cmp"
	"encoding/binary"
	"math"
	"time"
)

// The copies by id (package store/byid) hold each span, access event and
// TLS connection once more, as one RowBinary value. The row types
// implement byid.Source: they write their fields directly, in the order
// and types byid declares (TestCopiesByIDHoldTheSourceRows checks that the
// two agree). A generic encoder over the boxed values took twice as long,
// and its allocations slowed the rest of the ingest.

// CopyID is the span's id in its copy: the trace id.
func (r *Span) CopyID() string { return r.TraceID }

// CopyTime is the span's start.
func (r *Span) CopyTime() time.Time { return r.Timestamp }

// AppendCopy appends the span in the layout of byid.Spans.
func (r *Span) AppendCopy(b []byte) []byte {
	b = appendTime64(b, r.Timestamp)
	b = appendStr(b, r.TraceID)
	b = appendStr(b, r.SpanID)
	b = appendStr(b, r.ParentSpanID)
	b = appendStr(b, r.TraceState)
	b = appendStr(b, r.SpanName)
	b = appendStr(b, r.SpanKind)
	b = appendStr(b, r.ServiceName)
	b = appendMap(b, r.ResourceAttributes)
	b = appendStr(b, r.ScopeName)
	b = appendStr(b, r.ScopeVersion)
	b = appendMap(b, r.SpanAttributes)
	b = binary.LittleEndian.AppendUint64(b, r.Duration)
	b = appendStr(b, r.StatusCode)
	b = appendStr(b, r.StatusMessage)
	b = binary.AppendUvarint(b, uint64(len(r.EventTimestamps)))
	for _, t := range r.EventTimestamps {
		b = appendTime64(b, t)
	}
	b = appendStrs(b, r.EventNames)
	b = appendMaps(b, r.EventAttributes)
	b = appendStrs(b, r.LinkTraceIDs)
	b = appendStrs(b, r.LinkSpanIDs)
	b = appendStrs(b, r.LinkTraceStates)
	return appendMaps(b, r.LinkAttributes)
}

// CopyID is the access event's id in its copy: the request id, or the
// trace id when it has none.
func (r *Access) CopyID() string { return cmp.Or(r.RequestID, r.TraceID) }

// CopyTime is the access event's time.
func (r *Access) CopyTime() time.Time { return r.Timestamp }

// AppendCopy appends the access event in the layout of byid.Events (every
// column but Raw).
func (r *Access) AppendCopy(b []byte) []byte {
	le := binary.LittleEndian
	b = appendTime64(b, r.Timestamp)
	b = le.AppendUint64(b, r.Duration)
	b = appendStr(b, r.Source)
	b = appendStr(b, r.ServiceName)
	b = appendStr(b, r.Node)
	b = appendStr(b, r.RequestID)
	b = appendStr(b, r.TraceID)
	b = appendStr(b, r.SpanID)
	b = appendStr(b, r.Method)
	b = appendStr(b, r.Scheme)
	b = appendStr(b, r.Host)
	b = appendStr(b, r.Path)
	b = appendStr(b, r.Query)
	b = appendStr(b, r.Route)
	b = appendStr(b, r.Protocol)
	b = le.AppendUint16(b, r.Status)
	b = le.AppendUint64(b, r.RequestBytes)
	b = le.AppendUint64(b, r.ResponseBytes)
	b = appendStr(b, r.ClientAddress)
	b = le.AppendUint16(b, r.ClientPort)
	b = appendStr(b, r.UpstreamAddress)
	b = appendStr(b, r.UpstreamStatus)
	b = appendStr(b, r.UserAgent)
	b = appendStr(b, r.TLSVersion)
	b = appendStr(b, r.TLSCipher)
	b = appendBool(b, r.TLSResumed)
	b = appendStr(b, r.TLSServerName)
	b = appendBool(b, r.MTLSVerified)
	b = appendStr(b, r.PeerSPIFFEID)
	b = appendStr(b, r.PeerSubject)
	b = appendStr(b, r.PeerIssuer)
	b = appendStr(b, r.PeerSerial)
	b = appendTime32(b, r.PeerNotAfter)
	b = appendStr(b, r.PeerFingerprint)
	b = appendStr(b, r.Principal)
	b = appendStr(b, r.PrincipalType)
	b = appendStr(b, r.JWTIssuer)
	b = appendStr(b, r.JWTSubject)
	b = appendStr(b, r.JWTAudience)
	b = appendStrs(b, r.JWTScopes)
	b = appendStr(b, r.Decision)
	b = appendStr(b, r.Policy)
	b = appendStr(b, r.Reason)
	b = appendStr(b, r.ConnectionID)
	return appendMap(b, r.Attributes)
}

// CopyID is the TLS connection's id in its copy: the connection id.
func (r *TLS) CopyID() string { return r.ConnectionID }

// CopyTime is the TLS connection's time.
func (r *TLS) CopyTime() time.Time { return r.Timestamp }

// AppendCopy appends the TLS connection in the layout of byid.TLS.
func (r *TLS) AppendCopy(b []byte) []byte {
	le := binary.LittleEndian
	b = appendTime64(b, r.Timestamp)
	b = appendStr(b, r.Source)
	b = appendStr(b, r.ServiceName)
	b = appendStr(b, r.Node)
	b = appendStr(b, r.Listener)
	b = appendStr(b, r.ConnectionID)
	b = appendStr(b, r.ClientAddress)
	b = le.AppendUint16(b, r.ClientPort)
	b = appendStr(b, r.ServerName)
	b = appendBool(b, r.Established)
	b = appendStr(b, r.Failure)
	b = appendStr(b, r.FailureDetail)
	b = le.AppendUint64(b, r.HandshakeDuration)
	b = appendStr(b, r.TLSVersion)
	b = appendStr(b, r.TLSCipher)
	b = appendBool(b, r.TLSResumed)
	b = appendStr(b, r.ALPN)
	b = appendBool(b, r.MTLSVerified)
	b = appendStr(b, r.PeerSPIFFEID)
	b = appendStr(b, r.PeerSubject)
	b = appendStr(b, r.PeerIssuer)
	b = appendStr(b, r.PeerSerial)
	b = appendTime32(b, r.PeerNotBefore)
	b = appendTime32(b, r.PeerNotAfter)
	b = appendStr(b, r.PeerFingerprint)
	return appendMap(b, r.Attributes)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrs(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendStr(b, s)
	}
	return b
}

func appendMap(b []byte, m map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(m)))
	for k, v := range m {
		b = appendStr(b, k)
		b = appendStr(b, v)
	}
	return b
}

func appendMaps(b []byte, ms []map[string]string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ms)))
	for _, m := range ms {
		b = appendMap(b, m)
	}
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendTime64 appends a DateTime64(9): nanoseconds since the epoch.
func appendTime64(b []byte, t time.Time) []byte {
	return binary.LittleEndian.AppendUint64(b, uint64(t.UnixNano()))
}

// appendTime32 appends a DateTime: seconds since the epoch, within the
// type's range (the mapping writes the epoch for unknown times).
func appendTime32(b []byte, t time.Time) []byte {
	s := min(max(t.Unix(), 0), math.MaxUint32)
	return binary.LittleEndian.AppendUint32(b, uint32(s))
}
