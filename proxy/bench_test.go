package proxy_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tapline/tapline/proxy"
	"github.com/tapline/tapline/proxy/policy"
	"github.com/tapline/tapline/proxy/proxytest"
	"github.com/tapline/tapline/proxy/tap"
)

// discardPublisher takes every message: the bus is not what this measures.
type discardPublisher struct{}

func (discardPublisher) Publish(context.Context, string, string, []byte) error { return nil }

// BenchmarkRequest measures one 1 KiB POST through the proxy over a kept-alive
// mTLS connection, everything in this process, against the same request sent
// to the upstream directly (the baseline). The cross-process comparison with
// nginx is in package proxybench.
func BenchmarkRequest(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 1024)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write(payload)
	}))
	defer up.Close()
	dir := b.TempDir()
	ca := proxytest.NewCA(b, "CA")
	srv := ca.ServerCert(b, "localhost")
	cfg := proxy.Default()
	l := proxy.DefaultListener()
	l.Name, l.Address = "bench", "127.0.0.1:0"
	l.TLS.Cert = proxytest.WriteFile(b, dir, "s.pem", srv.CertPEM)
	l.TLS.Key = proxytest.WriteFile(b, dir, "k.pem", srv.KeyPEM)
	l.TLS.ClientCA = proxytest.WriteFile(b, dir, "ca.pem", ca.PEM)
	cfg.Listeners = []proxy.ListenerConfig{l}
	cfg.Upstreams = []proxy.UpstreamConfig{{Name: "app", URL: up.URL}}
	cfg.Routes = []proxy.RouteConfig{{Name: "app", Upstream: "app", Policy: policy.Config{
		Allow: []policy.Rule{{SPIFFEIDs: []string{"spiffe://example.org/**"}}},
	}}}
	p, err := proxy.New(cfg, tap.Publisher(discardPublisher{}), prometheus.NewRegistry(), nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	}()
	cert := ca.Issue(b, proxytest.Leaf{CommonName: "c", SPIFFEID: "spiffe://example.org/ns/a/sa/b"})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{cert.TLS}}}
	defer tr.CloseIdleConnections()
	direct := &http.Transport{}
	defer direct.CloseIdleConnections()
	run := func(b *testing.B, rt http.RoundTripper, url string) {
		c := &http.Client{Transport: rt}
		b.ReportAllocs()
		for b.Loop() {
			resp, err := c.Post(url, "application/octet-stream", bytes.NewReader(payload))
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	b.Run("direct", func(b *testing.B) { run(b, direct, up.URL+"/x") })
	b.Run("tap", func(b *testing.B) { run(b, tr, "https://"+p.Addr("bench").String()+"/x") })
}
