package natsexporter

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
)

// benchTraces is one OTLP request as an SDK sends it: one resource, one
// scope, spans with ten attributes and an event each.
func benchTraces(spans int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutStr("host.name", "node-17")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("go.opentelemetry.io/otel/sdk/tracer")
	for i := 0; i < spans; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetName("GET /api/orders/{id}")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetTraceID(pcommon.TraceID{byte(i), 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
		sp.SetSpanID(spanID(uint64(i + 1)))
		sp.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + i))
		sp.SetEndTimestamp(pcommon.Timestamp(1_700_000_000_002_000_000 + i))
		a := sp.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutStr("http.route", "/api/orders/{id}")
		a.PutStr("url.path", "/api/orders/"+strconv.Itoa(i))
		a.PutInt("http.response.status_code", 200)
		a.PutStr("client.address", "10.1.2.3")
		a.PutStr("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)")
		a.PutStr("tapline.request_id", fmt.Sprintf("%032x", i))
		a.PutStr("server.address", "orders.internal")
		a.PutInt("server.port", 8443)
		a.PutStr("network.protocol.version", "2")
		ev := sp.Events().AppendEmpty()
		ev.SetName("db.query")
		ev.Attributes().PutStr("db.statement", "SELECT * FROM orders WHERE id = $1")
	}
	return td
}

// benchStream creates Tapline's stream with a size cap so long runs do not
// fill the disk.
func benchStream(b *testing.B, srv *natsexportertest.Server) {
	b.Helper()
	_, js := srv.Connect(b)
	_, err := js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{
		Name:       bus.StreamName,
		Subjects:   []string{bus.SubjectTraces, bus.SubjectLogs, bus.SubjectEvents},
		Storage:    jetstream.FileStorage,
		Duplicates: 2 * time.Minute,
		MaxBytes:   1 << 30,
		Discard:    jetstream.DiscardOld,
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPublish measures the exporter's ConsumeTraces (marshal, content
// id, async publish, wait for the PubAck) against a baseline in the same
// run: publishing the same, already marshalled bytes with the bare
// jetstream client and waiting for the PubAck. Iterations alternate so both
// see the same machine. Each request holds 512 spans; the benchmark reports
// spans/s for both and their ratio.
func BenchmarkPublish(b *testing.B) {
	const spans = 512
	srv := natsexportertest.RunServer(b, natsexportertest.Options{MaxPayload: 8 << 20})
	benchStream(b, srv)
	cfg := createDefaultConfig().(*Config)
	cfg.URL = srv.URL()
	tel := startBenchExporter(b, cfg)

	_, js := srv.Connect(b)
	td := benchTraces(spans)
	raw, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var base, exp time.Duration
	first := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		m := &nats.Msg{Subject: bus.SubjectTraces, Data: raw, Header: nats.Header{}}
		m.Header.Set(bus.HeaderMsgID, "base-"+strconv.Itoa(i))
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			b.Fatal(err)
		}
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.Fatal(err)
		}
		t1 := time.Now()
		// A different request each time, or it would be deduplicated.
		first.SetStartTimestamp(pcommon.Timestamp(i))
		if err := tel.ConsumeTraces(ctx, td); err != nil {
			b.Fatal(err)
		}
		base += t1.Sub(t0)
		exp += time.Since(t1)
	}
	b.StopTimer()
	reportRatio(b, spans, base, exp)
}

// BenchmarkPublishParallel is BenchmarkPublish with concurrent exports, as
// a collector serving many clients sees them.
func BenchmarkPublishParallel(b *testing.B) {
	const spans = 512
	srv := natsexportertest.RunServer(b, natsexportertest.Options{MaxPayload: 8 << 20})
	benchStream(b, srv)
	cfg := createDefaultConfig().(*Config)
	cfg.URL = srv.URL()
	te := startBenchExporter(b, cfg)
	_, js := srv.Connect(b)
	raw, err := ptraceotlp.NewExportRequestFromTraces(benchTraces(spans)).MarshalProto()
	if err != nil {
		b.Fatal(err)
	}
	const workers = 8
	payloads := make([]ptrace.Traces, workers)
	for w := range payloads {
		payloads[w] = benchTraces(spans)
	}
	b.ResetTimer()
	took := interleaved(b, workers, b.N, func(_, i int) error {
		m := &nats.Msg{Subject: bus.SubjectTraces, Data: raw, Header: nats.Header{}}
		m.Header.Set(bus.HeaderMsgID, "base-"+strconv.Itoa(i))
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			return err
		}
		select {
		case <-f.Ok():
			return nil
		case err := <-f.Err():
			return err
		}
	}, func(w, i int) error {
		td := payloads[w]
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetStartTimestamp(pcommon.Timestamp(i))
		return te.ConsumeTraces(context.Background(), td)
	})
	b.StopTimer()
	reportRatio(b, spans, took[0], took[1])
}

// interleaved makes n calls of each phase, over workers goroutines, in
// alternating rounds so that every phase sees the same machine even when
// its load changes, and returns the time spent in each phase.
func interleaved(b *testing.B, workers, n int, phases ...func(w, i int) error) []time.Duration {
	b.Helper()
	took := make([]time.Duration, len(phases))
	round := 2 * workers
	for from := 0; from < n; from += round {
		to := min(from+round, n)
		for p, one := range phases {
			start := time.Now()
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				go func() {
					for i := from + w; i < to; i += workers {
						if err := one(w, i); err != nil {
							errs <- err
							return
						}
					}
					errs <- nil
				}()
			}
			for w := 0; w < workers; w++ {
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
			}
			took[p] += time.Since(start)
		}
	}
	return took
}

func reportRatio(b *testing.B, spans int, base, exp time.Duration) {
	b.Helper()
	total := float64(spans * b.N)
	b.ReportMetric(total/base.Seconds(), "baseline_spans/s")
	b.ReportMetric(total/exp.Seconds(), "exporter_spans/s")
	b.ReportMetric(base.Seconds()/exp.Seconds(), "ratio")
}

func startBenchExporter(b *testing.B, cfg *Config) interface {
	ConsumeTraces(context.Context, ptrace.Traces) error
} {
	b.Helper()
	set := exportertestSettings()
	te, err := NewFactory().CreateTraces(context.Background(), set, cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := te.Start(context.Background(), componenttestHost()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = te.Shutdown(context.Background()) })
	deadline := time.Now().Add(10 * time.Second)
	for te.ConsumeTraces(context.Background(), ptrace.NewTraces()) != nil {
		if time.Now().After(deadline) {
			b.Fatal("exporter did not connect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return te
}
