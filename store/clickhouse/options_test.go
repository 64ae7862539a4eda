package clickhouse

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"minimal", Options{DSN: "clickhouse://localhost:9000"}, ""},
		{"full", Options{DSN: "clickhouse://u:p@a:9000,b:9000/db?dial_timeout=2s&secure=true", Cluster: "{cluster}", MaxConns: 4}, ""},
		{"tcp scheme", Options{DSN: "tcp://localhost:9000"}, ""},
		{"missing dsn", Options{}, "dsn is required"},
		{"no scheme", Options{DSN: "localhost:9000"}, "dsn must start with clickhouse://"},
		{"http scheme", Options{DSN: "http://localhost:8123"}, `dsn scheme "http" is not supported`},
		{"no host", Options{DSN: "clickhouse:///db"}, "dsn is not valid"},
		{"bad database", Options{DSN: "clickhouse://h:9000", Database: "a-b"}, "database"},
		{"bad cluster", Options{DSN: "clickhouse://h:9000", Cluster: "c'1"}, "cluster"},
		{"negative conns", Options{DSN: "clickhouse://h:9000", MaxConns: -1}, "max_conns must be >= 0"},
		{"negative timeout", Options{DSN: "clickhouse://h:9000", DialTimeout: -time.Second}, "dial_timeout must be >= 0"},
		{"cert without key", Options{DSN: "clickhouse://h:9000", TLS: TLSOptions{CertFile: "c.pem"}}, "tls.cert_file and tls.key_file must be set together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

// A DSN error never shows the password.
func TestDSNErrorHidesPassword(t *testing.T) {
	err := Options{DSN: "clickhouse://user:s3cr%zzet@host:9000/db"}.Validate()
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cr")
}

func TestDriverOptions(t *testing.T) {
	o, err := Options{DSN: "clickhouse://dsnuser:dsnpass@h1:9000,h2:9000/dsndb?dial_timeout=3s"}.driverOptions()
	require.NoError(t, err)
	require.Equal(t, []string{"h1:9000", "h2:9000"}, o.Addr)
	require.Equal(t, "dsndb", o.Auth.Database)
	require.Equal(t, "dsnuser", o.Auth.Username)
	require.Equal(t, "dsnpass", o.Auth.Password)
	require.Equal(t, 3*time.Second, o.DialTimeout)
	require.Equal(t, defaultMaxConns, o.MaxOpenConns)
	require.Nil(t, o.TLS)

	o, err = Options{DSN: "clickhouse://dsnuser:dsnpass@h1:9000/dsndb", Database: "other", Username: "u", Password: "p",
		MaxConns: 3, DialTimeout: time.Second}.driverOptions()
	require.NoError(t, err)
	require.Equal(t, "other", o.Auth.Database)
	require.Equal(t, "u", o.Auth.Username)
	require.Equal(t, "p", o.Auth.Password)
	require.Equal(t, 3, o.MaxOpenConns)
	require.LessOrEqual(t, o.MaxIdleConns, 3)
	require.Equal(t, time.Second, o.DialTimeout)

	o, err = Options{DSN: "clickhouse://h1:9000"}.driverOptions()
	require.NoError(t, err)
	require.Equal(t, "tapline", o.Auth.Database)
	require.Equal(t, defaultDialTimeout, o.DialTimeout)

	o, err = Options{DSN: "clickhouse://h1:9440?secure=true&skip_verify=true"}.driverOptions()
	require.NoError(t, err)
	require.NotNil(t, o.TLS)
	require.True(t, o.TLS.InsecureSkipVerify)

	_, err = Options{DSN: "clickhouse://h1:9000/bad-name"}.driverOptions()
	require.ErrorContains(t, err, `dsn database "bad-name"`)
}

func TestTLSBuild(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestPKI(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not pem"), 0o600))

	cfg, err := TLSOptions{CAFile: caFile, CertFile: certFile, KeyFile: keyFile, ServerName: "ch.internal"}.build(nil)
	require.NoError(t, err)
	require.NotNil(t, cfg.RootCAs)
	require.Len(t, cfg.Certificates, 1)
	require.Equal(t, "ch.internal", cfg.ServerName)
	require.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)
	require.False(t, cfg.InsecureSkipVerify)

	cfg, err = TLSOptions{Enabled: true}.build(nil)
	require.NoError(t, err)
	require.Nil(t, cfg.RootCAs, "system roots")

	given := &tls.Config{ServerName: "given", MinVersion: tls.VersionTLS13}
	cfg, err = TLSOptions{Config: given, CAFile: "/ignored"}.build(nil)
	require.NoError(t, err)
	require.Equal(t, "given", cfg.ServerName)
	require.NotSame(t, given, cfg)

	cfg, err = TLSOptions{InsecureSkipVerify: true}.build(&tls.Config{ServerName: "from-dsn"})
	require.NoError(t, err)
	require.Equal(t, "from-dsn", cfg.ServerName)
	require.True(t, cfg.InsecureSkipVerify)

	for _, tc := range []struct {
		name    string
		opts    TLSOptions
		wantErr string
	}{
		{"missing ca", TLSOptions{CAFile: filepath.Join(dir, "nope.pem")}, "tls.ca_file"},
		{"garbage ca", TLSOptions{CAFile: garbage}, "no PEM certificate found"},
		{"key mismatch", TLSOptions{CertFile: certFile, KeyFile: garbage}, "tls.cert_file/tls.key_file"},
		{"cert only", TLSOptions{CertFile: certFile}, "must be set together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.opts.build(nil)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}

	// Through Options: TLS files turn TLS on.
	o, err := Options{DSN: "clickhouse://h:9440", TLS: TLSOptions{CAFile: caFile}}.driverOptions()
	require.NoError(t, err)
	require.NotNil(t, o.TLS)
	require.NotNil(t, o.TLS.RootCAs)
}

// writeTestPKI writes a CA certificate and a client certificate and key
// signed by it.
func writeTestPKI(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "tapline"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("client.pem", "CERTIFICATE", leafDER), write("client-key.pem", "EC PRIVATE KEY", keyDER)
}
