package ui

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/oauth2"
)

// OIDC sign-in: the authorization code flow with PKCE (S256), state bound
// to the browser by a cookie, and a nonce checked in the ID token, which is
// verified against the provider's published keys. The token then given to
// the query API (access or ID token) must pass the API's own OIDC check,
// which also decides the role.

const (
	oidcCookie     = "tapline_oidc"
	oidcPendingFor = 10 * time.Minute
	oidcMaxPending = 10000
)

type oidcClient struct {
	cfg    OIDCConfig
	client *http.Client
	logger *slog.Logger

	mu       sync.Mutex
	provider *oidcProvider
	pending  map[string]oidcPending
}

// oidcProvider is what discovery tells.
type oidcProvider struct {
	Issuer        string `json:"issuer"`
	AuthEndpoint  string `json:"authorization_endpoint"`
	TokenEndpoint string `json:"token_endpoint"`
	JWKSURI       string `json:"jwks_uri"`
}

type oidcPending struct {
	nonce, verifier, next string
	expires               time.Time
}

func newOIDCClient(cfg OIDCConfig, client *http.Client, logger *slog.Logger) *oidcClient {
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
		if tlsCfg, err := cfg.TLS.Load(); err == nil && tlsCfg != nil {
			client.Transport = &http.Transport{TLSClientConfig: tlsCfg, Proxy: http.ProxyFromEnvironment}
		}
	}
	return &oidcClient{cfg: cfg, client: client, logger: logger, pending: map[string]oidcPending{}}
}

// discover reads the provider's configuration once it can be reached.
func (o *oidcClient) discover(ctx context.Context) error {
	o.mu.Lock()
	if o.provider != nil {
		o.mu.Unlock()
		return nil
	}
	o.mu.Unlock()
	u := strings.TrimSuffix(o.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return fmt.Errorf("oidc discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("oidc discovery: %s answered %s", u, resp.Status)
	}
	var p oidcProvider
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&p); err != nil {
		return fmt.Errorf("oidc discovery: %w", err)
	}
	if p.Issuer != o.cfg.Issuer {
		return fmt.Errorf("oidc discovery: the provider says its issuer is %q, configured %q", p.Issuer, o.cfg.Issuer)
	}
	if p.AuthEndpoint == "" || p.TokenEndpoint == "" || p.JWKSURI == "" {
		return errors.New("oidc discovery: authorization_endpoint, token_endpoint or jwks_uri missing")
	}
	o.mu.Lock()
	o.provider = &p
	o.mu.Unlock()
	return nil
}

func (o *oidcClient) oauth(p *oidcProvider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret.Value(), RedirectURL: o.cfg.RedirectURL,
		Endpoint: oauth2.Endpoint{AuthURL: p.AuthEndpoint, TokenURL: p.TokenEndpoint},
		Scopes:   append([]string{"openid"}, o.cfg.Scopes...),
	}
}

// begin records a pending sign-in and returns the provider URL to go to.
func (o *oidcClient) begin(ctx context.Context, now time.Time, next string) (state, target string, err error) {
	if err := o.discover(ctx); err != nil {
		return "", "", err
	}
	state, nonce, verifier := randomHex(24), randomHex(24), oauth2.GenerateVerifier()
	o.mu.Lock()
	for k, p := range o.pending {
		if now.After(p.expires) {
			delete(o.pending, k)
		}
	}
	if len(o.pending) >= oidcMaxPending {
		o.mu.Unlock()
		return "", "", errors.New("too many sign-ins in progress")
	}
	o.pending[state] = oidcPending{nonce: nonce, verifier: verifier, next: next, expires: now.Add(oidcPendingFor)}
	p := o.provider
	o.mu.Unlock()
	target = o.oauth(p).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce))
	return state, target, nil
}

// finish exchanges the code, verifies the ID token and returns the token
// to use with the API and where to go next.
func (o *oidcClient) finish(ctx context.Context, now time.Time, state, code string) (apiToken, next string, err error) {
	o.mu.Lock()
	pend, ok := o.pending[state]
	delete(o.pending, state)
	p := o.provider
	o.mu.Unlock()
	if !ok || now.After(pend.expires) || p == nil {
		return "", "", errors.New("the sign-in expired or was not started here")
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, o.client)
	tok, err := o.oauth(p).Exchange(ctx, code, oauth2.VerifierOption(pend.verifier))
	if err != nil {
		return "", "", fmt.Errorf("token exchange: %w", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return "", "", errors.New("the provider returned no ID token")
	}
	keys, err := jwk.Fetch(ctx, p.JWKSURI, jwk.WithHTTPClient(o.client))
	if err != nil {
		return "", "", fmt.Errorf("provider keys: %w", err)
	}
	idt, err := jwt.ParseString(rawID, jwt.WithKeySet(keys), jwt.WithValidate(true),
		jwt.WithIssuer(o.cfg.Issuer), jwt.WithAudience(o.cfg.ClientID), jwt.WithAcceptableSkew(time.Minute))
	if err != nil {
		return "", "", fmt.Errorf("ID token: %w", err)
	}
	var nonce string
	if err := idt.Get("nonce", &nonce); err != nil || subtle.ConstantTimeCompare([]byte(nonce), []byte(pend.nonce)) != 1 {
		return "", "", errors.New("ID token: nonce does not match")
	}
	if o.cfg.APIToken == "id_token" {
		return rawID, pend.next, nil
	}
	if tok.AccessToken == "" {
		return "", "", errors.New("the provider returned no access token")
	}
	return tok.AccessToken, pend.next, nil
}

func (s *Server) oidcLogin(c echo.Context) error {
	if s.oidc == nil {
		return &pageError{http.StatusNotFound, "single sign-on is not configured (ui.oidc)"}
	}
	state, target, err := s.oidc.begin(c.Request().Context(), s.now(), cleanNext(c.QueryParam("next")))
	if err != nil {
		s.logger.Warn("ui: SSO sign-in cannot start", "err", err)
		return &pageError{http.StatusServiceUnavailable, "single sign-on is not available right now: " + err.Error()}
	}
	// Lax: the provider's redirect back is a cross-site navigation.
	setCookie(c, oidcCookie, state, oidcPendingFor, s.secureCookie(c.Request()), http.SameSiteLaxMode)
	return c.Redirect(http.StatusFound, target)
}

func (s *Server) oidcCallback(c echo.Context) error {
	if s.oidc == nil {
		return &pageError{http.StatusNotFound, "single sign-on is not configured (ui.oidc)"}
	}
	q := c.QueryParams()
	if e := q.Get("error"); e != "" {
		return s.loginFailed(c, http.StatusUnauthorized, "/search", "Single sign-on failed: "+e+" "+q.Get("error_description"))
	}
	state := q.Get("state")
	ck, err := c.Request().Cookie(oidcCookie)
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(state)) != 1 {
		return s.loginFailed(c, http.StatusForbidden, "/search", "Single sign-on did not start in this browser. Try again.")
	}
	setCookie(c, oidcCookie, "", -1, s.secureCookie(c.Request()), http.SameSiteLaxMode)
	token, next, err := s.oidc.finish(c.Request().Context(), s.now(), state, q.Get("code"))
	if err != nil {
		s.logger.Warn("ui: SSO sign-in failed", "err", err)
		return s.loginFailed(c, http.StatusUnauthorized, "/search", "Single sign-on failed: "+err.Error())
	}
	caller, err := s.be.Auth.Authenticate(s.apiContext(c), token)
	if err != nil {
		return s.loginFailed(c, http.StatusForbidden, next, "Your sign-in worked, but the query API does not accept it: "+apiError(err).msg)
	}
	s.startSession(c, token, caller, "sso")
	// A same-site step, so the SameSite=Strict session cookie goes along.
	t := html.EscapeString(next)
	return c.HTML(http.StatusOK, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=`+t+
		`"><title>Signed in · Tapline</title></head><body><p><a href="`+t+`">Continue</a></p></body></html>`)
}
