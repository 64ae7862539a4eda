package proxy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy"
	"github.com/tapline/tapline/proxy/identity"
	"github.com/tapline/tapline/proxy/policy"
	"github.com/tapline/tapline/proxy/proxytest"
)

const (
	issuer   = "https://login.example.test"
	audience = "orders-api"
)

// TestJWT: bearer tokens through the proxy, against a JWKS served over
// HTTP that rotates.
func TestJWT(t *testing.T) {
	k1 := proxytest.NewSigningKey(t, "2025-01")
	k2 := proxytest.NewSigningKey(t, "2025-02")
	stray := proxytest.NewSigningKey(t, "unknown")
	jwks := proxytest.NewJWKSServer(t, k1)
	f := newFixture(t, fixtureOptions{configure: func(_ *fixture, c *proxy.Config) {
		c.Listeners[0].TLS.ClientAuth = proxy.ClientAuthVerifyIfGiven
		jc := identity.DefaultJWTConfig()
		jc.Issuer, jc.Audiences, jc.JWKSURL, jc.Leeway = issuer, []string{audience}, jwks.URL, 0
		c.Identity.JWT = &jc
		c.Routes = append(c.Routes, proxy.RouteConfig{Name: "orders-api", PathPrefix: "/jwt", Upstream: "app", Policy: policy.Config{
			Allow: []policy.Rule{{JWT: &policy.JWTRule{Scopes: []string{"orders:read"}}}},
		}})
	}})
	now := time.Now()
	good := proxytest.Claims{Issuer: issuer, Subject: "alice", Audience: []string{audience}, Expiry: now.Add(time.Hour), Scope: "orders:read profile"}
	with := func(m func(*proxytest.Claims)) proxytest.Claims { c := good; m(&c); return c }
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

	tests := []struct {
		name   string
		header http.Header
		reason string // "" allowed
	}{
		{"valid", bearer(k1.Sign(t, good)), ""},
		{"expired", bearer(k1.Sign(t, with(func(c *proxytest.Claims) { c.Expiry = now.Add(-time.Minute) }))), identity.ReasonJWTExpired},
		{"wrong audience", bearer(k1.Sign(t, with(func(c *proxytest.Claims) { c.Audience = []string{"billing-api"} }))), identity.ReasonJWTAudience},
		{"wrong issuer", bearer(k1.Sign(t, with(func(c *proxytest.Claims) { c.Issuer = "https://evil.test" }))), identity.ReasonJWTIssuer},
		{"unknown key id", bearer(stray.Sign(t, good)), identity.ReasonJWTUnknownKey},
		{"alg none", bearer(proxytest.UnsignedToken(t, "2025-01", map[string]any{"iss": issuer, "sub": "alice", "aud": audience, "exp": now.Add(time.Hour).Unix(), "scope": "orders:read"})), identity.ReasonJWTAlgorithm},
		{"missing scope", bearer(k1.Sign(t, with(func(c *proxytest.Claims) { c.Scope = "profile" }))), policy.ReasonJWTScopeMissing},
		{"no token", nil, policy.ReasonJWTRequired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.get(t, nil, "/jwt/orders", tc.header)
			acc := f.accessEvent(t, res.requestID())
			require.Equal(t, "orders-api", acc.Str(event.AttrPolicy))
			if tc.reason == "" {
				require.Equal(t, http.StatusOK, res.status, string(res.body))
				require.Equal(t, "alice", res.echo.Header(t, proxy.HeaderJWTSubject))
				require.Equal(t, issuer, res.echo.Header(t, proxy.HeaderJWTIssuer))
				require.Equal(t, "orders:read profile", res.echo.Header(t, proxy.HeaderJWTScopes))
				require.Equal(t, "alice", res.echo.Header(t, proxy.HeaderPrincipal))
				require.Equal(t, event.PrincipalJWT, res.echo.Header(t, proxy.HeaderPrincipalType))
				require.Equal(t, event.DecisionAllow, acc.Str(event.AttrDecision))
				require.Equal(t, policy.ReasonJWTAllowed, acc.Str(event.AttrReason))
				require.Equal(t, "alice", acc.Str(event.AttrJWTSubject))
				require.Equal(t, issuer, acc.Str(event.AttrJWTIssuer))
				require.Equal(t, audience, acc.Str(event.AttrJWTAudience))
				require.Equal(t, []any{"orders:read", "profile"}, acc.Attrs[event.AttrUserRoles])
				require.Equal(t, event.PrincipalJWT, acc.Str(event.AttrPrincipalType))
				return
			}
			require.Equal(t, http.StatusForbidden, res.status)
			require.Equal(t, "application/json", res.header.Get("Content-Type"))
			require.Equal(t, map[string]string{"error": "forbidden", "reason": tc.reason, "policy": "orders-api", "request_id": res.requestID()}, res.problem)
			require.Equal(t, event.DecisionDeny, acc.Str(event.AttrDecision))
			require.Equal(t, tc.reason, acc.Str(event.AttrReason))
			require.Equal(t, int64(http.StatusForbidden), acc.Int(event.AttrHTTPStatus))
			if tc.reason == policy.ReasonJWTScopeMissing {
				require.Equal(t, "alice", acc.Str(event.AttrPrincipal), "a valid token names the caller even when refused")
			} else {
				require.Equal(t, event.PrincipalAnonymous, acc.Str(event.AttrPrincipalType))
			}
			require.Empty(t, acc.Str(event.AttrUpstreamAddress), "a denied request never reaches the upstream")
		})
	}

	t.Run("rotated key set", func(t *testing.T) {
		jwks.Rotate(t, k1, k2)
		tok := k2.Sign(t, good)
		fetches := jwks.Fetches()
		// Inside the minimum refresh interval the new kid is unknown ...
		res := f.get(t, nil, "/jwt/orders", bearer(tok))
		require.Equal(t, identity.ReasonJWTUnknownKey, res.problem["reason"])
		require.Equal(t, fetches, jwks.Fetches())
		// ... once it has passed, the unknown kid triggers a refresh.
		f.clock.Advance(identity.DefaultJWTConfig().MinRefreshInterval + time.Second)
		res = f.get(t, nil, "/jwt/orders", bearer(tok))
		require.Equal(t, http.StatusOK, res.status, string(res.body))
		require.Equal(t, fetches+1, jwks.Fetches())
		// Tokens of the old key still pass while it is published.
		require.Equal(t, http.StatusOK, f.get(t, nil, "/jwt/orders", bearer(k1.Sign(t, good))).status)
	})

	t.Run("invalid token on a route without policy", func(t *testing.T) {
		cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "w", SPIFFEID: workloadID})
		res := f.get(t, cert, "/open", bearer(k1.Sign(t, with(func(c *proxytest.Claims) { c.Expiry = now.Add(-time.Hour) }))))
		require.Equal(t, http.StatusOK, res.status)
		require.Equal(t, workloadID, res.echo.Header(t, proxy.HeaderPrincipal), "the principal falls back to the certificate")
		require.Empty(t, res.echo.Header(t, proxy.HeaderJWTSubject))
		acc := f.accessEvent(t, res.echo.RequestID)
		require.Contains(t, acc.Str(event.AttrIdentityChain), `"reason":"jwt-expired"`)
	})

	t.Run("no client certificate on an optional-mTLS listener", func(t *testing.T) {
		res := f.get(t, nil, "/", nil)
		require.Equal(t, http.StatusOK, res.status)
		require.Equal(t, event.PrincipalAnonymous, res.echo.Header(t, proxy.HeaderPrincipalType))
		require.Empty(t, res.echo.Header(t, proxy.HeaderPrincipal))
		acc := f.accessEvent(t, res.echo.RequestID)
		mv, _ := acc.Bool(event.AttrMTLSVerified)
		require.False(t, mv)
		denied := f.get(t, nil, "/admin", nil)
		require.Equal(t, http.StatusForbidden, denied.status)
		require.Equal(t, policy.ReasonCertRequired, denied.problem["reason"])
	})
}

// TestPolicyEnforceObserve: the same refusal denies on an enforce route and
// is only recorded on an observe route.
func TestPolicyEnforceObserve(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	prod := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "p", SPIFFEID: "spiffe://example.org/ns/prod/sa/billing"})
	dev := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "d", SPIFFEID: "spiffe://example.org/ns/dev/sa/billing"})
	plain := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "plain"})
	tests := []struct {
		name     string
		cert     *proxytest.Issued
		path     string
		status   int
		decision string
		reason   string
		policy   string
	}{
		{"prod on enforce", prod, "/admin/x", 200, event.DecisionAllow, policy.ReasonSPIFFEAllowed, "admin"},
		{"dev on enforce", dev, "/admin/x", 403, event.DecisionDeny, policy.ReasonSPIFFENotAllowed, "admin"},
		{"no spiffe id on enforce", plain, "/admin", 403, event.DecisionDeny, policy.ReasonSPIFFERequired, "admin"},
		{"dev on observe", dev, "/reports/q1", 200, event.DecisionObserve, policy.ReasonSPIFFENotAllowed, "reports"},
		{"prod on observe", prod, "/reports/q1", 200, event.DecisionAllow, policy.ReasonSPIFFEAllowed, "reports"},
		{"segment boundary", dev, "/administrator", 200, event.DecisionAllow, "no-policy", "default"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.get(t, tc.cert, tc.path, nil)
			require.Equal(t, tc.status, res.status, string(res.body))
			if tc.status == http.StatusOK {
				require.Equal(t, tc.decision, res.echo.Header(t, proxy.HeaderDecision))
			} else {
				require.Equal(t, tc.reason, res.problem["reason"])
				require.Equal(t, tc.policy, res.problem["policy"])
			}
			acc := f.accessEvent(t, res.requestID())
			require.Equal(t, tc.decision, acc.Str(event.AttrDecision))
			require.Equal(t, tc.reason, acc.Str(event.AttrReason))
			require.Equal(t, tc.policy, acc.Str(event.AttrPolicy))
		})
	}
	require.Equal(t, 2.0, f.metricSum(t, "tapline_proxy_requests_total", map[string]string{"decision": event.DecisionDeny}))
	require.Equal(t, 1.0, f.metricSum(t, "tapline_proxy_requests_total", map[string]string{"decision": event.DecisionObserve, "route": "reports"}))
}
