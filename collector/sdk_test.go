package collector

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/event"
	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
)

// sendSpans makes n spans (with attributes, events, links and status) in
// traces of three, through exp, and returns once the exporter succeeded.
func sendSpans(t *testing.T, exp sdktrace.SpanExporter, n int) {
	t.Helper()
	require.NoError(t, trySendSpans(exp, n))
}

// trySendSpans is sendSpans for goroutines other than the test's.
func trySendSpans(exp sdktrace.SpanExporter, n int) error {
	ctx := context.Background()
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithMaxExportBatchSize(64)),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "checkout"))),
	)
	tr := tp.Tracer("tapline/collector/test")
	var prev trace.SpanContext
	for i := 0; i < n; i++ {
		parent := ctx
		if i%3 != 0 {
			parent = trace.ContextWithSpanContext(ctx, prev)
		}
		_, sp := tr.Start(parent, fmt.Sprintf("op-%d", i%5),
			trace.WithAttributes(attribute.Int("i", i), attribute.String("http.route", "/pay")),
			trace.WithLinks(trace.Link{SpanContext: prev}))
		sp.AddEvent("tick", trace.WithAttributes(attribute.Bool("ok", true)))
		if i%7 == 0 {
			sp.SetStatus(codes.Error, "boom")
		}
		prev = sp.SpanContext()
		sp.End()
	}
	return errors.Join(tp.ForceFlush(ctx), tp.Shutdown(ctx))
}

// sendLogs emits plain log records and access events through exp.
func sendLogs(t *testing.T, exp sdklog.Exporter, plain, access int) {
	t.Helper()
	ctx := context.Background()
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp, sdklog.WithExportMaxBatchSize(50))))
	lg := lp.Logger("tapline/collector/test")
	for i := 0; i < plain+access; i++ {
		var r otellog.Record
		r.SetTimestamp(time.Unix(1_700_000_000, int64(i)))
		r.SetBody(attribute.StringValue(fmt.Sprintf("line %d", i)))
		r.SetSeverity(otellog.SeverityInfo)
		if i >= plain {
			r.SetEventName(event.AccessEvent)
			r.AddAttributes(attribute.String(event.AttrHTTPMethod, "GET"), attribute.Int(event.AttrHTTPStatus, 200))
		}
		lg.Emit(ctx, r)
	}
	require.NoError(t, lp.ForceFlush(ctx))
	require.NoError(t, lp.Shutdown(ctx))
}

// TestOTelSDKClients sends spans and logs with the OTel Go SDK over gRPC and
// HTTP (gzip on): once the SDK's flush returned, exactly what was sent is in
// JetStream (no waiting: success means stored).
func TestOTelSDKClients(t *testing.T) {
	const spans, logs, events = 500, 120, 30
	tests := []struct {
		name   string
		traces func(tc *testCollector) (sdktrace.SpanExporter, error)
		logs   func(tc *testCollector) (sdklog.Exporter, error)
	}{
		{
			name: "grpc",
			traces: func(tc *testCollector) (sdktrace.SpanExporter, error) {
				return otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(tc.grpcAddr),
					otlptracegrpc.WithInsecure(), otlptracegrpc.WithCompressor("gzip"))
			},
			logs: func(tc *testCollector) (sdklog.Exporter, error) {
				return otlploggrpc.New(context.Background(), otlploggrpc.WithEndpoint(tc.grpcAddr),
					otlploggrpc.WithInsecure(), otlploggrpc.WithCompressor("gzip"))
			},
		},
		{
			name: "http",
			traces: func(tc *testCollector) (sdktrace.SpanExporter, error) {
				return otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(tc.httpAddr),
					otlptracehttp.WithInsecure(), otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
			},
			logs: func(tc *testCollector) (sdklog.Exporter, error) {
				return otlploghttp.New(context.Background(), otlploghttp.WithEndpoint(tc.httpAddr),
					otlploghttp.WithInsecure(), otlploghttp.WithCompression(otlploghttp.GzipCompression))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := startCollector(t, natsexportertest.Options{})
			texp, err := tt.traces(tc)
			require.NoError(t, err)
			sendSpans(t, texp, spans)
			lexp, err := tt.logs(tc)
			require.NoError(t, err)
			sendLogs(t, lexp, logs, events)

			_, gotSpans := tc.nats.CountSpans(t, bus.SubjectTraces)
			require.Equal(t, spans, gotSpans)
			_, gotLogs := tc.nats.CountLogRecords(t, bus.SubjectLogs)
			require.Equal(t, logs, gotLogs)
			_, gotEvents := tc.nats.CountLogRecords(t, bus.SubjectEvents)
			require.Equal(t, events, gotEvents)

			require.EqualValues(t, spans, tc.metric(t, "otelcol_receiver_accepted_spans_total"))
			require.EqualValues(t, logs+events, tc.metric(t, "otelcol_receiver_accepted_log_records_total"))
			require.EqualValues(t, spans+logs+events, tc.metric(t, "tapline_natsexporter_published_items_total"))
			require.EqualValues(t, 0, tc.metric(t, "otelcol_receiver_refused_spans_total"))
		})
	}
}
