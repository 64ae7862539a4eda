package policy_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy/identity"
	"github.com/tapline/tapline/proxy/policy"
	"github.com/tapline/tapline/proxy/proxytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEvaluate(t *testing.T) {
	key := proxytest.NewSigningKey(t, "k")
	cfg := identity.DefaultJWTConfig()
	cfg.Issuer, cfg.Audiences = "https://issuer", []string{"api"}
	cfg.JWKSFile = proxytest.WriteFile(t, t.TempDir(), "jwks.json", proxytest.JWKS(t, key))
	v, err := identity.NewJWTValidator(cfg, nil)
	require.NoError(t, err)
	require.NoError(t, v.Start(context.Background()))
	defer v.Close()
	token := func(scope string, extra map[string]any) *identity.Token {
		tok, err := v.Validate(context.Background(), key.Sign(t, proxytest.Claims{
			Issuer: "https://issuer", Subject: "alice", Audience: []string{"api"},
			Expiry: time.Now().Add(time.Hour), Scope: scope, Extra: extra,
		}))
		require.NoError(t, err)
		return tok
	}

	rules := policy.Config{Allow: []policy.Rule{
		{SPIFFEIDs: []string{"spiffe://example.org/ns/prod/sa/*"}},
		{JWT: &policy.JWTRule{Scopes: []string{"orders:read"}, Claims: map[string][]string{"tenant": {"acme", "globex"}}}},
		{SPIFFEIDs: []string{"spiffe://example.org/ns/batch/**"}, JWT: &policy.JWTRule{}},
	}}
	svid := "spiffe://example.org/ns/prod/sa/web"
	tests := []struct {
		name     string
		id       identity.Result
		decision string
		reason   string
	}{
		{"svid allowed", identity.Result{CertPresented: true, SPIFFEID: svid}, event.DecisionAllow, policy.ReasonSPIFFEAllowed},
		{"no certificate", identity.Result{}, event.DecisionDeny, policy.ReasonCertRequired},
		{"cert without spiffe id", identity.Result{CertPresented: true}, event.DecisionDeny, policy.ReasonSPIFFERequired},
		{"other workload", identity.Result{CertPresented: true, SPIFFEID: "spiffe://example.org/ns/dev/sa/web"}, event.DecisionDeny, policy.ReasonSPIFFENotAllowed},
		{"jwt allowed", identity.Result{TokenPresent: true, Token: token("orders:read", map[string]any{"tenant": "globex"})}, event.DecisionAllow, policy.ReasonJWTAllowed},
		{"jwt claim array", identity.Result{TokenPresent: true, Token: token("orders:read", map[string]any{"tenant": []string{"x", "acme"}})}, event.DecisionAllow, policy.ReasonJWTAllowed},
		{"first rule gives the reason", identity.Result{CertPresented: true, SPIFFEID: "spiffe://example.org/ns/dev/sa/web", TokenPresent: true, Token: token("orders:write", map[string]any{"tenant": "acme"})}, event.DecisionDeny, policy.ReasonSPIFFENotAllowed},
		{"claim mismatch, first rule reason", identity.Result{TokenPresent: true, Token: token("orders:read", map[string]any{"tenant": "initech"})}, event.DecisionDeny, policy.ReasonCertRequired},
		{"spiffe and jwt", identity.Result{CertPresented: true, SPIFFEID: "spiffe://example.org/ns/batch/sa/job", TokenPresent: true, Token: token("", nil)}, event.DecisionAllow, policy.ReasonSPIFFEJWTAllowed},
		{"spiffe without the jwt", identity.Result{CertPresented: true, SPIFFEID: "spiffe://example.org/ns/batch/sa/job"}, event.DecisionDeny, policy.ReasonSPIFFENotAllowed},
		{"invalid token wins over a matching certificate", identity.Result{CertPresented: true, SPIFFEID: svid, TokenPresent: true, TokenReason: identity.ReasonJWTExpired}, event.DecisionDeny, identity.ReasonJWTExpired},
	}
	enforce, err := policy.Compile(rules, "orders")
	require.NoError(t, err)
	observeCfg := rules
	observeCfg.Mode, observeCfg.Name = policy.ModeObserve, "orders-dry-run"
	observe, err := policy.Compile(observeCfg, "orders")
	require.NoError(t, err)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := enforce.Evaluate(&tc.id)
			require.Equal(t, policy.Decision{Decision: tc.decision, Reason: tc.reason, Policy: "orders"}, d)
			require.Equal(t, tc.decision == event.DecisionAllow, d.Forward())

			o := observe.Evaluate(&tc.id)
			want := tc.decision
			if want == event.DecisionDeny {
				want = event.DecisionObserve
			}
			require.Equal(t, policy.Decision{Decision: want, Reason: tc.reason, Policy: "orders-dry-run"}, o)
			require.True(t, o.Forward())
		})
	}
}

func TestJWTOnlyReasons(t *testing.T) {
	key := proxytest.NewSigningKey(t, "k")
	cfg := identity.DefaultJWTConfig()
	cfg.Issuer, cfg.Audiences = "https://issuer", []string{"api"}
	cfg.JWKSFile = proxytest.WriteFile(t, t.TempDir(), "jwks.json", proxytest.JWKS(t, key))
	v, err := identity.NewJWTValidator(cfg, nil)
	require.NoError(t, err)
	require.NoError(t, v.Start(context.Background()))
	defer v.Close()
	p, err := policy.Compile(policy.Config{Allow: []policy.Rule{{JWT: &policy.JWTRule{
		Scopes: []string{"a", "b"}, Claims: map[string][]string{"tenant": {"acme"}},
	}}}}, "jwt-only")
	require.NoError(t, err)
	for _, tc := range []struct {
		scope, tenant, reason string
	}{
		{"a b", "acme", policy.ReasonJWTAllowed},
		{"a", "acme", policy.ReasonJWTScopeMissing},
		{"b a c", "initech", policy.ReasonJWTClaimMismatch},
	} {
		tok, err := v.Validate(context.Background(), key.Sign(t, proxytest.Claims{
			Issuer: "https://issuer", Subject: "s", Audience: []string{"api"}, Expiry: time.Now().Add(time.Hour),
			Scope: tc.scope, Extra: map[string]any{"tenant": tc.tenant},
		}))
		require.NoError(t, err)
		require.Equal(t, tc.reason, p.Evaluate(&identity.Result{TokenPresent: true, Token: tok}).Reason)
	}
	require.Equal(t, policy.ReasonJWTRequired, p.Evaluate(&identity.Result{}).Reason)
}

func TestNoPolicyAllows(t *testing.T) {
	p, err := policy.Compile(policy.Config{}, "public")
	require.NoError(t, err)
	require.Equal(t, policy.Decision{Decision: event.DecisionAllow, Reason: policy.ReasonNoPolicy, Policy: "public"}, p.Evaluate(&identity.Result{}))
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  policy.Config
		want []string
	}{
		{"bad mode", policy.Config{Mode: "audit", Allow: []policy.Rule{{SPIFFEIDs: []string{"spiffe://a/b"}}}}, []string{`mode: must be enforce or observe, not "audit"`}},
		{"no rules", policy.Config{Mode: "observe"}, []string{"allow: must list at least one rule"}},
		{"empty rule", policy.Config{Allow: []policy.Rule{{}}}, []string{"allow[0]: a rule needs spiffe_ids, jwt or both"}},
		{"bad pattern", policy.Config{Allow: []policy.Rule{{SPIFFEIDs: []string{"spiffe://a/b", "http://x"}}}}, []string{"allow[0].spiffe_ids[1]: bad spiffe id pattern"}},
		{"empty claim", policy.Config{Allow: []policy.Rule{{JWT: &policy.JWTRule{Claims: map[string][]string{"tenant": nil}}}}}, []string{"allow[0].jwt.claims.tenant: must list at least one value"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
	require.NoError(t, policy.Config{}.Validate())
}
