package collector

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
)

func TestSmoke(t *testing.T) {
	tc := startCollector(t, natsexportertest.Options{})
	ctx := context.Background()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(tc.grpcAddr), otlptracegrpc.WithInsecure())
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	tr := tp.Tracer("test")
	for i := 0; i < 10; i++ {
		_, sp := tr.Start(ctx, "op")
		sp.End()
	}
	require.NoError(t, tp.ForceFlush(ctx))
	require.NoError(t, tp.Shutdown(ctx))
	_, spans := tc.nats.CountSpans(t, bus.SubjectTraces)
	require.Equal(t, 10, spans)
	t.Log(metricNames(t, tc.reg))
	_ = otlptracehttp.New
}
