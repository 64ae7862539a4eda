package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/config/configtype"
	"github.com/tapline/tapline/ingest/ingesttest"
	"github.com/tapline/tapline/ingest/otlprow"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/byid"
)

// Benchmark shape: a stream pre-filled with benchSpans realistic spans (10
// attributes, 2 events) in OTLP messages of benchPerMessage spans, the batch
// size of the OTel SDKs' batch span processor.
const (
	benchSpans      = 100_000
	benchPerMessage = 512
)

// BenchmarkIngest measures spans/s from a pre-filled stream into otel_traces
// (consume, decode, map, ledger, insert, acknowledge), next to a baseline
// measured in the same run: the same spans, already mapped, inserted
// directly through the engine in batches of the same size. It reports the
// pipeline's share of time per stage and its ratio to the baseline.
//
//	go test ./ingest -run '^$' -bench BenchmarkIngest -benchtime 4x
func BenchmarkIngest(b *testing.B) {
	for _, maxBytes := range []int{16 << 20, 32 << 20} {
		b.Run(fmt.Sprintf("batch_max_bytes=%dMiB", maxBytes>>20), func(b *testing.B) {
			benchIngest(b, maxBytes)
		})
	}
}

func benchIngest(b *testing.B, maxBytes int) {
	eng := ingesttest.Engine(b)
	bs := ingesttest.Bus(b)
	pub := ingesttest.NewPublisher(b, bs.JetStream())
	ctx := context.Background()

	msgs := make([]ptrace.Traces, 0, benchSpans/benchPerMessage+1)
	for i := 0; i < benchSpans; i += benchPerMessage {
		msgs = append(msgs, ingesttest.Spans(i, min(benchPerMessage, benchSpans-i)))
	}
	cfg := Default()
	cfg.BatchMaxBytes = configtype.ByteSize(maxBytes)
	cfg.BatchTimeout = 100 * time.Millisecond

	var (
		pipeline, baseline       time.Duration
		pipelineCPU, baselineCPU time.Duration
		perBatch                 int
		stages                   = map[string]float64{}
		ratios                   []float64
	)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		require.NoError(b, truncateSpans(ctx, eng))
		for _, td := range msgs {
			pub.Traces(td)
		}
		cfg.Consumer = fmt.Sprintf("bench-%d", i)
		reg := prometheus.NewRegistry()
		in, err := New(cfg, eng, ingesttest.Connect(b, bs), reg, nil)
		require.NoError(b, err)
		b.StartTimer()

		start, cpu := time.Now(), cpuTime()
		require.NoError(b, in.Start(ctx))
		waitConsumed(b, bs, cfg.Consumer)
		last := time.Since(start)
		pipeline += last
		pipelineCPU += cpuTime() - cpu

		b.StopTimer()
		require.NoError(b, in.Shutdown(ctx))
		require.Equal(b, uint64(benchSpans), ingesttest.Count(b, eng, otlprow.TableTraces))
		batches := counterValue(b, in.m.batches.WithLabelValues(outcomeInserted))
		perBatch = int(float64(benchSpans) / batches)
		for stage, s := range stageSums(b, reg) {
			stages[stage] += s
		}
		// The stream is shared by the iterations: drop what this one read.
		require.NoError(b, purge(ctx, bs))

		// Baseline: the same spans, mapped beforehand, inserted directly in
		// batches of the size the pipeline made.
		require.NoError(b, truncateSpans(ctx, eng))
		batchesRows := mapBatches(msgs, perBatch)
		b.StartTimer()
		start, cpu = time.Now(), cpuTime()
		for _, rows := range batchesRows {
			require.NoError(b, insertRows(ctx, eng, rows))
		}
		took := time.Since(start)
		baseline += took
		baselineCPU += cpuTime() - cpu
		ratios = append(ratios, took.Seconds()/last.Seconds())
		b.StopTimer()
		require.Equal(b, uint64(benchSpans), ingesttest.Count(b, eng, otlprow.TableTraces))
		require.Equal(b, uint64(benchSpans), ingesttest.Count(b, eng, byid.Spans.Table()))
	}
	total := float64(benchSpans * b.N)
	b.ReportMetric(total/pipeline.Seconds(), "spans/s")
	b.ReportMetric(total/baseline.Seconds(), "baseline_spans/s")
	b.ReportMetric(baseline.Seconds()/pipeline.Seconds(), "ratio")
	// The median of the iterations' ratios: each compares two runs a few
	// seconds apart, so it is the figure least moved by other load.
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "median_ratio")
	b.ReportMetric(float64(perBatch), "spans/batch")
	// CPU time (all threads of the process, ClickHouse's included) per
	// span: less sensitive than throughput to other load on the machine.
	b.ReportMetric(float64(pipelineCPU.Microseconds())/total, "cpu_us/span")
	b.ReportMetric(float64(baselineCPU.Microseconds())/total, "baseline_cpu_us/span")
	var sum float64
	for _, s := range stages {
		sum += s
	}
	for _, st := range []string{stageFetch, stageDecode, stageBuild, stageLedger, stageInsert, stageAck} {
		b.ReportMetric(100*stages[st]/sum, st+"_%")
	}
}

// cpuTime is the CPU time this process has used, all threads.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitConsumed waits until the consumer has acknowledged every message.
func waitConsumed(tb testing.TB, b *bus.Bus, consumer string) {
	tb.Helper()
	js := b.JetStream()
	require.Eventually(tb, func() bool {
		c, err := js.Consumer(context.Background(), bus.StreamName, consumer)
		if err != nil {
			return false
		}
		ci := c.CachedInfo()
		return ci.NumPending == 0 && ci.NumAckPending == 0
	}, 10*time.Minute, 5*time.Millisecond)
}

func purge(ctx context.Context, b *bus.Bus) error {
	s, err := b.JetStream().Stream(ctx, bus.StreamName)
	if err != nil {
		return err
	}
	return s.Purge(ctx)
}

func counterValue(tb testing.TB, c prometheus.Metric) float64 {
	var m dto.Metric
	require.NoError(tb, c.Write(&m))
	return m.GetCounter().GetValue()
}

// stageSums reads the seconds spent per stage from the stage histogram.
func stageSums(tb testing.TB, reg *prometheus.Registry) map[string]float64 {
	mfs, err := reg.Gather()
	require.NoError(tb, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "tapline_ingest_stage_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleSum()
		}
	}
	return out
}

// mapBatches maps the messages into batches of about perBatch spans.
func mapBatches(msgs []ptrace.Traces, perBatch int) []*otlprow.Rows {
	var out []*otlprow.Rows
	cur := &otlprow.Rows{}
	for _, td := range msgs {
		cur.AppendTraces(td)
		if len(cur.Spans) >= perBatch {
			out = append(out, cur)
			cur = &otlprow.Rows{}
		}
	}
	if len(cur.Spans) > 0 {
		out = append(out, cur)
	}
	return out
}

// insertRows is the insert step alone: the spans into otel_traces and its
// copy by id, as the ingest writes them.
func insertRows(ctx context.Context, eng store.Engine, rows *otlprow.Rows) error {
	bt, err := eng.PrepareBatch(ctx, otlprow.TableTraces, otlprow.SpanColumns())
	if err != nil {
		return err
	}
	bc, err := eng.PrepareBatch(ctx, byid.Spans.Table(), byid.InsertColumns())
	if err != nil {
		return err
	}
	var vals []any
	for i := range rows.Spans {
		vals = rows.Spans[i].AppendValues(vals[:0])
		if err := bt.Append(vals...); err != nil {
			return err
		}
	}
	if err := byid.Append(bc, rows.Spans); err != nil {
		return err
	}
	// Both at once, as the ingest sends them.
	errc := make(chan error, 1)
	go func() { errc <- bc.Send(ctx) }()
	return errors.Join(bt.Send(ctx), <-errc)
}

// truncateSpans empties otel_traces and its copy by id.
func truncateSpans(ctx context.Context, eng store.Engine) error {
	for _, t := range []string{otlprow.TableTraces, byid.Spans.Table()} {
		if err := eng.Exec(ctx, "TRUNCATE TABLE "+t, nil); err != nil {
			return err
		}
	}
	return nil
}
