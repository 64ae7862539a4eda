package checks_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/compliance/catalog"
	"github.com/tapline/tapline/compliance/checks"
	"github.com/tapline/tapline/compliance/compliancetest"
	"github.com/tapline/tapline/compliance/report"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/store"
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

	compare := func(t *testing.T, from, to time.Time, scope report.Scope, wantRollupFrom time.Time) {
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
	}

	t.Run("partial edge days", func(t *testing.T) {
		compare(t, day(1).Add(12*time.Hour), day(4).Add(12*time.Hour), report.Scope{}, day(2))
	})
	t.Run("whole days", func(t *testing.T) {
		compare(t, day(1), day(5), report.Scope{}, day(1))
	})
	t.Run("scoped", func(t *testing.T) {
		compare(t, day(1).Add(12*time.Hour), day(4).Add(12*time.Hour),
			report.Scope{Services: []string{"orders", "inventory"}, Listeners: []string{"nothing-*"}}, day(2))
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
