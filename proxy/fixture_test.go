package proxy_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/bus/bustest"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy"
	"github.com/tapline/tapline/proxy/policy"
	"github.com/tapline/tapline/proxy/proxytest"
	"github.com/tapline/tapline/proxy/tap"
)

const (
	workloadID = "spiffe://example.org/ns/prod/sa/orders"
	sidecarID  = "spiffe://example.org/ns/mesh/sa/sidecar"
)

// fixture is a proxy tap with real TLS in front of a real upstream (the
// FastAPI test application unless told otherwise), publishing to a real
// embedded JetStream.
type fixture struct {
	dir        string
	clientCA   *proxytest.CA
	serverCA   *proxytest.CA
	certFile   string
	keyFile    string
	caFile     string
	bus        *bus.Bus
	busCfg     bus.Config
	busDir     string
	events     *proxytest.Reader
	app        *proxytest.FastAPI
	p          *proxy.Proxy
	cfg        proxy.Config
	addr       string
	reg        *prometheus.Registry
	clock      *proxytest.Clock
	serverPool *x509.CertPool
}

type fixtureOptions struct {
	noApp       bool
	upstreamURL string
	publisher   func(*fixture) tap.Publisher
	configure   func(*fixture, *proxy.Config)
}

func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), clock: &proxytest.Clock{}, reg: prometheus.NewRegistry()}
	f.clientCA = proxytest.NewCA(t, "Client CA")
	f.serverCA = proxytest.NewCA(t, "Server CA")
	f.serverPool = f.serverCA.Pool()
	srv := f.serverCA.ServerCert(t, "localhost", "api.example.test")
	f.certFile = proxytest.WriteFile(t, f.dir, "server.pem", srv.CertPEM)
	f.keyFile = proxytest.WriteFile(t, f.dir, "server-key.pem", srv.KeyPEM)
	f.caFile = proxytest.WriteFile(t, f.dir, "client-ca.pem", f.clientCA.PEM)
	f.busCfg, f.busDir = bustest.Config(), t.TempDir()
	f.bus = bustest.Start(t, f.busCfg, f.busDir)
	f.busCfg.Embedded.Listen = f.bus.Embedded().Addr() // a restart comes back on the same port
	f.events = proxytest.NewReader(f.bus.JetStream())

	upstream := o.upstreamURL
	if !o.noApp {
		f.app = proxytest.StartFastAPI(t)
		upstream = f.app.URL
	}
	cfg := proxy.Default()
	cfg.Node = "test-node"
	l := proxy.DefaultListener()
	l.Name, l.Address = "main", "127.0.0.1:0"
	l.TLS.Cert, l.TLS.Key, l.TLS.ClientCA = f.certFile, f.keyFile, f.caFile
	l.TLS.ReloadInterval = 50 * time.Millisecond
	cfg.Listeners = []proxy.ListenerConfig{l}
	cfg.Upstreams = []proxy.UpstreamConfig{{Name: "app", URL: upstream}}
	prodOnly := []policy.Rule{{SPIFFEIDs: []string{"spiffe://example.org/ns/prod/**"}}}
	cfg.Routes = []proxy.RouteConfig{
		{Name: "default", PathPrefix: "/", Upstream: "app"},
		{Name: "admin", PathPrefix: "/admin", Upstream: "app", Policy: policy.Config{Allow: prodOnly}},
		{Name: "reports", PathPrefix: "/reports", Upstream: "app", Policy: policy.Config{Mode: policy.ModeObserve, Allow: prodOnly}},
	}
	cfg.Identity.TrustedProxies.SPIFFEIDs = []string{"spiffe://example.org/ns/mesh/sa/*"}
	cfg.Identity.TrustedProxies.CIDRs = []string{"127.0.0.2/32"}
	cfg.Tap.FlushInterval = 20 * time.Millisecond
	if o.configure != nil {
		o.configure(f, &cfg)
	}
	f.cfg = cfg
	var pub tap.Publisher = tap.JetStream(f.bus.JetStream())
	if o.publisher != nil {
		pub = o.publisher(f)
	}
	p, err := proxy.New(cfg, pub, f.reg, nil, proxy.WithClock(f.clock.Now))
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, p.Shutdown(ctx))
	})
	f.p = p
	f.addr = p.Addr(cfg.Listeners[0].Name).String()
	return f
}

// tlsConfig is a client configuration trusting the server CA; cert (may be
// nil) is sent whatever the server asks for, so that certificates from
// unknown CAs reach the server.
func (f *fixture) tlsConfig(cert *proxytest.Issued) *tls.Config {
	tc := &tls.Config{RootCAs: f.serverPool, ServerName: "localhost"}
	if cert != nil {
		c := cert.TLS
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }
	}
	return tc
}

func (f *fixture) client(cert *proxytest.Issued, mod func(*http.Transport)) *http.Client {
	tr := &http.Transport{TLSClientConfig: f.tlsConfig(cert), MaxIdleConnsPerHost: 16}
	if mod != nil {
		mod(tr)
	}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func (f *fixture) url(path string) string { return "https://" + f.addr + path }

type result struct {
	status  int
	header  http.Header
	echo    proxytest.Echo
	problem map[string]string
	body    []byte
}

// requestID is the id the proxy gave the request, as the application or the
// proxy's own answer tells it.
func (r result) requestID() string {
	if r.echo.RequestID != "" {
		return r.echo.RequestID
	}
	return r.problem["request_id"]
}

func (f *fixture) do(t *testing.T, c *http.Client, method, path string, hdr http.Header, body io.Reader) result {
	t.Helper()
	req, err := http.NewRequest(method, f.url(path), body)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	res := result{status: resp.StatusCode, header: resp.Header, body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		var probe map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(b, &probe), string(b))
		if _, ok := probe["headers"]; ok {
			require.NoError(t, json.Unmarshal(b, &res.echo), string(b))
		} else {
			require.NoError(t, json.Unmarshal(b, &res.problem), string(b))
		}
	}
	return res
}

func (f *fixture) get(t *testing.T, cert *proxytest.Issued, path string, hdr http.Header) result {
	t.Helper()
	c := f.client(cert, nil)
	defer c.CloseIdleConnections()
	return f.do(t, c, http.MethodGet, path, hdr, nil)
}

// handshake dials the proxy with tc, tries a request, and returns the local
// port (to find the TLS event) and the first error.
func (f *fixture) handshake(t *testing.T, tc *tls.Config, local net.Addr) (int, error) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: local}
	raw, err := d.Dial("tcp", f.addr)
	require.NoError(t, err)
	port := raw.LocalAddr().(*net.TCPAddr).Port
	c := tls.Client(raw, tc)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		return port, err
	}
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"); err != nil {
		return port, err
	}
	var buf [1]byte
	_, err = c.Read(buf[:])
	return port, err
}

func (f *fixture) tlsEvent(t *testing.T, port int) proxytest.Record {
	t.Helper()
	return f.events.Find(t, event.TLSEvent, 10*time.Second, func(r proxytest.Record) bool {
		return r.Int(event.AttrClientPort) == int64(port)
	})
}

func (f *fixture) accessEvent(t *testing.T, requestID string) proxytest.Record {
	t.Helper()
	require.NotEmpty(t, requestID)
	return f.events.Find(t, event.AccessEvent, 10*time.Second, func(r proxytest.Record) bool {
		return r.Str(event.AttrRequestID) == requestID
	})
}

// metricSum adds up every series of a metric family in the fixture's registry.
func (f *fixture) metricSum(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
