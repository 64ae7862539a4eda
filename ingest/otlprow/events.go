package otlprow

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tapline/tapline/event"
)

// Scope attributes of an event, kept in Attributes under the semantic
// conventions' names.
const (
	attrScopeName    = "otel.scope.name"
	attrScopeVersion = "otel.scope.version"
)

func (r *Rows) appendAccess(lr plog.LogRecord, res pcommon.Map, service string, scope pcommon.InstrumentationScope) {
	row := nextRow(&r.Access)
	attrs := row.Attributes
	if attrs == nil {
		attrs = make(map[string]string, lr.Attributes().Len()+res.Len())
	} else {
		clear(attrs)
	}
	scopes := row.JWTScopes[:0]
	*row = Access{
		Timestamp:    nanosTime(recordTime(lr)),
		ServiceName:  service,
		TraceID:      traceIDHex(lr.TraceID()),
		SpanID:       spanIDHex(lr.SpanID()),
		PeerNotAfter: unknownTime,
		Attributes:   attrs,
	}
	p := parser{attrs: attrs}
	var (
		enduser, attrTraceID string
		raw                  = false
	)
	for k, v := range lr.Attributes().All() {
		switch k {
		case event.AttrServiceName:
			row.ServiceName = v.AsString()
		case event.AttrDurationNanos:
			row.Duration = p.uint(k, v, math.MaxUint64)
		case event.AttrSource:
			row.Source = v.AsString()
		case event.AttrNode:
			row.Node = v.AsString()
		case event.AttrRequestID:
			row.RequestID = v.AsString()
		case event.AttrTraceID:
			attrTraceID = v.AsString()
		case event.AttrHTTPMethod:
			row.Method = v.AsString()
		case event.AttrURLScheme:
			row.Scheme = v.AsString()
		case event.AttrServerAddress:
			row.Host = v.AsString()
		case event.AttrURLPath:
			row.Path = v.AsString()
		case event.AttrURLQuery:
			row.Query = v.AsString()
		case event.AttrHTTPRoute:
			row.Route = v.AsString()
		case event.AttrNetworkProtocol:
			row.Protocol = v.AsString()
		case event.AttrHTTPStatus:
			row.Status = uint16(p.uint(k, v, math.MaxUint16))
		case event.AttrHTTPRequestSize:
			row.RequestBytes = p.uint(k, v, math.MaxUint64)
		case event.AttrHTTPResponseSize:
			row.ResponseBytes = p.uint(k, v, math.MaxUint64)
		case event.AttrClientAddress:
			row.ClientAddress = v.AsString()
		case event.AttrClientPort:
			row.ClientPort = uint16(p.uint(k, v, math.MaxUint16))
		case event.AttrUpstreamAddress:
			row.UpstreamAddress = v.AsString()
		case event.AttrUpstreamStatus:
			row.UpstreamStatus = v.AsString()
		case event.AttrUserAgent:
			row.UserAgent = v.AsString()
		case event.AttrTLSProtocolVersion:
			row.TLSVersion = v.AsString()
		case event.AttrTLSCipher:
			row.TLSCipher = v.AsString()
		case event.AttrTLSResumed:
			row.TLSResumed = p.bool(k, v)
		case event.AttrTLSServerName:
			row.TLSServerName = v.AsString()
		case event.AttrMTLSVerified:
			row.MTLSVerified = p.bool(k, v)
		case event.AttrPeerSPIFFEID:
			row.PeerSPIFFEID = v.AsString()
		case event.AttrTLSClientSubject:
			row.PeerSubject = v.AsString()
		case event.AttrTLSClientIssuer:
			row.PeerIssuer = v.AsString()
		case event.AttrTLSClientSerial:
			row.PeerSerial = v.AsString()
		case event.AttrTLSClientNotAfter:
			row.PeerNotAfter = p.time(k, v)
		case event.AttrTLSClientHash:
			row.PeerFingerprint = v.AsString()
		case event.AttrPrincipal:
			row.Principal = v.AsString()
		case event.AttrEnduserID:
			enduser = v.AsString()
		case event.AttrPrincipalType:
			row.PrincipalType = v.AsString()
		case event.AttrJWTIssuer:
			row.JWTIssuer = v.AsString()
		case event.AttrJWTSubject:
			row.JWTSubject = v.AsString()
		case event.AttrJWTAudience:
			row.JWTAudience = v.AsString()
		case event.AttrUserRoles:
			scopes = appendWords(scopes, v)
		case event.AttrDecision:
			row.Decision = v.AsString()
		case event.AttrPolicy:
			row.Policy = v.AsString()
		case event.AttrReason:
			row.Reason = v.AsString()
		case event.AttrConnectionID:
			row.ConnectionID = v.AsString()
		case event.AttrRaw:
			row.Raw = v.AsString()
			raw = true
		default:
			attrs[k] = v.AsString()
		}
	}
	row.JWTScopes = scopes
	// Fallbacks: a second name for the same fact fills the column only when
	// the first is absent; when both are present and differ, the second is
	// kept as an attribute.
	switch {
	case row.TraceID == "":
		row.TraceID = attrTraceID
	case attrTraceID != "" && attrTraceID != row.TraceID:
		attrs[event.AttrTraceID] = attrTraceID
	}
	switch {
	case row.Principal == "":
		row.Principal = enduser
	case enduser != "" && enduser != row.Principal:
		attrs[event.AttrEnduserID] = enduser
	}
	if !raw {
		row.Raw = lr.Body().AsString()
	}
	if row.Node == "" {
		row.Node = nodeOf(res)
	}
	addContext(attrs, res, scope)
	p.finish()
	r.observe(row.Timestamp)
}

func (r *Rows) appendTLS(lr plog.LogRecord, res pcommon.Map, service string, scope pcommon.InstrumentationScope) {
	row := nextRow(&r.TLS)
	attrs := row.Attributes
	if attrs == nil {
		attrs = make(map[string]string, lr.Attributes().Len()+res.Len())
	} else {
		clear(attrs)
	}
	*row = TLS{
		Timestamp:     nanosTime(recordTime(lr)),
		ServiceName:   service,
		PeerNotBefore: unknownTime,
		PeerNotAfter:  unknownTime,
		FailureDetail: lr.Body().AsString(),
		Attributes:    attrs,
	}
	p := parser{attrs: attrs}
	var (
		established, haveEstablished bool
		errorType                    string
	)
	for k, v := range lr.Attributes().All() {
		switch k {
		case event.AttrServiceName:
			row.ServiceName = v.AsString()
		case event.AttrSource:
			row.Source = v.AsString()
		case event.AttrNode:
			row.Node = v.AsString()
		case event.AttrListener:
			row.Listener = v.AsString()
		case event.AttrConnectionID:
			row.ConnectionID = v.AsString()
		case event.AttrClientAddress:
			row.ClientAddress = v.AsString()
		case event.AttrClientPort:
			row.ClientPort = uint16(p.uint(k, v, math.MaxUint16))
		case event.AttrTLSServerName:
			row.ServerName = v.AsString()
		case event.AttrTLSEstablished:
			if b, ok := p.boolOK(k, v); ok {
				established, haveEstablished = b, true
			}
		case event.AttrTLSFailure:
			row.Failure = v.AsString()
		case event.AttrErrorType:
			errorType = v.AsString()
		case event.AttrDurationNanos:
			row.HandshakeDuration = p.uint(k, v, math.MaxUint64)
		case event.AttrTLSProtocolVersion:
			row.TLSVersion = v.AsString()
		case event.AttrTLSCipher:
			row.TLSCipher = v.AsString()
		case event.AttrTLSResumed:
			row.TLSResumed = p.bool(k, v)
		case event.AttrTLSALPN:
			row.ALPN = v.AsString()
		case event.AttrMTLSVerified:
			row.MTLSVerified = p.bool(k, v)
		case event.AttrPeerSPIFFEID:
			row.PeerSPIFFEID = v.AsString()
		case event.AttrTLSClientSubject:
			row.PeerSubject = v.AsString()
		case event.AttrTLSClientIssuer:
			row.PeerIssuer = v.AsString()
		case event.AttrTLSClientSerial:
			row.PeerSerial = v.AsString()
		case event.AttrTLSClientNotBefore:
			row.PeerNotBefore = p.time(k, v)
		case event.AttrTLSClientNotAfter:
			row.PeerNotAfter = p.time(k, v)
		case event.AttrTLSClientHash:
			row.PeerFingerprint = v.AsString()
		default:
			attrs[k] = v.AsString()
		}
	}
	switch {
	case row.Failure == "":
		row.Failure = errorType
	case errorType != "" && errorType != row.Failure:
		attrs[event.AttrErrorType] = errorType
	}
	// A connection is established unless the event says otherwise or names
	// a failure.
	row.Established = row.Failure == ""
	if haveEstablished {
		row.Established = established
	}
	if row.Node == "" {
		row.Node = nodeOf(res)
	}
	addContext(attrs, res, scope)
	p.finish()
	r.observe(row.Timestamp)
}

// nodeOf is the node an event's resource names, if any.
func nodeOf(res pcommon.Map) string {
	for _, k := range []string{event.AttrNode, "host.name"} {
		if v, ok := res.Get(k); ok {
			return v.AsString()
		}
	}
	return ""
}

// addContext keeps the resource attributes (except service.name, which has
// its column) and the instrumentation scope in an event's Attributes, without
// overwriting the event's own attributes.
func addContext(attrs map[string]string, res pcommon.Map, scope pcommon.InstrumentationScope) {
	for k, v := range res.All() {
		if k == event.AttrServiceName {
			continue
		}
		if _, ok := attrs[k]; !ok {
			attrs[k] = v.AsString()
		}
	}
	if n := scope.Name(); n != "" {
		if _, ok := attrs[attrScopeName]; !ok {
			attrs[attrScopeName] = n
		}
	}
	if v := scope.Version(); v != "" {
		if _, ok := attrs[attrScopeVersion]; !ok {
			attrs[attrScopeVersion] = v
		}
	}
}

// unknownTime is what a DateTime('UTC') column holds for "not known".
var unknownTime = time.Unix(0, 0).UTC()

// lastDateTime is the last second a DateTime column can hold.
var lastDateTime = time.Unix(math.MaxUint32, 0).UTC()

// parser reads attribute values as column types. A value it cannot read is
// kept in attrs under its own key, and the reason is added to
// event.AttrParseError when finish is called.
type parser struct {
	attrs map[string]string
	notes []string
}

func (p *parser) fail(k string, v pcommon.Value, err error) {
	p.attrs[k] = v.AsString()
	p.notes = append(p.notes, k+": "+err.Error())
}

// finish writes the parse notes, after any parse error the producer sent.
func (p *parser) finish() {
	if len(p.notes) == 0 {
		return
	}
	note := strings.Join(p.notes, "; ")
	if prev, ok := p.attrs[event.AttrParseError]; ok && prev != "" {
		note = prev + "; " + note
	}
	p.attrs[event.AttrParseError] = note
}

var (
	errNotInteger = errors.New("not a non-negative integer")
	errNotBool    = errors.New("not a boolean")
	errNotTime    = errors.New("not an RFC 3339 time")
)

func (p *parser) uint(k string, v pcommon.Value, maxValue uint64) uint64 {
	n, err := toUint(v, maxValue)
	if err != nil {
		p.fail(k, v, err)
		return 0
	}
	return n
}

func toUint(v pcommon.Value, maxValue uint64) (uint64, error) {
	var n uint64
	switch v.Type() {
	case pcommon.ValueTypeInt:
		i := v.Int()
		if i < 0 {
			return 0, errNotInteger
		}
		n = uint64(i)
	case pcommon.ValueTypeDouble:
		d := v.Double()
		if d < 0 || d != math.Trunc(d) || d >= math.MaxUint64 {
			return 0, errNotInteger
		}
		n = uint64(d)
	case pcommon.ValueTypeStr:
		u, err := strconv.ParseUint(strings.TrimSpace(v.Str()), 10, 64)
		if err != nil {
			return 0, errNotInteger
		}
		n = u
	default:
		return 0, errNotInteger
	}
	if n > maxValue {
		return 0, fmt.Errorf("%d is out of range (maximum %d)", n, maxValue)
	}
	return n, nil
}

func (p *parser) bool(k string, v pcommon.Value) bool {
	b, _ := p.boolOK(k, v)
	return b
}

func (p *parser) boolOK(k string, v pcommon.Value) (bool, bool) {
	switch v.Type() {
	case pcommon.ValueTypeBool:
		return v.Bool(), true
	case pcommon.ValueTypeInt:
		switch v.Int() {
		case 0:
			return false, true
		case 1:
			return true, true
		}
	case pcommon.ValueTypeStr:
		if b, err := strconv.ParseBool(strings.TrimSpace(v.Str())); err == nil {
			return b, true
		}
	}
	p.fail(k, v, errNotBool)
	return false, false
}

// time reads an RFC 3339 time (or Unix seconds) for a DateTime('UTC')
// column, which holds whole seconds from 1970 to 2106. A time outside that
// range is clamped to it and kept whole as an attribute.
func (p *parser) time(k string, v pcommon.Value) time.Time {
	var t time.Time
	switch v.Type() {
	case pcommon.ValueTypeStr:
		parsed, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v.Str()))
		if err != nil {
			p.fail(k, v, errNotTime)
			return unknownTime
		}
		t = parsed.UTC()
	case pcommon.ValueTypeInt:
		t = time.Unix(v.Int(), 0).UTC()
	default:
		p.fail(k, v, errNotTime)
		return unknownTime
	}
	switch {
	case t.Before(unknownTime):
		p.fail(k, v, errors.New("before 1970, stored as 1970-01-01T00:00:00Z"))
		return unknownTime
	case t.After(lastDateTime):
		p.fail(k, v, fmt.Errorf("after %s, stored as that", lastDateTime.Format(time.RFC3339)))
		return lastDateTime
	}
	return t.Truncate(time.Second)
}

// appendWords appends the words of v: the elements of an array, or a string
// split at spaces and commas (OAuth scopes are space-separated).
func appendWords(dst []string, v pcommon.Value) []string {
	if v.Type() == pcommon.ValueTypeSlice {
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			dst = append(dst, s.At(i).AsString())
		}
		return dst
	}
	return append(dst, strings.FieldsFunc(v.AsString(), func(r rune) bool {
		return r == ' ' || r == ',' || r == '\t'
	})...)
}
