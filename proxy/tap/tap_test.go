package tap_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/tapline/tapline/bus/bustest"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/proxy/identity"
	"github.com/tapline/tapline/proxy/proxytest"
	"github.com/tapline/tapline/proxy/tap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func connect(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.RetryOnFailedConnect(true))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

func testConn() *tap.Conn {
	ca := identity.Cert{
		SPIFFEID: "spiffe://example.org/ns/a/sa/b", Subject: "CN=b", Issuer: "CN=ca", Serial: "0A1B",
		Fingerprint: "AB12", NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	return &tap.Conn{
		ID: "c0ffee", Listener: "main", ClientAddress: "127.0.0.1", ClientPort: 40000, ServerName: "localhost",
		TLSVersion: "1.3", Cipher: "TLS_AES_128_GCM_SHA256", ALPN: "h2", MTLSVerified: true, Peer: &ca,
	}
}

func TestRecordsBecomeOTLPOnTheStream(t *testing.T) {
	b := bustest.Start(t, bustest.Config(), "")
	reg := prometheus.NewRegistry()
	tp, err := tap.New(tap.DefaultConfig(), tap.JetStream(b.JetStream()), tap.Resource{ServiceName: "tapline-proxy", Node: "node-1"}, reg, nil)
	require.NoError(t, err)
	tp.Start()

	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	c := testConn()
	tp.TLS(&tap.TLSRecord{Time: start, HandshakeDuration: 2 * time.Millisecond, Conn: c, Established: true})
	presented := identity.Cert{Subject: "CN=stranger", Fingerprint: "FF"}
	tp.TLS(&tap.TLSRecord{Time: start, Conn: &tap.Conn{ID: "bad1", Listener: "main", ClientAddress: "127.0.0.1"},
		Failure: event.TLSFailureUnknownCA, FailureDetail: "x509: certificate signed by unknown authority", Presented: &presented})
	acc := &tap.AccessRecord{
		Start: start, Duration: 1500 * time.Microsecond,
		TraceID: [16]byte{1, 2, 3}, SpanID: [8]byte{4, 5}, ParentSpanID: [8]byte{6}, TraceFlags: 1, TraceState: "k=v",
		RequestID: "req-1", Method: "POST", Scheme: "https", Host: "api.local", ServerPort: 8443, Path: "/orders/1", Query: "x=1",
		Route: "/orders", Protocol: "2", UserAgent: "test", Status: 201, RequestBytes: 1024, ResponseBytes: 2048,
		UpstreamAddress: "127.0.0.1:9000", UpstreamStatus: "201", Conn: c,
		Principal: "alice", PrincipalType: event.PrincipalJWT, JWTIssuer: "https://issuer", JWTSubject: "alice",
		JWTAudience: []string{"a", "b"}, JWTScopes: []string{"orders:read"}, Chain: []identity.Entry{{Source: identity.SourceJWT, Type: event.PrincipalJWT, ID: "alice", Verified: true, Principal: true}},
		Decision: event.DecisionAllow, Policy: "orders", Reason: "jwt-allowed",
	}
	tp.Access(acc)

	r := proxytest.NewReader(b.JetStream())
	got := r.Find(t, event.AccessEvent, 10*time.Second, func(proxytest.Record) bool { return true })
	require.Equal(t, "01020300000000000000000000000000", got.TraceID)
	require.Equal(t, "0405000000000000", got.SpanID)
	require.Equal(t, start, got.Time.UTC())
	require.Equal(t, "tapline-proxy", got.Resource[event.AttrServiceName])
	require.NotEmpty(t, got.MsgID)
	want := map[string]any{
		event.AttrSource: event.SourceTap, event.AttrNode: "node-1", event.AttrConnectionID: "c0ffee", event.AttrListener: "main",
		event.AttrClientAddress: "127.0.0.1", event.AttrClientPort: int64(40000), event.AttrTLSServerName: "localhost",
		event.AttrTLSProtocolVersion: "1.3", event.AttrTLSCipher: "TLS_AES_128_GCM_SHA256", event.AttrTLSALPN: "h2",
		event.AttrTLSResumed: false, event.AttrMTLSVerified: true, event.AttrPeerSPIFFEID: "spiffe://example.org/ns/a/sa/b",
		event.AttrTLSClientSubject: "CN=b", event.AttrTLSClientIssuer: "CN=ca", event.AttrTLSClientSerial: "0A1B",
		event.AttrTLSClientHash: "AB12", event.AttrTLSClientNotBefore: "2026-01-01T00:00:00Z", event.AttrTLSClientNotAfter: "2027-01-01T00:00:00Z",
		event.AttrRequestID: "req-1", event.AttrDurationNanos: int64(1500000), event.AttrHTTPMethod: "POST", event.AttrURLScheme: "https",
		event.AttrServerAddress: "api.local", event.AttrServerPort: int64(8443), event.AttrURLPath: "/orders/1", event.AttrURLQuery: "x=1",
		event.AttrHTTPRoute: "/orders", event.AttrNetworkProtocol: "2", event.AttrUserAgent: "test", event.AttrHTTPStatus: int64(201),
		event.AttrHTTPRequestSize: int64(1024), event.AttrHTTPResponseSize: int64(2048), event.AttrUpstreamAddress: "127.0.0.1:9000",
		event.AttrUpstreamStatus: "201", event.AttrPrincipal: "alice", event.AttrEnduserID: "alice", event.AttrPrincipalType: event.PrincipalJWT,
		event.AttrJWTIssuer: "https://issuer", event.AttrJWTSubject: "alice", event.AttrJWTAudience: "a,b",
		event.AttrUserRoles: []any{"orders:read"}, event.AttrIdentityChain: `[{"source":"jwt","type":"jwt","id":"alice","verified":true,"principal":true}]`,
		event.AttrDecision: event.DecisionAllow, event.AttrPolicy: "orders", event.AttrReason: "jwt-allowed",
	}
	require.Equal(t, want, got.Attrs)

	ok := r.Find(t, event.TLSEvent, 5*time.Second, func(rec proxytest.Record) bool { return rec.Str(event.AttrConnectionID) == "c0ffee" })
	est, _ := ok.Bool(event.AttrTLSEstablished)
	require.True(t, est)
	require.Equal(t, int64(2000000), ok.Int(event.AttrDurationNanos))
	bad := r.Find(t, event.TLSEvent, 5*time.Second, func(rec proxytest.Record) bool { return rec.Str(event.AttrConnectionID) == "bad1" })
	require.Equal(t, event.TLSFailureUnknownCA, bad.Str(event.AttrTLSFailure))
	require.Equal(t, "x509: certificate signed by unknown authority", bad.Body)
	require.Equal(t, "CN=stranger", bad.Str(event.AttrTLSClientSubject))
	mv, _ := bad.Bool(event.AttrMTLSVerified)
	require.False(t, mv)

	sp := r.FindSpan(t, 5*time.Second, func(proxytest.Span) bool { return true })
	require.Equal(t, "POST /orders", sp.Name)
	require.Equal(t, "Server", sp.Kind)
	require.Equal(t, got.TraceID, sp.TraceID)
	require.Equal(t, got.SpanID, sp.SpanID)
	require.Equal(t, "0600000000000000", sp.ParentSpanID)
	require.Equal(t, 1500*time.Microsecond, sp.End.Sub(sp.Start))
	require.Equal(t, "req-1", sp.Attrs[event.AttrRequestID])

	require.NoError(t, tp.Shutdown(context.Background()))
	require.Equal(t, 3.0, metricSum(t, reg, "tapline_proxy_tap_events_published_total"))
}

// metricSum adds up every series of a metric family.
func metricSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

func TestBusAwayDropsAreCountedAndReported(t *testing.T) {
	dir := t.TempDir()
	cfg := bustest.Config()
	b1 := bustest.Start(t, cfg, dir)
	cfg.Embedded.Listen = b1.Embedded().Addr() // the restart must come back on the same port
	js := connect(t, b1.Embedded().ClientURL())

	reg := prometheus.NewRegistry()
	tc := tap.DefaultConfig()
	tc.BufferSize, tc.BatchSize, tc.FlushInterval = 8, 4, 10*time.Millisecond
	tc.PublishTimeout, tc.MaxRetryBackoff = 200*time.Millisecond, 50*time.Millisecond
	tp, err := tap.New(tc, tap.JetStream(js), tap.Resource{ServiceName: "tapline-proxy"}, reg, nil)
	require.NoError(t, err)
	tp.Start()
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()

	require.NoError(t, b1.Shutdown(context.Background()))
	// With the bus away every call still returns at once: the buffer fills,
	// then records are dropped and counted.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			tp.Access(&tap.AccessRecord{Start: time.Now(), RequestID: "r" + string(rune('a'+i%26)), Method: "GET", Path: "/", Status: 200})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("recording blocked while the bus was away")
	}
	dropped := metricSum(t, reg, "tapline_proxy_tap_events_dropped_total")
	require.GreaterOrEqual(t, dropped, 200.0-float64(tc.BufferSize+tc.BatchSize))

	b2 := bustest.Start(t, cfg, dir)
	r := proxytest.NewReader(b2.JetStream())
	var reported int64
	require.Eventually(t, func() bool {
		r.Poll(t)
		reported = 0
		for _, rec := range r.Records(event.DropEvent) {
			require.Equal(t, tap.DropBufferFull, rec.Str(event.AttrDropReason))
			require.Equal(t, event.SourceTap, rec.Str(event.AttrSource))
			reported += rec.Int(event.AttrDropCount)
		}
		return reported > 0 && float64(reported) == metricSum(t, reg, "tapline_proxy_tap_events_dropped_total")
	}, 20*time.Second, 20*time.Millisecond)
	// What was buffered while the bus was away arrives, once.
	require.Eventually(t, func() bool {
		r.Poll(t)
		return int64(len(r.Records(event.AccessEvent)))+reported == 200
	}, 10*time.Second, 20*time.Millisecond)
}

func TestShutdown(t *testing.T) {
	cfg := bustest.Config()
	b := bustest.Start(t, cfg, "")
	t.Run("before start and twice", func(t *testing.T) {
		tp, err := tap.New(tap.DefaultConfig(), tap.JetStream(b.JetStream()), tap.Resource{}, nil, nil)
		require.NoError(t, err)
		require.NoError(t, tp.Shutdown(context.Background()))
		require.NoError(t, tp.Shutdown(context.Background()))
	})
	t.Run("start stop twice", func(t *testing.T) {
		for range 2 {
			tp, err := tap.New(tap.DefaultConfig(), tap.JetStream(b.JetStream()), tap.Resource{}, prometheus.NewRegistry(), nil)
			require.NoError(t, err)
			tp.Start()
			tp.Access(&tap.AccessRecord{Start: time.Now(), RequestID: "flushed-at-shutdown"})
			require.NoError(t, tp.Shutdown(context.Background()))
			require.NoError(t, tp.Shutdown(context.Background()))
		}
		r := proxytest.NewReader(b.JetStream())
		r.Poll(t)
		require.Len(t, r.Records(event.AccessEvent), 2)
	})
	t.Run("deadline while the bus is away", func(t *testing.T) {
		dir := t.TempDir()
		cfg := bustest.Config()
		b := bustest.Start(t, cfg, dir)
		js := connect(t, b.Embedded().ClientURL())
		reg := prometheus.NewRegistry()
		tc := tap.DefaultConfig()
		tc.PublishTimeout = 100 * time.Millisecond
		tp, err := tap.New(tc, tap.JetStream(js), tap.Resource{}, reg, nil)
		require.NoError(t, err)
		tp.Start()
		require.NoError(t, b.Shutdown(context.Background()))
		tp.Access(&tap.AccessRecord{Start: time.Now()})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, tp.Shutdown(ctx), context.DeadlineExceeded)
		require.Equal(t, 1.0, metricSum(t, reg, "tapline_proxy_tap_events_dropped_total"))
	})
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, tap.DefaultConfig().Validate())
	err := tap.Config{}.Validate()
	for _, k := range []string{"buffer_size", "batch_size", "flush_interval", "publish_timeout", "max_retry_backoff"} {
		require.ErrorContains(t, err, k+": must be > 0")
	}
	_, err = tap.New(tap.DefaultConfig(), nil, tap.Resource{}, nil, nil)
	require.Error(t, err)
}
