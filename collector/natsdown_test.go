package collector

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
)

// TestNATSDown stops NATS under a running collector: OTLP clients get
// UNAVAILABLE / 503 (retryable), the collector keeps serving and counts the
// refusals, nothing panics, and once NATS is back the SDK clients' own
// retries are stored, exactly once.
func TestNATSDown(t *testing.T) {
	tc := startCollector(t, natsexportertest.Options{})
	tc.nats.Shutdown()
	ctx := context.Background()

	conn, err := grpc.NewClient(tc.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	req := ptraceotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalJSON([]byte(validJSON)))
	for i := 0; i < 3; i++ {
		_, err := ptraceotlp.NewGRPCClient(conn).Export(ctx, req)
		require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)
		require.Equal(t, http.StatusServiceUnavailable, postHTTP(t, tc.httpAddr, "application/json", []byte(validJSON)))
	}
	require.True(t, tc.Ready(), "the collector keeps serving")
	require.EqualValues(t, 6, tc.metric(t, "otelcol_receiver_refused_spans_total"))
	require.Positive(t, tc.metric(t, "tapline_natsexporter_failed_messages_total", "reason", "not_connected"))

	// SDK clients retry on UNAVAILABLE / 503 with backoff; bring NATS back
	// once each has been refused at least once.
	retry := struct {
		grpc otlptracegrpc.RetryConfig
		http otlptracehttp.RetryConfig
	}{
		otlptracegrpc.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: 200 * time.Millisecond, MaxElapsedTime: time.Minute},
		otlptracehttp.RetryConfig{Enabled: true, InitialInterval: 50 * time.Millisecond, MaxInterval: 200 * time.Millisecond, MaxElapsedTime: time.Minute},
	}
	gexp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(tc.grpcAddr), otlptracegrpc.WithInsecure(), otlptracegrpc.WithRetry(retry.grpc))
	require.NoError(t, err)
	hexp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(tc.httpAddr), otlptracehttp.WithInsecure(), otlptracehttp.WithRetry(retry.http))
	require.NoError(t, err)
	done := make(chan error, 2)
	for _, exp := range []sdktrace.SpanExporter{gexp, hexp} {
		go func() { done <- trySendSpans(exp, 40) }()
	}
	refusedBefore := tc.metric(t, "otelcol_receiver_refused_spans_total")
	require.Eventually(t, func() bool {
		return tc.metric(t, "otelcol_receiver_refused_spans_total") >= refusedBefore+80
	}, 30*time.Second, 20*time.Millisecond, "both clients tried while NATS was down")

	tc.nats.Start()
	for i := 0; i < 2; i++ {
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(time.Minute):
			t.Fatal("clients did not succeed after NATS came back")
		}
	}
	_, spans := tc.nats.CountSpans(t, bus.SubjectTraces)
	require.Equal(t, 80, spans, "every span the clients got a success for, once")
}
