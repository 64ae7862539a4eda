package checks_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/compliance/catalog"
	"github.com/tapline/tapline/compliance/checks"
	"github.com/tapline/tapline/compliance/compliancetest"
	"github.com/tapline/tapline/compliance/report"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/schema"
)

// rollupDays is five days of data (the first is the handshake baseline)
// with violations on whole days and on the partial days at the edges of a
// period that starts and ends at noon, plus what only the rollup queries
// aggregate: clock skew both ways, a handshake-failure burst, a
// certificate near expiry, a foreign token issuer, an old TLS version at
// the edge and a service without telemetry.
func rollupDays(start time.Time) compliancetest.Dataset {
	var all compliancetest.Dataset
	for i := range 5 {
		d := compliancetest.Clean(start.AddDate(0, 0, i))
		at := func(h time.Duration) time.Time { return d.Start.Add(h) }
		switch i {
		case 1: // a partial day: only its afternoon is in the period
			d.TLS10()
			d.UnknownFlow()
			d.ForbiddenSpike()
			d.Data.Access = append(d.Data.Access, compliancetest.Access{Time: at(20 * time.Hour), Source: event.SourceNginx,
				Service: "orders", Node: "edge-1", RequestID: "r-lag", Method: "GET", Scheme: "https", Host: "shop.example.com",
				Path: "/api/orders/3", Route: "/api/orders/{id}", Status: 200, Client: compliancetest.EdgeClient, TLSVersion: "1.1",
				Cipher: "TLS_RSA_WITH_AES_128_CBC_SHA", Ingested: at(20*time.Hour + 25*time.Minute)})
		case 2:
			d.ExpiredClientCert()
			d.IngestGap()
			d.SkewedClock()
			for k := range 30 {
				d.Data.TLS = append(d.Data.TLS, compliancetest.TLSConn{Time: at(8*time.Hour + time.Duration(k)*time.Minute),
					Listener: compliancetest.Listener, Node: "node-1", ConnID: "burst", Client: "198.51.100.9",
					Failure: event.TLSFailureUnknownCA, FailureDetail: "unknown authority"})
			}
			d.Data.Access = append(d.Data.Access, compliancetest.Access{Time: at(9 * time.Hour), Source: event.SourceMesh,
				Service: "inventory", Node: "node-3", RequestID: "r-inv", Method: "GET", Scheme: "https", Host: "inventory.internal",
				Path: "/stock", Route: "/stock", Status: 200, Client: "10.0.0.50", TLSVersion: "1.3", Cipher: compliancetest.TLS13Cipher,
				MTLS: true, SpiffeID: compliancetest.OrdersSPIFFE, Principal: compliancetest.OrdersSPIFFE,
				PrincipalType: event.PrincipalSPIFFE, Decision: event.DecisionAllow,
				Subject: "CN=soon", Serial: "51", NotAfter: at(10 * 24 * time.Hour), Fingerprint: "50AA",
				Ingested: at(9*time.Hour - 5*time.Second)})
		case 3:
			d.AnonymousPrivateRoute()
			d.RevokedUser()
			d.Data.Access = append(d.Data.Access, compliancetest.Access{Time: at(7 * time.Hour), Source: event.SourceTap,
				Service: "orders", Node: "node-1", RequestID: "r-jwt", Method: "GET", Scheme: "https", Host: "orders.internal",
				Path: "/api/orders/9", Route: "/api/orders/{id}", Status: 200, Client: "10.0.0.2", TLSVersion: "1.3",
				Cipher: compliancetest.TLS13Cipher, Principal: "user:zed", PrincipalType: event.PrincipalJWT,
				JWTIssuer: "https://evil.example", JWTSubject: "zed", JWTAudience: "shop", Decision: event.DecisionAllow})
		case 4: // a partial day: only its morning is in the period
			d.TLS10()
			d.ExpiredClientCert()
			d.Data.TLS = append(d.Data.TLS, compliancetest.TLSConn{Time: at(3 * time.Hour), Listener: compliancetest.Listener,
				Node: "node-9", ConnID: "c-lag", Client: "10.0.0.2", Established: true, Version: "1.3", Cipher: compliancetest.TLS13Cipher,
				Ingested: at(3*time.Hour + 40*time.Minute)})
		}
		if i == 1 || i == 3 {
			acrossMidnight(&d.Data, d.Start.AddDate(0, 0, 1), i)
		}
		all.Access = append(all.Access, d.Data.Access...)
		all.TLS = append(all.TLS, d.Data.TLS...)
		all.Spans = append(all.Spans, d.Data.Spans...)
		all.Logs = append(all.Logs, d.Data.Logs...)
		if i == 2 {
			all.Ledger = d.Data.Ledger
		}
	}
	return all
}

// acrossMidnight adds requests and traces around midnight, where the
// periods of the tests below switch between source tables and rollups,
// for the per-request and per-trace rollups: hops and spans on both sides
// of midnight, of two services (one outside the scoped test's scope),
// guarded on one side only, a trace with two roots.
func acrossMidnight(d *compliancetest.Dataset, midnight time.Time, n int) {
	at := func(ms int) time.Time { return midnight.Add(time.Duration(ms) * time.Millisecond) }
	id := func(s string) string { return fmt.Sprintf("%s-%d", s, n) }
	hop := func(ms int, src, service, rid, path string, authed bool) compliancetest.Access {
		a := compliancetest.Access{Time: at(ms), Source: src, Service: service, Node: "node-1", RequestID: rid,
			Method: "GET", Scheme: "https", Host: "orders.internal", Path: path, Route: path, Status: 200,
			Client: "10.0.0.9", TLSVersion: "1.3", Cipher: compliancetest.TLS13Cipher}
		if authed {
			a.MTLS, a.SpiffeID, a.Principal, a.PrincipalType = true, compliancetest.OrdersSPIFFE, compliancetest.OrdersSPIFFE, event.PrincipalSPIFFE
			a.Decision = event.DecisionAllow
		}
		return a
	}
	d.Access = append(d.Access,
		// unauthenticated on both sides of midnight: one exception
		hop(-100, event.SourceNginx, "orders", id("r-mid-open"), "/api/orders/export", false),
		hop(100, event.SourceApp, "orders", id("r-mid-open"), "/api/orders/export", false),
		// authenticated after midnight only: no exception
		hop(-200, event.SourceNginx, "orders", id("r-mid-auth"), "/api/orders/export", false),
		hop(200, event.SourceTap, "orders", id("r-mid-auth"), "/api/orders/export", true),
		// a public probe and a private route in one request; the private
		// hop is the subject
		hop(-300, event.SourceNginx, "orders", id("r-mid-mixed"), "/healthz", false),
		hop(300, event.SourceApp, "orders", id("r-mid-mixed"), "/api/orders/internal", false),
		// authenticated only by a payments hop: an exception where the
		// scope leaves payments out
		hop(-400, event.SourceNginx, "orders", id("r-mid-scope"), "/api/orders/scoped", false),
		hop(400, event.SourceMesh, "payments", id("r-mid-scope"), "/charge", true),
	)
	span := func(ms int, trace, spanID, parent, service string) compliancetest.Span {
		return compliancetest.Span{Time: at(ms), TraceID: trace, SpanID: spanID, Parent: parent, Service: service,
			Name: "GET /x", Duration: time.Millisecond}
	}
	trace := func(k int) string { return fmt.Sprintf("%030x%02x", k, n) }
	t1, t2, t3, t4 := trace(0xa1), trace(0xa2), trace(0xa3), trace(0xa4)
	d.Spans = append(d.Spans,
		// root after midnight, an earlier child before it (and a later one)
		span(400, t1, "r1", "", "orders"),
		span(-300, t1, "c1", "r1", "payments"),
		span(500, t1, "c2", "r1", "orders"),
		// the earliest child is of a service outside the scoped test's
		// scope; the next one is not early enough
		span(-200, t2, "r2", "", "orders"),
		span(-900, t2, "c3", "r2", "payments"),
		span(-250, t2, "c4", "r2", "orders"),
		// two roots: not judged
		span(-100, t3, "r3", "", "orders"),
		span(600, t3, "r4", "", "orders"),
		span(-800, t3, "c5", "r3", "payments"),
		// early children of both services: the payments one is the
		// earliest, the orders one where the scope leaves payments out
		span(300, t4, "r5", "", "orders"),
		span(-900, t4, "c6", "r5", "payments"),
		span(-100, t4, "c7", "r5", "orders"),
	)
}

// comparable drops what differs by design between the two ways of
// running a check: the query text and the rollup parameters.
func comparable(out checks.Outcome) []report.CheckResult {
	var cs []report.CheckResult
	for _, c := range out.Checks {
		c.Queries, c.Params = nil, nil
		cs = append(cs, c)
	}
	return cs
}

func param(c report.CheckResult, name string) string {
	for _, p := range c.Params {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// TestRollupsGiveTheRawResults runs every check reading the source tables
// only and reading the rollups for whole days, and requires the same
// results: populations, per-day results, exceptions, samples, messages.
func TestRollupsGiveTheRawResults(t *testing.T) {
	ctx := context.Background()
	eng := compliancetest.Engine(t)
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -8)
	data := rollupDays(start)
	require.NoError(t, compliancetest.Insert(ctx, eng, data))
	cat, err := catalog.Load()
	require.NoError(t, err)
	fw, err := cat.Framework("iso27001")
	require.NoError(t, err)
	cfg := compliancetest.CheckConfig()
	cfg.HandshakeFailures.BaselineDays = 1
	cfg.LoggingCoverage.ObservedSources = []string{event.SourceNginx, event.SourceMesh}
	day := func(i int) time.Time { return start.AddDate(0, 0, i) }

	compare := func(t *testing.T, from, to time.Time, scope report.Scope, wantRollupFrom time.Time) checks.Outcome {
		t.Helper()
		env := checks.Env{From: from, To: to, Seed: 7, Samples: 3, Scope: scope}
		env.RawOnly = true
		raw, err := checks.Run(ctx, eng, cat, fw, cfg, env, checks.IDs())
		require.NoError(t, err)
		env.RawOnly = false
		rolled, err := checks.Run(ctx, eng, cat, fw, cfg, env, checks.IDs())
		require.NoError(t, err)
		require.Equal(t, comparable(raw), comparable(rolled))
		require.Equal(t, raw.Integrity, rolled.Integrity)
		used := 0
		for _, c := range rolled.Checks {
			if rf := param(c, "rollup_from"); rf != "" {
				used++
				if c.ID != "handshake_failures" { // it reads a baseline before the period
					require.Equal(t, wantRollupFrom.Format("2006-01-02 15:04:05"), rf[:19], c.ID)
				}
			}
			require.Empty(t, param(raw.Checks[0], "rollup_from"), "RawOnly reads no rollup")
		}
		require.GreaterOrEqual(t, used, 12, "most checks read the rollups")
		exceptions := 0
		for _, c := range raw.Checks {
			exceptions += len(c.Exceptions)
			require.NotContains(t, c.Message, "query:", "%s: every query runs", c.ID)
		}
		require.Greater(t, exceptions, 15, "the data has findings to compare")
		return raw
	}
	// subjects lists a check's exceptions as "day subject".
	subjects := func(out checks.Outcome, id string) []string {
		var s []string
		for _, c := range out.Checks {
			if c.ID == id {
				for _, e := range c.Exceptions {
					s = append(s, e.Day+" "+e.Subject)
				}
			}
		}
		return s
	}
	ymd := func(i int) string { return day(i).Format(time.DateOnly) }

	t.Run("partial edge days", func(t *testing.T) {
		raw := compare(t, day(1).Add(12*time.Hour), day(4).Add(12*time.Hour), report.Scope{}, day(2))
		// The requests and traces across midnight (acrossMidnight) are
		// found both ways, the ones guarded on the other side not.
		prs := subjects(raw, "private_route_auth")
		require.Contains(t, prs, ymd(1)+" orders /api/orders/export")
		require.Contains(t, prs, ymd(1)+" orders /api/orders/internal")
		require.Contains(t, prs, ymd(3)+" orders /api/orders/export")
		require.NotContains(t, prs, ymd(1)+" orders /api/orders/scoped")
		cs := subjects(raw, "clock_skew")
		require.Contains(t, cs, ymd(2)+" span before root: payments under orders")
		require.Contains(t, cs, ymd(1)+" span before root: payments under orders")
	})
	t.Run("whole days", func(t *testing.T) {
		compare(t, day(1), day(5), report.Scope{}, day(1))
	})
	t.Run("scoped", func(t *testing.T) {
		raw := compare(t, day(1).Add(12*time.Hour), day(4).Add(12*time.Hour),
			report.Scope{Services: []string{"orders", "inventory"}, Listeners: []string{"nothing-*"}}, day(2))
		require.Contains(t, subjects(raw, "private_route_auth"), ymd(1)+" orders /api/orders/scoped",
			"the payments hop that authenticated it is out of scope")
		cs := subjects(raw, "clock_skew")
		require.NotContains(t, cs, ymd(2)+" span before root: payments under orders")
		require.Contains(t, cs, ymd(2)+" span before root: orders under orders",
			"without its payments child, trace a4's orders child is the earliest")
	})
	// A day whose rollup does not count its source rows (rows stored
	// before the views existed, a backfill run twice) is read from the
	// source tables: results stay the same.
	t.Run("a rollup that disagrees", func(t *testing.T) {
		require.NoError(t, eng.Exec(ctx, "INSERT INTO compliance_access_daily (Day, Source, ServiceName, Rows) VALUES ({d:Date}, 'nginx', 'orders', 3)",
			store.Params{"d": day(2).Format(time.DateOnly)}))
		compare(t, day(1).Add(12*time.Hour), day(4).Add(12*time.Hour), report.Scope{}, day(3))
	})
}

// TestRollupsBackfillRowsStoredBefore stores rows while the per-request and
// per-trace rollups of migration 0012 do not exist yet, then applies the
// migration: its backfill counts every stored row, so the checks read the
// new rollups for the whole days and still give the source tables' results.
func TestRollupsBackfillRowsStoredBefore(t *testing.T) {
	ctx := context.Background()
	eng := compliancetest.Engine(t)
	// Back to the schema before 0012.
	for _, q := range []string{
		"DROP VIEW IF EXISTS compliance_requests_daily_mv",
		"DROP VIEW IF EXISTS compliance_traces_daily_mv",
		"DROP TABLE IF EXISTS compliance_requests_daily",
		"DROP TABLE IF EXISTS compliance_traces_daily",
		"ALTER TABLE schema_migrations DELETE WHERE Version = 12 SETTINGS mutations_sync = 2",
	} {
		require.NoError(t, eng.Exec(ctx, q, nil), q)
	}
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -8)
	require.NoError(t, compliancetest.Insert(ctx, eng, rollupDays(start)))

	opts := schema.DefaultOptions()
	opts.Database = eng.Database()
	applied, err := schema.Migrate(ctx, eng, opts)
	require.NoError(t, err)
	require.Len(t, applied, 1)
	require.Contains(t, applied[0], "0012_")

	for _, pair := range [][2]string{{"compliance_requests_daily", "access_events"}, {"compliance_traces_daily", "otel_traces"}} {
		counts := func(q string) map[string]uint64 {
			rows, err := eng.Query(ctx, q, nil)
			require.NoError(t, err)
			defer rows.Close()
			out := map[string]uint64{}
			for rows.Next() {
				var (
					d time.Time
					n uint64
				)
				require.NoError(t, rows.Scan(&d, &n))
				out[d.Format(time.DateOnly)] = n
			}
			require.NoError(t, rows.Err())
			return out
		}
		source := counts("SELECT toDate(Timestamp, 'UTC') AS d, count() FROM " + pair[1] + " GROUP BY d")
		require.Len(t, source, 5, pair[1])
		require.Equal(t, source, counts("SELECT Day, sum(Rows) FROM "+pair[0]+" GROUP BY Day"), pair[0])
	}

	cat, err := catalog.Load()
	require.NoError(t, err)
	fw, err := cat.Framework("soc2")
	require.NoError(t, err)
	env := checks.Env{From: start.AddDate(0, 0, 1), To: start.AddDate(0, 0, 4), Seed: 3, Samples: 2}
	ids := []string{"private_route_auth", "clock_skew"}
	rolled, err := checks.Run(ctx, eng, cat, fw, compliancetest.CheckConfig(), env, ids)
	require.NoError(t, err)
	env.RawOnly = true
	raw, err := checks.Run(ctx, eng, cat, fw, compliancetest.CheckConfig(), env, ids)
	require.NoError(t, err)
	require.Equal(t, comparable(raw), comparable(rolled))
	for _, c := range rolled.Checks {
		require.Equal(t, env.From.Format("2006-01-02 15:04:05"), param(c, "rollup_from")[:19], c.ID)
		require.NotEmpty(t, c.Exceptions, c.ID)
	}
}
