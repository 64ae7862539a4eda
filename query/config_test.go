package query_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/tapline/tapline/query"
)

func loadConfig(t *testing.T, data []byte) query.Config {
	t.Helper()
	cfg := query.Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg))
	return cfg
}

func TestConfigDefaultIsValid(t *testing.T) {
	require.NoError(t, query.Default().Validate())
}

func TestConfigLoad(t *testing.T) {
	data, err := os.ReadFile("testdata/config.yaml")
	require.NoError(t, err)
	got := loadConfig(t, data)
	want := query.Default()
	want.GRPC.Listen = "0.0.0.0:9081"
	want.DefaultWindow = 30 * time.Minute
	want.MaxWindow = 168 * time.Hour
	want.MetadataWindow = 12 * time.Hour
	want.DefaultLimit, want.MaxLimit = 50, 500
	want.Timeout = 10 * time.Second
	want.TLSLookback = 2 * time.Hour
	want.MaxTimelineSpans = 5000
	want.Auth = query.AuthConfig{
		AllowAnonymous: true,
		AnonymousRole:  query.RoleViewer,
		Tokens: []query.TokenConfig{
			{Name: "ci", Token: "ci-token-0123456789abcdef", Role: query.RoleAuditor},
			{Name: "ops", SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Role: query.RoleAdmin},
		},
		OIDC: query.OIDCConfig{
			Issuer: "https://idp.example.org", JWKSURL: "https://idp.example.org/.well-known/jwks.json",
			Audience: "tapline", RoleClaim: "groups", RoleMap: map[string]string{"sec-auditors": query.RoleAuditor},
			DefaultRole: query.RoleViewer, RefreshInterval: 5 * time.Minute, ClockSkew: 30 * time.Second,
		},
	}
	require.Equal(t, want, got)
	require.NoError(t, got.Validate())
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		err  string
	}{
		{"bad listen", "grpc: {listen: nonsense}", "grpc.listen"},
		{"zero window", "default_window: 0s", "default_window: must be > 0"},
		{"default above max", "default_window: 48h\nmax_window: 24h\nmetadata_window: 1h", "default_window: 48h0m0s exceeds max_window"},
		{"negative limit", "max_limit: -1", "max_limit: must be > 0"},
		{"default limit above max", "default_limit: 2000", "default_limit: must be between 1 and max_limit"},
		{"anonymous role", "auth: {allow_anonymous: true, anonymous_role: root}", "auth.anonymous_role"},
		{"token without secret", "auth: {tokens: [{name: a, role: viewer}]}", "auth.tokens[0]: needs token or sha256"},
		{"token and hash", "auth: {tokens: [{name: a, role: viewer, token: abcdefghijklmnopq, sha256: " + sha64 + "}]}", "not both"},
		{"short token", "auth: {tokens: [{name: a, role: viewer, token: short}]}", "auth.tokens[0].token: must be at least 16"},
		{"bad hash", "auth: {tokens: [{name: a, role: viewer, sha256: xyz}]}", "auth.tokens[0].sha256"},
		{"bad role", "auth: {tokens: [{name: a, role: god, token: abcdefghijklmnopq}]}", "auth.tokens[0].role"},
		{"duplicate name", "auth: {tokens: [{name: a, role: viewer, token: abcdefghijklmnopq}, {name: a, role: viewer, token: bbcdefghijklmnopq}]}", "auth.tokens[1].name"},
		{"oidc without jwks", "auth: {oidc: {issuer: 'https://idp', audience: x}}", "auth.oidc.jwks_url"},
		{"oidc without audience", "auth: {oidc: {issuer: 'https://idp', jwks_url: 'https://idp/jwks'}}", "auth.oidc.audience"},
		{"oidc role map", "auth: {oidc: {issuer: 'https://idp', jwks_url: 'https://idp/jwks', audience: x, role_map: {g: boss}}}", "auth.oidc.role_map.g"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loadConfig(t, []byte(tt.yaml))
			require.ErrorContains(t, cfg.Validate(), tt.err)
		})
	}
}

const sha64 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestConfigUnknownKey(t *testing.T) {
	cfg := query.Default()
	dec := yaml.NewDecoder(bytes.NewReader([]byte("max_limt: 5")))
	dec.KnownFields(true)
	require.ErrorContains(t, dec.Decode(&cfg), "max_limt")
}
