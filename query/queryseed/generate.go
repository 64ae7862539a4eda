package queryseed

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/event"
)

// Options describe the data to generate.
type Options struct {
	// Requests is the number of requests. Each has 3 access events (nginx
	// or mesh, tap, app; 2 when the tap denies it) and a trace of 2 to 5
	// spans (3.5 on average), so there are about 3 × Requests access events
	// and 3.5 × Requests spans.
	Requests int
	// End and Window place the requests evenly in [End-Window, End).
	End    time.Time
	Window time.Duration
	// PerMessage is the number of requests per published OTLP message.
	PerMessage int
	// Seed makes the data reproducible.
	Seed uint64
}

// DefaultOptions: 24 hours ending at the current hour, 500 requests per
// message.
func DefaultOptions(requests int) Options {
	return Options{
		Requests:   requests,
		End:        time.Now().UTC().Truncate(time.Hour),
		Window:     24 * time.Hour,
		PerMessage: 500,
		Seed:       1,
	}
}

// Services of the generated system; the first few receive requests from
// outside.
var services = []string{
	"orders", "catalog", "payments", "users", "search", "inventory",
	"shipping", "notifications", "pricing", "reviews", "auth", "recommendations",
}

var routes = []struct{ method, route, path string }{
	{"GET", "/catalog/items", "/catalog/items"},
	{"GET", "/catalog/items/{id}", "/catalog/items/%d"},
	{"POST", "/orders", "/orders"},
	{"GET", "/orders/{id}", "/orders/%d"},
	{"DELETE", "/orders/{id}", "/orders/%d"},
	{"POST", "/payments", "/payments"},
	{"GET", "/users/{id}", "/users/%d"},
	{"GET", "/search", "/search"},
	{"PUT", "/users/{id}/address", "/users/%d/address"},
}

var tiers = []string{"free", "silver", "gold", "platinum"}

var userAgents = []string{
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0 Safari/537.36",
	"okhttp/4.12.0",
	"python-httpx/0.27.0",
	"Go-http-client/2.0",
}

var ciphers = []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}

// Chunk is the telemetry of PerMessage consecutive requests, as producers
// publish it: spans on tapline.traces, access and TLS events on
// tapline.events.
type Chunk struct {
	Traces ptrace.Traces
	Events plog.Logs
	Spans  int
	Access int
	TLS    int
}

// Generator produces the requests in time order, a chunk at a time.
type Generator struct {
	o    Options
	rng  *rand.Rand
	next int
	conn string // the tap's current keep-alive connection
	left int    // requests left on it
}

// NewGenerator returns a generator for o.
func NewGenerator(o Options) *Generator {
	if o.PerMessage <= 0 {
		o.PerMessage = 500
	}
	return &Generator{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}
}

// Done reports whether every request was generated.
func (g *Generator) Done() bool { return g.next >= g.o.Requests }

func (g *Generator) hex(n int) string {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := g.rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b)
}

// Next generates the next chunk.
func (g *Generator) Next() Chunk {
	c := Chunk{Traces: ptrace.NewTraces(), Events: plog.NewLogs()}
	spansBySvc := map[string]ptrace.SpanSlice{}
	eventsBySvc := map[string]plog.LogRecordSlice{}
	spanSlice := func(svc string) ptrace.SpanSlice {
		if s, ok := spansBySvc[svc]; ok {
			return s
		}
		rs := c.Traces.ResourceSpans().AppendEmpty()
		res := rs.Resource().Attributes()
		res.PutStr(event.AttrServiceName, svc)
		res.PutStr("service.version", "1.4.2")
		res.PutStr("deployment.environment", "prod")
		res.PutStr("k8s.namespace.name", "shop")
		res.PutStr("host.name", fmt.Sprintf("%s-7f9c-%d", svc, g.rng.IntN(4)))
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("opentelemetry.instrumentation.fastapi")
		ss.Scope().SetVersion("0.48b0")
		spansBySvc[svc] = ss.Spans()
		return ss.Spans()
	}
	logSlice := func(svc, node string) plog.LogRecordSlice {
		key := svc + "/" + node
		if s, ok := eventsBySvc[key]; ok {
			return s
		}
		rl := c.Events.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr(event.AttrServiceName, svc)
		rl.Resource().Attributes().PutStr(event.AttrNode, node)
		s := rl.ScopeLogs().AppendEmpty().LogRecords()
		eventsBySvc[key] = s
		return s
	}
	step := g.o.Window / time.Duration(max(g.o.Requests, 1))
	start := g.o.End.Add(-g.o.Window)
	for n := 0; n < g.o.PerMessage && !g.Done(); n++ {
		at := start.Add(time.Duration(g.next)*step + time.Duration(g.rng.Int64N(int64(max(step, 1)))))
		g.request(&c, at, spanSlice, logSlice)
		g.next++
	}
	return c
}

// request generates one request: its hops' access events, its trace and,
// now and then, the tap's TLS connection.
func (g *Generator) request(c *Chunk, at time.Time, spanSlice func(string) ptrace.SpanSlice, logSlice func(svc, node string) plog.LogRecordSlice) {
	rng := g.rng
	svc := services[rng.IntN(4)]
	rt := routes[rng.IntN(len(routes))]
	path := rt.path
	if rt.route != rt.path {
		path = fmt.Sprintf(rt.path, rng.IntN(100000))
	}
	traceHex, reqID := g.hex(16), g.hex(16)
	var traceID pcommon.TraceID
	b, _ := hex.DecodeString(traceHex)
	copy(traceID[:], b)
	status := 200
	switch r := rng.IntN(1000); {
	case r < 20:
		status = 500
	case r < 30:
		status = 503
	case r < 80:
		status = 404
	case r < 100:
		status = 401
	case rt.method == "POST" && r < 600:
		status = 201
	}
	deny := rng.IntN(100) == 0
	if deny {
		status = 403
	}
	total := time.Duration(math.Exp(rng.NormFloat64()*0.8+math.Log(20))) * time.Millisecond
	if total < time.Millisecond {
		total = time.Millisecond
	}
	tier := tiers[rng.IntN(len(tiers))]
	var principal, ptype string
	if rng.IntN(3) == 0 {
		principal, ptype = fmt.Sprintf("user%d@example.org", rng.IntN(5000)), event.PrincipalJWT
	} else {
		principal, ptype = fmt.Sprintf("spiffe://example.org/ns/shop/sa/client-%d", rng.IntN(50)), event.PrincipalSPIFFE
	}

	// The edge hop: nginx, or the mesh for a fifth of the requests.
	edge := event.SourceNginx
	if rng.IntN(5) == 0 {
		edge = event.SourceMesh
	}
	tapSpan, appSpan := g.hex(8), g.hex(8)
	hop := func(source, service, node string, t time.Time, d time.Duration, span string) plog.LogRecord {
		lr := logSlice(service, node).AppendEmpty()
		lr.SetEventName(event.AccessEvent)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(t))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(t.Add(d)))
		if source != event.SourceNginx {
			lr.SetTraceID(traceID)
		}
		if span != "" {
			var sid pcommon.SpanID
			sb, _ := hex.DecodeString(span)
			copy(sid[:], sb)
			lr.SetSpanID(sid)
		}
		a := lr.Attributes()
		a.PutStr(event.AttrSource, source)
		a.PutInt(event.AttrDurationNanos, int64(d))
		a.PutStr(event.AttrRequestID, reqID)
		a.PutStr(event.AttrHTTPMethod, rt.method)
		a.PutStr(event.AttrURLPath, path)
		a.PutStr(event.AttrHTTPRoute, rt.route)
		a.PutInt(event.AttrHTTPStatus, int64(status))
		a.PutStr(event.AttrClientAddress, fmt.Sprintf("10.%d.%d.%d", rng.IntN(4), rng.IntN(256), rng.IntN(256)))
		a.PutStr(event.AttrUserAgent, userAgents[rng.IntN(len(userAgents))])
		a.PutInt(event.AttrHTTPResponseSize, int64(200+rng.IntN(20000)))
		c.Access++
		return lr
	}
	e := hop(edge, "edge", edge+"-0", at, total+2*time.Millisecond, "")
	e.Attributes().PutStr(event.AttrTLSProtocolVersion, []string{"1.3", "1.3", "1.3", "1.2"}[rng.IntN(4)])
	e.Attributes().PutStr(event.AttrTLSCipher, ciphers[rng.IntN(len(ciphers))])

	if g.left == 0 {
		g.conn, g.left = "conn-"+g.hex(8), 1+rng.IntN(40)
		g.tlsConn(c, at.Add(-time.Millisecond), logSlice)
	}
	g.left--
	tapAt := at.Add(time.Millisecond)
	t := hop(event.SourceTap, svc, "tap-0", tapAt, total, tapSpan)
	ta := t.Attributes()
	ta.PutStr(event.AttrTLSProtocolVersion, "1.3")
	ta.PutStr(event.AttrTLSCipher, "TLS_AES_128_GCM_SHA256")
	ta.PutBool(event.AttrMTLSVerified, ptype == event.PrincipalSPIFFE)
	ta.PutStr(event.AttrConnectionID, g.conn)
	ta.PutStr(event.AttrPrincipal, principal)
	ta.PutStr(event.AttrPrincipalType, ptype)
	if ptype == event.PrincipalSPIFFE {
		ta.PutStr(event.AttrPeerSPIFFEID, principal)
		ta.PutStr(event.AttrTLSClientHash, fmt.Sprintf("%064X", rng.IntN(50)))
		ta.PutStr(event.AttrTLSClientNotAfter, g.o.End.Add(time.Duration(rng.IntN(90*24))*time.Hour).Format(time.RFC3339))
	} else {
		ta.PutStr(event.AttrJWTIssuer, "https://idp.example.org")
		ta.PutStr(event.AttrJWTSubject, principal)
	}
	if deny {
		ta.PutStr(event.AttrDecision, event.DecisionDeny)
		ta.PutStr(event.AttrReason, "spiffe-id-not-allowed")
	} else {
		ta.PutStr(event.AttrDecision, event.DecisionAllow)
	}
	ta.PutStr(event.AttrPolicy, svc+"-"+rt.method)
	if deny {
		return
	}
	appAt := tapAt.Add(time.Millisecond)
	appDur := max(total-2*time.Millisecond, 500*time.Microsecond)
	hop(event.SourceApp, svc, svc+"-pod", appAt, appDur, appSpan)

	// The trace: the tap's server span and the app's.
	root := spanSlice("tapline-proxy").AppendEmpty()
	g.fillSpan(root, traceID, tapSpan, "", rt.method+" "+rt.route, ptrace.SpanKindServer, tapAt, total, status >= 500)
	root.Attributes().PutStr(event.AttrHTTPMethod, rt.method)
	root.Attributes().PutStr(event.AttrHTTPRoute, rt.route)
	root.Attributes().PutInt(event.AttrHTTPStatus, int64(status))
	root.Attributes().PutStr(event.AttrRequestID, reqID)
	root.Attributes().PutStr(event.AttrEnduserID, principal)
	c.Spans++
	sp := spanSlice(svc).AppendEmpty()
	g.fillSpan(sp, traceID, appSpan, tapSpan, rt.method+" "+rt.route, ptrace.SpanKindServer, appAt, appDur, status >= 500)
	a := sp.Attributes()
	a.PutStr(event.AttrHTTPMethod, rt.method)
	a.PutStr(event.AttrHTTPRoute, rt.route)
	a.PutStr(event.AttrURLPath, path)
	a.PutInt(event.AttrHTTPStatus, int64(status))
	a.PutStr("customer.tier", tier)
	a.PutStr("tenant.id", fmt.Sprintf("tenant-%d", rng.IntN(1000)))
	a.PutStr(event.AttrUserAgent, userAgents[rng.IntN(len(userAgents))])
	a.PutStr("net.host.name", svc+".shop.svc")
	c.Spans++
	// 0 to 3 more spans: calls to other services, the first one's query.
	extra := rng.IntN(4)
	var firstCall string
	var firstAt time.Time
	var firstDur time.Duration
	var callee string
	for i := range extra {
		if i == 1 {
			ss := spanSlice(callee).AppendEmpty()
			g.fillSpan(ss, traceID, g.hex(8), firstCall, "SELECT "+callee, ptrace.SpanKindClient, firstAt.Add(firstDur/4), firstDur/2, status == 503)
			ss.Attributes().PutStr("db.system", "postgresql")
			ss.Attributes().PutStr("db.statement", "SELECT * FROM "+callee+" WHERE id = $1")
			c.Spans++
			continue
		}
		callee = services[4+rng.IntN(len(services)-4)]
		cs := spanSlice(svc).AppendEmpty()
		off := time.Duration(rng.Int64N(int64(appDur)/2 + 1))
		d := max(time.Duration(rng.Int64N(int64(appDur-off)/2+1)), 100*time.Microsecond)
		id := g.hex(8)
		g.fillSpan(cs, traceID, id, appSpan, "call "+callee, ptrace.SpanKindClient, appAt.Add(off), d, false)
		cs.Attributes().PutStr("peer.service", callee)
		cs.Attributes().PutStr("rpc.system", "grpc")
		c.Spans++
		if i == 0 {
			firstCall, firstAt, firstDur = id, appAt.Add(off), d
		}
	}
}

func (g *Generator) fillSpan(sp ptrace.Span, trace pcommon.TraceID, id, parent, name string, kind ptrace.SpanKind, at time.Time, d time.Duration, failed bool) {
	sp.SetTraceID(trace)
	var sid pcommon.SpanID
	b, _ := hex.DecodeString(id)
	copy(sid[:], b)
	sp.SetSpanID(sid)
	if parent != "" {
		var pid pcommon.SpanID
		pb, _ := hex.DecodeString(parent)
		copy(pid[:], pb)
		sp.SetParentSpanID(pid)
	}
	sp.SetName(name)
	sp.SetKind(kind)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(at))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(at.Add(d)))
	if failed {
		sp.Status().SetCode(ptrace.StatusCodeError)
		sp.Status().SetMessage("upstream error")
		ev := sp.Events().AppendEmpty()
		ev.SetName("exception")
		ev.SetTimestamp(pcommon.NewTimestampFromTime(at.Add(d / 2)))
		ev.Attributes().PutStr("exception.type", "UpstreamError")
		ev.Attributes().PutStr("exception.message", "connection reset by peer")
	}
}

// tlsConn records a new TLS connection at the tap; one in a hundred
// handshakes fails instead (and the request then comes on the next one).
func (g *Generator) tlsConn(c *Chunk, at time.Time, logSlice func(svc, node string) plog.LogRecordSlice) {
	rng := g.rng
	if rng.IntN(100) == 0 {
		lr := logSlice("tapline-proxy", "tap-0").AppendEmpty()
		lr.SetEventName(event.TLSEvent)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(at.Add(-time.Millisecond)))
		lr.Body().SetStr("tls: failed to verify certificate: x509: certificate signed by unknown authority")
		a := lr.Attributes()
		a.PutStr(event.AttrSource, event.SourceTap)
		a.PutStr(event.AttrListener, "public")
		a.PutStr(event.AttrConnectionID, "conn-"+g.hex(8))
		a.PutStr(event.AttrTLSFailure, []string{event.TLSFailureUnknownCA, event.TLSFailureExpired, event.TLSFailureNoCertificate}[rng.IntN(3)])
		a.PutBool(event.AttrTLSEstablished, false)
		c.TLS++
	}
	lr := logSlice("tapline-proxy", "tap-0").AppendEmpty()
	lr.SetEventName(event.TLSEvent)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	a := lr.Attributes()
	a.PutStr(event.AttrSource, event.SourceTap)
	a.PutStr(event.AttrListener, "public")
	a.PutStr(event.AttrConnectionID, g.conn)
	a.PutStr(event.AttrTLSProtocolVersion, "1.3")
	a.PutStr(event.AttrTLSCipher, ciphers[rng.IntN(len(ciphers))])
	a.PutBool(event.AttrMTLSVerified, rng.IntN(3) != 0)
	a.PutInt(event.AttrDurationNanos, int64(time.Duration(300+rng.IntN(2000))*time.Microsecond))
	c.TLS++
}
