package telemetry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
)

// flushInterval is how long a span or record waits in the batch.
const flushInterval = 200 * time.Millisecond

// Providers are a tracer and a logger provider for one service.
type Providers struct {
	Traces *sdktrace.TracerProvider
	Logs   *sdklog.LoggerProvider
}

// New makes the providers of service, sending to the collector's OTLP/HTTP
// endpoint (host:port, plain HTTP).
func New(ctx context.Context, endpoint, service string) (*Providers, error) {
	res := resource.NewSchemaless(semconv.ServiceName(service))
	te, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure())
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	le, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(endpoint), otlploghttp.WithInsecure())
	if err != nil {
		return nil, errors.Join(fmt.Errorf("otlp log exporter: %w", err), te.Shutdown(ctx))
	}
	return &Providers{
		Traces: sdktrace.NewTracerProvider(
			sdktrace.WithResource(res),
			sdktrace.WithBatcher(te, sdktrace.WithBatchTimeout(flushInterval)),
		),
		Logs: sdklog.NewLoggerProvider(
			sdklog.WithResource(res),
			sdklog.WithProcessor(sdklog.NewBatchProcessor(le, sdklog.WithExportInterval(flushInterval))),
		),
	}, nil
}

// Flush sends what is batched.
func (p *Providers) Flush(ctx context.Context) error {
	return errors.Join(p.Traces.ForceFlush(ctx), p.Logs.ForceFlush(ctx))
}

// Shutdown flushes and stops both providers.
func (p *Providers) Shutdown(ctx context.Context) error {
	return errors.Join(p.Traces.Shutdown(ctx), p.Logs.Shutdown(ctx))
}
