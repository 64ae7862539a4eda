package querytest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/bus/bustest"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/ingest/ingesttest"
	"github.com/tapline/tapline/store"
)

// Load writes a dataset the way production data arrives: each resource's
// spans and events published as an OTLP protobuf message on an embedded
// JetStream (as the collector's exporter and the proxy tap publish them),
// then stored by a real ingest.Ingester. It returns when every message is
// acknowledged, and stops the bus and the ingester.
func Load(tb testing.TB, eng store.Engine, d Dataset) error {
	tb.Helper()
	b := bustest.Start(tb, bustest.Config(), "")
	pub := ingesttest.NewPublisher(tb, b.JetStream())
	for i := range d.Traces.ResourceSpans().Len() {
		td := ptrace.NewTraces()
		d.Traces.ResourceSpans().At(i).CopyTo(td.ResourceSpans().AppendEmpty())
		pub.Traces(td)
	}
	for i := range d.Events.ResourceLogs().Len() {
		ld := plog.NewLogs()
		d.Events.ResourceLogs().At(i).CopyTo(ld.ResourceLogs().AppendEmpty())
		pub.Logs(bus.SubjectEvents, ld)
	}
	cfg := ingest.Default()
	cfg.BatchSize = 50
	cfg.BatchTimeout = 50 * time.Millisecond
	in, err := ingest.New(cfg, eng, b.JetStream(), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := in.Start(ctx); err != nil {
		return err
	}
	waitErr := waitIdle(ctx, b, cfg.Consumer)
	if err := in.Shutdown(ctx); err != nil {
		return err
	}
	if err := b.Shutdown(ctx); err != nil {
		return err
	}
	if waitErr != nil {
		return waitErr
	}
	spans, err := ingesttest.CountWhere(ctx, eng, "otel_traces", "1")
	if err != nil {
		return err
	}
	if want := uint64(d.Traces.SpanCount()); spans != want {
		return fmt.Errorf("ingest stored %d spans, want %d", spans, want)
	}
	return nil
}

// waitIdle waits until every message on the stream was delivered to the
// consumer and acknowledged: stored.
func waitIdle(ctx context.Context, b *bus.Bus, consumer string) error {
	for {
		c, err := b.JetStream().Consumer(ctx, bus.StreamName, consumer)
		if err == nil {
			ci, err := c.Info(ctx)
			if err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 && ci.Delivered.Stream > 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for ingest: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
