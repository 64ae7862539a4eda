package otlprow

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/event"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)

func ts(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t0.Add(d)) }

func traceID(b byte) pcommon.TraceID {
	var id pcommon.TraceID
	for i := range id {
		id[i] = b + byte(i)
	}
	return id
}

func spanID(b byte) pcommon.SpanID {
	var id pcommon.SpanID
	for i := range id {
		id[i] = b + byte(i)
	}
	return id
}

// sampleTraces has two resources, three scopes and spans that exercise every
// column: each attribute value type, events, links, status, trace state, and
// a span that ends before it starts.
func sampleTraces() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutStr("host.name", "node-1")
	rs.Resource().Attributes().PutInt("process.pid", 4242)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("io.opentelemetry.fastapi")
	ss.Scope().SetVersion("0.48b0")

	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(traceID(0x10))
	sp.SetSpanID(spanID(0x20))
	sp.SetName("GET /orders/{id}")
	sp.SetKind(ptrace.SpanKindServer)
	sp.SetStartTimestamp(ts(0))
	sp.SetEndTimestamp(ts(1500 * time.Microsecond))
	sp.TraceState().FromRaw("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
	sp.Status().SetCode(ptrace.StatusCodeError)
	sp.Status().SetMessage("upstream timed out")
	a := sp.Attributes()
	a.PutStr("http.request.method", "GET")
	a.PutInt("http.response.status_code", 504)
	a.PutBool("tapline.retried", true)
	a.PutDouble("tapline.ratio", 0.25)
	a.PutDouble("tapline.big", 1e21)
	a.PutEmptyBytes("tapline.bytes").FromRaw([]byte{0xde, 0xad, 0xbe, 0xef})
	arr := a.PutEmptySlice("tapline.list")
	arr.AppendEmpty().SetStr("a<b")
	arr.AppendEmpty().SetInt(2)
	m := a.PutEmptyMap("tapline.map")
	m.PutStr("k", "v")
	m.PutBool("ok", false)
	a.PutEmpty("tapline.empty")
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(ts(time.Millisecond))
	ev.Attributes().PutStr("exception.type", "TimeoutError")
	ev = sp.Events().AppendEmpty()
	ev.SetName("retry")
	ev.SetTimestamp(ts(1200 * time.Microsecond))
	ln := sp.Links().AppendEmpty()
	ln.SetTraceID(traceID(0x30))
	ln.SetSpanID(spanID(0x40))
	ln.TraceState().FromRaw("vendor=1")
	ln.Attributes().PutStr("link.reason", "batch")

	child := ss.Spans().AppendEmpty()
	child.SetTraceID(traceID(0x10))
	child.SetSpanID(spanID(0x21))
	child.SetParentSpanID(spanID(0x20))
	child.SetName("SELECT orders")
	child.SetKind(ptrace.SpanKindClient)
	child.SetStartTimestamp(ts(100 * time.Microsecond))
	child.SetEndTimestamp(ts(900 * time.Microsecond))
	child.Status().SetCode(ptrace.StatusCodeOk)

	// A second scope without name or version.
	odd := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	odd.SetTraceID(traceID(0x50))
	odd.SetSpanID(spanID(0x60))
	odd.SetName("clock skew")
	odd.SetKind(ptrace.SpanKindInternal)
	odd.SetStartTimestamp(ts(time.Second))
	odd.SetEndTimestamp(ts(0)) // ends before it starts: Duration 0

	// A resource whose service.name is not a string, and no attributes.
	rs2 := td.ResourceSpans().AppendEmpty()
	rs2.Resource().Attributes().PutInt("service.name", 7)
	sp2 := rs2.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp2.SetName("producer")
	sp2.SetKind(ptrace.SpanKindProducer)
	sp2.SetStartTimestamp(ts(2 * time.Second))
	sp2.SetEndTimestamp(ts(2*time.Second + 10))
	return td
}

// sampleLogs has application logs (one without a timestamp) and access and
// TLS events, including values that do not parse.
func sampleLogs() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
	rl.Resource().Attributes().PutStr("service.name", "orders-api")
	rl.Resource().Attributes().PutStr("host.name", "pod-7")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.SetSchemaUrl("https://opentelemetry.io/schemas/1.25.0")
	sl.Scope().SetName("uvicorn.access")
	sl.Scope().SetVersion("0.30")
	sl.Scope().Attributes().PutStr("lib", "uvicorn")

	lr := sl.LogRecords().AppendEmpty()
	lr.SetTimestamp(ts(0))
	lr.SetObservedTimestamp(ts(time.Second))
	lr.SetTraceID(traceID(0x10))
	lr.SetSpanID(spanID(0x20))
	lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
	lr.SetSeverityNumber(plog.SeverityNumberWarn)
	lr.SetSeverityText("WARNING")
	lr.Body().SetStr("slow query: 812 ms")
	lr.Attributes().PutStr("code.function", "list_orders")
	lr.Attributes().PutInt("db.rows", 12)

	lr = sl.LogRecords().AppendEmpty()
	lr.SetObservedTimestamp(ts(2 * time.Second)) // no Timestamp: the observed one is used
	lr.SetEventName("app.started")
	body := lr.Body().SetEmptyMap()
	body.PutStr("msg", "ready")
	body.PutInt("workers", 4)

	ev := plog.NewLogs()
	erl := ev.ResourceLogs().AppendEmpty()
	erl.Resource().Attributes().PutStr("service.name", "tapline-proxy")
	erl.Resource().Attributes().PutStr("host.name", "edge-1")
	erl.Resource().Attributes().PutStr("k8s.pod.name", "proxy-abc")
	esl := erl.ScopeLogs().AppendEmpty()
	esl.Scope().SetName("tapline/proxy")
	esl.Scope().SetVersion("1.0.0")

	acc := esl.LogRecords().AppendEmpty()
	acc.SetEventName(event.AccessEvent)
	acc.SetTimestamp(ts(3 * time.Second))
	acc.SetTraceID(traceID(0x10))
	acc.SetSpanID(spanID(0x22))
	at := acc.Attributes()
	at.PutStr(event.AttrSource, event.SourceTap)
	at.PutInt(event.AttrDurationNanos, 1_234_567)
	at.PutStr(event.AttrRequestID, "7f3c9a0e4b1d2c3e5f60718293a4b5c6")
	at.PutStr(event.AttrHTTPMethod, "POST")
	at.PutStr(event.AttrURLScheme, "https")
	at.PutStr(event.AttrServerAddress, "orders.internal")
	at.PutStr(event.AttrURLPath, "/orders")
	at.PutStr(event.AttrURLQuery, "dry_run=1")
	at.PutStr(event.AttrHTTPRoute, "/orders")
	at.PutStr(event.AttrNetworkProtocol, "2")
	at.PutInt(event.AttrHTTPStatus, 201)
	at.PutInt(event.AttrHTTPRequestSize, 512)
	at.PutStr(event.AttrHTTPResponseSize, "1024") // a number sent as a string
	at.PutStr(event.AttrClientAddress, "10.0.0.7")
	at.PutInt(event.AttrClientPort, 51432)
	at.PutStr(event.AttrUpstreamAddress, "127.0.0.1:8000")
	at.PutStr(event.AttrUpstreamStatus, "201")
	at.PutStr(event.AttrUserAgent, "curl/8.5.0")
	at.PutStr(event.AttrTLSProtocolVersion, "1.3")
	at.PutStr(event.AttrTLSCipher, "TLS_AES_128_GCM_SHA256")
	at.PutBool(event.AttrTLSResumed, false)
	at.PutStr(event.AttrTLSServerName, "orders.internal")
	at.PutBool(event.AttrMTLSVerified, true)
	at.PutStr(event.AttrPeerSPIFFEID, "spiffe://example.org/ns/shop/sa/cart")
	at.PutStr(event.AttrTLSClientSubject, "CN=cart")
	at.PutStr(event.AttrTLSClientIssuer, "CN=Example CA")
	at.PutStr(event.AttrTLSClientSerial, "0A1B2C")
	at.PutStr(event.AttrTLSClientNotAfter, "2026-01-02T03:04:05Z")
	at.PutStr(event.AttrTLSClientHash, "AB12CD34")
	at.PutStr(event.AttrPrincipal, "spiffe://example.org/ns/shop/sa/cart")
	at.PutStr(event.AttrPrincipalType, event.PrincipalSPIFFE)
	at.PutStr(event.AttrEnduserID, "alice") // differs from the principal: kept
	at.PutStr(event.AttrJWTIssuer, "https://idp.example.org")
	at.PutStr(event.AttrJWTSubject, "alice")
	at.PutStr(event.AttrJWTAudience, "orders,billing")
	at.PutStr(event.AttrUserRoles, "orders:write orders:read")
	at.PutStr(event.AttrDecision, event.DecisionAllow)
	at.PutStr(event.AttrPolicy, "orders-write")
	at.PutStr(event.AttrReason, "spiffe-id-allowed")
	at.PutStr(event.AttrConnectionID, "c-42")
	at.PutStr(event.AttrRaw, `{"line":"raw"}`)
	at.PutStr("tapline.custom", "kept")

	bad := esl.LogRecords().AppendEmpty()
	bad.SetEventName(event.AccessEvent)
	bad.SetObservedTimestamp(ts(4 * time.Second))
	bad.Body().SetStr(`10.0.0.9 - - "GET / HTTP/1.1" 200`) // no tapline.raw: the body is Raw
	bt := bad.Attributes()
	bt.PutStr(event.AttrSource, event.SourceNginx)
	bt.PutStr(event.AttrTraceID, "0102030405060708090a0b0c0d0e0f10")
	bt.PutStr(event.AttrEnduserID, "bob")
	bt.PutStr(event.AttrTLSClientNotAfter, "next tuesday")
	bt.PutStr(event.AttrHTTPStatus, "abc")
	bt.PutInt(event.AttrClientPort, 70000)
	bt.PutStr(event.AttrTLSResumed, "maybe")
	bt.PutStr(event.AttrParseError, "nginx: truncated line")
	roles := bt.PutEmptySlice(event.AttrUserRoles)
	roles.AppendEmpty().SetStr("admin")
	roles.AppendEmpty().SetStr("ops")
	bt.PutStr("k8s.pod.name", "own-value") // the event's own value wins over the resource's

	tlsOK := esl.LogRecords().AppendEmpty()
	tlsOK.SetEventName(event.TLSEvent)
	tlsOK.SetTimestamp(ts(5 * time.Second))
	tt := tlsOK.Attributes()
	tt.PutStr(event.AttrSource, event.SourceTap)
	tt.PutStr(event.AttrListener, ":8443")
	tt.PutStr(event.AttrConnectionID, "c-42")
	tt.PutStr(event.AttrClientAddress, "10.0.0.7")
	tt.PutInt(event.AttrClientPort, 51432)
	tt.PutStr(event.AttrTLSServerName, "orders.internal")
	tt.PutBool(event.AttrTLSEstablished, true)
	tt.PutInt(event.AttrDurationNanos, 800_000)
	tt.PutStr(event.AttrTLSProtocolVersion, "1.3")
	tt.PutStr(event.AttrTLSCipher, "TLS_AES_128_GCM_SHA256")
	tt.PutBool(event.AttrTLSResumed, true)
	tt.PutStr(event.AttrTLSALPN, "h2")
	tt.PutBool(event.AttrMTLSVerified, true)
	tt.PutStr(event.AttrPeerSPIFFEID, "spiffe://example.org/ns/shop/sa/cart")
	tt.PutStr(event.AttrTLSClientSubject, "CN=cart")
	tt.PutStr(event.AttrTLSClientIssuer, "CN=Example CA")
	tt.PutStr(event.AttrTLSClientSerial, "0A1B2C")
	tt.PutStr(event.AttrTLSClientNotBefore, "2025-01-02T03:04:05.999Z")
	tt.PutStr(event.AttrTLSClientNotAfter, "9999-12-31T23:59:59Z") // RFC 5280 "no expiry"
	tt.PutStr(event.AttrTLSClientHash, "AB12CD34")
	tt.PutStr(event.AttrRaw, "kept as an attribute: tls_connections has no Raw")

	tlsBad := esl.LogRecords().AppendEmpty()
	tlsBad.SetEventName(event.TLSEvent)
	tlsBad.SetTimestamp(ts(6 * time.Second))
	tlsBad.Body().SetStr("remote error: tls: unknown certificate authority")
	tb := tlsBad.Attributes()
	tb.PutStr(event.AttrNode, "edge-2")
	tb.PutStr(event.AttrClientAddress, "192.0.2.1")
	tb.PutStr(event.AttrErrorType, event.TLSFailureUnknownCA)
	tb.PutStr(event.AttrTLSClientNotBefore, "yesterday")

	// A record with another event name stays an otel_logs row.
	drop := esl.LogRecords().AppendEmpty()
	drop.SetEventName(event.DropEvent)
	drop.SetTimestamp(ts(7 * time.Second))
	drop.Attributes().PutInt(event.AttrDropCount, 3)

	ev.ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
	return ld
}

func TestGolden(t *testing.T) {
	var rows Rows
	rows.AppendTraces(sampleTraces())
	rows.AppendLogs(sampleLogs())
	tests := []struct {
		name string
		rows []map[string]any
		n    int
	}{
		{TableTraces, byColumn(SpanColumns(), rows.Spans, (*Span).AppendValues), 4},
		{TableLogs, byColumn(LogColumns(), rows.Logs, (*Log).AppendValues), 3},
		{TableAccess, byColumn(AccessColumns(), rows.Access, (*Access).AppendValues), 2},
		{TableTLS, byColumn(TLSColumns(), rows.TLS, (*TLS).AppendValues), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Len(t, tt.rows, tt.n)
			got, err := json.MarshalIndent(tt.rows, "", "  ")
			require.NoError(t, err)
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test -update to create the golden file")
			require.JSONEq(t, string(want), string(got))
		})
	}
	require.Equal(t, t0, rows.MinTime)
	require.Equal(t, t0.Add(7*time.Second), rows.MaxTime)
}

// byColumn renders rows as column name → value, the way the engine receives
// them, so the golden files read like the tables.
func byColumn[T any](cols []string, rows []T, values func(*T, []any) []any) []map[string]any {
	out := make([]map[string]any, 0, len(rows))
	for i := range rows {
		vals := values(&rows[i], nil)
		m := make(map[string]any, len(cols))
		for j, c := range cols {
			m[c] = vals[j]
		}
		out = append(out, m)
	}
	return out
}

// TestExporterStrings pins the strings the exporter stores, independent of
// the golden files.
func TestExporterStrings(t *testing.T) {
	var rows Rows
	rows.AppendTraces(sampleTraces())
	s := rows.Spans[0]
	require.Equal(t, "Server", s.SpanKind)
	require.Equal(t, "Error", s.StatusCode)
	require.Equal(t, "Unset", rows.Spans[2].StatusCode)
	require.Equal(t, "Ok", rows.Spans[1].StatusCode)
	require.Equal(t, "101112131415161718191a1b1c1d1e1f", s.TraceID)
	require.Equal(t, "", s.ParentSpanID)
	require.Equal(t, uint64(1_500_000), s.Duration)
	require.Equal(t, uint64(0), rows.Spans[2].Duration)
	require.Equal(t, "7", rows.Spans[3].ServiceName)
	require.Equal(t, map[string]string{
		"http.request.method":       "GET",
		"http.response.status_code": "504",
		"tapline.retried":           "true",
		"tapline.ratio":             "0.25",
		"tapline.big":               "1e+21",
		"tapline.bytes":             "3q2+7w==",
		"tapline.list":              `["a<b",2]`,
		"tapline.map":               `{"k":"v","ok":false}`,
		"tapline.empty":             "",
	}, s.SpanAttributes)
	require.Equal(t, []string{"exception", "retry"}, s.EventNames)
	require.Equal(t, []string{"303132333435363738393a3b3c3d3e3f"}, s.LinkTraceIDs)
}

func TestAccessParseNotes(t *testing.T) {
	var rows Rows
	rows.AppendLogs(sampleLogs())
	bad := rows.Access[1]
	require.Equal(t, "0102030405060708090a0b0c0d0e0f10", bad.TraceID)
	require.Equal(t, "bob", bad.Principal)
	require.Equal(t, unknownTime, bad.PeerNotAfter)
	require.Equal(t, uint16(0), bad.Status)
	require.Equal(t, "next tuesday", bad.Attributes[event.AttrTLSClientNotAfter])
	require.Equal(t, "abc", bad.Attributes[event.AttrHTTPStatus])
	require.Equal(t, "70000", bad.Attributes[event.AttrClientPort])
	require.Contains(t, bad.Attributes[event.AttrParseError], "nginx: truncated line; ")
	require.Contains(t, bad.Attributes[event.AttrParseError], "tls.client.not_after: not an RFC 3339 time")
	require.Contains(t, bad.Attributes[event.AttrParseError], "client.port: 70000 is out of range")
	require.Equal(t, []string{"admin", "ops"}, bad.JWTScopes)
	require.Equal(t, "own-value", bad.Attributes["k8s.pod.name"])
	require.Equal(t, `10.0.0.9 - - "GET / HTTP/1.1" 200`, bad.Raw)

	good := rows.Access[0]
	require.Equal(t, "alice", good.Attributes[event.AttrEnduserID])
	require.NotContains(t, good.Attributes, event.AttrParseError)
	require.Equal(t, uint64(1024), good.ResponseBytes)

	tlsOK, tlsBad := rows.TLS[0], rows.TLS[1]
	require.True(t, tlsOK.Established)
	require.Equal(t, lastDateTime, tlsOK.PeerNotAfter)
	require.Equal(t, "9999-12-31T23:59:59Z", tlsOK.Attributes[event.AttrTLSClientNotAfter])
	require.Equal(t, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), tlsOK.PeerNotBefore)
	require.False(t, tlsBad.Established)
	require.Equal(t, event.TLSFailureUnknownCA, tlsBad.Failure)
	require.Equal(t, "remote error: tls: unknown certificate authority", tlsBad.FailureDetail)
	require.Equal(t, "edge-2", tlsBad.Node)
	require.Equal(t, "edge-1", tlsOK.Node)
}

// TestReuse checks that a reused Rows carries nothing over from the batch
// before: maps are emptied, nested slices shortened.
func TestReuse(t *testing.T) {
	var rows Rows
	rows.AppendTraces(sampleTraces())
	rows.AppendLogs(sampleLogs())
	rows.Reset()
	require.Zero(t, rows.Len())

	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetName("plain")
	sp.Attributes().PutStr("only", "one")
	ld := plog.NewLogs()
	acc := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	acc.SetEventName(event.AccessEvent)
	rows.AppendTraces(td)
	rows.AppendLogs(ld)

	require.Len(t, rows.Spans, 1)
	s := rows.Spans[0]
	require.Equal(t, map[string]string{"only": "one"}, s.SpanAttributes)
	require.Empty(t, s.ResourceAttributes)
	require.Empty(t, s.EventNames)
	require.Empty(t, s.EventTimestamps)
	require.Empty(t, s.EventAttributes)
	require.Empty(t, s.LinkTraceIDs)
	require.Empty(t, s.LinkAttributes)
	require.Len(t, rows.Access, 1)
	a := rows.Access[0]
	require.Empty(t, a.Attributes)
	require.Empty(t, a.JWTScopes)
	require.Empty(t, a.Principal)
	require.Equal(t, unknownTime, a.PeerNotAfter)
}

func TestColumnsMatchValues(t *testing.T) {
	var (
		s Span
		l Log
		a Access
		c TLS
	)
	require.Len(t, s.AppendValues(nil), len(SpanColumns()))
	require.Len(t, l.AppendValues(nil), len(LogColumns()))
	require.Len(t, a.AppendValues(nil), len(AccessColumns()))
	require.Len(t, c.AppendValues(nil), len(TLSColumns()))
}

// FuzzAppendLogs maps arbitrary OTLP log protobuf: it must never panic and
// must give every record exactly one row.
func FuzzAppendLogs(f *testing.F) {
	seed, err := (&plog.ProtoMarshaler{}).MarshalLogs(sampleLogs())
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(data)
		if err != nil {
			return
		}
		var rows Rows
		rows.AppendLogs(ld)
		require.Equal(t, ld.LogRecordCount(), rows.Len())
	})
}

// FuzzAppendTraces is FuzzAppendLogs for spans.
func FuzzAppendTraces(f *testing.F) {
	seed, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(sampleTraces())
	require.NoError(f, err)
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
		if err != nil {
			return
		}
		var rows Rows
		rows.AppendTraces(td)
		require.Equal(t, td.SpanCount(), rows.Len())
	})
}
