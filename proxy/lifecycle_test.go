package proxy_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/bus/bustest"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy"
	"github.com/tapline/tapline/proxy/proxytest"
	"github.com/tapline/tapline/proxy/tap"
)

// TestNATSDown: with the bus away requests are still served at once, the
// events that do not fit the buffer are counted, and the count is reported
// once the bus is back.
func TestNATSDown(t *testing.T) {
	up := goUpstream(t)
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: up.URL,
		configure: func(_ *fixture, c *proxy.Config) {
			c.Tap.BufferSize, c.Tap.BatchSize = 16, 8
			c.Tap.PublishTimeout, c.Tap.MaxRetryBackoff = 200*time.Millisecond, 50*time.Millisecond
		},
		publisher: func(f *fixture) tap.Publisher {
			nc, err := nats.Connect(f.bus.Embedded().ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
			require.NoError(t, err)
			t.Cleanup(nc.Close)
			js, err := jetstream.New(nc)
			require.NoError(t, err)
			return tap.JetStream(js)
		}})
	cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "w", SPIFFEID: workloadID})
	c := f.client(cert, nil)
	defer c.CloseIdleConnections()
	require.Equal(t, http.StatusOK, f.do(t, c, http.MethodGet, "/before", nil, nil).status)

	require.NoError(t, f.bus.Shutdown(context.Background()))
	const n = 200
	for i := range n {
		res := f.do(t, c, http.MethodGet, "/while-away", nil, nil)
		require.Equal(t, http.StatusOK, res.status, "request %d", i)
	}
	dropped := func() float64 { return f.metricSum(t, "tapline_proxy_tap_events_dropped_total", nil) }
	require.Positive(t, dropped())

	b2 := bustest.Start(t, f.busCfg, f.busDir)
	f.events.SetJetStream(b2.JetStream())
	require.Eventually(t, func() bool {
		f.events.Poll(t)
		var reported int64
		for _, r := range f.events.Records(event.DropEvent) {
			require.Equal(t, tap.DropBufferFull, r.Str(event.AttrDropReason))
			reported += r.Int(event.AttrDropCount)
		}
		return reported > 0 && float64(reported) == dropped()
	}, 20*time.Second, 20*time.Millisecond, "the drops are reported as a tapline.drop event")
	// Requests after the bus came back are recorded again.
	res := f.do(t, c, http.MethodGet, "/after", nil, nil)
	require.Equal(t, http.StatusOK, res.status)
	f.events.Find(t, event.AccessEvent, 20*time.Second, func(r proxytest.Record) bool { return r.Str(event.AttrURLPath) == "/after" })
}

// TestWebSocket: an upgrade passes through to the FastAPI application, with
// the identity headers, and frames flow both ways.
func TestWebSocket(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "w", SPIFFEID: workloadID})
	conn, err := tls.Dial("tcp", f.addr, f.tlsConfig(cert))
	require.NoError(t, err)
	ws, err := proxytest.DialWebSocket(conn, "localhost", "/ws", http.Header{"X-Tapline-Principal": {"spoofed"}})
	require.NoError(t, err)
	for _, msg := range []string{"hello", strings.Repeat("x", 4000)} {
		require.NoError(t, ws.WriteText(msg))
		got, err := ws.ReadText()
		require.NoError(t, err)
		require.Equal(t, msg, got)
	}
	require.Eventually(t, func() bool {
		for _, l := range f.app.Logged() {
			if l["msg"] == "websocket" && l["principal"] == workloadID && hex32.MatchString(l["request_id"].(string)) {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, ws.Close())
	acc := f.events.Find(t, event.AccessEvent, 10*time.Second, func(r proxytest.Record) bool { return r.Str(event.AttrURLPath) == "/ws" })
	require.Equal(t, int64(http.StatusSwitchingProtocols), acc.Int(event.AttrHTTPStatus))
	require.Equal(t, workloadID, acc.Str(event.AttrPrincipal))
}

// TestHTTP2: clients speak HTTP/2 to the proxy; the proxy speaks h2c or
// HTTP/1.1 to upstreams as configured.
func TestHTTP2(t *testing.T) {
	h1 := goUpstream(t)
	h2c := httptest.NewUnstartedServer(h1.Config.Handler)
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	t.Cleanup(h2c.Close)
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: h1.URL, configure: func(_ *fixture, c *proxy.Config) {
		c.Upstreams = append(c.Upstreams, proxy.UpstreamConfig{Name: "grpc-ish", URL: h2c.URL, H2C: true})
		c.Routes = append(c.Routes, proxy.RouteConfig{Name: "h2c", PathPrefix: "/h2c", Upstream: "grpc-ish"})
	}})
	cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "w", SPIFFEID: workloadID})
	c := f.client(cert, func(tr *http.Transport) { tr.ForceAttemptHTTP2 = true })
	defer c.CloseIdleConnections()
	for _, tc := range []struct{ path, upstreamProto string }{{"/h2c/x", "HTTP/2.0"}, {"/h1/x", "HTTP/1.1"}} {
		body := bytes.Repeat([]byte("a"), 1024)
		resp, err := c.Post(f.url(tc.path), "application/octet-stream", bytes.NewReader(body))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "HTTP/2.0", resp.Proto)
		require.Equal(t, tc.upstreamProto, resp.Header.Get("X-Upstream-Proto"))
		acc := f.accessEvent(t, resp.Header.Get("X-Upstream-Request-Id"))
		require.Equal(t, "2", acc.Str(event.AttrNetworkProtocol))
		require.Equal(t, int64(1024), acc.Int(event.AttrHTTPRequestSize))
		require.Equal(t, "h2", acc.Str(event.AttrTLSALPN))
	}
}

// TestLimitsAndRefusals: what the proxy answers itself.
func TestLimitsAndRefusals(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	up := goUpstream(t)
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: up.URL, configure: func(_ *fixture, c *proxy.Config) {
		c.Listeners[0].MaxBodyBytes = 1024
		c.Listeners[0].MaxHeaderBytes = 4096
		c.Upstreams = append(c.Upstreams,
			proxy.UpstreamConfig{Name: "down", URL: "http://127.0.0.1:1"},
			proxy.UpstreamConfig{Name: "slow", URL: slow.URL, ResponseHeaderTimeout: 100 * time.Millisecond})
		c.Routes = []proxy.RouteConfig{
			{Name: "api", PathPrefix: "/api", Upstream: "app"},
			{Name: "down", PathPrefix: "/down", Upstream: "down"},
			{Name: "slow", PathPrefix: "/slow", Upstream: "slow"},
		}
	}})
	cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "w", SPIFFEID: workloadID})
	c := f.client(cert, nil)
	defer c.CloseIdleConnections()
	big := bytes.Repeat([]byte("b"), 2048)
	tests := []struct {
		name   string
		method string
		path   string
		body   io.Reader
		header http.Header
		status int
		reason string
	}{
		{"body within limit", http.MethodPost, "/api/x", bytes.NewReader(big[:1024]), nil, 200, ""},
		{"body over limit", http.MethodPost, "/api/x", bytes.NewReader(big), nil, 413, proxy.ReasonRequestTooLarge},
		{"chunked body over limit", http.MethodPost, "/api/x", io.MultiReader(bytes.NewReader(big)), nil, 413, proxy.ReasonRequestTooLarge},
		{"dot segments", http.MethodGet, "/api/../admin", nil, nil, 400, proxy.ReasonPathNotCanonical},
		{"empty segment", http.MethodGet, "/api//x", nil, nil, 400, proxy.ReasonPathNotCanonical},
		{"encoded dot segments", http.MethodGet, "/api/%2e%2e/admin", nil, nil, 400, proxy.ReasonPathNotCanonical},
		{"no route", http.MethodGet, "/other", nil, nil, 404, proxy.ReasonNoRoute},
		{"upstream down", http.MethodGet, "/down", nil, nil, 502, proxy.ReasonUpstreamUnavailable},
		{"upstream timeout", http.MethodGet, "/slow", nil, nil, 504, proxy.ReasonUpstreamTimeout},
		{"headers too large", http.MethodGet, "/api/x", nil, http.Header{"X-Big": {strings.Repeat("h", 16<<10)}}, 431, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.do(t, c, tc.method, tc.path, tc.header, tc.body)
			require.Equal(t, tc.status, res.status, string(res.body))
			if tc.reason == "" {
				return
			}
			require.Equal(t, tc.reason, res.problem["reason"])
			acc := f.accessEvent(t, res.requestID())
			require.Equal(t, int64(tc.status), acc.Int(event.AttrHTTPStatus))
			if tc.status >= 413 && tc.status != 431 {
				require.Equal(t, tc.reason, acc.Str(event.AttrErrorType))
			} else {
				require.Equal(t, tc.reason, acc.Str(event.AttrReason))
				require.Equal(t, event.DecisionDeny, acc.Str(event.AttrDecision))
			}
		})
	}
}

// TestGracefulShutdown: requests in flight finish; new connections are
// refused; shutdown returns once they are done.
func TestGracefulShutdown(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		_, _ = io.WriteString(w, "finished")
	}))
	t.Cleanup(up.Close)
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: up.URL})
	cert := f.clientCA.Issue(t, proxytest.Leaf{CommonName: "w", SPIFFEID: workloadID})
	c := f.client(cert, nil)
	defer c.CloseIdleConnections()

	var wg sync.WaitGroup
	var status int
	var body string
	wg.Add(1)
	go func() {
		defer wg.Done()
		resp, err := c.Get(f.url("/in-flight"))
		if err != nil {
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		status, body = resp.StatusCode, string(b)
	}()
	<-arrived
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shut <- f.p.Shutdown(ctx)
	}()
	require.Eventually(t, func() bool {
		conn, err := net.DialTimeout("tcp", f.addr, time.Second)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	}, 10*time.Second, 10*time.Millisecond, "the listener closes at once")
	require.False(t, f.p.Ready())
	close(release)
	wg.Wait()
	require.NoError(t, <-shut)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "finished", body)
	// The in-flight request's event was flushed at shutdown.
	f.events.Find(t, event.AccessEvent, 10*time.Second, func(r proxytest.Record) bool { return r.Str(event.AttrURLPath) == "/in-flight" })
}

// TestLifecycle: Shutdown before Start, twice; start and stop twice; a
// failed start undoes itself.
func TestLifecycle(t *testing.T) {
	up := goUpstream(t)
	f := newFixture(t, fixtureOptions{noApp: true, upstreamURL: up.URL})
	cfg := f.cfg
	cfg.Listeners = append([]proxy.ListenerConfig(nil), cfg.Listeners...)
	pub := tap.JetStream(f.bus.JetStream())

	p, err := proxy.New(cfg, pub, prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	require.NoError(t, p.Shutdown(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()))
	require.Error(t, p.Start(context.Background()), "a stopped proxy does not start again")

	for range 2 {
		p, err := proxy.New(cfg, pub, prometheus.NewRegistry(), nil)
		require.NoError(t, err)
		require.NoError(t, p.Start(context.Background()))
		require.True(t, p.Ready())
		require.Error(t, p.Start(context.Background()))
		require.NoError(t, p.Shutdown(context.Background()))
		require.NoError(t, p.Shutdown(context.Background()))
		require.False(t, p.Ready())
	}

	// The fixture's proxy holds its port: a second proxy on it fails to
	// start and leaves nothing running (goleak checks the goroutines).
	busy := cfg
	busy.Listeners = append([]proxy.ListenerConfig(nil), cfg.Listeners...)
	busy.Listeners[0].Address = f.addr
	p, err = proxy.New(busy, pub, prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	err = p.Start(context.Background())
	require.ErrorContains(t, err, "address already in use")
	require.NoError(t, p.Shutdown(context.Background()))

	// Without a publisher the proxy serves and records nothing.
	p, err = proxy.New(cfg, nil, nil, nil)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background()))
	require.NoError(t, p.Shutdown(context.Background()))
}
