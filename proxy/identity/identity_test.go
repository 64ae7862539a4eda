package identity_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy/identity"
	"github.com/tapline/tapline/proxy/proxytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCertFromX509(t *testing.T) {
	ca := proxytest.NewCA(t, "Test CA")
	svid := ca.Issue(t, proxytest.Leaf{CommonName: "orders", SPIFFEID: "spiffe://example.org/ns/prod/sa/orders"})
	c := identity.CertFromX509(svid.Cert)
	sum := sha256.Sum256(svid.Cert.Raw)
	require.Equal(t, "spiffe://example.org/ns/prod/sa/orders", c.SPIFFEID)
	require.Equal(t, "CN=orders,O=Tapline Test", c.Subject)
	require.Equal(t, "CN=Test CA,O=Tapline Test", c.Issuer)
	require.Equal(t, strings.ToUpper(hex.EncodeToString(sum[:])), c.Fingerprint)
	require.Equal(t, strings.ToUpper(hex.EncodeToString(svid.Cert.SerialNumber.Bytes())), c.Serial)
	require.Zero(t, len(c.Serial)%2, "serial is whole bytes")
	require.Equal(t, svid.Cert.NotAfter.UTC(), c.NotAfter)
	id, typ := c.Principal()
	require.Equal(t, "spiffe://example.org/ns/prod/sa/orders", id)
	require.Equal(t, event.PrincipalSPIFFE, typ)

	plain := identity.CertFromX509(ca.Issue(t, proxytest.Leaf{CommonName: "legacy"}).Cert)
	require.Empty(t, plain.SPIFFEID)
	id, typ = plain.Principal()
	require.Equal(t, "CN=legacy,O=Tapline Test", id)
	require.Equal(t, event.PrincipalCert, typ)

	// Two URI SANs: not an X509-SVID, even if one is a SPIFFE ID.
	two := ca.Issue(t, proxytest.Leaf{CommonName: "two", SPIFFEID: "spiffe://example.org/a"})
	two.Cert.URIs = append(two.Cert.URIs, two.Cert.URIs[0])
	require.Empty(t, identity.CertFromX509(two.Cert).SPIFFEID)
}

func TestSPIFFEPattern(t *testing.T) {
	tests := []struct {
		pattern string
		id      string
		want    bool
	}{
		{"spiffe://example.org/ns/prod/sa/orders", "spiffe://example.org/ns/prod/sa/orders", true},
		{"spiffe://example.org/ns/prod/sa/orders", "spiffe://example.org/ns/prod/sa/orders2", false},
		{"spiffe://example.org/ns/*/sa/frontend", "spiffe://example.org/ns/dev/sa/frontend", true},
		{"spiffe://example.org/ns/*/sa/frontend", "spiffe://example.org/ns/a/b/sa/frontend", false},
		{"spiffe://example.org/ns/prod/**", "spiffe://example.org/ns/prod/sa/x", true},
		{"spiffe://example.org/ns/prod/**", "spiffe://example.org/ns/prod", false},
		{"spiffe://example.org/ns/prod/**", "spiffe://example.org/ns/prod/", false},
		{"spiffe://example.org/ns/prod/**", "spiffe://example.org/ns/prod/a/b/c", true},
		{"spiffe://example.org/ns/*/**", "spiffe://example.org/ns/x/y", true},
		{"spiffe://example.org/ns/*/**", "spiffe://example.org/ms/x/y", false},
		{"spiffe://example.org/ns/prod/**", "spiffe://example.org/ns/production/x", false},
		{"spiffe://*/ns/prod/sa/x", "spiffe://other.org/ns/prod/sa/x", true},
		{"spiffe://example.org/**", "spiffe://evil.org/x", false},
		{"spiffe://example.org/*", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.pattern+" "+tc.id, func(t *testing.T) {
			p, err := identity.ParseSPIFFEPattern(tc.pattern)
			require.NoError(t, err)
			require.Equal(t, tc.want, p.Match(tc.id))
		})
	}
	for _, bad := range []string{"", "spiffe://", "https://example.org/x", "spiffe://example.org/[", "spiffe://example.org/**/x"} {
		_, err := identity.ParseSPIFFEPattern(bad)
		require.ErrorIs(t, err, identity.ErrBadPattern, bad)
	}
}

func TestTrustedProxies(t *testing.T) {
	tp, err := identity.NewTrustedProxies(identity.TrustedProxiesConfig{
		CIDRs:     []string{"10.0.0.0/8", "192.0.2.7"},
		SPIFFEIDs: []string{"spiffe://example.org/ns/mesh/sa/*"},
	})
	require.NoError(t, err)
	require.True(t, tp.Trusts(netip.MustParseAddr("10.1.2.3"), ""))
	require.True(t, tp.Trusts(netip.MustParseAddr("::ffff:10.1.2.3"), ""))
	require.True(t, tp.Trusts(netip.MustParseAddr("192.0.2.7"), ""))
	require.False(t, tp.Trusts(netip.MustParseAddr("192.0.2.8"), ""))
	require.True(t, tp.Trusts(netip.MustParseAddr("192.0.2.8"), "spiffe://example.org/ns/mesh/sa/sidecar"))
	require.False(t, tp.Trusts(netip.MustParseAddr("192.0.2.8"), "spiffe://example.org/ns/app/sa/sidecar"))

	_, err = identity.NewTrustedProxies(identity.TrustedProxiesConfig{CIDRs: []string{"nope"}})
	require.ErrorContains(t, err, `cidrs[0]: "nope" is not a CIDR or address`)
}

const (
	testIssuer   = "https://issuer.example"
	testAudience = "orders-api"
)

func jwtConfig(mod func(*identity.JWTConfig)) identity.JWTConfig {
	c := identity.DefaultJWTConfig()
	c.Issuer = testIssuer
	c.Audiences = []string{"other", testAudience}
	c.Leeway = 0
	mod(&c)
	return c
}

func startValidator(t *testing.T, cfg identity.JWTConfig, clock func() time.Time) *identity.JWTValidator {
	t.Helper()
	v, err := identity.NewJWTValidator(cfg, clock)
	require.NoError(t, err)
	require.NoError(t, v.Start(context.Background()))
	t.Cleanup(v.Close)
	return v
}

func TestJWTValidate(t *testing.T) {
	key := proxytest.NewSigningKey(t, "k1")
	stranger := proxytest.NewSigningKey(t, "k1") // same kid, different key
	unknown := proxytest.NewSigningKey(t, "k9")
	file := proxytest.WriteFile(t, t.TempDir(), "jwks.json", proxytest.JWKS(t, key))
	v := startValidator(t, jwtConfig(func(c *identity.JWTConfig) { c.JWKSFile = file }), nil)

	now := time.Now()
	good := proxytest.Claims{Issuer: testIssuer, Subject: "alice", Audience: []string{testAudience}, Expiry: now.Add(time.Hour), Scope: "orders:read orders:write", Extra: map[string]any{"tenant": "acme"}}
	with := func(mod func(*proxytest.Claims)) proxytest.Claims { c := good; mod(&c); return c }
	signed := key.Sign(t, good)
	parts := strings.Split(signed, ".")

	tests := []struct {
		name   string
		token  string
		reason string
	}{
		{"valid", signed, ""},
		{"expired", key.Sign(t, with(func(c *proxytest.Claims) { c.Expiry = now.Add(-time.Minute) })), identity.ReasonJWTExpired},
		{"not yet valid", key.Sign(t, with(func(c *proxytest.Claims) { c.NotBefore = now.Add(time.Hour) })), identity.ReasonJWTNotYetValid},
		{"no expiry", key.Sign(t, with(func(c *proxytest.Claims) { c.Expiry = time.Time{} })), identity.ReasonJWTExpiryMissing},
		{"wrong audience", key.Sign(t, with(func(c *proxytest.Claims) { c.Audience = []string{"billing"} })), identity.ReasonJWTAudience},
		{"wrong issuer", key.Sign(t, with(func(c *proxytest.Claims) { c.Issuer = "https://evil.example" })), identity.ReasonJWTIssuer},
		{"unknown kid", unknown.Sign(t, good), identity.ReasonJWTUnknownKey},
		{"other key same kid", stranger.Sign(t, good), identity.ReasonJWTSignature},
		{"tampered payload", parts[0] + "." + strings.Split(key.Sign(t, with(func(c *proxytest.Claims) { c.Subject = "mallory" })), ".")[1] + "." + parts[2], identity.ReasonJWTSignature},
		{"alg none", proxytest.UnsignedToken(t, "k1", map[string]any{"iss": testIssuer, "sub": "alice", "aud": testAudience, "exp": now.Add(time.Hour).Unix()}), identity.ReasonJWTAlgorithm},
		{"alg HS256", hs256Token(t), identity.ReasonJWTAlgorithm},
		{"garbage", "not-a-token", identity.ReasonJWTMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := v.Validate(context.Background(), tc.token)
			if tc.reason == "" {
				require.NoError(t, err)
				require.Equal(t, "alice", tok.Subject)
				require.Equal(t, testIssuer, tok.Issuer)
				require.Equal(t, []string{"orders:read", "orders:write"}, tok.Scopes)
				require.Equal(t, []string{"acme"}, tok.Claim("tenant"))
				require.Equal(t, "k1", tok.KeyID)
				return
			}
			require.Error(t, err)
			require.Nil(t, tok)
			require.Equal(t, tc.reason, identity.TokenReason(err), "error: %v", err)
		})
	}
}

// hs256Token signs with a shared secret that equals nothing in the JWKS: the
// classic algorithm-confusion attempt must be refused by algorithm, before
// any key is tried.
func hs256Token(t *testing.T) string {
	tok := jwt.New()
	require.NoError(t, tok.Set(jwt.SubjectKey, "alice"))
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256(), []byte("secret")))
	require.NoError(t, err)
	return string(b)
}

func TestJWTKeyRotationURL(t *testing.T) {
	old := proxytest.NewSigningKey(t, "2024")
	next := proxytest.NewSigningKey(t, "2025")
	srv := proxytest.NewJWKSServer(t, old)
	now := time.Now()
	clock := func() time.Time { return now }
	v := startValidator(t, jwtConfig(func(c *identity.JWTConfig) {
		c.JWKSURL = srv.URL
		c.MinRefreshInterval = time.Minute
	}), clock)
	claims := proxytest.Claims{Issuer: testIssuer, Subject: "svc", Audience: []string{testAudience}, Expiry: now.Add(time.Hour)}
	ctx := context.Background()

	_, err := v.Validate(ctx, old.Sign(t, claims))
	require.NoError(t, err)
	require.Equal(t, 1, srv.Fetches())

	// Rotation: the issuer publishes the new key, then signs with it. The
	// unknown kid makes the validator re-read the set at once.
	srv.Rotate(t, old, next)
	now = now.Add(2 * time.Minute)
	tok, err := v.Validate(ctx, next.Sign(t, claims))
	require.NoError(t, err)
	require.Equal(t, "2025", tok.KeyID)
	require.Equal(t, 2, srv.Fetches())

	// Unknown kids do not hammer the JWKS endpoint.
	stray := proxytest.NewSigningKey(t, "stray")
	for range 5 {
		_, err = v.Validate(ctx, stray.Sign(t, claims))
		require.Equal(t, identity.ReasonJWTUnknownKey, identity.TokenReason(err))
	}
	require.Equal(t, 2, srv.Fetches())

	// The old key is withdrawn: after the next permitted refresh its tokens fail.
	srv.Rotate(t, next)
	now = now.Add(2 * time.Minute)
	_, err = v.Validate(ctx, stray.Sign(t, claims)) // triggers the refresh
	require.Error(t, err)
	_, err = v.Validate(ctx, old.Sign(t, claims))
	require.Equal(t, identity.ReasonJWTUnknownKey, identity.TokenReason(err))
}

func TestJWTKeysFromFileRefresh(t *testing.T) {
	dir := t.TempDir()
	a := proxytest.NewSigningKey(t, "a")
	b := proxytest.NewSigningKey(t, "b")
	file := proxytest.WriteFile(t, dir, "jwks.json", proxytest.JWKS(t, a))
	v := startValidator(t, jwtConfig(func(c *identity.JWTConfig) {
		c.JWKSFile = file
		c.RefreshInterval = 20 * time.Millisecond
		c.MinRefreshInterval = time.Hour
	}), nil)
	claims := proxytest.Claims{Issuer: testIssuer, Subject: "svc", Audience: []string{testAudience}, Expiry: time.Now().Add(time.Hour)}
	proxytest.WriteFile(t, dir, "jwks.json", proxytest.JWKS(t, b))
	require.Eventually(t, func() bool {
		_, err := v.Validate(context.Background(), b.Sign(t, claims))
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)

	// A broken file leaves the last good set in place.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jwks.json"), []byte("{broken"), 0o600))
	time.Sleep(60 * time.Millisecond) // several refresh ticks; nothing to poll for
	_, err := v.Validate(context.Background(), b.Sign(t, claims))
	require.NoError(t, err)
}

func TestJWTConfigValidate(t *testing.T) {
	c := identity.DefaultJWTConfig()
	c.Algorithms = []string{"none", "HS256", "XX1"}
	c.JWKSFile, c.JWKSURL = "a", "b"
	err := c.Validate()
	require.Error(t, err)
	for _, want := range []string{
		"issuer: is required",
		"audiences: must name at least one audience",
		"jwks_file: exactly one of jwks_file and jwks_url",
		`algorithms[0]: "none" is not allowed`,
		`algorithms[1]: "HS256" is not allowed`,
		`algorithms[2]: unknown algorithm "XX1"`,
	} {
		require.ErrorContains(t, err, want)
	}
	v, err := identity.NewJWTValidator(jwtConfig(func(c *identity.JWTConfig) { c.JWKSFile = filepath.Join(t.TempDir(), "missing.json") }), nil)
	require.NoError(t, err)
	require.ErrorContains(t, v.Start(context.Background()), "read jwks file")
	v.Close()
}

func TestResolvePrecedence(t *testing.T) {
	ca := proxytest.NewCA(t, "CA")
	key := proxytest.NewSigningKey(t, "k")
	file := proxytest.WriteFile(t, t.TempDir(), "jwks.json", proxytest.JWKS(t, key))
	v := startValidator(t, jwtConfig(func(c *identity.JWTConfig) { c.JWKSFile = file }), nil)
	r := identity.NewResolver(v)

	svid := identity.CertFromX509(ca.Issue(t, proxytest.Leaf{CommonName: "w", SPIFFEID: "spiffe://example.org/ns/a/sa/caller"}).Cert)
	mesh := identity.CertFromX509(ca.Issue(t, proxytest.Leaf{CommonName: "m", SPIFFEID: "spiffe://example.org/ns/mesh/sa/sidecar"}).Cert)
	legacy := identity.CertFromX509(ca.Issue(t, proxytest.Leaf{CommonName: "legacy"}).Cert)
	valid := "Bearer " + key.Sign(t, proxytest.Claims{Issuer: testIssuer, Subject: "alice", Audience: []string{testAudience}, Expiry: time.Now().Add(time.Hour)})
	expired := "Bearer " + key.Sign(t, proxytest.Claims{Issuer: testIssuer, Subject: "alice", Audience: []string{testAudience}, Expiry: time.Now().Add(-time.Hour)})
	xfcc := `By=spiffe://example.org/ns/mesh/sa/sidecar;Hash=abcd;Subject="CN=first";URI=spiffe://example.org/ns/edge/sa/gw,By=spiffe://example.org/ns/mesh/sa/sidecar;Hash=ef01;Subject="CN=caller";URI=spiffe://example.org/ns/b/sa/caller`

	tests := []struct {
		name          string
		req           identity.Request
		principal     string
		typ           string
		spiffe        string
		tokenReason   string
		certPresented bool
		sources       []string
	}{
		{"nobody", identity.Request{}, "", event.PrincipalAnonymous, "", "", false, nil},
		{"svid", identity.Request{Peer: &svid}, svid.SPIFFEID, event.PrincipalSPIFFE, svid.SPIFFEID, "", true, []string{"peer"}},
		{"plain cert", identity.Request{Peer: &legacy}, legacy.Subject, event.PrincipalCert, "", "", true, []string{"peer"}},
		{"jwt over svid", identity.Request{Peer: &svid, Authorization: valid}, "alice", event.PrincipalJWT, svid.SPIFFEID, "", true, []string{"jwt", "peer"}},
		{"expired jwt falls back", identity.Request{Peer: &svid, Authorization: expired}, svid.SPIFFEID, event.PrincipalSPIFFE, svid.SPIFFEID, identity.ReasonJWTExpired, true, []string{"jwt", "peer"}},
		{"basic auth ignored", identity.Request{Authorization: "Basic YTpi"}, "", event.PrincipalAnonymous, "", "", false, nil},
		{"xfcc untrusted", identity.Request{Peer: &svid, XFCC: xfcc}, svid.SPIFFEID, event.PrincipalSPIFFE, svid.SPIFFEID, "", true, []string{"xfcc", "peer"}},
		{"xfcc trusted", identity.Request{Peer: &mesh, PeerTrusted: true, XFCC: xfcc}, "spiffe://example.org/ns/b/sa/caller", event.PrincipalSPIFFE, "spiffe://example.org/ns/b/sa/caller", "", true, []string{"xfcc", "xfcc", "peer"}},
		{"xfcc trusted malformed", identity.Request{Peer: &mesh, PeerTrusted: true, XFCC: `By=";`}, mesh.SPIFFEID, event.PrincipalSPIFFE, mesh.SPIFFEID, "", true, []string{"xfcc", "peer"}},
		{"jwt over trusted xfcc", identity.Request{Peer: &mesh, PeerTrusted: true, XFCC: xfcc, Authorization: valid}, "alice", event.PrincipalJWT, "spiffe://example.org/ns/b/sa/caller", "", true, []string{"jwt", "xfcc", "xfcc", "peer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := r.Resolve(context.Background(), tc.req)
			require.Equal(t, tc.principal, res.Principal)
			require.Equal(t, tc.typ, res.PrincipalType)
			require.Equal(t, tc.spiffe, res.SPIFFEID)
			require.Equal(t, tc.tokenReason, res.TokenReason)
			require.Equal(t, tc.certPresented, res.CertPresented)
			var chain []identity.Entry
			require.NoError(t, json.Unmarshal([]byte(res.ChainJSON()), &chain))
			var sources []string
			principals := 0
			for _, e := range chain {
				sources = append(sources, e.Source)
				if e.Principal {
					principals++
					require.Equal(t, tc.principal, e.ID)
				}
			}
			require.Equal(t, tc.sources, sources)
			if tc.principal != "" {
				require.Equal(t, 1, principals)
			}
		})
	}
}

func TestResolveWithoutJWTConfigured(t *testing.T) {
	res := identity.NewResolver(nil).Resolve(context.Background(), identity.Request{Authorization: "Bearer abc.def.ghi"})
	require.False(t, res.TokenPresent)
	require.Equal(t, event.PrincipalAnonymous, res.PrincipalType)
	require.Len(t, res.Chain, 1)
	require.Equal(t, identity.ReasonJWTNotConfigured, res.Chain[0].Reason)
}
