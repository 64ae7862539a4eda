package collector

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
)

// benchSpans is one SDK export of n spans (ten attributes and an event
// each), unique per seq so that JetStream never sees a duplicate.
func benchSpans(n int, seq int64) []sdktrace.ReadOnlySpan {
	stubs := make(tracetest.SpanStubs, n)
	start := time.Unix(1_700_000_000, seq)
	for i := range stubs {
		tid := trace.TraceID{byte(seq >> 24), byte(seq >> 16), byte(seq >> 8), byte(seq), byte(i >> 8), byte(i), 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		sid := trace.SpanID{byte(i >> 8), byte(i), 3, 4, 5, 6, 7, 8}
		stubs[i] = tracetest.SpanStub{
			Name:      "GET /api/orders/{id}",
			SpanKind:  trace.SpanKindServer,
			StartTime: start,
			EndTime:   start.Add(2 * time.Millisecond),
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
			}),
			Attributes: []attribute.KeyValue{
				attribute.String("http.request.method", "GET"),
				attribute.String("http.route", "/api/orders/{id}"),
				attribute.String("url.path", "/api/orders/"+strconv.Itoa(i)),
				attribute.Int("http.response.status_code", 200),
				attribute.String("client.address", "10.1.2.3"),
				attribute.String("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
				attribute.String("tapline.request_id", fmt.Sprintf("%032x", i)),
				attribute.String("server.address", "orders.internal"),
				attribute.Int("server.port", 8443),
				attribute.String("network.protocol.version", "2"),
			},
			Events: []sdktrace.Event{{Name: "db.query", Time: start, Attributes: []attribute.KeyValue{
				attribute.String("db.statement", "SELECT * FROM orders WHERE id = $1"),
			}}},
		}
	}
	return stubs.Snapshots()
}

// BenchmarkOTLPToJetStream measures the whole receive path: OTel SDK
// exporters (gRPC or HTTP, on this machine) send 512-span requests from
// 4 concurrent clients (pdata-grpc: a lean client re-sending a prepared
// request with one field changed, so that the client costs little) to the collector with the built-in configuration;
// a request returns once JetStream acknowledged it. The baseline, in the
// same run and with the same concurrency, publishes the same requests,
// already marshalled, straight to JetStream and waits for the PubAck: the
// ratio is what receiving, decoding and re-encoding costs on top of the bus.
// For gRPC a second reference runs the same clients against a bare OTLP
// server that decodes and drops: ratio_vs_sink is the collector and the bus
// against the clients' own cost.
func BenchmarkOTLPToJetStream(b *testing.B) {
	const spans, workers = 512, 4
	for _, transport := range []string{"grpc", "http", "pdata-grpc"} {
		b.Run(transport, func(b *testing.B) {
			srv := natsexportertest.RunServer(b, natsexportertest.Options{MaxPayload: 8 << 20})
			_, js := srv.Connect(b)
			_, err := js.CreateOrUpdateStream(context.Background(), jetstream.StreamConfig{
				Name: bus.StreamName, Subjects: []string{bus.SubjectTraces, bus.SubjectLogs, bus.SubjectEvents},
				Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute, MaxBytes: 1 << 30, Discard: jetstream.DiscardOld,
			})
			if err != nil {
				b.Fatal(err)
			}
			grpcAddr, httpAddr := freeAddr(b), freeAddr(b)
			c, err := New(Settings{
				NATS: NATS{URL: srv.URL()}, OTLPGRPCEndpoint: grpcAddr, OTLPHTTPEndpoint: httpAddr,
				Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(),
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = c.Shutdown(context.Background()) })

			// The baseline's bytes: what the collector would publish for one
			// request.
			raw := marshalStubs(b, benchSpans(spans, 0))

			exporters := make([]sdktrace.SpanExporter, workers)
			for w := range exporters {
				if transport == "pdata-grpc" {
					exporters[w] = newPdataExporter(b, grpcAddr, raw)
				} else if transport == "grpc" {
					exporters[w], err = otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure())
				} else {
					exporters[w], err = otlptracehttp.New(context.Background(), otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithInsecure())
				}
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = exporters[w].Shutdown(context.Background()) })
			}
			baseline := func(_, i int) error {
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
			}
			var seq atomic.Int64
			send := func(exps []sdktrace.SpanExporter) func(w, i int) error {
				return func(w, _ int) error {
					if transport == "pdata-grpc" {
						return exps[w].ExportSpans(context.Background(), nil)
					}
					return exps[w].ExportSpans(context.Background(), benchSpans(spans, seq.Add(1)))
				}
			}
			phases := []func(w, i int) error{baseline, send(exporters)}
			if transport == "grpc" {
				// Second reference: the same clients against a bare OTLP
				// server that decodes and drops (the clients' own cost).
				ln, err := listenOTLP(context.Background(), func(ptraceotlp.ExportRequest) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(ln.close)
				sinkExp := make([]sdktrace.SpanExporter, workers)
				for w := range sinkExp {
					if sinkExp[w], err = otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(ln.addr), otlptracegrpc.WithInsecure()); err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { _ = sinkExp[w].Shutdown(context.Background()) })
				}
				phases = append(phases, send(sinkExp))
			}
			b.ResetTimer()
			took := interleaved(b, workers, b.N, phases...)
			base, path := took[0], took[1]
			var sink time.Duration
			if len(took) > 2 {
				sink = took[2]
			}
			b.StopTimer()
			total := float64(spans * b.N)
			b.ReportMetric(total/base.Seconds(), "baseline_spans/s")
			b.ReportMetric(total/path.Seconds(), "collector_spans/s")
			b.ReportMetric(base.Seconds()/path.Seconds(), "ratio")
			if sink > 0 {
				b.ReportMetric(total/sink.Seconds(), "sink_spans/s")
				b.ReportMetric(sink.Seconds()/path.Seconds(), "ratio_vs_sink")
			}
		})
	}
}

// marshalStubs encodes spans as the collector would publish them, by way of
// an in-process receiver-less round trip through pdata.
func marshalStubs(b *testing.B, ro []sdktrace.ReadOnlySpan) []byte {
	b.Helper()
	capture := &captureExporter{}
	if err := capture.ExportSpans(context.Background(), ro); err != nil {
		b.Fatal(err)
	}
	return capture.raw
}

// interleaved makes n calls of each phase, over workers goroutines, in
// alternating rounds (a few calls of phase 0, then of phase 1, ...) so that
// every phase sees the same machine even when its load changes, and returns
// the time spent in each phase. Call i of a phase gets index i.
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

// captureExporter marshals spans with the SDK's OTLP transform into the
// request bytes an OTLP/gRPC client would send, decoded and re-encoded by
// pdata as the collector publishes them.
type captureExporter struct{ raw []byte }

func (c *captureExporter) ExportSpans(ctx context.Context, ro []sdktrace.ReadOnlySpan) error {
	ln, err := listenOTLP(ctx, func(req ptraceotlp.ExportRequest) error {
		raw, err := req.MarshalProto()
		c.raw = raw
		return err
	})
	if err != nil {
		return err
	}
	defer ln.close()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(ln.addr), otlptracegrpc.WithInsecure())
	if err != nil {
		return err
	}
	defer func() { _ = exp.Shutdown(ctx) }()
	return exp.ExportSpans(ctx, ro)
}

// pdataExporter is a lean OTLP/gRPC client: it sends a prepared request,
// changing one span's start time each time so that no two are alike. It
// ignores the spans it is given (only their count matters to the benchmark).
type pdataExporter struct {
	client ptraceotlp.GRPCClient
	conn   *grpc.ClientConn
	req    ptraceotlp.ExportRequest
	n      int64
}

func newPdataExporter(b *testing.B, addr string, raw []byte) *pdataExporter {
	b.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(raw); err != nil {
		b.Fatal(err)
	}
	return &pdataExporter{client: ptraceotlp.NewGRPCClient(conn), conn: conn, req: req}
}

func (p *pdataExporter) ExportSpans(ctx context.Context, _ []sdktrace.ReadOnlySpan) error {
	p.n++
	first := p.req.Traces().ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	first.SetStartTimestamp(pcommon.Timestamp(time.Now().UnixNano() + p.n))
	_, err := p.client.Export(ctx, p.req)
	return err
}

func (p *pdataExporter) Shutdown(context.Context) error { return p.conn.Close() }
