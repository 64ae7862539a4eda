package accesslog

import (
	"encoding/hex"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/tapline/tapline/event"
)

// access is one request at one hop, as any source describes it. Every
// mapping fills one and write turns it into attributes, so that the
// attribute names and the normalisation live in one place.
type access struct {
	source    string
	startNano int64 // request start, Unix ns UTC; 0 if unknown
	duration  int64 // ns; -1 if unknown

	requestID, incomingRequestID string
	traceID                      pcommon.TraceID
	spanID                       pcommon.SpanID
	traceIDText                  string // a trace id known only as text

	method, scheme, host, path, query, protocol string
	status                                      int64 // -1 if unknown
	requestBytes, responseBytes                 int64 // -1 if unknown
	clientAddress                               string
	clientPort                                  int64 // -1 if unknown
	upstreamAddress, upstreamStatus             string
	upstreamResponseTime                        string
	userAgent, node, user                       string

	tlsVersion, tlsCipher, serverName string
	tlsResumed                        int8 // -1 unknown, 0 false, 1 true
	clientVerify                      string
	verified                          int8 // -1 unknown, 0 false, 1 true
	subject, issuer, serial, notAfter string
	hashSHA256, hashSHA1, spiffeID    string
	xfcc                              string

	responseFlags, responseDetails     string
	upstreamFailure, downstreamFailure string

	times nginxTimes // Nginx's time fields until all are read
	errs  []string   // parse problems, reported in tapline.parse_error
}

func newAccess(source string) access {
	return access{
		source: source, duration: -1, status: -1, requestBytes: -1, responseBytes: -1,
		clientPort: -1, tlsResumed: -1, verified: -1,
	}
}

func (a *access) fail(msg string) { a.errs = append(a.errs, msg) }

// setTraceparent takes trace and parent span id from a W3C traceparent.
func (a *access) setTraceparent(tp string) {
	tid, sid, ok := ParseTraceparent(tp)
	if !ok {
		a.fail("bad traceparent")
		return
	}
	a.traceID, a.spanID = tid, sid
}

// ParseTraceparent returns the trace id and parent span id of a W3C
// traceparent header ("00-<32 hex>-<16 hex>-<2 hex>"); it refuses version
// ff and all-zero ids, as the W3C Trace Context spec says.
func ParseTraceparent(tp string) (pcommon.TraceID, pcommon.SpanID, bool) {
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	tp = strings.TrimSpace(tp)
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return tid, sid, false
	}
	if len(tp) > 55 && (tp[0:2] == "00" || tp[55] != '-') {
		return tid, sid, false
	}
	if tp[0:2] == "ff" || !isHex(tp[0:2]) || !isHex(tp[53:55]) {
		return tid, sid, false
	}
	if _, err := hex.Decode(tid[:], []byte(tp[3:35])); err != nil {
		return tid, sid, false
	}
	if _, err := hex.Decode(sid[:], []byte(tp[36:52])); err != nil {
		return tid, sid, false
	}
	if tid.IsEmpty() || sid.IsEmpty() {
		return pcommon.TraceID{}, pcommon.SpanID{}, false
	}
	return tid, sid, true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// setTraceIDText takes a bare trace id (Envoy's %TRACE_ID%).
func (a *access) setTraceIDText(s string) {
	if len(s) == 32 && isHex(s) {
		var tid pcommon.TraceID
		_, _ = hex.Decode(tid[:], []byte(s))
		if !tid.IsEmpty() {
			if a.traceID.IsEmpty() {
				a.traceID = tid
			}
			return
		}
	}
	a.traceIDText = s
}

// splitTarget splits a request target into path and query.
func (a *access) splitTarget(target string) {
	path, query, _ := strings.Cut(target, "?")
	a.path, a.query = path, query
}

// write puts the event into rec: event name, times, trace context and the
// attributes, leaving attributes already on rec that it does not own.
func (a *access) write(rec plog.LogRecord, raw string) {
	rec.SetEventName(event.AccessEvent)
	if a.startNano > 0 {
		rec.SetTimestamp(pcommon.Timestamp(a.startNano))
	}
	if !a.traceID.IsEmpty() {
		rec.SetTraceID(a.traceID)
		if !a.spanID.IsEmpty() {
			rec.SetSpanID(a.spanID)
		}
	}
	m := rec.Attributes()
	m.EnsureCapacity(m.Len() + 32)
	m.PutStr(event.AttrSource, a.source)
	putStr(m, event.AttrRequestID, a.requestID)
	if a.incomingRequestID != a.requestID {
		putStr(m, event.AttrIncomingRequestID, a.incomingRequestID)
	}
	if a.traceID.IsEmpty() {
		putStr(m, event.AttrTraceID, a.traceIDText)
	}
	putStr(m, event.AttrHTTPMethod, a.method)
	putStr(m, event.AttrURLScheme, a.scheme)
	putStr(m, event.AttrServerAddress, a.host)
	putStr(m, event.AttrURLPath, a.path)
	putStr(m, event.AttrURLQuery, a.query)
	putStr(m, event.AttrNetworkProtocol, a.protocol)
	putInt(m, event.AttrHTTPStatus, a.status)
	putInt(m, event.AttrHTTPRequestSize, a.requestBytes)
	putInt(m, event.AttrHTTPResponseSize, a.responseBytes)
	putInt(m, event.AttrDurationNanos, a.duration)
	putStr(m, event.AttrClientAddress, a.clientAddress)
	putInt(m, event.AttrClientPort, a.clientPort)
	putStr(m, event.AttrUpstreamAddress, a.upstreamAddress)
	putStr(m, event.AttrUpstreamStatus, a.upstreamStatus)
	putStr(m, event.AttrUpstreamRespTime, a.upstreamResponseTime)
	putStr(m, event.AttrUserAgent, a.userAgent)
	putStr(m, event.AttrNode, a.node)
	putStr(m, event.AttrEnduserID, a.user)

	putStr(m, event.AttrTLSProtocolVersion, TLSVersion(a.tlsVersion))
	putStr(m, event.AttrTLSCipher, CipherIANA(a.tlsCipher))
	putBool(m, event.AttrTLSResumed, a.tlsResumed)
	putStr(m, event.AttrTLSServerName, a.serverName)
	putStr(m, event.AttrClientVerify, a.clientVerify)
	putBool(m, event.AttrMTLSVerified, a.verified)
	putStr(m, event.AttrTLSClientSubject, a.subject)
	putStr(m, event.AttrTLSClientIssuer, a.issuer)
	putStr(m, event.AttrTLSClientSerial, UpperHex(a.serial))
	if a.notAfter != "" {
		if t, ok := CertTime(a.notAfter); ok {
			m.PutStr(event.AttrTLSClientNotAfter, t)
		} else {
			a.fail("bad certificate not-after time")
		}
	}
	putStr(m, event.AttrTLSClientHash, UpperHex(a.hashSHA256))
	putStr(m, event.AttrTLSClientHashSHA1, UpperHex(a.hashSHA1))
	putStr(m, event.AttrPeerSPIFFEID, a.spiffeID)
	putStr(m, event.AttrXFCC, a.xfcc)

	// The principal this hop saw: a verified SPIFFE ID, else a verified
	// certificate subject, else nobody.
	switch {
	case a.spiffeID != "" && a.verified == 1:
		m.PutStr(event.AttrPrincipal, a.spiffeID)
		m.PutStr(event.AttrPrincipalType, event.PrincipalSPIFFE)
	case a.subject != "" && a.verified == 1:
		m.PutStr(event.AttrPrincipal, a.subject)
		m.PutStr(event.AttrPrincipalType, event.PrincipalCert)
	default:
		m.PutStr(event.AttrPrincipalType, event.PrincipalAnonymous)
	}

	if reason := a.certificateRefusal(); reason != "" {
		m.PutStr(event.AttrDecision, event.DecisionDeny)
		m.PutStr(event.AttrReason, reason)
	}

	putStr(m, event.AttrResponseFlags, a.responseFlags)
	putStr(m, event.AttrResponseDetails, a.responseDetails)
	putStr(m, event.AttrUpstreamFailure, a.upstreamFailure)
	putStr(m, event.AttrDownstreamFailure, a.downstreamFailure)

	m.PutStr(event.AttrRaw, raw)
	if len(a.errs) > 0 {
		m.PutStr(event.AttrParseError, strings.Join(a.errs, "; "))
	}
}

func putStr(m pcommon.Map, k, v string) {
	if !absent(v) {
		m.PutStr(k, v)
	}
}

func putInt(m pcommon.Map, k string, v int64) {
	if v >= 0 {
		m.PutInt(k, v)
	}
}

func putBool(m pcommon.Map, k string, v int8) {
	if v >= 0 {
		m.PutBool(k, v == 1)
	}
}

// certificateRefusal is why Nginx itself refused the request for its client
// certificate, or "" if it did not. With ssl_verify_client on or optional,
// a certificate that fails verification is answered 400 by Nginx without
// reaching an upstream, and $ssl_client_verify says "FAILED:" and OpenSSL's
// reason. Such a request is a denial, not an unauthenticated request that
// got through. (A missing certificate where one is required also gets 400,
// with verify NONE, but so does any malformed request on a server that asks
// for no certificate, so that case is left undecided.)
func (a *access) certificateRefusal() string {
	if a.source != event.SourceNginx || a.status != 400 || !absent(a.upstreamAddress) {
		return ""
	}
	reason, failed := strings.CutPrefix(a.clientVerify, "FAILED:")
	if !failed {
		return ""
	}
	return VerifyFailure(reason)
}

// VerifyFailure maps OpenSSL's certificate verification error text (as
// Nginx's $ssl_client_verify and Envoy report it) to a tapline.tls.failure
// reason.
func VerifyFailure(text string) string {
	switch t := strings.ToLower(strings.TrimSpace(text)); {
	case strings.Contains(t, "has expired"):
		return event.TLSFailureExpired
	case strings.Contains(t, "not yet valid"):
		return event.TLSFailureNotYetValid
	case strings.Contains(t, "issuer certificate"), strings.Contains(t, "self-signed"),
		strings.Contains(t, "self signed"), strings.Contains(t, "verify the first certificate"):
		return event.TLSFailureUnknownCA
	default:
		return event.TLSFailureBadCertificate
	}
}
