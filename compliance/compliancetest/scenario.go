package compliancetest

import (
	"fmt"
	"time"

	"github.com/tapline/tapline/compliance/checks"
	"github.com/tapline/tapline/event"
)

// Names used by the clean day, for tests that look for them.
const (
	TrustDomain   = "example.org"
	EdgeSPIFFE    = "spiffe://example.org/ns/edge/sa/nginx"
	OrdersSPIFFE  = "spiffe://example.org/ns/shop/sa/orders"
	AdminSPIFFE   = "spiffe://example.org/ns/ops/sa/admin-bot"
	Issuer        = "https://idp.example.com"
	Audience      = "shop"
	TLS13Cipher   = "TLS_AES_128_GCM_SHA256"
	Listener      = "public"
	EdgeClient    = "203.0.113.7"
	Stream        = "TAPLINE"
	LedgerChain   = "ingest-1"
	slot          = 5 * time.Minute
	slotsPerDay   = int(24 * time.Hour / slot)
	slotsPerHour  = int(time.Hour / slot)
	certValidDays = 365
)

// CheckConfig is the check configuration the clean day satisfies: its
// trust domain, issuer, audience, flows, privileged set and internal
// services.
func CheckConfig() checks.Config {
	c := checks.Default()
	c.PeerIdentity.TrustDomains = []string{TrustDomain}
	c.JWTAllowlist = checks.JWTAllowlist{Issuers: []string{Issuer}, Audiences: []string{Audience}}
	c.PrivilegedRoutes = checks.PrivilegedRoutes{Routes: []string{"/admin/*"}, Principals: []string{"spiffe://example.org/ns/ops/*"}}
	c.AllowedFlows.Flows = []checks.Flow{
		{From: "spiffe://example.org/ns/edge/*", To: "orders"},
		{From: OrdersSPIFFE, To: "payments"},
		{From: "spiffe://example.org/ns/ops/*", To: "orders"},
	}
	c.IngressTLS.InternalServices = []string{"payments"}
	c.RevokedIdentities.Revoked = []checks.Revocation{{Identity: "user:mallory", RevokedAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Reason: "left the company"}}
	return c
}

// Day is a day of data being built: Clean fills it, the violation methods
// change it.
type Day struct {
	Start time.Time
	Data  Dataset
	seq   int
}

func (d *Day) id(prefix string) string {
	d.seq++
	return fmt.Sprintf("%s%08x%08x", prefix, d.Start.Unix()/86400, d.seq)
}

// Clean returns one day of clean data starting at day (UTC midnight):
// every five minutes an edge request through nginx, the tap and the app
// with a JWT user and a verified mTLS peer, a mesh call from orders to
// payments, spans of both services, a log line, a TLS connection; every
// hour an admin call by the privileged bot, a health check and two 401s;
// every four hours a failed handshake; one ingest ledger batch per hour.
// It passes every check under CheckConfig.
func Clean(day time.Time) *Day {
	d := &Day{Start: day.UTC().Truncate(24 * time.Hour)}
	notAfter := d.Start.AddDate(0, 0, certValidDays)
	for i := range slotsPerDay {
		t := d.Start.Add(time.Duration(i)*slot + 7*time.Second)
		rid, tid := d.id("r"), d.id("t")
		orderPath := fmt.Sprintf("/api/orders/%d", 1000+i)
		d.Data.Access = append(d.Data.Access,
			Access{Time: t, Source: event.SourceNginx, Service: "orders", Node: "edge-1", RequestID: rid, TraceID: tid,
				Method: "GET", Scheme: "https", Host: "shop.example.com", Path: orderPath, Route: "/api/orders/{id}",
				Status: 200, Client: EdgeClient, TLSVersion: "1.3", Cipher: TLS13Cipher},
			Access{Time: t.Add(time.Millisecond), Source: event.SourceTap, Service: "orders", Node: "node-1", RequestID: rid, TraceID: tid,
				Method: "GET", Scheme: "https", Host: "orders.internal", Path: orderPath, Route: "/api/orders/{id}",
				Status: 200, Client: "10.0.0.2", TLSVersion: "1.3", Cipher: TLS13Cipher, MTLS: true,
				SpiffeID: EdgeSPIFFE, Subject: "CN=nginx", Issuer: "CN=example.org CA", Serial: "0A1B", NotAfter: notAfter,
				Fingerprint: "AA11", Principal: "user:alice", PrincipalType: event.PrincipalJWT, JWTIssuer: Issuer,
				JWTSubject: "alice", JWTAudience: Audience, Decision: event.DecisionAllow, Policy: "orders", ConnID: d.id("c")},
			Access{Time: t.Add(2 * time.Millisecond), Source: event.SourceApp, Service: "orders", Node: "node-1", RequestID: rid, TraceID: tid,
				Method: "GET", Path: orderPath, Route: "/api/orders/{id}", Status: 200, Client: "10.0.0.3"},
			Access{Time: t.Add(5 * time.Millisecond), Source: event.SourceMesh, Service: "payments", Node: "node-2", RequestID: rid, TraceID: tid,
				Method: "POST", Scheme: "https", Host: "payments.internal", Path: "/charge", Route: "/charge", Status: 200,
				Client: "10.0.0.3", TLSVersion: "1.3", Cipher: TLS13Cipher, MTLS: true, SpiffeID: OrdersSPIFFE,
				Subject: "O=SPIFFE", Issuer: "CN=example.org CA", Serial: "0C0D", NotAfter: notAfter, Fingerprint: "BB22",
				Principal: OrdersSPIFFE, PrincipalType: event.PrincipalSPIFFE, Decision: event.DecisionAllow},
		)
		root := d.id("s")
		d.Data.Spans = append(d.Data.Spans,
			Span{Time: t.Add(time.Millisecond), TraceID: tid, SpanID: root, Service: "orders", Name: "GET /api/orders/{id}", Duration: 8 * time.Millisecond},
			Span{Time: t.Add(5 * time.Millisecond), TraceID: tid, SpanID: d.id("s"), Parent: root, Service: "payments", Name: "POST /charge", Duration: 2 * time.Millisecond},
		)
		d.Data.Logs = append(d.Data.Logs, Log{Time: t.Add(3 * time.Millisecond), Service: "orders", Body: "order listed"})
		d.Data.TLS = append(d.Data.TLS, TLSConn{Time: t, Listener: Listener, Node: "node-1", ConnID: d.id("c"), Client: "10.0.0.2",
			SNI: "orders.internal", Established: true, Version: "1.3", Cipher: TLS13Cipher, MTLS: true, SpiffeID: EdgeSPIFFE,
			Subject: "CN=nginx", Issuer: "CN=example.org CA", Serial: "0A1B", NotBefore: d.Start.AddDate(0, -1, 0),
			NotAfter: notAfter, Fingerprint: "AA11"})
		if i%slotsPerHour == 0 {
			h := t.Add(time.Minute)
			d.Data.Access = append(d.Data.Access,
				Access{Time: h, Source: event.SourceTap, Service: "orders", Node: "node-1", RequestID: d.id("r"),
					Method: "POST", Scheme: "https", Host: "orders.internal", Path: "/admin/reindex", Route: "/admin/reindex",
					Status: 200, Client: "10.0.0.9", TLSVersion: "1.3", Cipher: TLS13Cipher, MTLS: true, SpiffeID: AdminSPIFFE,
					Principal: AdminSPIFFE, PrincipalType: event.PrincipalSPIFFE, Decision: event.DecisionAllow, Policy: "admin"},
				Access{Time: h.Add(time.Second), Source: event.SourceNginx, Service: "orders", Node: "edge-1", RequestID: d.id("r"),
					Method: "GET", Scheme: "https", Host: "shop.example.com", Path: "/healthz", Route: "/healthz",
					Status: 200, Client: EdgeClient, TLSVersion: "1.3", Cipher: TLS13Cipher},
			)
			for k := range 2 {
				rid := d.id("r")
				ft := h.Add(time.Duration(10+k) * time.Second)
				d.Data.Access = append(d.Data.Access,
					Access{Time: ft, Source: event.SourceNginx, Service: "orders", Node: "edge-1", RequestID: rid,
						Method: "GET", Scheme: "https", Host: "shop.example.com", Path: "/api/orders", Route: "/api/orders",
						Status: 401, Client: EdgeClient, TLSVersion: "1.3", Cipher: TLS13Cipher},
					Access{Time: ft.Add(time.Millisecond), Source: event.SourceTap, Service: "orders", Node: "node-1", RequestID: rid,
						Method: "GET", Scheme: "https", Host: "orders.internal", Path: "/api/orders", Route: "/api/orders",
						Status: 401, Client: "10.0.0.2", TLSVersion: "1.3", Cipher: TLS13Cipher, MTLS: true, SpiffeID: EdgeSPIFFE,
						PrincipalType: event.PrincipalAnonymous, Decision: event.DecisionDeny, Reason: "jwt-missing"},
				)
			}
		}
		if i%(4*slotsPerHour) == 2 {
			d.Data.TLS = append(d.Data.TLS, TLSConn{Time: t.Add(30 * time.Second), Listener: Listener, Node: "node-1",
				ConnID: d.id("c"), Client: "198.51.100.4", SNI: "orders.internal", Failure: event.TLSFailureNoCertificate,
				FailureDetail: "tls: client didn't provide a certificate"})
		}
	}
	d.Ledger()
	return d
}

// Ledger replaces the day's ledger with one batch per hour of 10 messages,
// sequences following on across the day, written 5 minutes into the hour.
func (d *Day) Ledger() {
	d.Data.Ledger = nil
	for h := range 24 {
		seqs := make([]uint64, 10)
		for k := range seqs {
			seqs[k] = uint64(h*10 + k + 1)
		}
		start := d.Start.Add(time.Duration(h) * time.Hour)
		d.Data.Ledger = append(d.Data.Ledger, LedgerBatch{
			InsertedAt: start.Add(5 * time.Minute), Stream: Stream, Chain: LedgerChain, BatchSeq: uint64(h + 1),
			Sequences: seqs, RowsByTable: map[string]uint64{"access_events": 50, "otel_traces": 24},
			MinEventTime: start, MaxEventTime: start.Add(time.Hour - time.Second),
		})
	}
}

// TLS10 adds a successful TLS 1.0 handshake with a CBC cipher suite at
// 09:00: tls_min_version and tls_ciphers find it.
func (d *Day) TLS10() {
	d.Data.TLS = append(d.Data.TLS, TLSConn{Time: d.Start.Add(9 * time.Hour), Listener: Listener, Node: "node-1",
		ConnID: d.id("c"), Client: "10.0.0.40", SNI: "orders.internal", Established: true, Version: "1.0",
		Cipher: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"})
}

// ExpiredClientCert adds a connection at 11:00 accepted with a client
// certificate that expired three days before: cert_expiry finds it.
func (d *Day) ExpiredClientCert() {
	d.Data.TLS = append(d.Data.TLS, TLSConn{Time: d.Start.Add(11 * time.Hour), Listener: Listener, Node: "node-1",
		ConnID: d.id("c"), Client: "10.0.0.41", SNI: "orders.internal", Established: true, Version: "1.3", Cipher: TLS13Cipher,
		MTLS: true, SpiffeID: "spiffe://example.org/ns/batch/sa/legacy", Subject: "CN=legacy-batch", Issuer: "CN=example.org CA",
		Serial: "99", NotBefore: d.Start.AddDate(-1, 0, 0), NotAfter: d.Start.Add(-72 * time.Hour), Fingerprint: "DEAD"})
}

// AnonymousPrivateRoute adds five requests at 13:00 through nginx to the
// non-public /api/orders/export that no hop authenticated:
// private_route_auth finds them.
func (d *Day) AnonymousPrivateRoute() {
	for k := range 5 {
		d.Data.Access = append(d.Data.Access, Access{Time: d.Start.Add(13*time.Hour + time.Duration(k)*time.Second),
			Source: event.SourceNginx, Service: "orders", Node: "edge-1", RequestID: d.id("r"), TraceID: d.id("t"),
			Method: "GET", Scheme: "https", Host: "shop.example.com", Path: "/api/orders/export", Route: "/api/orders/export",
			Status: 200, Client: "198.51.100.23", TLSVersion: "1.3", Cipher: TLS13Cipher})
	}
}

// ForbiddenSpike adds 40 requests by user:eve answered 403 within five
// minutes at 15:00: auth_failure_spikes finds them.
func (d *Day) ForbiddenSpike() {
	for k := range 40 {
		t := d.Start.Add(15*time.Hour + time.Duration(k)*7*time.Second)
		rid := d.id("r")
		d.Data.Access = append(d.Data.Access,
			Access{Time: t, Source: event.SourceNginx, Service: "orders", Node: "edge-1", RequestID: rid,
				Method: "DELETE", Scheme: "https", Host: "shop.example.com", Path: "/api/orders/1", Route: "/api/orders/{id}",
				Status: 403, Client: "198.51.100.66", TLSVersion: "1.3", Cipher: TLS13Cipher},
			Access{Time: t.Add(time.Millisecond), Source: event.SourceTap, Service: "orders", Node: "node-1", RequestID: rid,
				Method: "DELETE", Scheme: "https", Host: "orders.internal", Path: "/api/orders/1", Route: "/api/orders/{id}",
				Status: 403, Client: "10.0.0.2", TLSVersion: "1.3", Cipher: TLS13Cipher, MTLS: true, SpiffeID: EdgeSPIFFE,
				Principal: "user:eve", PrincipalType: event.PrincipalJWT, JWTIssuer: Issuer, JWTSubject: "eve", JWTAudience: Audience,
				Decision: event.DecisionDeny, Reason: "scope-missing"},
		)
	}
}

// IngestGap removes every event between 10:00 and 10:30 (plus the slot
// ending the gap, so no event falls within 30 minutes): a 30-minute outage
// that ingest_completeness finds for every source.
func (d *Day) IngestGap() {
	from, to := d.Start.Add(10*time.Hour), d.Start.Add(10*time.Hour+31*time.Minute)
	in := func(t time.Time) bool { return !t.Before(from) && t.Before(to) }
	var acc []Access
	for _, a := range d.Data.Access {
		if !in(a.Time) {
			acc = append(acc, a)
		}
	}
	d.Data.Access = acc
	var tls []TLSConn
	for _, c := range d.Data.TLS {
		if !in(c.Time) {
			tls = append(tls, c)
		}
	}
	d.Data.TLS = tls
	var spans []Span
	for _, s := range d.Data.Spans {
		if !in(s.Time) {
			spans = append(spans, s)
		}
	}
	d.Data.Spans = spans
	var logs []Log
	for _, l := range d.Data.Logs {
		if !in(l.Time) {
			logs = append(logs, l)
		}
	}
	d.Data.Logs = logs
}

// UnknownFlow adds one verified mesh call from the cart service to
// payments at 17:00, a flow nobody declared: allowed_flows finds it.
func (d *Day) UnknownFlow() {
	d.Data.Access = append(d.Data.Access, Access{Time: d.Start.Add(17 * time.Hour), Source: event.SourceMesh,
		Service: "payments", Node: "node-2", RequestID: d.id("r"), TraceID: d.id("t"), Method: "POST", Scheme: "https",
		Host: "payments.internal", Path: "/charge", Route: "/charge", Status: 200, Client: "10.0.0.44", TLSVersion: "1.3",
		Cipher: TLS13Cipher, MTLS: true, SpiffeID: "spiffe://example.org/ns/shop/sa/cart", Principal: "spiffe://example.org/ns/shop/sa/cart",
		PrincipalType: event.PrincipalSPIFFE, Decision: event.DecisionAllow})
}

// RevokedUser adds a request at 14:00 by user:mallory, revoked under
// CheckConfig: revoked_identities finds it.
func (d *Day) RevokedUser() {
	rid := d.id("r")
	t := d.Start.Add(14 * time.Hour)
	d.Data.Access = append(d.Data.Access,
		Access{Time: t, Source: event.SourceNginx, Service: "orders", Node: "edge-1", RequestID: rid,
			Method: "GET", Scheme: "https", Host: "shop.example.com", Path: "/api/orders/7", Route: "/api/orders/{id}",
			Status: 200, Client: EdgeClient, TLSVersion: "1.3", Cipher: TLS13Cipher},
		Access{Time: t.Add(time.Millisecond), Source: event.SourceTap, Service: "orders", Node: "node-1", RequestID: rid,
			Method: "GET", Scheme: "https", Host: "orders.internal", Path: "/api/orders/7", Route: "/api/orders/{id}",
			Status: 200, Client: "10.0.0.2", TLSVersion: "1.3", Cipher: TLS13Cipher, MTLS: true, SpiffeID: EdgeSPIFFE,
			Principal: "user:mallory", PrincipalType: event.PrincipalJWT, JWTIssuer: Issuer, JWTSubject: "mallory",
			JWTAudience: Audience, Decision: event.DecisionAllow},
	)
}

// SkewedClock adds a trace at 16:00 whose payments span starts two seconds
// before the orders root span: clock_skew finds it.
func (d *Day) SkewedClock() {
	t := d.Start.Add(16 * time.Hour)
	tid, root := d.id("t"), d.id("s")
	d.Data.Spans = append(d.Data.Spans,
		Span{Time: t, TraceID: tid, SpanID: root, Service: "orders", Name: "GET /api/orders/{id}", Duration: 8 * time.Millisecond},
		Span{Time: t.Add(-2 * time.Second), TraceID: tid, SpanID: d.id("s"), Parent: root, Service: "payments", Name: "POST /charge", Duration: time.Millisecond},
	)
}
