package pki_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/demo/pki"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func parse(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	block, _ := pem.Decode(data)
	require.NotNil(t, block, path)
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return c
}

func TestEnsure(t *testing.T) {
	dir := pki.Dir(t.TempDir() + "/tls")
	now := time.Now()
	made, err := pki.Ensure(string(dir), nil, now)
	require.NoError(t, err)
	require.True(t, made)

	ca := parse(t, dir.CertFile(pki.CA))
	require.True(t, ca.IsCA)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	assert.Equal(t, ca.Raw, parse(t, dir.CertFile(pki.ClientsCA)).Raw)

	for _, name := range []string{pki.Server, pki.Proxy} {
		c := parse(t, dir.CertFile(name))
		_, err := c.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		assert.NoError(t, err, name)
		assert.NoError(t, c.VerifyHostname("127.0.0.1"), name)
		assert.NoError(t, c.VerifyHostname("proxy"), name)
	}

	for _, want := range pki.Clients() {
		t.Run(want.Name, func(t *testing.T) {
			c := parse(t, dir.CertFile(want.Name))
			assert.Equal(t, want.CommonName, c.Subject.CommonName)
			if want.SPIFFEID == "" {
				assert.Empty(t, c.URIs)
			} else {
				require.Len(t, c.URIs, 1, "an X509-SVID has exactly one URI SAN")
				assert.Equal(t, want.SPIFFEID, c.URIs[0].String())
			}
			opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
			_, err := c.Verify(opts)
			if want.Expired {
				var invalid x509.CertificateInvalidError
				require.ErrorAs(t, err, &invalid)
				assert.Equal(t, x509.Expired, invalid.Reason)
				assert.True(t, c.NotAfter.Before(now))
			} else {
				assert.NoError(t, err)
			}
			_, err = tls.LoadX509KeyPair(dir.CertFile(want.Name), dir.KeyFile(want.Name))
			assert.NoError(t, err, "key matches")
			st, err := os.Stat(dir.KeyFile(want.Name))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "private keys are not readable by others")
		})
	}

	// A second run keeps what the first made.
	made, err = pki.Ensure(string(dir), nil, now.Add(time.Hour))
	require.NoError(t, err)
	assert.False(t, made)
	assert.Equal(t, ca.Raw, parse(t, dir.CertFile(pki.CA)).Raw)
}

func TestClientTLS(t *testing.T) {
	dir := pki.Dir(t.TempDir())
	_, err := pki.Ensure(string(dir), []string{"example.test"}, time.Now())
	require.NoError(t, err)
	cfg, err := dir.ClientTLS(pki.Checkout.Name)
	require.NoError(t, err)
	require.Len(t, cfg.Certificates, 1)
	assert.NotNil(t, cfg.RootCAs)
	anon, err := dir.ClientTLS("")
	require.NoError(t, err)
	assert.Empty(t, anon.Certificates)
	_, err = dir.ClientTLS("nobody")
	assert.ErrorContains(t, err, "certificate nobody")
	_, err = pki.Dir(t.TempDir()).ClientTLS("")
	assert.ErrorContains(t, err, "certificates:")
	// The host names given are the server certificates'.
	assert.NoError(t, parse(t, dir.CertFile(pki.Server)).VerifyHostname("example.test"))
}
