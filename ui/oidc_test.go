package ui_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/query"
	"github.com/tapline/tapline/query/querytest"
	"github.com/tapline/tapline/ui"
	"github.com/tapline/tapline/ui/uitest"
)

// provider is a minimal OpenID provider for the sign-in flow. No OpenID
// provider ships as a Debian package, so the test brings its own: discovery,
// authorization (which signs the user in at once), the token endpoint with
// its PKCE check, and the keys.
type provider struct {
	t   *testing.T
	srv *httptest.Server
	key jwk.Key

	mu        sync.Mutex
	challenge string // code_challenge of the pending authorization
	nonce     string
	code      string
	verified  bool // the token request carried the right code_verifier
}

const (
	uiClientID  = "tapline-ui"
	apiAudience = "tapline-api"
)

func newProvider(t *testing.T) *provider {
	raw, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	key, err := jwk.Import(raw)
	require.NoError(t, err)
	require.NoError(t, key.Set(jwk.KeyIDKey, "k1"))
	require.NoError(t, key.Set(jwk.AlgorithmKey, jwa.RS256()))
	pub, err := jwk.PublicKeyOf(key)
	require.NoError(t, err)
	set := jwk.NewSet()
	require.NoError(t, set.AddKey(pub))
	keys, err := json.Marshal(set)
	require.NoError(t, err)

	p := &provider{t: t, key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer": p.srv.URL, "authorization_endpoint": p.srv.URL + "/authorize",
			"token_endpoint": p.srv.URL + "/token", "jwks_uri": p.srv.URL + "/jwks",
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(keys) })
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != uiClientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
			!strings.Contains(q.Get("scope"), "openid") {
			http.Error(w, "bad authorization request", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.challenge, p.nonce, p.code = q.Get("code_challenge"), q.Get("nonce"), "code-123"
		p.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		v := url.Values{"code": {"code-123"}, "state": {q.Get("state")}}
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		p.mu.Lock()
		defer p.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		p.verified = base64.RawURLEncoding.EncodeToString(sum[:]) == p.challenge
		if r.PostForm.Get("code") != p.code || !p.verified {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": p.sign(apiAudience, "", []string{"sec-team"}), "token_type": "Bearer", "expires_in": 3600,
			"id_token": p.sign(uiClientID, p.nonce, nil),
		})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) sign(aud, nonce string, roles []string) string {
	tok, err := jwt.NewBuilder().Issuer(p.srv.URL).Subject("carol@example.org").Audience([]string{aud}).
		IssuedAt(time.Now()).Expiration(time.Now().Add(time.Hour)).Build()
	require.NoError(p.t, err)
	if nonce != "" {
		require.NoError(p.t, tok.Set("nonce", nonce))
	}
	if roles != nil {
		require.NoError(p.t, tok.Set("roles", roles))
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256(), p.key))
	require.NoError(p.t, err)
	return string(signed)
}

func TestOIDCSignIn(t *testing.T) {
	p := newProvider(t)
	// The UI's callback address must be known before the UI starts: the
	// harness listens on a random port, so the test follows the provider's
	// redirect to this placeholder by hand.
	const callback = "http://tapline.invalid/auth/callback"
	h := uitest.Start(t, sharedEngine(t), uitest.Options{
		Now: func() time.Time { return querytest.Now },
		Query: func(c *query.Config) {
			c.Auth.OIDC.Issuer, c.Auth.OIDC.JWKSURL, c.Auth.OIDC.Audience = p.srv.URL, p.srv.URL+"/jwks", apiAudience
			c.Auth.OIDC.RoleMap = map[string]string{"sec-team": query.RoleAuditor}
		},
		UI: func(c *ui.Config) {
			c.OIDC.Issuer, c.OIDC.ClientID, c.OIDC.ClientSecret, c.OIDC.RedirectURL = p.srv.URL, uiClientID, "s3cret", callback
		},
	})
	// The query API loads the provider's keys in the background.
	inproc, err := ui.NewInProcess(h.Query)
	require.NoError(t, err)
	defer inproc.Close()
	require.Eventually(t, func() bool {
		_, err := inproc.Backend().Auth.Authenticate(context.Background(), p.sign(apiAudience, "", []string{"sec-team"}))
		return err == nil
	}, 20*time.Second, 100*time.Millisecond)

	c := newClient(t, h.URL)
	require.Contains(t, c.get("/login").body, `href="/auth/login?next=`)

	r := c.get("/auth/login?next=" + url.QueryEscape("/identities?range=24h"))
	require.Equal(t, http.StatusFound, r.StatusCode)
	authz := r.Header.Get("Location")
	require.True(t, strings.HasPrefix(authz, p.srv.URL+"/authorize?"), authz)
	st := cookieNamed(r.Response, "tapline_oidc")
	require.NotNil(t, st)
	require.Equal(t, http.SameSiteLaxMode, st.SameSite, "the provider's redirect back is cross-site")

	r = c.do(mustRequest(t, authz))
	require.Equal(t, http.StatusFound, r.StatusCode, r.body)
	back, err := url.Parse(r.Header.Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "tapline.invalid", back.Host)

	// A callback with another state is refused.
	forged := c.get("/auth/callback?code=code-123&state=forged")
	require.Equal(t, http.StatusForbidden, forged.StatusCode)

	r = c.get("/auth/callback?" + back.RawQuery)
	require.Equal(t, http.StatusOK, r.StatusCode, r.body)
	require.True(t, p.verified, "PKCE verifier sent")
	require.Contains(t, r.body, `http-equiv="refresh" content="0;url=/identities?range=24h"`)
	require.NotNil(t, cookieNamed(r.Response, "tapline_session"))

	page := c.get("/identities?range=24h")
	require.Equal(t, http.StatusOK, page.StatusCode, "the provider's role claim maps to auditor")
	require.Contains(t, page.body, "carol@example.org")

	// The same code cannot be used twice.
	r = c.get("/auth/callback?" + back.RawQuery)
	require.NotEqual(t, http.StatusOK, r.StatusCode)
}

func mustRequest(t *testing.T, u string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	return req
}
