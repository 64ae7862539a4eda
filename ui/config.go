package ui

import (
	"errors"
	"net/url"
	"time"

	"github.com/tapline/tapline/config/configtype"
)

// Config is the ui section of the configuration file. Keys in Validate's
// messages are relative to the section.
type Config struct {
	// Enabled serves the UI at / on the HTTP listener.
	Enabled bool `yaml:"enabled"`
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// MaxSessions caps the sessions kept in memory; the oldest is dropped
	// when a new one would exceed it.
	MaxSessions int `yaml:"max_sessions"`
	// SecureCookie is "auto" (the session cookie is Secure when the
	// request came over TLS) or "always" (for TLS terminated in front of
	// Tapline).
	SecureCookie string `yaml:"secure_cookie"`
	// OIDC is sign-in through an OpenID Connect provider (authorization
	// code flow with PKCE). Off while issuer is empty.
	OIDC OIDCConfig `yaml:"oidc"`
}

// OIDCConfig is the UI's OpenID Connect client. The token the provider
// returns is passed to the query API, which must accept it
// (query.auth.oidc with the same issuer).
type OIDCConfig struct {
	// Issuer is the provider's issuer URL (discovery at
	// Issuer/.well-known/openid-configuration); empty turns SSO off.
	Issuer       string            `yaml:"issuer"`
	ClientID     string            `yaml:"client_id"`
	ClientSecret configtype.Secret `yaml:"client_secret"`
	// RedirectURL is this UI's callback as the provider knows it:
	// https://tapline.example.org/auth/callback.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes requested besides openid.
	Scopes []string `yaml:"scopes,omitempty"`
	// APIToken is the token the UI sends to the query API: access_token
	// (default) or id_token.
	APIToken string `yaml:"api_token"`
	// TLS for talking to the provider.
	TLS configtype.TLSClient `yaml:"tls"`
}

// Enabled reports whether SSO sign-in is offered.
func (c OIDCConfig) Enabled() bool { return c.Issuer != "" }

// Default returns the defaults: the UI on, sessions of 12 hours, at most
// 10,000 of them, Secure cookies over TLS, no SSO.
func Default() Config {
	return Config{
		Enabled:      true,
		SessionTTL:   12 * time.Hour,
		MaxSessions:  10000,
		SecureCookie: "auto",
		OIDC:         OIDCConfig{APIToken: "access_token", Scopes: []string{"profile", "email"}},
	}
}

// Validate checks the section and names the offending key.
func (c Config) Validate() error {
	var errs []error
	if c.SessionTTL < time.Minute {
		errs = append(errs, configtype.Errorf("session_ttl", "must be at least 1m, got %s", c.SessionTTL))
	}
	if c.MaxSessions < 1 {
		errs = append(errs, configtype.Errorf("max_sessions", "must be > 0, got %d", c.MaxSessions))
	}
	switch c.SecureCookie {
	case "auto", "always":
	default:
		errs = append(errs, configtype.Errorf("secure_cookie", "%q is not one of auto, always", c.SecureCookie))
	}
	errs = append(errs, configtype.InSection("oidc", c.OIDC.Validate()))
	return errors.Join(errs...)
}

// Validate checks the OIDC client; an empty issuer turns it off.
func (c OIDCConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, configtype.Errorf("issuer", "want an http(s) URL, got %q", c.Issuer))
	}
	if c.ClientID == "" {
		errs = append(errs, configtype.Errorf("client_id", "is required with an issuer"))
	}
	if u, err := url.Parse(c.RedirectURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, configtype.Errorf("redirect_url", "want the absolute URL of /auth/callback, got %q", c.RedirectURL))
	}
	switch c.APIToken {
	case "access_token", "id_token":
	default:
		errs = append(errs, configtype.Errorf("api_token", "%q is not one of access_token, id_token", c.APIToken))
	}
	errs = append(errs, configtype.InSection("tls", c.TLS.Validate()))
	return errors.Join(errs...)
}
