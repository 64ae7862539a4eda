package bus_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/bus/bustest"
)

// testCA issues a CA and a server certificate for 127.0.0.1, and writes the
// CA to a PEM file.
func testCA(t *testing.T) (caFile string, serverCert tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tapline test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "nats"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)

	caFile = filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600))
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestConnectTLS(t *testing.T) {
	caFile, cert := testCA(t)
	url := startServer(t, func(o *server.Options) {
		o.TLS = true
		o.TLSTimeout = 5
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})

	t.Run("trusted CA", func(t *testing.T) {
		cfg := bus.Default()
		cfg.URL, cfg.TLS.CA = url, caFile
		require.NoError(t, cfg.Validate())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		nc, js, err := bus.Connect(ctx, cfg, nil)
		require.NoError(t, err)
		defer nc.Close()
		state, err := nc.TLSConnectionState()
		require.NoError(t, err)
		assert.True(t, state.HandshakeComplete)
		_, _, err = bus.EnsureStream(ctx, js, cfg)
		require.NoError(t, err)
	})
	t.Run("unknown CA", func(t *testing.T) {
		cfg := bus.Default()
		cfg.URL, cfg.TLS.Enabled = url, true // system roots do not know the test CA
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _, err := bus.Connect(ctx, cfg, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "certificate")
	})
}

func TestReconnectsAfterServerRestart(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	cfg := bustest.Config()
	first, err := bus.StartEmbedded(ctx, cfg, dir, nil)
	require.NoError(t, err)
	cfg.Embedded.Listen = first.Addr() // the same port after the restart

	nc, js, err := bus.Connect(ctx, cfg, nil)
	require.NoError(t, err)
	defer nc.Close()
	_, _, err = bus.EnsureStream(ctx, js, cfg)
	require.NoError(t, err)

	require.NoError(t, first.Shutdown(ctx))
	require.Eventually(t, func() bool { return !nc.IsConnected() }, 10*time.Second, 10*time.Millisecond)

	second, err := bus.StartEmbedded(ctx, cfg, dir, nil)
	require.NoError(t, err)
	defer second.Shutdown(context.Background())
	require.Eventually(t, nc.IsConnected, 20*time.Second, 10*time.Millisecond)

	_, err = js.Publish(ctx, bus.SubjectLogs, []byte("after restart"))
	require.NoError(t, err)
}
