package query_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/query"
	"github.com/tapline/tapline/query/querytest"
)

// idp is an OIDC issuer for tests: a real RSA key and a JWKS endpoint.
type idp struct {
	srv   *httptest.Server
	key   jwk.Key
	other jwk.Key // a key the issuer does not publish
}

const (
	idpAudience = "tapline"
)

func newIDP(t *testing.T) *idp {
	t.Helper()
	mk := func(kid string) jwk.Key {
		raw, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		k, err := jwk.Import(raw)
		require.NoError(t, err)
		require.NoError(t, k.Set(jwk.KeyIDKey, kid))
		require.NoError(t, k.Set(jwk.AlgorithmKey, jwa.RS256()))
		return k
	}
	p := &idp{key: mk("k1"), other: mk("k1")}
	pub, err := jwk.PublicKeyOf(p.key)
	require.NoError(t, err)
	set := jwk.NewSet()
	require.NoError(t, set.AddKey(pub))
	body, err := json.Marshal(set)
	require.NoError(t, err)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) issuer() string { return p.srv.URL }

// token signs a JWT; edit changes the claims before signing.
func (p *idp) token(t *testing.T, key jwk.Key, edit func(jwt.Token)) string {
	t.Helper()
	tok, err := jwt.NewBuilder().
		Issuer(p.issuer()).Subject("bob@example.org").Audience([]string{idpAudience}).
		IssuedAt(time.Now()).Expiration(time.Now().Add(time.Hour)).Build()
	require.NoError(t, err)
	require.NoError(t, tok.Set("roles", []string{"viewer"}))
	if edit != nil {
		edit(tok)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), key))
	require.NoError(t, err)
	return string(signed)
}

func withOIDC(p *idp) harnessOption {
	return func(c *query.Config, _ *query.Options) {
		c.Auth.OIDC.Issuer = p.issuer()
		c.Auth.OIDC.JWKSURL = p.srv.URL + "/jwks"
		c.Auth.OIDC.Audience = idpAudience
		c.Auth.OIDC.RoleMap = map[string]string{"sec-team": query.RoleAuditor}
	}
}

// call makes the same request over gRPC and REST with an Authorization
// header (none when authz is empty) and returns both outcomes.
func call(t *testing.T, h *harness, authz string, method string) (codes.Code, int) {
	t.Helper()
	ctx := context.Background()
	if authz != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", authz)
	}
	var (
		err  error
		path string
	)
	switch method {
	case "SearchTraces":
		_, err = h.traces.SearchTraces(ctx, &taplinev1.SearchTracesRequest{Limit: 1})
		path = "/traces?limit=1"
	case "GetIdentities":
		_, err = h.events.GetIdentities(ctx, &taplinev1.GetIdentitiesRequest{})
		path = "/identities"
	case "GetPipelineHealth":
		_, err = h.pipeline.GetPipelineHealth(ctx, &taplinev1.GetPipelineHealthRequest{})
		path = "/pipeline/health"
	default:
		t.Fatalf("unknown method %s", method)
	}
	req, rerr := http.NewRequest(http.MethodGet, h.http.URL+"/api/v1"+path, nil)
	require.NoError(t, rerr)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, rerr := http.DefaultClient.Do(req)
	require.NoError(t, rerr)
	_ = resp.Body.Close()
	return status.Code(err), resp.StatusCode
}

func TestAuth(t *testing.T) {
	eng := sharedEngine(t)
	p := newIDP(t)
	h := startServer(t, eng, withOIDC(p))
	require.Eventually(t, func() bool {
		c, _ := call(t, h, "Bearer "+p.token(t, p.key, nil), "SearchTraces")
		return c == codes.OK
	}, 10*time.Second, 50*time.Millisecond, "the JWKS is fetched")

	bearer := func(s string) string { return "Bearer " + s }
	tests := []struct {
		name   string
		authz  string
		method string
		code   codes.Code
		http   int
	}{
		{"no token", "", "SearchTraces", codes.Unauthenticated, 401},
		{"not bearer", "Basic dXNlcjpwYXNz", "SearchTraces", codes.Unauthenticated, 401},
		{"empty bearer", "Bearer ", "SearchTraces", codes.Unauthenticated, 401},
		{"unknown token", bearer("no-such-token-0123456789"), "SearchTraces", codes.Unauthenticated, 401},
		{"viewer reads traces", bearer(viewerToken), "SearchTraces", codes.OK, 200},
		{"viewer may not read identities", bearer(viewerToken), "GetIdentities", codes.PermissionDenied, 403},
		{"viewer may not read pipeline health", bearer(viewerToken), "GetPipelineHealth", codes.PermissionDenied, 403},
		{"auditor reads identities", bearer(auditorToken), "GetIdentities", codes.OK, 200},
		{"admin reads pipeline health", bearer(adminToken), "GetPipelineHealth", codes.OK, 200},
		{"jwt viewer", bearer(p.token(t, p.key, nil)), "SearchTraces", codes.OK, 200},
		{"jwt viewer may not read identities", bearer(p.token(t, p.key, nil)), "GetIdentities", codes.PermissionDenied, 403},
		{"jwt mapped role", bearer(p.token(t, p.key, func(tok jwt.Token) { _ = tok.Set("roles", []string{"staff", "sec-team"}) })), "GetIdentities", codes.OK, 200},
		{"jwt role as a string", bearer(p.token(t, p.key, func(tok jwt.Token) { _ = tok.Set("roles", "admin") })), "GetPipelineHealth", codes.OK, 200},
		{"jwt without role", bearer(p.token(t, p.key, func(tok jwt.Token) { _ = tok.Remove("roles") })), "SearchTraces", codes.PermissionDenied, 403},
		{"jwt expired", bearer(p.token(t, p.key, func(tok jwt.Token) {
			_ = tok.Set(jwt.ExpirationKey, time.Now().Add(-time.Hour))
		})), "SearchTraces", codes.Unauthenticated, 401},
		{"jwt not yet valid", bearer(p.token(t, p.key, func(tok jwt.Token) {
			_ = tok.Set(jwt.NotBeforeKey, time.Now().Add(time.Hour))
		})), "SearchTraces", codes.Unauthenticated, 401},
		{"jwt wrong audience", bearer(p.token(t, p.key, func(tok jwt.Token) { _ = tok.Set(jwt.AudienceKey, []string{"other"}) })), "SearchTraces", codes.Unauthenticated, 401},
		{"jwt wrong issuer", bearer(p.token(t, p.key, func(tok jwt.Token) { _ = tok.Set(jwt.IssuerKey, "https://evil.example") })), "SearchTraces", codes.Unauthenticated, 401},
		{"jwt signed by another key", bearer(p.token(t, p.other, nil)), "SearchTraces", codes.Unauthenticated, 401},
		{"jwt tampered", bearer(p.token(t, p.key, nil) + "x"), "SearchTraces", codes.Unauthenticated, 401},
		{"jwt unsigned", bearer("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4Iiwicm9sZXMiOlsiYWRtaW4iXX0."), "SearchTraces", codes.Unauthenticated, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, code := call(t, h, tt.authz, tt.method)
			require.Equal(t, tt.code, c, "gRPC")
			require.Equal(t, tt.http, code, "REST")
		})
	}
}

func TestAnonymousAccess(t *testing.T) {
	h := startServer(t, sharedEngine(t), func(c *query.Config, _ *query.Options) {
		c.Auth.AllowAnonymous = true
	})
	c, code := call(t, h, "", "SearchTraces")
	require.Equal(t, codes.OK, c)
	require.Equal(t, 200, code)
	c, code = call(t, h, "", "GetIdentities")
	require.Equal(t, codes.PermissionDenied, c, "anonymous callers are viewers")
	require.Equal(t, 403, code)
	c, code = call(t, h, "Bearer wrong-token-0123456789", "SearchTraces")
	require.Equal(t, codes.Unauthenticated, c, "bad credentials are refused even when anonymous access is on")
	require.Equal(t, 401, code)
}

// TestAccessRecords: every call, allowed or denied, over gRPC or REST,
// becomes an access event with source api.
func TestAccessRecords(t *testing.T) {
	eng := querytest.OpenEngine(t)
	now := time.Now().UTC()
	h := startServer(t, eng, func(_ *query.Config, o *query.Options) {
		o.Now = func() time.Time { return now }
		o.ServiceName = "tapline-query"
	})
	call(t, h, "Bearer "+viewerToken, "SearchTraces")
	call(t, h, "Bearer "+viewerToken, "GetIdentities")
	call(t, h, "", "SearchTraces")
	// Shutdown flushes the recorder.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.srv.Shutdown(ctx))

	srv := startServer(t, eng, func(c *query.Config, o *query.Options) {
		c.GRPC.Listen = "127.0.0.1:0"
		o.Now = func() time.Time { return now.Add(time.Minute) }
	})
	resp, err := srv.events.SearchEvents(withToken(viewerToken), &taplinev1.SearchEventsRequest{
		Sources: []string{"api"}, StartTime: timestamppb.New(now.Add(-time.Minute)), EndTime: timestamppb.New(now.Add(time.Second)), Limit: 100})
	require.NoError(t, err)
	type row struct {
		method, path, proto, principal, decision, reason string
		status                                           int32
	}
	var got []row
	for _, e := range resp.GetEvents() {
		require.Equal(t, "api", e.GetSource())
		require.Equal(t, "tapline-query", e.GetServiceName())
		require.Equal(t, "127.0.0.1", e.GetClientAddress())
		require.Len(t, e.GetRequestId(), 32)
		got = append(got, row{e.GetMethod(), e.GetPath(), e.GetProtocol(), e.GetIdentity().GetPrincipal(), e.GetDecision(), e.GetReason(), e.GetStatus()})
	}
	require.ElementsMatch(t, []row{
		{"POST", taplinev1.TraceService_SearchTraces_FullMethodName, "grpc", "token:viewer", "allow", "authenticated", 200},
		{"GET", "/api/v1/traces", "1.1", "token:viewer", "allow", "authenticated", 200},
		{"POST", taplinev1.EventService_GetIdentities_FullMethodName, "grpc", "token:viewer", "deny", "role-insufficient", 403},
		{"GET", "/api/v1/identities", "1.1", "token:viewer", "deny", "role-insufficient", 403},
		{"POST", taplinev1.TraceService_SearchTraces_FullMethodName, "grpc", "", "deny", "no-credentials", 401},
		{"GET", "/api/v1/traces", "1.1", "", "deny", "no-credentials", 401},
	}, got)
}
