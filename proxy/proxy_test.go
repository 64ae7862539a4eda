package proxy_test

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy"
	"github.com/tapline/tapline/proxy/identity"
	"github.com/tapline/tapline/proxy/proxytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestClientCertificates: each kind of client certificate gives the
// expected TLS event, and the accepted ones the expected access event.
func TestClientCertificates(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	now := time.Now()
	stranger := proxytest.NewCA(t, "Stranger CA")
	tests := []struct {
		name      string
		cert      *proxytest.Issued
		failure   string // "" when the handshake succeeds
		principal string
		ptype     string
		spiffe    string
	}{
		{name: "spiffe workload", cert: f.clientCA.Issue(t, proxytest.Leaf{CommonName: "orders", SPIFFEID: workloadID}),
			principal: workloadID, ptype: event.PrincipalSPIFFE, spiffe: workloadID},
		{name: "plain certificate", cert: f.clientCA.Issue(t, proxytest.Leaf{CommonName: "legacy"}),
			principal: "CN=legacy,O=Tapline Test", ptype: event.PrincipalCert},
		{name: "expired", cert: f.clientCA.Issue(t, proxytest.Leaf{CommonName: "old", NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}),
			failure: event.TLSFailureExpired},
		{name: "not yet valid", cert: f.clientCA.Issue(t, proxytest.Leaf{CommonName: "early", NotBefore: now.Add(time.Hour), NotAfter: now.Add(48 * time.Hour)}),
			failure: event.TLSFailureNotYetValid},
		{name: "unknown CA", cert: stranger.Issue(t, proxytest.Leaf{CommonName: "intruder", SPIFFEID: workloadID}),
			failure: event.TLSFailureUnknownCA},
		{name: "no certificate", failure: event.TLSFailureNoCertificate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.failure != "" {
				port, err := f.handshake(t, f.tlsConfig(tc.cert), nil)
				require.Error(t, err)
				ev := f.tlsEvent(t, port)
				est, ok := ev.Bool(event.AttrTLSEstablished)
				require.True(t, ok)
				require.False(t, est)
				require.Equal(t, tc.failure, ev.Str(event.AttrTLSFailure))
				require.Equal(t, tc.failure, ev.Str(event.AttrErrorType))
				require.NotEmpty(t, ev.Body, "the TLS library's words are kept")
				require.Equal(t, "main", ev.Str(event.AttrListener))
				require.Equal(t, event.SourceTap, ev.Str(event.AttrSource))
				require.Regexp(t, hex32, ev.Str(event.AttrConnectionID))
				mv, _ := ev.Bool(event.AttrMTLSVerified)
				require.False(t, mv)
				if tc.cert != nil {
					// The certificate that was refused is on record.
					require.Equal(t, identity.CertFromX509(tc.cert.Cert).Fingerprint, ev.Str(event.AttrTLSClientHash))
					require.Equal(t, tc.cert.Cert.Subject.String(), ev.Str(event.AttrTLSClientSubject))
				}
				return
			}
			res := f.get(t, tc.cert, "/orders/7?x=1", nil)
			require.Equal(t, http.StatusOK, res.status)
			require.Equal(t, tc.principal, res.echo.Header(t, proxy.HeaderPrincipal))
			require.Equal(t, tc.ptype, res.echo.Header(t, proxy.HeaderPrincipalType))
			require.Equal(t, tc.spiffe, res.echo.Header(t, proxy.HeaderSPIFFEID))

			acc := f.accessEvent(t, res.echo.RequestID)
			want := identity.CertFromX509(tc.cert.Cert)
			require.Equal(t, tc.principal, acc.Str(event.AttrPrincipal))
			require.Equal(t, tc.principal, acc.Str(event.AttrEnduserID))
			require.Equal(t, tc.ptype, acc.Str(event.AttrPrincipalType))
			require.Equal(t, tc.spiffe, acc.Str(event.AttrPeerSPIFFEID))
			require.Equal(t, want.Subject, acc.Str(event.AttrTLSClientSubject))
			require.Equal(t, "CN=Client CA,O=Tapline Test", acc.Str(event.AttrTLSClientIssuer))
			require.Equal(t, want.Serial, acc.Str(event.AttrTLSClientSerial))
			require.Equal(t, want.Fingerprint, acc.Str(event.AttrTLSClientHash))
			require.Equal(t, want.NotAfter.Format(time.RFC3339), acc.Str(event.AttrTLSClientNotAfter))
			mv, _ := acc.Bool(event.AttrMTLSVerified)
			require.True(t, mv)
			require.Equal(t, event.DecisionAllow, acc.Str(event.AttrDecision))
			require.Equal(t, "default", acc.Str(event.AttrPolicy))
			require.Equal(t, "no-policy", acc.Str(event.AttrReason))
			require.Equal(t, "GET", acc.Str(event.AttrHTTPMethod))
			require.Equal(t, "/orders/7", acc.Str(event.AttrURLPath))
			require.Equal(t, "x=1", acc.Str(event.AttrURLQuery))
			require.Equal(t, "/", acc.Str(event.AttrHTTPRoute))
			require.Equal(t, "https", acc.Str(event.AttrURLScheme))
			require.Equal(t, int64(200), acc.Int(event.AttrHTTPStatus))
			require.Equal(t, "200", acc.Str(event.AttrUpstreamStatus))
			require.Equal(t, f.app.Addr, acc.Str(event.AttrUpstreamAddress))
			require.Equal(t, int64(len(res.body)), acc.Int(event.AttrHTTPResponseSize))
			require.Equal(t, "1.1", acc.Str(event.AttrNetworkProtocol))
			require.Equal(t, "1.3", acc.Str(event.AttrTLSProtocolVersion))
			require.Equal(t, "test-node", acc.Str(event.AttrNode))
			require.Equal(t, "tapline-proxy", acc.Resource[event.AttrServiceName])
			require.Positive(t, acc.Int(event.AttrDurationNanos))
			var chain []identity.Entry
			require.NoError(t, json.Unmarshal([]byte(acc.Str(event.AttrIdentityChain)), &chain))
			require.Len(t, chain, 1)
			require.Equal(t, identity.SourcePeer, chain[0].Source)
			require.True(t, chain[0].Principal)

			// The access event joins its TLS connection by connection id.
			connID := acc.Str(event.AttrConnectionID)
			ev := f.events.Find(t, event.TLSEvent, 10*time.Second, func(r proxytest.Record) bool { return r.Str(event.AttrConnectionID) == connID })
			est, _ := ev.Bool(event.AttrTLSEstablished)
			require.True(t, est)
			require.Empty(t, ev.Str(event.AttrTLSFailure))
			require.Equal(t, "1.3", ev.Str(event.AttrTLSProtocolVersion))
			require.Equal(t, tls.CipherSuiteName(tls.TLS_AES_128_GCM_SHA256), ev.Str(event.AttrTLSCipher))
			require.Equal(t, "localhost", ev.Str(event.AttrTLSServerName))
			require.Empty(t, ev.Str(event.AttrTLSALPN), "this client offers no ALPN")
			require.Equal(t, want.Fingerprint, ev.Str(event.AttrTLSClientHash))
			require.Equal(t, want.NotBefore.Format(time.RFC3339), ev.Str(event.AttrTLSClientNotBefore))
			require.Equal(t, tc.spiffe, ev.Str(event.AttrPeerSPIFFEID))
			require.Equal(t, acc.Str(event.AttrClientPort), ev.Str(event.AttrClientPort))
		})
	}
	require.Equal(t, 2.0, f.metricSum(t, "tapline_proxy_tls_handshakes_total", map[string]string{"result": "ok"}))
	require.Equal(t, 1.0, f.metricSum(t, "tapline_proxy_tls_handshakes_total", map[string]string{"result": event.TLSFailureUnknownCA}))
}

// TestHandshakeFailures: failures that are not about the certificate.
func TestHandshakeFailures(t *testing.T) {
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: "http://127.0.0.1:1", configure: func(_ *fixture, c *proxy.Config) {
		c.Listeners[0].TLS.ServerNames = []string{"localhost", "*.example.test"}
		c.Listeners[0].TLS.CipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}
	}})
	cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "c", SPIFFEID: workloadID})
	tests := []struct {
		name    string
		mod     func(*tls.Config)
		failure string
	}{
		{"bad server name", func(c *tls.Config) { c.ServerName = "evil.test" }, event.TLSFailureBadSNI},
		{"wildcard name accepted at SNI, refused by name check of the client", func(c *tls.Config) {
			c.ServerName = "api.example.test"
			c.RootCAs = nil
			c.InsecureSkipVerify = true
		}, ""},
		{"version too low", func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }, event.TLSFailureVersionTooLow},
		{"no shared cipher", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
		}, event.TLSFailureNoSharedCipher},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := f.tlsConfig(cert)
			tc.mod(c)
			port, err := f.handshake(t, c, nil)
			ev := f.tlsEvent(t, port)
			if tc.failure == "" {
				est, _ := ev.Bool(event.AttrTLSEstablished)
				require.True(t, est, ev.Body)
				require.Equal(t, "api.example.test", ev.Str(event.AttrTLSServerName))
				return
			}
			require.Error(t, err)
			require.Equal(t, tc.failure, ev.Str(event.AttrTLSFailure), ev.Body)
		})
	}
	t.Run("plain http", func(t *testing.T) {
		conn, err := net.Dial("tcp", f.addr)
		require.NoError(t, err)
		defer conn.Close()
		port := conn.LocalAddr().(*net.TCPAddr).Port
		_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		require.NoError(t, err)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 256)
		n, _ := conn.Read(buf)
		require.True(t, strings.HasPrefix(string(buf[:n]), "HTTP/1.0 400 Bad Request"), string(buf[:n]))
		require.Equal(t, event.TLSFailureNotTLS, f.tlsEvent(t, port).Str(event.AttrTLSFailure))
	})
}
