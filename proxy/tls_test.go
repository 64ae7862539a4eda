package proxy_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy/proxytest"
)

// goUpstream is a plain Go upstream for tests about TLS, where the
// application does not matter and Python would only be slow.
func goUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Upstream-Proto", r.Proto)
		w.Header().Set("X-Upstream-Request-Id", r.Header.Get("X-Request-Id"))
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

// TestSessionResumption: a resumed session is checked against today's CA
// bundle and today's clock, not those of the handshake that issued the
// ticket.
func TestSessionResumption(t *testing.T) {
	up := goUpstream(t)
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: up.URL})
	cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "w", SPIFFEID: workloadID, NotAfter: time.Now().Add(time.Hour)})
	tc := f.tlsConfig(cert)
	tc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	connect := func() (proxytest.Record, error) {
		port, err := f.handshake(t, tc, nil)
		return f.tlsEvent(t, port), err
	}
	reloads := func() float64 {
		return f.metricSum(t, "tapline_proxy_tls_reloads_total", map[string]string{"result": "ok"})
	}

	ev, err := connect()
	require.NoError(t, err)
	resumed, _ := ev.Bool(event.AttrTLSResumed)
	require.False(t, resumed)
	ev, err = connect()
	require.NoError(t, err)
	resumed, _ = ev.Bool(event.AttrTLSResumed)
	require.True(t, resumed, "sessions resume while nothing changed")
	require.Equal(t, workloadID, ev.Str(event.AttrPeerSPIFFEID), "a resumed session still names its client")

	// The client CA is withdrawn: the session ticket must not keep it alive.
	other := proxytest.NewCA(t, "Replacement CA")
	before := reloads()
	proxytest.WriteFile(t, f.dir, "client-ca.pem", other.PEM)
	require.Eventually(t, func() bool { return reloads() > before }, 10*time.Second, 10*time.Millisecond)
	ev, err = connect()
	require.Error(t, err)
	require.Equal(t, event.TLSFailureUnknownCA, ev.Str(event.AttrTLSFailure))

	before = reloads()
	proxytest.WriteFile(t, f.dir, "client-ca.pem", f.clientCA.PEM)
	require.Eventually(t, func() bool { return reloads() > before }, 10*time.Second, 10*time.Millisecond)
	_, err = connect()
	require.NoError(t, err)

	// Time passes beyond the certificate's expiry: no resumption either.
	f.clock.Advance(2 * time.Hour)
	ev, err = connect()
	require.Error(t, err)
	require.Equal(t, event.TLSFailureExpired, ev.Str(event.AttrTLSFailure))
}

// TestCertificateReloadUnderLoad: the server certificate and the client CA
// bundle change while requests run, on new and kept-alive connections;
// no request fails.
func TestCertificateReloadUnderLoad(t *testing.T) {
	up := goUpstream(t)
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: up.URL})
	serverCA2 := proxytest.NewCA(t, "Server CA 2")
	clientCA2 := proxytest.NewCA(t, "Client CA 2")
	f.serverPool.AddCert(serverCA2.Cert) // clients trust the old and the new server CA
	cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "w", SPIFFEID: workloadID})

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		keepAlive := i%2 == 0
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := f.client(cert, func(tr *http.Transport) { tr.DisableKeepAlives = !keepAlive })
			defer c.CloseIdleConnections()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(f.url("/load"))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = &statusError{resp.StatusCode}
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	require.Eventually(t, func() bool { return ok.Load() > 50 }, 20*time.Second, 10*time.Millisecond)

	newServer := serverCA2.ServerCert(t, "localhost")
	proxytest.WriteFile(t, f.dir, "server.pem", newServer.CertPEM)
	proxytest.WriteFile(t, f.dir, "server-key.pem", newServer.KeyPEM)
	proxytest.WriteFile(t, f.dir, "client-ca.pem", append(append([]byte{}, f.clientCA.PEM...), clientCA2.PEM...))
	require.Eventually(t, func() bool {
		conn, err := tls.Dial("tcp", f.addr, f.tlsConfig(cert))
		if err != nil {
			return false
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Cmp(newServer.Cert.SerialNumber) == 0
	}, 20*time.Second, 20*time.Millisecond, "the new server certificate is served")
	newClient := clientCA2.Issue(t, proxytest.Leaf{CommonName: "new", SPIFFEID: workloadID})
	require.Eventually(t, func() bool {
		c := f.client(newClient, nil)
		defer c.CloseIdleConnections()
		resp, err := c.Get(f.url("/new-ca"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 20*time.Second, 20*time.Millisecond, "certificates of the added client CA are accepted")
	after := ok.Load()
	require.Eventually(t, func() bool { return ok.Load() > after+50 }, 20*time.Second, 10*time.Millisecond)
	close(stop)
	wg.Wait()
	require.Zero(t, failed.Load(), "failed requests during reload, first: %v", firstErr.Load())
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }
