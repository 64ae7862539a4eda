package tap

// The reference encoder: the same records built with pdata, the way the
// OpenTelemetry Collector would. wire.go must produce what this produces;
// TestWireMatchesPdata checks it record by record.

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy/identity"
)

// pdataBatch accumulates records as pdata.
type pdataBatch struct {
	res   Resource
	logs  plog.Logs
	lrs   plog.LogRecordSlice
	spans ptrace.SpanSlice
	trace ptrace.Traces
	nLogs int
	nSpan int
}

func newPdataBatch(res Resource) *pdataBatch {
	b := &pdataBatch{res: res, logs: plog.NewLogs(), trace: ptrace.NewTraces()}
	rl := b.logs.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(event.AttrServiceName, res.ServiceName)
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(ScopeName)
	b.lrs = sl.LogRecords()
	rs := b.trace.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(event.AttrServiceName, res.ServiceName)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(ScopeName)
	b.spans = ss.Spans()
	return b
}

// marshal returns the ExportLogsServiceRequest and ExportTraceServiceRequest
// bytes; either is nil when it holds nothing.
func (b *pdataBatch) marshal() (logs, traces []byte, err error) {
	if b.nLogs > 0 {
		if logs, err = plogotlp.NewExportRequestFromLogs(b.logs).MarshalProto(); err != nil {
			return nil, nil, err
		}
	}
	if b.nSpan > 0 {
		if traces, err = ptraceotlp.NewExportRequestFromTraces(b.trace).MarshalProto(); err != nil {
			return nil, nil, err
		}
	}
	return logs, traces, nil
}

func pts(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

func (b *pdataBatch) common(m pcommon.Map) {
	m.PutStr(event.AttrSource, event.SourceTap)
	if b.res.Node != "" {
		m.PutStr(event.AttrNode, b.res.Node)
	}
}

func putStr(m pcommon.Map, k, v string) {
	if v != "" {
		m.PutStr(k, v)
	}
}

func putConn(m pcommon.Map, c *Conn) {
	if c == nil {
		return
	}
	putStr(m, event.AttrConnectionID, c.ID)
	putStr(m, event.AttrListener, c.Listener)
	putStr(m, event.AttrClientAddress, c.ClientAddress)
	if c.ClientPort > 0 {
		m.PutInt(event.AttrClientPort, int64(c.ClientPort))
	}
	putStr(m, event.AttrTLSServerName, c.ServerName)
	putStr(m, event.AttrTLSProtocolVersion, c.TLSVersion)
	putStr(m, event.AttrTLSCipher, c.Cipher)
	putStr(m, event.AttrTLSALPN, c.ALPN)
	if c.TLSVersion != "" {
		m.PutBool(event.AttrTLSResumed, c.Resumed)
	}
	m.PutBool(event.AttrMTLSVerified, c.MTLSVerified)
	putCert(m, c.Peer)
}

func putCert(m pcommon.Map, c *identity.Cert) {
	if c == nil {
		return
	}
	putStr(m, event.AttrPeerSPIFFEID, c.SPIFFEID)
	putStr(m, event.AttrTLSClientSubject, c.Subject)
	putStr(m, event.AttrTLSClientIssuer, c.Issuer)
	putStr(m, event.AttrTLSClientSerial, c.Serial)
	putStr(m, event.AttrTLSClientHash, c.Fingerprint)
	if !c.NotBefore.IsZero() {
		m.PutStr(event.AttrTLSClientNotBefore, c.NotBefore.UTC().Format(time.RFC3339))
	}
	if !c.NotAfter.IsZero() {
		m.PutStr(event.AttrTLSClientNotAfter, c.NotAfter.UTC().Format(time.RFC3339))
	}
}

func (b *pdataBatch) addTLS(r *TLSRecord, now time.Time) {
	lr := b.lrs.AppendEmpty()
	b.nLogs++
	lr.SetEventName(event.TLSEvent)
	lr.SetTimestamp(pts(r.Time))
	lr.SetObservedTimestamp(pts(now))
	if r.Established {
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
	} else {
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
		if r.FailureDetail != "" {
			lr.Body().SetStr(r.FailureDetail)
		}
	}
	m := lr.Attributes()
	b.common(m)
	putConn(m, r.Conn)
	m.PutBool(event.AttrTLSEstablished, r.Established)
	m.PutInt(event.AttrDurationNanos, r.HandshakeDuration.Nanoseconds())
	if r.Failure != "" {
		m.PutStr(event.AttrTLSFailure, r.Failure)
		m.PutStr(event.AttrErrorType, r.Failure)
	}
	if r.Conn == nil || r.Conn.Peer == nil {
		putCert(m, r.Presented)
	}
}

func (b *pdataBatch) addAccess(r *AccessRecord, now time.Time) {
	lr := b.lrs.AppendEmpty()
	b.nLogs++
	lr.SetEventName(event.AccessEvent)
	lr.SetTimestamp(pts(r.Start))
	lr.SetObservedTimestamp(pts(now))
	lr.SetTraceID(pcommon.TraceID(r.TraceID))
	lr.SetSpanID(pcommon.SpanID(r.SpanID))
	lr.SetFlags(plog.LogRecordFlags(r.TraceFlags))
	switch {
	case r.Status >= 500:
		lr.SetSeverityNumber(plog.SeverityNumberError)
	case r.Decision == event.DecisionDeny || r.Status >= 400:
		lr.SetSeverityNumber(plog.SeverityNumberWarn)
	default:
		lr.SetSeverityNumber(plog.SeverityNumberInfo)
	}
	// No body: the tap has no raw line (access_events.Raw stays empty).
	m := lr.Attributes()
	m.EnsureCapacity(48)
	b.common(m)
	putConn(m, r.Conn)
	putStr(m, event.AttrRequestID, r.RequestID)
	m.PutInt(event.AttrDurationNanos, r.Duration.Nanoseconds())
	putStr(m, event.AttrHTTPMethod, r.Method)
	putStr(m, event.AttrURLScheme, r.Scheme)
	putStr(m, event.AttrServerAddress, r.Host)
	if r.ServerPort > 0 {
		m.PutInt(event.AttrServerPort, int64(r.ServerPort))
	}
	putStr(m, event.AttrURLPath, r.Path)
	putStr(m, event.AttrURLQuery, r.Query)
	putStr(m, event.AttrHTTPRoute, r.Route)
	putStr(m, event.AttrNetworkProtocol, r.Protocol)
	putStr(m, event.AttrUserAgent, r.UserAgent)
	m.PutInt(event.AttrHTTPStatus, int64(r.Status))
	m.PutInt(event.AttrHTTPRequestSize, r.RequestBytes)
	m.PutInt(event.AttrHTTPResponseSize, r.ResponseBytes)
	putStr(m, event.AttrUpstreamAddress, r.UpstreamAddress)
	putStr(m, event.AttrUpstreamStatus, r.UpstreamStatus)
	putStr(m, event.AttrErrorType, r.Error)
	putStr(m, event.AttrPrincipal, r.Principal)
	putStr(m, event.AttrEnduserID, r.Principal)
	putStr(m, event.AttrPrincipalType, r.PrincipalType)
	putStr(m, event.AttrJWTIssuer, r.JWTIssuer)
	putStr(m, event.AttrJWTSubject, r.JWTSubject)
	putStr(m, event.AttrJWTAudience, strings.Join(r.JWTAudience, ","))
	if len(r.JWTScopes) > 0 {
		s := m.PutEmptySlice(event.AttrUserRoles)
		s.EnsureCapacity(len(r.JWTScopes))
		for _, v := range r.JWTScopes {
			s.AppendEmpty().SetStr(v)
		}
	}
	m.PutStr(event.AttrIdentityChain, pdataChainJSON(r.Chain))
	putStr(m, event.AttrXFCC, r.XFCC)
	putStr(m, event.AttrDecision, r.Decision)
	putStr(m, event.AttrPolicy, r.Policy)
	putStr(m, event.AttrReason, r.Reason)

	b.addSpan(r)
}

func pdataChainJSON(c []identity.Entry) string {
	if len(c) == 0 {
		return "[]"
	}
	b, err := json.Marshal(c)
	if err != nil { // plain strings, bools and times: cannot fail
		return "[]"
	}
	return string(b)
}

func (b *pdataBatch) addSpan(r *AccessRecord) {
	sp := b.spans.AppendEmpty()
	b.nSpan++
	sp.SetTraceID(pcommon.TraceID(r.TraceID))
	sp.SetSpanID(pcommon.SpanID(r.SpanID))
	if r.ParentSpanID != [8]byte{} {
		sp.SetParentSpanID(pcommon.SpanID(r.ParentSpanID))
	}
	sp.TraceState().FromRaw(r.TraceState)
	sp.SetFlags(uint32(r.TraceFlags))
	sp.SetKind(ptrace.SpanKindServer)
	name := r.Method
	if r.Route != "" {
		name += " " + r.Route
	}
	sp.SetName(name)
	sp.SetStartTimestamp(pts(r.Start))
	sp.SetEndTimestamp(pts(r.Start.Add(r.Duration)))
	if r.Status >= 500 || r.Status == 0 {
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage(r.Error)
	}
	m := sp.Attributes()
	m.EnsureCapacity(20)
	putStr(m, event.AttrHTTPMethod, r.Method)
	putStr(m, event.AttrURLScheme, r.Scheme)
	putStr(m, event.AttrServerAddress, r.Host)
	putStr(m, event.AttrURLPath, r.Path)
	putStr(m, event.AttrURLQuery, r.Query)
	putStr(m, event.AttrHTTPRoute, r.Route)
	putStr(m, event.AttrNetworkProtocol, r.Protocol)
	m.PutInt(event.AttrHTTPStatus, int64(r.Status))
	putStr(m, event.AttrErrorType, r.Error)
	putStr(m, event.AttrRequestID, r.RequestID)
	putStr(m, event.AttrUpstreamAddress, r.UpstreamAddress)
	putStr(m, event.AttrPrincipal, r.Principal)
	putStr(m, event.AttrPrincipalType, r.PrincipalType)
	putStr(m, event.AttrDecision, r.Decision)
	putStr(m, event.AttrPolicy, r.Policy)
	putStr(m, event.AttrReason, r.Reason)
	if c := r.Conn; c != nil {
		putStr(m, event.AttrClientAddress, c.ClientAddress)
		putStr(m, event.AttrConnectionID, c.ID)
		putStr(m, event.AttrTLSProtocolVersion, c.TLSVersion)
		if c.Peer != nil {
			putStr(m, event.AttrPeerSPIFFEID, c.Peer.SPIFFEID)
		}
	}
}

func (b *pdataBatch) addDrop(reason string, n int64, now time.Time) {
	lr := b.lrs.AppendEmpty()
	b.nLogs++
	lr.SetEventName(event.DropEvent)
	lr.SetTimestamp(pts(now))
	lr.SetObservedTimestamp(pts(now))
	lr.SetSeverityNumber(plog.SeverityNumberWarn)
	lr.Body().SetStr(strconv.FormatInt(n, 10) + " events dropped: " + reason)
	m := lr.Attributes()
	b.common(m)
	m.PutInt(event.AttrDropCount, n)
	m.PutStr(event.AttrDropReason, reason)
}
