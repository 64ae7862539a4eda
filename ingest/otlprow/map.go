package otlprow

import (
	"encoding/hex"
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/event"
)

// Rows holds the rows mapped from one batch of messages, per table. The zero
// value is ready to use. Reset empties it but keeps its memory (row slices,
// attribute maps, nested slices) for the next batch, so a caller must not
// keep references into a Rows across Reset.
type Rows struct {
	Spans  []Span
	Logs   []Log
	Access []Access
	TLS    []TLS

	// MinTime and MaxTime are the earliest and latest row Timestamp seen
	// since Reset; both are zero while Len is 0.
	MinTime, MaxTime time.Time

	shared  []map[string]string // resource and scope attribute maps, shared by rows
	nshared int
}

// Reset empties r and keeps its memory.
func (r *Rows) Reset() {
	r.Spans = r.Spans[:0]
	r.Logs = r.Logs[:0]
	r.Access = r.Access[:0]
	r.TLS = r.TLS[:0]
	r.MinTime, r.MaxTime = time.Time{}, time.Time{}
	r.nshared = 0
}

// Len is the number of rows of all tables.
func (r *Rows) Len() int { return len(r.Spans) + len(r.Logs) + len(r.Access) + len(r.TLS) }

// AppendTraces maps every span of td to an otel_traces row.
func (r *Rows) AppendTraces(td ptrace.Traces) {
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		resAttrs := rs.Resource().Attributes()
		service := serviceName(resAttrs)
		resMap := r.sharedMap(resAttrs)
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scopeName, scopeVersion := ss.Scope().Name(), ss.Scope().Version()
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				r.appendSpan(spans.At(k), service, resMap, scopeName, scopeVersion)
			}
		}
	}
}

func (r *Rows) appendSpan(sp ptrace.Span, service string, resMap map[string]string, scopeName, scopeVersion string) {
	row := nextRow(&r.Spans)
	row.Timestamp = nanosTime(sp.StartTimestamp())
	row.TraceID = traceIDHex(sp.TraceID())
	row.SpanID = spanIDHex(sp.SpanID())
	row.ParentSpanID = spanIDHex(sp.ParentSpanID())
	row.TraceState = sp.TraceState().AsRaw()
	row.SpanName = sp.Name()
	row.SpanKind = sp.Kind().String()
	row.ServiceName = service
	row.ResourceAttributes = resMap
	row.ScopeName = scopeName
	row.ScopeVersion = scopeVersion
	row.SpanAttributes = fillMap(row.SpanAttributes, sp.Attributes())
	row.Duration = 0
	if end, start := sp.EndTimestamp(), sp.StartTimestamp(); end > start {
		row.Duration = uint64(end - start)
	}
	row.StatusCode = sp.Status().Code().String()
	row.StatusMessage = sp.Status().Message()

	events := sp.Events()
	n := events.Len()
	row.EventTimestamps = row.EventTimestamps[:0]
	row.EventNames = row.EventNames[:0]
	row.EventAttributes = resizeMaps(row.EventAttributes, n)
	for i := 0; i < n; i++ {
		ev := events.At(i)
		row.EventTimestamps = append(row.EventTimestamps, nanosTime(ev.Timestamp()))
		row.EventNames = append(row.EventNames, ev.Name())
		row.EventAttributes[i] = fillMap(row.EventAttributes[i], ev.Attributes())
	}

	links := sp.Links()
	n = links.Len()
	row.LinkTraceIDs = row.LinkTraceIDs[:0]
	row.LinkSpanIDs = row.LinkSpanIDs[:0]
	row.LinkTraceStates = row.LinkTraceStates[:0]
	row.LinkAttributes = resizeMaps(row.LinkAttributes, n)
	for i := 0; i < n; i++ {
		l := links.At(i)
		row.LinkTraceIDs = append(row.LinkTraceIDs, traceIDHex(l.TraceID()))
		row.LinkSpanIDs = append(row.LinkSpanIDs, spanIDHex(l.SpanID()))
		row.LinkTraceStates = append(row.LinkTraceStates, l.TraceState().AsRaw())
		row.LinkAttributes[i] = fillMap(row.LinkAttributes[i], l.Attributes())
	}
	r.observe(row.Timestamp)
}

// AppendLogs maps every log record of ld: access and TLS events to their
// tables, every other record to otel_logs.
func (r *Rows) AppendLogs(ld plog.Logs) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		res := rl.Resource().Attributes()
		service := serviceName(res)
		var resMap map[string]string // filled once, and only if an otel_logs row needs it
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			var scopeMap map[string]string
			records := sl.LogRecords()
			for k := 0; k < records.Len(); k++ {
				lr := records.At(k)
				switch lr.EventName() {
				case event.AccessEvent:
					r.appendAccess(lr, res, service, sl.Scope())
				case event.TLSEvent:
					r.appendTLS(lr, res, service, sl.Scope())
				default:
					if resMap == nil {
						resMap = r.sharedMap(res)
					}
					if scopeMap == nil {
						scopeMap = r.sharedMap(sl.Scope().Attributes())
					}
					r.appendLog(lr, service, rl.SchemaUrl(), resMap, sl, scopeMap)
				}
			}
		}
	}
}

func (r *Rows) appendLog(lr plog.LogRecord, service, resSchema string, resMap map[string]string, sl plog.ScopeLogs, scopeMap map[string]string) {
	row := nextRow(&r.Logs)
	row.Timestamp = nanosTime(recordTime(lr))
	row.TraceID = traceIDHex(lr.TraceID())
	row.SpanID = spanIDHex(lr.SpanID())
	row.TraceFlags = uint8(lr.Flags())
	row.SeverityText = lr.SeverityText()
	row.SeverityNumber = uint8(lr.SeverityNumber())
	row.ServiceName = service
	row.Body = lr.Body().AsString()
	row.ResourceSchemaURL = resSchema
	row.ResourceAttributes = resMap
	row.ScopeSchemaURL = sl.SchemaUrl()
	row.ScopeName = sl.Scope().Name()
	row.ScopeVersion = sl.Scope().Version()
	row.ScopeAttributes = scopeMap
	row.LogAttributes = fillMap(row.LogAttributes, lr.Attributes())
	row.EventName = lr.EventName()
	r.observe(row.Timestamp)
}

// recordTime is the record's time, or the time it was observed when the
// source set none (as the exporter does).
func recordTime(lr plog.LogRecord) pcommon.Timestamp {
	if ts := lr.Timestamp(); ts != 0 {
		return ts
	}
	return lr.ObservedTimestamp()
}

func (r *Rows) observe(t time.Time) {
	if r.MinTime.IsZero() || t.Before(r.MinTime) {
		r.MinTime = t
	}
	if r.MaxTime.IsZero() || t.After(r.MaxTime) {
		r.MaxTime = t
	}
}

// sharedMap returns a map of m's attributes from r's pool of maps shared by
// many rows.
func (r *Rows) sharedMap(m pcommon.Map) map[string]string {
	if r.nshared == len(r.shared) {
		r.shared = append(r.shared, nil)
	}
	r.shared[r.nshared] = fillMap(r.shared[r.nshared], m)
	r.nshared++
	return r.shared[r.nshared-1]
}

// nextRow extends *rows by one row, reusing the memory of an earlier row at
// that position, and returns it.
func nextRow[T any](rows *[]T) *T {
	s := *rows
	if len(s) < cap(s) {
		s = s[:len(s)+1]
	} else {
		var zero T
		s = append(s, zero)
	}
	*rows = s
	return &s[len(s)-1]
}

// resizeMaps returns ms with length n, keeping the maps it already holds.
func resizeMaps(ms []map[string]string, n int) []map[string]string {
	if n <= cap(ms) {
		return ms[:n]
	}
	return append(ms[:cap(ms)], make([]map[string]string, n-cap(ms))...)
}

// fillMap empties dst (or makes it) and fills it with m's attributes as
// strings, as the exporter stores them.
func fillMap(dst map[string]string, m pcommon.Map) map[string]string {
	if dst == nil {
		dst = make(map[string]string, m.Len())
	} else {
		clear(dst)
	}
	for k, v := range m.All() {
		dst[k] = v.AsString()
	}
	return dst
}

func serviceName(res pcommon.Map) string {
	if v, ok := res.Get(event.AttrServiceName); ok {
		return v.AsString()
	}
	return ""
}

// maxTime is the last instant of DateTime64(9), which counts nanoseconds in
// an Int64.
var maxTime = time.Unix(0, math.MaxInt64).UTC()

// nanosTime converts an OTLP timestamp, clamping times past DateTime64(9).
func nanosTime(ts pcommon.Timestamp) time.Time {
	if uint64(ts) > math.MaxInt64 {
		return maxTime
	}
	return time.Unix(0, int64(ts)).UTC()
}

func traceIDHex(id pcommon.TraceID) string {
	if id.IsEmpty() {
		return ""
	}
	return hex.EncodeToString(id[:])
}

func spanIDHex(id pcommon.SpanID) string {
	if id.IsEmpty() {
		return ""
	}
	return hex.EncodeToString(id[:])
}
