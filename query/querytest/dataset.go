package querytest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/event"
)

// Base is the start of the dataset's hour. The data lies in the past on a
// fixed date so that golden responses are stable; OpenEngine migrates
// without TTLs so that nothing expires.
var Base = time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)

// Now is the "now" tests give the server: the end of the dataset's hour.
var Now = Base.Add(time.Hour)

// Known requests of the dataset.
var (
	// Checkout went nginx → tap → app with mTLS; its trace has spans in
	// the tap, orders and payments (payments failed).
	CheckoutRequestID = ID("request checkout")[:32]
	CheckoutTraceID   = ID("trace checkout")[:32]
	CheckoutConnID    = "conn-" + ID("conn checkout")[:12]
	// Denied went nginx → tap and was denied by policy (403).
	DeniedRequestID = ID("request denied")[:32]
	DeniedTraceID   = ID("trace denied")[:32]
	// Mesh went through the mesh to the app with a JWT.
	MeshRequestID = ID("request mesh")[:32]
	MeshTraceID   = ID("trace mesh")[:32]
)

// Principals of the dataset.
const (
	FrontendSPIFFE = "spiffe://example.org/ns/shop/sa/frontend"
	IntruderSPIFFE = "spiffe://example.org/ns/shop/sa/intruder"
	Alice          = "alice@example.org"
)

// Background is the number of catalog traces spread over the hour.
const Background = 30

// HostileNote is a span attribute value that looks like SQL.
const HostileNote = `it's "quoted"; DROP TABLE otel_traces; --`

// ID is a deterministic 64-hex-digit id derived from name.
func ID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// BackgroundTraceID is the trace id of the i-th background trace.
func BackgroundTraceID(i int) string { return ID(fmt.Sprintf("trace bg %d", i))[:32] }

// BackgroundRequestID is the request id of the i-th background trace.
func BackgroundRequestID(i int) string { return ID(fmt.Sprintf("request bg %d", i))[:32] }

// BackgroundStart is when the i-th background trace starts. Traces 4 and 5
// start at the same instant (a tie for pagination).
func BackgroundStart(i int) time.Time {
	if i == 5 {
		i = 4
	}
	return Base.Add(10*time.Minute + time.Duration(i)*90*time.Second)
}

// Dataset is the test data as OTLP: what producers publish.
type Dataset struct {
	Traces ptrace.Traces
	Events plog.Logs
}

// Build returns the dataset.
func Build() Dataset {
	d := Dataset{Traces: ptrace.NewTraces(), Events: plog.NewLogs()}
	b := builder{d: d}
	b.checkout()
	b.denied()
	b.mesh()
	for i := range Background {
		b.background(i)
	}
	b.handshakeFailures()
	return d
}

type builder struct {
	d Dataset
}

func traceID(s string) pcommon.TraceID {
	var id pcommon.TraceID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		panic(fmt.Sprintf("bad trace id %q", s))
	}
	copy(id[:], b)
	return id
}

func spanID(name string) pcommon.SpanID {
	var id pcommon.SpanID
	b, _ := hex.DecodeString(ID("span " + name)[:16])
	copy(id[:], b)
	return id
}

// SpanID is the hex span id of the dataset's span with the given name.
func SpanID(name string) string { return ID("span " + name)[:16] }

type spanDef struct {
	name, parent string // parent "" for a root
	kind         ptrace.SpanKind
	start        time.Time
	dur          time.Duration
	err          bool
	attrs        map[string]any
}

func (b builder) spans(service, trace string, res map[string]any, defs ...spanDef) {
	rs := b.d.Traces.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(event.AttrServiceName, service)
	for k, v := range res {
		_ = rs.Resource().Attributes().PutEmpty(k).FromRaw(v)
	}
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("querytest")
	ss.Scope().SetVersion("1.0.0")
	for _, d := range defs {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(traceID(trace))
		sp.SetSpanID(spanID(d.name))
		if d.parent != "" {
			sp.SetParentSpanID(spanID(d.parent))
		}
		sp.SetName(nameOf(d.name))
		sp.SetKind(d.kind)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(d.start))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(d.start.Add(d.dur)))
		if d.err {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("upstream failed")
			ev := sp.Events().AppendEmpty()
			ev.SetName("exception")
			ev.SetTimestamp(pcommon.NewTimestampFromTime(d.start.Add(d.dur / 2)))
			ev.Attributes().PutStr("exception.type", "PaymentDeclined")
		}
		for k, v := range d.attrs {
			_ = sp.Attributes().PutEmpty(k).FromRaw(v)
		}
	}
}

// nameOf strips the "#n" suffix that keeps span names unique in the
// dataset's id derivation.
func nameOf(s string) string {
	for i := range len(s) {
		if s[i] == '#' {
			return s[:i]
		}
	}
	return s
}

type accessDef struct {
	source, service, requestID, trace, span string
	at                                      time.Time
	dur                                     time.Duration
	method, path, route                     string
	status                                  int
	attrs                                   map[string]any
}

func (b builder) access(a accessDef) {
	rl := b.d.Events.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(event.AttrServiceName, a.service)
	rl.Resource().Attributes().PutStr("host.name", "node-"+a.source)
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(event.AccessEvent)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(a.at))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(a.at.Add(a.dur)))
	if a.trace != "" {
		lr.SetTraceID(traceID(a.trace))
	}
	if a.span != "" {
		lr.SetSpanID(spanID(a.span))
	}
	at := lr.Attributes()
	at.PutStr(event.AttrSource, a.source)
	at.PutInt(event.AttrDurationNanos, int64(a.dur))
	at.PutStr(event.AttrRequestID, a.requestID)
	at.PutStr(event.AttrHTTPMethod, a.method)
	at.PutStr(event.AttrURLPath, a.path)
	if a.route != "" {
		at.PutStr(event.AttrHTTPRoute, a.route)
	}
	at.PutInt(event.AttrHTTPStatus, int64(a.status))
	at.PutStr(event.AttrClientAddress, "10.0.0.7")
	for k, v := range a.attrs {
		_ = at.PutEmpty(k).FromRaw(v)
	}
}

func (b builder) tlsEvent(at time.Time, attrs map[string]any, body string) {
	rl := b.d.Events.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr(event.AttrServiceName, "orders")
	rl.Resource().Attributes().PutStr("host.name", "node-tap")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName(event.TLSEvent)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	lr.Body().SetStr(body)
	a := lr.Attributes()
	a.PutStr(event.AttrSource, event.SourceTap)
	a.PutStr(event.AttrListener, "public")
	for k, v := range attrs {
		_ = a.PutEmpty(k).FromRaw(v)
	}
}

func frontendCert(notAfter time.Time) map[string]any {
	return map[string]any{
		event.AttrPeerSPIFFEID:      FrontendSPIFFE,
		event.AttrTLSClientSubject:  "CN=frontend",
		event.AttrTLSClientIssuer:   "CN=Shop CA",
		event.AttrTLSClientSerial:   "0A1B2C",
		event.AttrTLSClientHash:     "F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1F1",
		event.AttrTLSClientNotAfter: notAfter.Format(time.RFC3339),
	}
}

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// checkout: nginx (edge) → tap (orders, mTLS) → app (orders), with the
// app's spans calling payments, which fails.
func (b builder) checkout() {
	t0 := Base.Add(5 * time.Minute)
	ms := time.Millisecond
	tlsAttrs := map[string]any{
		event.AttrTLSProtocolVersion: "1.3",
		event.AttrTLSCipher:          "TLS_AES_128_GCM_SHA256",
	}
	b.access(accessDef{source: event.SourceNginx, service: "edge", requestID: CheckoutRequestID,
		at: t0, dur: 30 * ms, method: "POST", path: "/checkout", status: 502,
		attrs: merge(tlsAttrs, map[string]any{event.AttrUpstreamAddress: "10.0.1.5:8443"})})
	b.tlsEvent(t0.Add(1*ms), merge(tlsAttrs, frontendCert(Base.Add(5*24*time.Hour)), map[string]any{
		event.AttrConnectionID: CheckoutConnID, event.AttrMTLSVerified: true, event.AttrDurationNanos: int64(800 * time.Microsecond),
		event.AttrClientAddress: "10.0.0.2", event.AttrTLSServerName: "orders.shop.internal",
	}), "")
	b.access(accessDef{source: event.SourceTap, service: "orders", requestID: CheckoutRequestID,
		trace: CheckoutTraceID, span: "tap POST /checkout",
		at: t0.Add(2 * ms), dur: 26 * ms, method: "POST", path: "/checkout", route: "/checkout", status: 502,
		attrs: merge(tlsAttrs, frontendCert(Base.Add(5*24*time.Hour)), map[string]any{
			event.AttrConnectionID: CheckoutConnID, event.AttrMTLSVerified: true,
			event.AttrPrincipal: FrontendSPIFFE, event.AttrPrincipalType: event.PrincipalSPIFFE,
			event.AttrDecision: event.DecisionAllow, event.AttrPolicy: "orders-write", event.AttrReason: "spiffe-id-allowed",
		})})
	b.access(accessDef{source: event.SourceApp, service: "orders", requestID: CheckoutRequestID,
		trace: CheckoutTraceID, span: "POST /checkout",
		at: t0.Add(4 * ms), dur: 22 * ms, method: "POST", path: "/checkout", route: "/checkout", status: 502})
	b.spans("tapline-proxy", CheckoutTraceID, nil,
		spanDef{name: "tap POST /checkout", kind: ptrace.SpanKindServer, start: t0.Add(2 * ms), dur: 26 * ms,
			attrs: map[string]any{event.AttrHTTPMethod: "POST", event.AttrHTTPRoute: "/checkout", event.AttrRequestID: CheckoutRequestID,
				event.AttrEnduserID: FrontendSPIFFE}})
	b.spans("orders", CheckoutTraceID, map[string]any{"deployment.environment": "prod"},
		spanDef{name: "POST /checkout", parent: "tap POST /checkout", kind: ptrace.SpanKindServer, start: t0.Add(4 * ms), dur: 22 * ms,
			err:   true,
			attrs: map[string]any{event.AttrHTTPMethod: "POST", event.AttrHTTPRoute: "/checkout", event.AttrHTTPStatus: 502, "note": HostileNote}},
		spanDef{name: "SELECT orders", parent: "POST /checkout", kind: ptrace.SpanKindClient, start: t0.Add(6 * ms), dur: 4 * ms,
			attrs: map[string]any{"db.system": "postgresql"}},
	)
	b.spans("payments", CheckoutTraceID, map[string]any{"deployment.environment": "prod"},
		spanDef{name: "charge card", parent: "POST /checkout", kind: ptrace.SpanKindServer, start: t0.Add(12 * ms), dur: 10 * ms, err: true,
			attrs: map[string]any{"payment.provider": "acme"}},
	)
}

// denied: nginx → tap, denied by policy.
func (b builder) denied() {
	t0 := Base.Add(7 * time.Minute)
	ms := time.Millisecond
	b.access(accessDef{source: event.SourceNginx, service: "edge", requestID: DeniedRequestID,
		at: t0, dur: 5 * ms, method: "DELETE", path: "/orders/42", status: 403,
		attrs: map[string]any{event.AttrTLSProtocolVersion: "1.2", event.AttrTLSCipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}})
	b.access(accessDef{source: event.SourceTap, service: "orders", requestID: DeniedRequestID, trace: DeniedTraceID,
		span: "tap DELETE /orders/42", at: t0.Add(1 * ms), dur: 1 * ms, method: "DELETE", path: "/orders/42", route: "/orders/{id}", status: 403,
		attrs: map[string]any{
			event.AttrTLSProtocolVersion: "1.3", event.AttrTLSCipher: "TLS_AES_256_GCM_SHA384", event.AttrMTLSVerified: true,
			event.AttrPrincipal: IntruderSPIFFE, event.AttrPrincipalType: event.PrincipalSPIFFE, event.AttrPeerSPIFFEID: IntruderSPIFFE,
			event.AttrTLSClientHash:     "E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0E0",
			event.AttrTLSClientNotAfter: Base.Add(-24 * time.Hour).Format(time.RFC3339), event.AttrTLSClientSubject: "CN=intruder",
			event.AttrDecision: event.DecisionDeny, event.AttrPolicy: "orders-write", event.AttrReason: "spiffe-id-not-allowed",
		}})
	b.spans("tapline-proxy", DeniedTraceID, nil,
		spanDef{name: "tap DELETE /orders/42", kind: ptrace.SpanKindServer, start: t0.Add(1 * ms), dur: 1 * ms, err: true,
			attrs: map[string]any{event.AttrHTTPMethod: "DELETE", event.AttrRequestID: DeniedRequestID}})
}

// mesh: Envoy sidecar → app, JWT principal.
func (b builder) mesh() {
	t0 := Base.Add(8 * time.Minute)
	ms := time.Millisecond
	jwt := map[string]any{
		event.AttrPrincipal: Alice, event.AttrPrincipalType: event.PrincipalJWT,
		event.AttrJWTIssuer: "https://idp.example.org", event.AttrJWTSubject: Alice, event.AttrJWTAudience: "catalog",
		event.AttrUserRoles: []any{"catalog:read"}, event.AttrDecision: event.DecisionAllow,
	}
	b.access(accessDef{source: event.SourceMesh, service: "catalog", requestID: MeshRequestID, trace: MeshTraceID,
		at: t0, dur: 12 * ms, method: "GET", path: "/catalog/items", route: "/catalog/items", status: 200,
		attrs: merge(jwt, map[string]any{event.AttrTLSProtocolVersion: "1.3", event.AttrTLSCipher: "TLS_AES_128_GCM_SHA256",
			event.AttrMTLSVerified: true, event.AttrPeerSPIFFEID: "spiffe://example.org/ns/mesh/sa/gateway",
			event.AttrTLSClientHash:     "D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0D0",
			event.AttrTLSClientNotAfter: Base.Add(60 * 24 * time.Hour).Format(time.RFC3339)})})
	b.access(accessDef{source: event.SourceApp, service: "catalog", requestID: MeshRequestID, trace: MeshTraceID, span: "GET /catalog/items#mesh",
		at: t0.Add(1 * ms), dur: 10 * ms, method: "GET", path: "/catalog/items", route: "/catalog/items", status: 200,
		attrs: jwt})
	b.spans("catalog", MeshTraceID, map[string]any{"deployment.environment": "prod"},
		spanDef{name: "GET /catalog/items#mesh", kind: ptrace.SpanKindServer, start: t0.Add(1 * ms), dur: 10 * ms,
			attrs: map[string]any{event.AttrHTTPRoute: "/catalog/items", event.AttrEnduserID: Alice, "customer.tier": "platinum"}})
}

// background: catalog traces over the hour, each with an app access event.
func (b builder) background(i int) {
	t0 := BackgroundStart(i)
	ms := time.Millisecond
	trace := BackgroundTraceID(i)
	tier := "silver"
	if i%3 == 0 {
		tier = "gold"
	}
	env := "prod"
	if i%10 == 9 {
		env = "staging"
	}
	n := fmt.Sprintf("#%d", i)
	status := 200
	if i%7 == 0 {
		status = 500
	}
	root := spanDef{name: "GET /catalog/items" + n, kind: ptrace.SpanKindServer, start: t0, dur: time.Duration(10+i) * ms,
		err: status == 500,
		attrs: map[string]any{event.AttrHTTPRoute: "/catalog/items", event.AttrHTTPMethod: "GET", "customer.tier": tier,
			event.AttrHTTPStatus: status, event.AttrRequestID: BackgroundRequestID(i)}}
	child := spanDef{name: "SELECT items" + n, parent: root.name, kind: ptrace.SpanKindClient, start: t0.Add(2 * ms), dur: 3 * ms,
		attrs: map[string]any{"db.system": "postgresql"}}
	b.spans("catalog", trace, map[string]any{"deployment.environment": env}, root, child)
	if i%2 == 0 {
		b.spans("inventory", trace, map[string]any{"deployment.environment": env},
			spanDef{name: "check stock" + n, parent: root.name, kind: ptrace.SpanKindServer, start: t0.Add(6 * ms), dur: 2 * ms,
				err: status == 500, attrs: map[string]any{"item.count": int64(i)}})
	}
	user := fmt.Sprintf("user%d@example.org", i%4)
	b.access(accessDef{source: event.SourceApp, service: "catalog", requestID: BackgroundRequestID(i), trace: trace, span: root.name,
		at: t0, dur: root.dur, method: "GET", path: fmt.Sprintf("/catalog/items/%d", i), route: "/catalog/items", status: status,
		attrs: map[string]any{event.AttrPrincipal: user, event.AttrPrincipalType: event.PrincipalJWT, event.AttrDecision: event.DecisionAllow}})
}

// handshakeFailures: failed TLS handshakes at the tap.
func (b builder) handshakeFailures() {
	for i, f := range []struct {
		reason, detail string
	}{
		{event.TLSFailureUnknownCA, "tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{event.TLSFailureUnknownCA, "tls: failed to verify certificate: x509: certificate signed by unknown authority (2)"},
		{event.TLSFailureExpired, "tls: failed to verify certificate: x509: certificate has expired"},
		{event.TLSFailureNoCertificate, "tls: client didn't provide a certificate"},
	} {
		b.tlsEvent(Base.Add(20*time.Minute+time.Duration(i)*time.Minute), map[string]any{
			event.AttrTLSFailure: f.reason, event.AttrTLSEstablished: false,
			event.AttrConnectionID: fmt.Sprintf("conn-failed-%d", i), event.AttrClientAddress: "203.0.113.9",
		}, f.detail)
	}
}

// Later returns a copy of d moved by the given time, with every trace id and
// request id replaced by a new one: other requests, later.
func Later(d Dataset, by time.Duration) Dataset {
	out := Dataset{Traces: ptrace.NewTraces(), Events: plog.NewLogs()}
	d.Traces.CopyTo(out.Traces)
	d.Events.CopyTo(out.Events)
	salt := by.String()
	newTrace := func(id pcommon.TraceID) pcommon.TraceID {
		if id.IsEmpty() {
			return id
		}
		return traceID(ID(salt + hex.EncodeToString(id[:]))[:32])
	}
	move := func(ts pcommon.Timestamp) pcommon.Timestamp {
		return pcommon.NewTimestampFromTime(ts.AsTime().Add(by))
	}
	for _, rs := range out.Traces.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				sp.SetTraceID(newTrace(sp.TraceID()))
				sp.SetStartTimestamp(move(sp.StartTimestamp()))
				sp.SetEndTimestamp(move(sp.EndTimestamp()))
				for _, ev := range sp.Events().All() {
					ev.SetTimestamp(move(ev.Timestamp()))
				}
				if v, ok := sp.Attributes().Get(event.AttrRequestID); ok {
					v.SetStr(ID(salt + v.Str())[:32])
				}
			}
		}
	}
	for _, rl := range out.Events.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				lr.SetTraceID(newTrace(lr.TraceID()))
				lr.SetTimestamp(move(lr.Timestamp()))
				lr.SetObservedTimestamp(move(lr.ObservedTimestamp()))
				if v, ok := lr.Attributes().Get(event.AttrRequestID); ok {
					v.SetStr(ID(salt + v.Str())[:32])
				}
				if v, ok := lr.Attributes().Get(event.AttrConnectionID); ok {
					v.SetStr(v.Str() + "-" + salt)
				}
			}
		}
	}
	return out
}
