package checks_test

import (
	"context"
	"os"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/compliance/catalog"
	"github.com/tapline/tapline/compliance/checks"
	"github.com/tapline/tapline/compliance/compliancetest"
	"github.com/tapline/tapline/compliance/report"
	"github.com/tapline/tapline/store/chdb/chdbtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	_ = chdbtest.RemoveDir()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("github.com/ebitengine/purego.callbackWrap")); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			code = 1
		}
	}
	os.Exit(code)
}

// day is the day the scenarios use: two days ago, inside the tables' TTL.
func day() time.Time { return time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2) }

// runAll runs every check over the day and returns the outcome.
func runAll(t *testing.T, d *compliancetest.Day, cfg checks.Config, waivers []checks.Waiver) checks.Outcome {
	t.Helper()
	ctx := context.Background()
	eng := compliancetest.Engine(t)
	require.NoError(t, compliancetest.Insert(ctx, eng, d.Data))
	cat, err := catalog.Load()
	require.NoError(t, err)
	fw, err := cat.Framework("iso27001")
	require.NoError(t, err)
	env := checks.Env{From: d.Start, To: d.Start.Add(24 * time.Hour), Seed: 42, Samples: 3,
		UIBaseURL: "https://tapline.example.com/ui/", Waivers: waivers}
	out, err := checks.Run(ctx, eng, cat, fw, cfg, env, checks.IDs())
	require.NoError(t, err)
	require.Len(t, out.Checks, 17)
	return out
}

type finding struct{ check, subject string }

func findings(out checks.Outcome) []finding {
	var fs []finding
	for _, c := range out.Checks {
		for _, e := range c.Exceptions {
			fs = append(fs, finding{c.ID, e.Subject})
		}
	}
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].check != fs[j].check {
			return fs[i].check < fs[j].check
		}
		return fs[i].subject < fs[j].subject
	})
	return fs
}

func TestCleanDayPassesEveryCheck(t *testing.T) {
	out := runAll(t, compliancetest.Clean(day()), compliancetest.CheckConfig(), nil)
	for _, c := range out.Checks {
		require.Equal(t, report.Pass, c.Result, "%s: %s %v", c.ID, c.Message, c.Exceptions)
		require.NotZero(t, c.Population, c.ID)
		require.NotEmpty(t, c.Queries, c.ID)
		require.NotEmpty(t, c.Params, c.ID)
	}
	require.True(t, out.Integrity.LedgerOK, out.Integrity.LedgerError)
	require.Len(t, out.Integrity.LedgerHeads, 1)
	require.Equal(t, uint64(24), out.Integrity.LedgerHeads[0].LastBatch)
}

func TestViolationsGiveExactlyTheirFindings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		add    func(*compliancetest.Day)
		want   []finding
		result map[string]report.Result
	}{
		{"tls 1.0 connection", (*compliancetest.Day).TLS10, []finding{
			{"tls_ciphers", "listener public TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
			{"tls_min_version", "listener public TLS 1.0"},
		}, nil},
		{"expired client certificate", (*compliancetest.Day).ExpiredClientCert, []finding{
			{"cert_expiry", "CN=legacy-batch (serial 99)"},
		}, nil},
		{"no identity on a private route", (*compliancetest.Day).AnonymousPrivateRoute, []finding{
			{"private_route_auth", "orders /api/orders/export"},
		}, nil},
		{"403 spike", (*compliancetest.Day).ForbiddenSpike, []finding{
			{"auth_failure_spikes", "principal user:eve"},
		}, nil},
		{"30-minute ingest gap", (*compliancetest.Day).IngestGap, []finding{
			{"ingest_completeness", "source access_events/app silent"},
			{"ingest_completeness", "source access_events/mesh silent"},
			{"ingest_completeness", "source access_events/nginx silent"},
			{"ingest_completeness", "source access_events/tap silent"},
			{"ingest_completeness", "source otel_logs silent"},
			{"ingest_completeness", "source otel_traces silent"},
			{"ingest_completeness", "source tls_connections silent"},
		}, nil},
		{"unknown flow", (*compliancetest.Day).UnknownFlow, []finding{
			{"allowed_flows", "spiffe://example.org/ns/shop/sa/cart -> payments"},
		}, nil},
		{"revoked user", (*compliancetest.Day).RevokedUser, []finding{
			{"revoked_identities", "identity user:mallory"},
		}, nil},
		{"child span before its root", (*compliancetest.Day).SkewedClock, []finding{
			{"clock_skew", "span before root: payments under orders"},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := compliancetest.Clean(day())
			tc.add(d)
			out := runAll(t, d, compliancetest.CheckConfig(), nil)
			require.Equal(t, tc.want, findings(out))
			failed := map[string]bool{}
			for _, f := range tc.want {
				failed[f.check] = true
			}
			for _, c := range out.Checks {
				want := report.Pass
				if failed[c.ID] {
					want = report.Fail
				}
				require.Equal(t, want, c.Result, "%s: %s", c.ID, c.Message)
				if failed[c.ID] {
					require.NotEmpty(t, c.Samples, "%s has no samples", c.ID)
				}
			}
		})
	}
}

func TestSamplesAreReproducibleAndLinked(t *testing.T) {
	d := compliancetest.Clean(day())
	d.ForbiddenSpike()
	ctx := context.Background()
	eng := compliancetest.Engine(t)
	require.NoError(t, compliancetest.Insert(ctx, eng, d.Data))
	cat, _ := catalog.Load()
	fw, _ := cat.Framework("soc2")
	run := func(seed uint64) []report.Sample {
		env := checks.Env{From: d.Start, To: d.Start.Add(24 * time.Hour), Seed: seed, Samples: 5, UIBaseURL: "https://ui.example/"}
		out, err := checks.Run(ctx, eng, cat, fw, compliancetest.CheckConfig(), env, []string{"auth_failure_spikes"})
		require.NoError(t, err)
		return out.Checks[0].Samples
	}
	a, b, c := run(1), run(1), run(2)
	require.Len(t, a, 5)
	require.Equal(t, a, b, "same seed, same samples")
	require.NotEqual(t, a, c, "another seed picks other samples")
	for _, s := range a {
		require.Equal(t, "principal user:eve", s.Subject)
		require.Equal(t, "https://ui.example/request/"+s.RequestID, s.RequestURL)
	}
}

func TestWaivers(t *testing.T) {
	d := compliancetest.Clean(day())
	d.UnknownFlow()
	subject := "spiffe://example.org/ns/shop/sa/cart -> payments"
	valid := checks.Waiver{ID: "W-1", Check: "allowed_flows", Subject: "spiffe://example.org/ns/shop/sa/cart -> *",
		Justification: "cart migration, ticket SEC-12", Approver: "ciso@example.com", Expires: d.Start.AddDate(0, 1, 0)}
	expired := valid
	expired.ID, expired.Expires = "W-0", d.Start.Add(-time.Hour)
	out := runAll(t, d, compliancetest.CheckConfig(), []checks.Waiver{expired, valid})
	c := out.Checks[slices.IndexFunc(out.Checks, func(c report.CheckResult) bool { return c.ID == "allowed_flows" })]
	require.Equal(t, report.Waived, c.Result, c.Message)
	require.Len(t, c.Exceptions, 1)
	require.Equal(t, subject, c.Exceptions[0].Subject)
	require.NotNil(t, c.Exceptions[0].Waiver, "the waived exception is still listed")
	require.Equal(t, "W-1", c.Exceptions[0].Waiver.ID)
	require.Equal(t, "applied", out.Waivers[1].Status)
	require.Equal(t, 1, out.Waivers[1].Covered)
	require.Equal(t, "expired", out.Waivers[0].Status)

	out = runAll(t, d, compliancetest.CheckConfig(), []checks.Waiver{expired})
	c = out.Checks[slices.IndexFunc(out.Checks, func(c report.CheckResult) bool { return c.ID == "allowed_flows" })]
	require.Equal(t, report.Fail, c.Result, "an expired waiver covers nothing")
	require.Nil(t, c.Exceptions[0].Waiver)
}

func TestMissingDataIsAnError(t *testing.T) {
	ctx := context.Background()
	eng := compliancetest.Engine(t)
	cat, _ := catalog.Load()
	fw, _ := cat.Framework("soc2")
	from := day()
	env := checks.Env{From: from, To: from.Add(24 * time.Hour), Samples: 3}
	out, err := checks.Run(ctx, eng, cat, fw, compliancetest.CheckConfig(), env, checks.IDs())
	require.NoError(t, err)
	for _, c := range out.Checks {
		require.Equal(t, report.Error, c.Result, "%s: %s", c.ID, c.Message)
	}
	require.False(t, out.Integrity.LedgerOK)

	// A check whose allow-list is empty is not configured: error too.
	cfg := compliancetest.CheckConfig()
	cfg.JWTAllowlist.Issuers = nil
	d := compliancetest.Clean(from)
	require.NoError(t, compliancetest.Insert(ctx, eng, d.Data))
	out, err = checks.Run(ctx, eng, cat, fw, cfg, env, []string{"jwt_allowlist"})
	require.NoError(t, err)
	require.Equal(t, report.Error, out.Checks[0].Result)
	require.Contains(t, out.Checks[0].Message, "compliance.checks.jwt_allowlist.issuers")
}

// TestScopeLimitsEveryCheck: a violation in a service or at a listener
// outside the scope is not reported, one inside still is, and the scope is
// bound as parameters of every query (never written into the SQL).
func TestScopeLimitsEveryCheck(t *testing.T) {
	ctx := context.Background()
	eng := compliancetest.Engine(t)
	d := compliancetest.Clean(day())
	d.UnknownFlow() // cart -> payments
	d.TLS10()       // at listener public
	require.NoError(t, compliancetest.Insert(ctx, eng, d.Data))
	cat, err := catalog.Load()
	require.NoError(t, err)
	fw, err := cat.Framework("iso27001")
	require.NoError(t, err)
	flow := finding{"allowed_flows", "spiffe://example.org/ns/shop/sa/cart -> payments"}
	tls := finding{"tls_min_version", "listener public TLS 1.0"}
	for _, tc := range []struct {
		name    string
		scope   report.Scope
		present []finding
		absent  []finding
	}{
		{"everything", report.Scope{}, []finding{flow, tls}, nil},
		{"orders only", report.Scope{Services: []string{"ord*"}}, []finding{tls}, []finding{flow}},
		{"other listeners", report.Scope{Listeners: []string{"internal-*"}}, []finding{flow}, []finding{tls}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := checks.Env{From: d.Start, To: d.Start.Add(24 * time.Hour), Seed: 42, Samples: 3, Scope: tc.scope}
			out, err := checks.Run(ctx, eng, cat, fw, compliancetest.CheckConfig(), env, checks.IDs())
			require.NoError(t, err)
			got := findings(out)
			for _, f := range tc.present {
				require.Contains(t, got, f)
			}
			for _, f := range tc.absent {
				require.NotContains(t, got, f)
			}
			for _, c := range out.Checks {
				for _, s := range c.Samples {
					for _, f := range tc.absent {
						require.NotEqual(t, f.subject, s.Subject, "%s: a sample outside the scope", c.ID)
					}
				}
				if c.ID == "evidence_integrity" {
					continue
				}
				names := map[string]string{}
				for _, p := range c.Params {
					names[p.Name] = p.Value
				}
				require.Contains(t, names, "scope_services", c.ID)
				require.Contains(t, names, "scope_listeners", c.ID)
				for _, q := range c.Queries {
					for _, s := range tc.scope.Services {
						require.NotContains(t, q.SQL, s, "%s: the scope is bound, not written into the SQL", c.ID)
					}
				}
			}
		})
	}
}
