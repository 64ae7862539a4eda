package traffic

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/tapline/tapline/demo/pki"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy/policy"
)

// Service is the service.name of the generator's client spans.
const Service = "demo-client"

// Where a scenario sends its request.
const (
	ViaNginx = "nginx" // the public edge: TLS, client certificate optional
	ViaProxy = "proxy" // straight to the proxy tap: mTLS required
)

// Expected outcomes beyond a status.
const (
	// HandshakeFails: the proxy refuses the TLS handshake.
	HandshakeFails = "handshake-fails"
)

// A Scenario is one kind of caller and request.
type Scenario struct {
	// Name is short and unique ("checkout-order").
	Name string
	// Via is ViaNginx or ViaProxy.
	Via string
	// Client is the name of the client certificate presented (pki), ""
	// for none.
	Client string
	// Legacy offers only TLS 1.2 with a CBC cipher suite.
	Legacy bool
	Method string
	Path   string
	// Status is the expected response status; 0 with Outcome set when no
	// response is expected.
	Status  int
	Outcome string
	// Reason is the expected tapline.reason of a denial at the tap, or the
	// TLS failure reason (event.TLSFailure*) of a refused handshake.
	Reason string
}

// Scenarios is the demo's mix of callers, one request each.
func Scenarios() []Scenario {
	return []Scenario{
		// Through Nginx: the tap sees Nginx's SVID (allowed), Nginx sees the caller.
		{Name: "browse-orders", Via: ViaNginx, Method: http.MethodGet, Path: "/orders/1001", Status: 200},
		{Name: "partner-order", Via: ViaNginx, Client: pki.Partner.Name, Method: http.MethodPost, Path: "/orders", Status: 200},
		{Name: "slow-search", Via: ViaNginx, Method: http.MethodGet, Path: "/slow?ms=400", Status: 200},
		{Name: "failing-checkout", Via: ViaNginx, Method: http.MethodPost, Path: "/fail", Status: 500},
		{Name: "legacy-tls-client", Via: ViaNginx, Legacy: true, Method: http.MethodGet, Path: "/orders/1002", Status: 200},
		{Name: "admin-via-edge", Via: ViaNginx, Method: http.MethodGet, Path: "/admin/users", Status: 403, Reason: policy.ReasonSPIFFENotAllowed},
		{Name: "expired-cert-at-edge", Via: ViaNginx, Client: pki.Inventory.Name, Method: http.MethodGet, Path: "/orders/1003", Status: 400},
		// Straight to the tap: workloads with their own SVIDs.
		{Name: "checkout-status", Via: ViaProxy, Client: pki.Checkout.Name, Method: http.MethodGet, Path: "/orders/1001/status", Status: 200},
		{Name: "revoked-cart", Via: ViaProxy, Client: pki.LegacyCart.Name, Method: http.MethodPut, Path: "/orders/1001/cart", Status: 200},
		{Name: "admin-audit", Via: ViaProxy, Client: pki.AdminConsole.Name, Method: http.MethodGet, Path: "/admin/audit", Status: 200},
		{Name: "reporting-export", Via: ViaProxy, Client: pki.Reporting.Name, Method: http.MethodGet, Path: "/admin/export", Status: 403, Reason: policy.ReasonSPIFFENotAllowed},
		{Name: "reporting-orders", Via: ViaProxy, Client: pki.Reporting.Name, Method: http.MethodGet, Path: "/orders/summary", Status: 403, Reason: policy.ReasonSPIFFENotAllowed},
		{Name: "expired-cert-at-tap", Via: ViaProxy, Client: pki.Inventory.Name, Method: http.MethodGet, Path: "/orders/1004", Outcome: HandshakeFails, Reason: event.TLSFailureExpired},
		{Name: "no-cert-at-tap", Via: ViaProxy, Method: http.MethodGet, Path: "/orders/1005", Outcome: HandshakeFails, Reason: event.TLSFailureNoCertificate},
	}
}

// Target is where the generator sends.
type Target struct {
	// Nginx is the base URL of Nginx's TLS server (https://127.0.0.1:9443).
	Nginx string
	// Proxy is the base URL of the proxy tap (https://127.0.0.1:8443).
	Proxy string
}

// Result is what one request did.
type Result struct {
	Scenario Scenario
	// TraceID is the client span's trace, which every hop continues.
	TraceID string
	// RequestID is the X-Request-ID the application or the tap reported
	// ("" when the request got no answer from either).
	RequestID string
	Status    int
	Err       error
	Duration  time.Duration
}

// OK reports whether the result is what the scenario expects.
func (r Result) OK() bool {
	if r.Scenario.Outcome == HandshakeFails {
		return r.Err != nil
	}
	return r.Err == nil && r.Status == r.Scenario.Status
}

// Generator sends the scenarios.
type Generator struct {
	certs  pki.Dir
	target Target
	tracer trace.Tracer

	mu      sync.Mutex
	clients map[string]*http.Client
}

// New makes a generator presenting the certificates in certs, creating its
// spans with tp (nil: no spans are recorded, the traceparent is still sent).
func New(certs pki.Dir, target Target, tp trace.TracerProvider) *Generator {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return &Generator{certs: certs, target: target, tracer: tp.Tracer("github.com/tapline/tapline/demo/traffic"),
		clients: map[string]*http.Client{}}
}

// Round sends every scenario once, in order.
func (g *Generator) Round(ctx context.Context) []Result {
	var out []Result
	for _, s := range Scenarios() {
		out = append(out, g.Do(ctx, s))
	}
	return out
}

// Run sends rounds every interval until ctx ends; report, if set, sees
// every round's results.
func (g *Generator) Run(ctx context.Context, interval time.Duration, report func([]Result)) {
	for {
		res := g.Round(ctx)
		if report != nil && ctx.Err() == nil {
			report(res)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// Close closes idle connections.
func (g *Generator) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.clients {
		c.CloseIdleConnections()
	}
}

// Do sends one scenario's request inside a client span.
func (g *Generator) Do(ctx context.Context, s Scenario) Result {
	res := Result{Scenario: s}
	base := g.target.Nginx
	if s.Via == ViaProxy {
		base = g.target.Proxy
	}
	ctx, span := g.tracer.Start(ctx, s.Method+" "+strings.SplitN(s.Path, "?", 2)[0],
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String(event.AttrHTTPMethod, s.Method),
			attribute.String("url.full", base+s.Path),
			attribute.String("tapline.demo.scenario", s.Name),
		))
	defer span.End()
	res.TraceID = span.SpanContext().TraceID().String()
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()

	client, err := g.client(s)
	if err != nil {
		res.Err = err
		return res
	}
	var body io.Reader
	if s.Method == http.MethodPost || s.Method == http.MethodPut {
		body = strings.NewReader(`{"item":"demo","qty":1}`)
	}
	req, err := http.NewRequestWithContext(ctx, s.Method, base+s.Path, body)
	if err != nil {
		res.Err = err
		return res
	}
	req.Header.Set("User-Agent", "tapline-demo/"+s.Name)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := client.Do(req)
	if err != nil {
		res.Err = err
		span.RecordError(err)
		span.SetStatus(codes.Error, "request failed")
		return res
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	res.Status = resp.StatusCode
	var answer struct {
		RequestID string `json:"request_id"`
	}
	if json.Unmarshal(data, &answer) == nil {
		res.RequestID = answer.RequestID
	}
	span.SetAttributes(attribute.Int(event.AttrHTTPStatus, resp.StatusCode))
	if resp.StatusCode >= 500 {
		span.SetStatus(codes.Error, resp.Status)
	}
	return res
}

// client returns the HTTP client of a scenario's TLS set-up.
func (g *Generator) client(s Scenario) (*http.Client, error) {
	key := fmt.Sprintf("%s|%s|%t", s.Via, s.Client, s.Legacy)
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.clients[key]; ok {
		return c, nil
	}
	cfg, err := g.certs.ClientTLS(s.Client)
	if err != nil {
		return nil, err
	}
	if s.Legacy {
		cfg.MaxVersion = tls.VersionTLS12
		cfg.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
	}
	tr := &http.Transport{
		TLSClientConfig:     cfg,
		ForceAttemptHTTP2:   false,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	c := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	g.clients[key] = c
	return c, nil
}

// Summary counts results by scenario outcome, for a one-line report.
func Summary(rs []Result) string {
	ok, unexpected := 0, []string{}
	for _, r := range rs {
		if r.OK() {
			ok++
			continue
		}
		what := fmt.Sprintf("status %d", r.Status)
		if r.Err != nil {
			what = r.Err.Error()
		}
		unexpected = append(unexpected, r.Scenario.Name+": "+what)
	}
	if len(unexpected) == 0 {
		return fmt.Sprintf("%d requests as expected", ok)
	}
	return fmt.Sprintf("%d requests as expected, unexpected: %s", ok, strings.Join(unexpected, "; "))
}
