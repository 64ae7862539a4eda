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

// Pipeline is the real path of production data for a test: an embedded
// JetStream with the TAPLINE stream and an ingest.Ingester storing what is
// published on it into the engine.
type Pipeline struct {
	Bus *bus.Bus
	tb  testing.TB
	in  *ingest.Ingester
	pub *ingesttest.Publisher
	cfg ingest.Config
}

// StartPipeline starts the bus and the ingester; both stop when the test
// ends (or at Stop).
func StartPipeline(tb testing.TB, eng store.Engine) *Pipeline {
	tb.Helper()
	b := bustest.Start(tb, bustest.Config(), "")
	cfg := ingest.Default()
	cfg.BatchSize = 50
	cfg.BatchTimeout = 50 * time.Millisecond
	in, err := ingest.New(cfg, eng, b.JetStream(), prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("querytest: ingest: %v", err)
	}
	if err := in.Start(context.Background()); err != nil {
		tb.Fatalf("querytest: start ingest: %v", err)
	}
	p := &Pipeline{Bus: b, tb: tb, in: in, pub: ingesttest.NewPublisher(tb, b.JetStream()), cfg: cfg}
	tb.Cleanup(func() { _ = p.Stop() })
	return p
}

// PublishTraces publishes td as the collector's exporter does: one OTLP
// message per resource.
func (p *Pipeline) PublishTraces(td ptrace.Traces) {
	p.tb.Helper()
	for i := range td.ResourceSpans().Len() {
		one := ptrace.NewTraces()
		td.ResourceSpans().At(i).CopyTo(one.ResourceSpans().AppendEmpty())
		p.pub.Traces(one)
	}
}

// PublishEvents publishes access and TLS events on tapline.events, one
// message per resource.
func (p *Pipeline) PublishEvents(ld plog.Logs) {
	p.tb.Helper()
	for i := range ld.ResourceLogs().Len() {
		one := plog.NewLogs()
		ld.ResourceLogs().At(i).CopyTo(one.ResourceLogs().AppendEmpty())
		p.pub.Logs(bus.SubjectEvents, one)
	}
}

// PublishRaw publishes data as it is, for messages no producer would send.
func (p *Pipeline) PublishRaw(subject string, data []byte) {
	p.tb.Helper()
	p.pub.Raw(subject, data)
}

// Wait returns when every message published so far is stored: delivered
// to the ingest consumer and acknowledged.
func (p *Pipeline) Wait(ctx context.Context) error {
	for {
		c, err := p.Bus.JetStream().Consumer(ctx, bus.StreamName, p.cfg.Consumer)
		if err == nil {
			ci, err := c.Info(ctx)
			si, serr := p.Bus.JetStream().Stream(ctx, bus.StreamName)
			if err == nil && serr == nil && ci.NumPending == 0 && ci.NumAckPending == 0 &&
				ci.AckFloor.Stream >= si.CachedInfo().State.LastSeq {
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

// Stop shuts the ingester and the bus down. Safe twice.
func (p *Pipeline) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.in.Shutdown(ctx); err != nil {
		return err
	}
	return p.Bus.Shutdown(ctx)
}

// Load writes a dataset the way production data arrives: published as OTLP
// on JetStream and stored by a real ingest.Ingester. It returns once all of
// it is stored, with the pipeline stopped.
func Load(tb testing.TB, eng store.Engine, d Dataset) error {
	tb.Helper()
	p := StartPipeline(tb, eng)
	p.PublishTraces(d.Traces)
	p.PublishEvents(d.Events)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := p.Wait(ctx); err != nil {
		return err
	}
	if err := p.Stop(); err != nil {
		return err
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
