package demo

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/config"
	"github.com/tapline/tapline/demo/pki"
)

// The configuration the stack writes is what demo/config/tapline.yaml says
// with this run's addresses, and it loads with Tapline's own loader.
func TestTaplineConfig(t *testing.T) {
	dir := t.TempDir()
	certs := pki.Dir(filepath.Join(dir, "tls"))
	_, err := pki.Ensure(string(certs), nil, time.Now())
	require.NoError(t, err)
	data, err := taplineConfig(certs, "127.0.0.1:18443", "http://127.0.0.1:18000", "demo-secret-token")
	require.NoError(t, err)
	file := filepath.Join(dir, "tapline.yaml")
	require.NoError(t, os.WriteFile(file, data, 0o600))

	cfg, err := config.Load(config.Sources{File: file, Set: []string{"data_dir=" + filepath.Join(dir, "data")}})
	require.NoError(t, err)
	p := cfg.Proxy
	require.Len(t, p.Listeners, 1)
	assert.Equal(t, "127.0.0.1:18443", p.Listeners[0].Address)
	assert.Equal(t, certs.CertFile(pki.Proxy), p.Listeners[0].TLS.Cert)
	assert.Equal(t, certs.KeyFile(pki.Proxy), p.Listeners[0].TLS.Key)
	assert.Equal(t, certs.CertFile(pki.CA), p.Listeners[0].TLS.ClientCA)
	require.Len(t, p.Upstreams, 1)
	assert.Equal(t, "http://127.0.0.1:18000", p.Upstreams[0].URL)
	// The rest is the committed file's.
	assert.Equal(t, "orders", p.ServiceName)
	assert.Len(t, p.Routes, 2)
	assert.Equal(t, []string{pki.NginxClient.SPIFFEID}, p.Identity.TrustedProxies.SPIFFEIDs)
	require.Len(t, cfg.Query.Auth.Tokens, 1)
	assert.Equal(t, "demo-secret-token", cfg.Query.Auth.Tokens[0].Token.Value())
	assert.Equal(t, "admin", cfg.Query.Auth.Tokens[0].Role)
	assert.Equal(t, []string{pki.TrustDomain}, cfg.Compliance.Checks.PeerIdentity.TrustDomains)
}

// Every SPIFFE ID the policy and the compliance configuration name belongs
// to a certificate the demo makes (or to a pattern one matches).
func TestConfigNamesDemoIdentities(t *testing.T) {
	data, err := ConfigFile(TaplineConfigFile)
	require.NoError(t, err)
	for _, c := range []pki.Cert{pki.NginxClient, pki.LegacyCart, pki.AdminConsole} {
		assert.Contains(t, string(data), c.SPIFFEID)
	}
	assert.Contains(t, string(data), pki.SPIFFE("shop", "*"), "the shop's workloads")
}
