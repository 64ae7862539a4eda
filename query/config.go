package query

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/tapline/tapline/config/configtype"
)

// Config is the query section of the configuration file. Keys in Validate's
// messages are relative to the section ("auth.tokens[0].role"); the top-level
// configuration reports them under "query.".
type Config struct {
	// GRPC is the gRPC listener. REST is served by the binary on the UI
	// port through Server.Handler.
	GRPC GRPCConfig `yaml:"grpc"`
	// DefaultWindow is the time window of a search that gives no start time.
	DefaultWindow time.Duration `yaml:"default_window"`
	// MaxWindow is the longest time window any request may ask for.
	MaxWindow time.Duration `yaml:"max_window"`
	// MetadataWindow is the default window of the listings (services,
	// operations, attribute keys).
	MetadataWindow time.Duration `yaml:"metadata_window"`
	// DefaultLimit is the page size of a search that gives no limit.
	DefaultLimit int `yaml:"default_limit"`
	// MaxLimit caps every page size.
	MaxLimit int `yaml:"max_limit"`
	// Timeout bounds each request, ClickHouse queries included.
	Timeout time.Duration `yaml:"timeout"`
	// TLSLookback is how long before a request its TLS connection may have
	// been opened (keep-alive), for the timeline.
	TLSLookback time.Duration `yaml:"tls_lookback"`
	// MaxTimelineSpans caps the spans a timeline returns.
	MaxTimelineSpans int `yaml:"max_timeline_spans"`
	// Auth is who may call the API.
	Auth AuthConfig `yaml:"auth"`
}

// GRPCConfig is the gRPC listener of the query API.
type GRPCConfig struct {
	// Listen is host:port; empty turns the gRPC listener off (REST still
	// works through the UI port).
	Listen string `yaml:"listen"`
	// TLS for the listener.
	TLS configtype.TLSServer `yaml:"tls"`
}

// Roles, from least to most privileged. A role may call every method a
// lesser role may.
const (
	RoleViewer  = "viewer"
	RoleAuditor = "auditor"
	RoleAdmin   = "admin"
)

// AuthConfig says how callers authenticate and which role they get.
type AuthConfig struct {
	// AllowAnonymous lets requests without credentials in, with
	// AnonymousRole. Off by default; requests with bad credentials are
	// refused either way.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// AnonymousRole is the role of anonymous requests (default viewer).
	AnonymousRole string `yaml:"anonymous_role"`
	// Tokens are static API tokens.
	Tokens []TokenConfig `yaml:"tokens,omitempty"`
	// OIDC accepts JWT access tokens from one issuer.
	OIDC OIDCConfig `yaml:"oidc"`
}

// TokenConfig is one static API token. Give the token itself or, to keep it
// out of the file, its SHA-256 (hex).
type TokenConfig struct {
	// Name identifies the token's holder in access events (principal
	// "token:NAME").
	Name   string            `yaml:"name"`
	Token  configtype.Secret `yaml:"token"`
	SHA256 string            `yaml:"sha256"`
	Role   string            `yaml:"role"`
}

// OIDCConfig validates JWT bearer tokens against an issuer's JWKS.
type OIDCConfig struct {
	// Issuer is the expected "iss" claim; empty turns OIDC off.
	Issuer string `yaml:"issuer"`
	// JWKSURL is where the signing keys are fetched (and refreshed).
	JWKSURL string `yaml:"jwks_url"`
	// Audience is the expected "aud" claim.
	Audience string `yaml:"audience"`
	// RoleClaim is the claim holding the caller's roles (a string or a list
	// of strings); default "roles".
	RoleClaim string `yaml:"role_claim"`
	// RoleMap maps claim values to Tapline roles; values that are already
	// role names map to themselves. The highest role wins.
	RoleMap map[string]string `yaml:"role_map,omitempty"`
	// DefaultRole is the role of a valid token whose claim names no role;
	// empty refuses such tokens.
	DefaultRole string `yaml:"default_role"`
	// RefreshInterval is how often the JWKS is fetched again.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// ClockSkew is the leeway for exp/nbf/iat.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// TLS for fetching the JWKS.
	TLS configtype.TLSClient `yaml:"tls"`
}

// Enabled reports whether OIDC tokens are accepted.
func (c OIDCConfig) Enabled() bool { return c.Issuer != "" }

// Default returns the defaults: gRPC on 127.0.0.1:8081, searches over the
// last hour by default and 31 days at most, pages of 20 (at most 1,000),
// 30 s per request, anonymous access off.
func Default() Config {
	return Config{
		GRPC:             GRPCConfig{Listen: "127.0.0.1:8081"},
		DefaultWindow:    time.Hour,
		MaxWindow:        31 * 24 * time.Hour,
		MetadataWindow:   24 * time.Hour,
		DefaultLimit:     20,
		MaxLimit:         1000,
		Timeout:          30 * time.Second,
		TLSLookback:      time.Hour,
		MaxTimelineSpans: 10000,
		Auth: AuthConfig{
			AnonymousRole: RoleViewer,
			// Empty rather than nil, so that a printed configuration loads
			// back equal.
			Tokens: []TokenConfig{},
			OIDC: OIDCConfig{
				RoleMap:         map[string]string{},
				RoleClaim:       "roles",
				RefreshInterval: 15 * time.Minute,
				ClockSkew:       time.Minute,
			},
		},
	}
}

// Validate checks the configuration and names the offending key.
func (c Config) Validate() error {
	var errs []error
	if c.GRPC.Listen != "" {
		if _, _, err := net.SplitHostPort(c.GRPC.Listen); err != nil {
			errs = append(errs, configtype.Errorf("grpc.listen", "%q is not host:port: %w", c.GRPC.Listen, err))
		}
	}
	errs = append(errs, configtype.InSection("grpc.tls", c.GRPC.TLS.Validate()))
	positive := []struct {
		key string
		d   time.Duration
	}{
		{"default_window", c.DefaultWindow},
		{"max_window", c.MaxWindow},
		{"metadata_window", c.MetadataWindow},
		{"timeout", c.Timeout},
		{"tls_lookback", c.TLSLookback},
	}
	for _, p := range positive {
		if p.d <= 0 {
			errs = append(errs, configtype.Errorf(p.key, "must be > 0, got %s", p.d))
		}
	}
	if c.DefaultWindow > c.MaxWindow && c.MaxWindow > 0 {
		errs = append(errs, configtype.Errorf("default_window", "%s exceeds max_window %s", c.DefaultWindow, c.MaxWindow))
	}
	if c.MetadataWindow > c.MaxWindow && c.MaxWindow > 0 {
		errs = append(errs, configtype.Errorf("metadata_window", "%s exceeds max_window %s", c.MetadataWindow, c.MaxWindow))
	}
	if c.MaxLimit <= 0 {
		errs = append(errs, configtype.Errorf("max_limit", "must be > 0, got %d", c.MaxLimit))
	}
	if c.DefaultLimit <= 0 || (c.MaxLimit > 0 && c.DefaultLimit > c.MaxLimit) {
		errs = append(errs, configtype.Errorf("default_limit", "must be between 1 and max_limit (%d), got %d", c.MaxLimit, c.DefaultLimit))
	}
	if c.MaxTimelineSpans <= 0 {
		errs = append(errs, configtype.Errorf("max_timeline_spans", "must be > 0, got %d", c.MaxTimelineSpans))
	}
	errs = append(errs, configtype.InSection("auth", c.Auth.Validate()))
	return errors.Join(errs...)
}

// Validate checks the auth section.
func (c AuthConfig) Validate() error {
	var errs []error
	if c.AllowAnonymous && !validRole(c.AnonymousRole) {
		errs = append(errs, configtype.Errorf("anonymous_role", "must be viewer, auditor or admin, got %q", c.AnonymousRole))
	}
	names := map[string]bool{}
	for i, t := range c.Tokens {
		key := fmt.Sprintf("tokens[%d]", i)
		switch {
		case t.Name == "":
			errs = append(errs, configtype.Errorf(key+".name", "required"))
		case names[t.Name]:
			errs = append(errs, configtype.Errorf(key+".name", "%q is used twice", t.Name))
		}
		names[t.Name] = true
		switch {
		case t.Token == "" && t.SHA256 == "":
			errs = append(errs, configtype.Errorf(key, "needs token or sha256"))
		case t.Token != "" && t.SHA256 != "":
			errs = append(errs, configtype.Errorf(key, "give token or sha256, not both"))
		case t.Token != "" && len(t.Token.Value()) < 16:
			errs = append(errs, configtype.Errorf(key+".token", "must be at least 16 characters"))
		case t.SHA256 != "" && !isHex(t.SHA256, 64):
			errs = append(errs, configtype.Errorf(key+".sha256", "must be 64 hex digits"))
		}
		if !validRole(t.Role) {
			errs = append(errs, configtype.Errorf(key+".role", "must be viewer, auditor or admin, got %q", t.Role))
		}
	}
	errs = append(errs, configtype.InSection("oidc", c.OIDC.Validate()))
	return errors.Join(errs...)
}

// Validate checks the OIDC section; an empty issuer turns it off.
func (c OIDCConfig) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	if u, err := url.Parse(c.Issuer); err != nil || u.Scheme == "" || u.Host == "" {
		errs = append(errs, configtype.Errorf("issuer", "must be a URL, got %q", c.Issuer))
	}
	if u, err := url.Parse(c.JWKSURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, configtype.Errorf("jwks_url", "must be an http(s) URL, got %q", c.JWKSURL))
	}
	if c.Audience == "" {
		errs = append(errs, configtype.Errorf("audience", "required with issuer"))
	}
	if c.RoleClaim == "" {
		errs = append(errs, configtype.Errorf("role_claim", "required with issuer"))
	}
	for k, v := range c.RoleMap {
		if !validRole(v) {
			errs = append(errs, configtype.Errorf("role_map."+k, "must be viewer, auditor or admin, got %q", v))
		}
	}
	if c.DefaultRole != "" && !validRole(c.DefaultRole) {
		errs = append(errs, configtype.Errorf("default_role", "must be empty, viewer, auditor or admin, got %q", c.DefaultRole))
	}
	if c.RefreshInterval < time.Minute {
		errs = append(errs, configtype.Errorf("refresh_interval", "must be >= 1m, got %s", c.RefreshInterval))
	}
	if c.ClockSkew < 0 {
		errs = append(errs, configtype.Errorf("clock_skew", "must be >= 0, got %s", c.ClockSkew))
	}
	errs = append(errs, configtype.InSection("tls", c.TLS.Validate()))
	return errors.Join(errs...)
}

func validRole(r string) bool { return roleRank(r) > 0 }

// roleRank orders the roles; 0 is no role.
func roleRank(r string) int {
	switch r {
	case RoleViewer:
		return 1
	case RoleAuditor:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	return strings.Trim(strings.ToLower(s), "0123456789abcdef") == ""
}
