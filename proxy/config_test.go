package proxy_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/tapline/tapline/proxy"
	"github.com/tapline/tapline/proxy/identity"
	"github.com/tapline/tapline/proxy/policy"
	"github.com/tapline/tapline/proxy/tap"
)

func decodeConfig(t *testing.T, data []byte) proxy.Config {
	t.Helper()
	cfg := proxy.Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfg))
	return cfg
}

func TestConfigFromYAML(t *testing.T) {
	data, err := os.ReadFile("testdata/proxy.yaml")
	require.NoError(t, err)
	cfg := decodeConfig(t, data)
	require.NoError(t, cfg.Validate())

	public := proxy.DefaultListener()
	public.Name, public.Address = "public", "0.0.0.0:8443"
	public.TLS.Cert, public.TLS.Key, public.TLS.ClientCA = "testdata/tls/server.pem", "testdata/tls/server-key.pem", "testdata/tls/client-ca.pem"
	public.TLS.ClientAuth, public.TLS.MinVersion = proxy.ClientAuthVerifyIfGiven, "1.3"
	public.TLS.ServerNames = []string{"orders.example.com", "*.orders.example.com"}
	public.MaxBodyBytes = 1 << 20
	mesh := proxy.DefaultListener()
	mesh.Name, mesh.Address = "mesh", "127.0.0.1:9443"
	mesh.TLS.Cert, mesh.TLS.Key, mesh.TLS.ClientCA = public.TLS.Cert, public.TLS.Key, public.TLS.ClientCA
	mesh.TLS.CipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}
	mesh.TLS.ReloadInterval = 30 * time.Second
	mesh.DisableHTTP2 = true
	orders, search := proxy.DefaultUpstream(), proxy.DefaultUpstream()
	orders.Name, orders.URL = "orders", "http://127.0.0.1:8000"
	search.Name, search.URL, search.H2C, search.ResponseHeaderTimeout = "search", "http://127.0.0.1:8001", true, 5*time.Second
	jwt := identity.DefaultJWTConfig()
	jwt.Issuer, jwt.Audiences = "https://login.example.com", []string{"orders-api"}
	jwt.JWKSURL, jwt.Algorithms = "https://login.example.com/.well-known/jwks.json", []string{"ES256"}
	tc := tap.DefaultConfig()
	tc.BufferSize = 4096
	want := proxy.Config{
		ServiceName: "orders-edge",
		Node:        "edge-1",
		Listeners:   []proxy.ListenerConfig{public, mesh},
		Upstreams:   []proxy.UpstreamConfig{orders, search},
		Routes: []proxy.RouteConfig{
			{Name: "orders-read", PathPrefix: "/orders", Upstream: "orders", Policy: policy.Config{Mode: policy.ModeObserve, Allow: []policy.Rule{
				{SPIFFEIDs: []string{"spiffe://example.org/ns/*/sa/frontend"}},
				{JWT: &policy.JWTRule{Scopes: []string{"orders:read"}, Claims: map[string][]string{"tenant": {"acme"}}}},
			}}},
			{Name: "search", Host: "search.example.com", Upstream: "search"},
		},
		Identity: proxy.IdentityConfig{JWT: &jwt, TrustedProxies: identity.TrustedProxiesConfig{
			CIDRs: []string{"10.0.0.0/8"}, SPIFFEIDs: []string{"spiffe://example.org/ns/istio-system/**"},
		}},
		Tap: tc,
	}
	require.Equal(t, want, cfg)
}

func TestConfigValidate(t *testing.T) {
	base, err := os.ReadFile("testdata/proxy.yaml")
	require.NoError(t, err)
	tests := []struct {
		name string
		mod  func(*proxy.Config)
		want []string
	}{
		{"client ca missing", func(c *proxy.Config) { c.Listeners[0].TLS.ClientCA = "" }, []string{"listeners[0].tls.client_ca: is required when client_auth is verify_if_given"}},
		{"client ca unreadable", func(c *proxy.Config) { c.Listeners[1].TLS.ClientCA = "testdata/tls/nope.pem" }, []string{"listeners[1].tls.client_ca:"}},
		{"bad client auth", func(c *proxy.Config) { c.Listeners[0].TLS.ClientAuth = "optional" }, []string{`listeners[0].tls.client_auth: must be require, verify_if_given or none, not "optional"`}},
		{"bad min version", func(c *proxy.Config) { c.Listeners[0].TLS.MinVersion = "1.1" }, []string{`listeners[0].tls.min_version: must be 1.2 or 1.3, not "1.1"`}},
		{"insecure cipher", func(c *proxy.Config) { c.Listeners[1].TLS.CipherSuites = []string{"TLS_RSA_WITH_RC4_128_SHA"} }, []string{"listeners[1].tls.cipher_suites:", "not a secure TLS 1.2 cipher suite"}},
		{"tls 1.3 cipher", func(c *proxy.Config) { c.Listeners[1].TLS.CipherSuites = []string{"TLS_AES_128_GCM_SHA256"} }, []string{"TLS 1.3 suite"}},
		{"bad address", func(c *proxy.Config) { c.Listeners[0].Address = "8443" }, []string{`listeners[0].address: "8443" is not host:port`}},
		{"duplicate listener", func(c *proxy.Config) { c.Listeners[1].Name = "public" }, []string{`listeners[1].name: "public" is used twice`}},
		{"no listeners", func(c *proxy.Config) { c.Listeners = nil }, []string{"listeners: must list at least one listener"}},
		{"bad upstream url", func(c *proxy.Config) { c.Upstreams[0].URL = "https://x" }, []string{`upstreams[0].url: "https://x" must be http://host:port`}},
		{"unknown upstream", func(c *proxy.Config) { c.Routes[1].Upstream = "nope" }, []string{`routes[1].upstream: "nope" is not one of the upstreams`}},
		{"relative prefix", func(c *proxy.Config) { c.Routes[0].PathPrefix = "orders" }, []string{"routes[0].path_prefix: must start with /"}},
		{"bad policy", func(c *proxy.Config) { c.Routes[0].Policy.Mode = "audit" }, []string{`routes[0].policy.mode: must be enforce or observe, not "audit"`}},
		{"jwt rule without jwt", func(c *proxy.Config) { c.Identity.JWT = nil }, []string{"routes[0].policy: a rule needs jwt, but identity.jwt is not configured"}},
		{"bad jwt", func(c *proxy.Config) { c.Identity.JWT.Algorithms = []string{"HS256"} }, []string{`identity.jwt.algorithms[0]: "HS256" is not allowed`}},
		{"bad trusted proxy", func(c *proxy.Config) { c.Identity.TrustedProxies.CIDRs = []string{"10.0.0.0/99"} }, []string{"identity.trusted_proxies.cidrs[0]"}},
		{"bad tap", func(c *proxy.Config) { c.Tap.BatchSize = 0 }, []string{"tap.batch_size: must be > 0"}},
		{"no routes", func(c *proxy.Config) { c.Routes = nil }, []string{"routes: must list at least one route"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := decodeConfig(t, base)
			tc.mod(&cfg)
			err := cfg.Validate()
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
	// Defaults alone describe no proxy: nothing to check for a process that
	// does not run one, but New says what is missing.
	require.False(t, proxy.Default().Configured())
	require.NoError(t, proxy.Default().Validate())
	_, err = proxy.New(proxy.Default(), nil, nil, nil)
	require.ErrorContains(t, err, "listeners[0].tls.cert: is required")
	require.ErrorContains(t, err, "routes: must list at least one route")

	dec := yaml.NewDecoder(bytes.NewReader([]byte("listeners:\n  - name: x\n    adress: 1.2.3.4:1\n")))
	dec.KnownFields(true)
	cfg := proxy.Default()
	require.ErrorContains(t, dec.Decode(&cfg), "field adress not found")
}
