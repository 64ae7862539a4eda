package traffic_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/demo/pki"
	"github.com/tapline/tapline/demo/traffic"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestScenarios(t *testing.T) {
	names := map[string]bool{}
	clients := map[string]bool{"": true}
	for _, c := range pki.Clients() {
		clients[c.Name] = true
	}
	for _, s := range traffic.Scenarios() {
		assert.False(t, names[s.Name], "%s twice", s.Name)
		names[s.Name] = true
		assert.Contains(t, []string{traffic.ViaNginx, traffic.ViaProxy}, s.Via, s.Name)
		assert.True(t, clients[s.Client], "%s: no certificate %q", s.Name, s.Client)
		assert.True(t, strings.HasPrefix(s.Path, "/"), s.Name)
		if s.Outcome == traffic.HandshakeFails {
			assert.Zero(t, s.Status, s.Name)
			assert.NotEmpty(t, s.Reason, s.Name)
			assert.Equal(t, traffic.ViaProxy, s.Via, "only the tap refuses handshakes")
		} else {
			assert.NotZero(t, s.Status, s.Name)
		}
	}
}

// An upstream standing in for Nginx and the tap: TLS with the demo's
// server certificate, client certificates required and verified, answering
// what the application answers (its request id).
func server(t *testing.T, certs pki.Dir) *httptest.Server {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certs.CertFile(pki.Proxy), certs.KeyFile(pki.Proxy))
	require.NoError(t, err)
	caPEM, err := os.ReadFile(certs.CertFile(pki.CA))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"request_id":  "rid-" + r.Header.Get("User-Agent"),
			"traceparent": r.Header.Get("traceparent"),
		})
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestDo(t *testing.T) {
	certs := pki.Dir(t.TempDir())
	_, err := pki.Ensure(string(certs), nil, time.Now())
	require.NoError(t, err)
	srv := server(t, certs)
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	gen := traffic.New(certs, traffic.Target{Nginx: srv.URL, Proxy: srv.URL}, tp)
	defer gen.Close()
	ctx := context.Background()

	ok := gen.Do(ctx, traffic.Scenario{Name: "ok", Via: traffic.ViaProxy, Client: pki.Checkout.Name, Method: http.MethodPut, Path: "/orders/1", Status: 200})
	require.NoError(t, ok.Err)
	assert.True(t, ok.OK())
	assert.Equal(t, 200, ok.Status)
	assert.Equal(t, "rid-tapline-demo/ok", ok.RequestID)
	got := spans.GetSpans()
	require.Len(t, got, 1)
	assert.Equal(t, ok.TraceID, got[0].SpanContext.TraceID().String(), "the result names the client span's trace")
	assert.Equal(t, "PUT /orders/1", got[0].Name)

	// The server refuses a client without a certificate in the handshake;
	// an expired one too.
	for _, client := range []string{"", pki.Inventory.Name} {
		r := gen.Do(ctx, traffic.Scenario{Name: "refused", Via: traffic.ViaProxy, Client: client, Method: http.MethodGet, Path: "/", Outcome: traffic.HandshakeFails})
		assert.Error(t, r.Err, "client %q", client)
		assert.True(t, r.OK(), "a refused handshake is what the scenario expects")
		assert.Regexp(t, `^[0-9a-f]{32}$`, r.TraceID)
	}
	// A status other than the expected one is reported.
	wrong := gen.Do(ctx, traffic.Scenario{Name: "wrong", Via: traffic.ViaNginx, Client: pki.Checkout.Name, Method: http.MethodGet, Path: "/", Status: 403})
	assert.False(t, wrong.OK())
	assert.Contains(t, traffic.Summary([]traffic.Result{ok, wrong}), "1 requests as expected, unexpected: wrong: status 200")
}
