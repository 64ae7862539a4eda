package main

import (
	"context"
	be "encoding/binary"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/config"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/chdb"
)

// crashSpans is one export of n spans of service, numbered from first: span
// id and trace id both carry the number, so every span is unique and can be
// found again by its span id.
func crashSpans(service string, first uint64, n int) (spans []sdktrace.ReadOnlySpan, ids []string) {
	res := resource.NewSchemaless(semconv.ServiceName(service))
	now := time.Now()
	stubs := make(tracetest.SpanStubs, n)
	ids = make([]string, n)
	for i := range stubs {
		var tid trace.TraceID
		var sid trace.SpanID
		num := first + uint64(i)
		be.BigEndian.PutUint64(tid[8:], num)
		tid[0] = 0xc7
		be.BigEndian.PutUint64(sid[:], num)
		ids[i] = sid.String()
		stubs[i] = tracetest.SpanStub{
			Name:     "GET /orders/{id}",
			SpanKind: trace.SpanKindServer,
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
				TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled,
			}),
			StartTime: now,
			EndTime:   now.Add(time.Millisecond),
			Attributes: []attribute.KeyValue{
				attribute.String("http.request.method", "GET"),
				attribute.String("url.path", fmt.Sprintf("/orders/%d", num)),
				attribute.Int("http.response.status_code", 200),
			},
			Resource:             res,
			InstrumentationScope: instrumentation.Scope{Name: "crash-test"},
		}
	}
	return stubs.Snapshots(), ids
}

// spanLedger records, per span id, whether its export got a success
// response.
type spanLedger struct {
	mu       sync.Mutex
	accepted map[string]bool
	failed   int // exports that returned an error
}

func (l *spanLedger) record(ids []string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed++
		return
	}
	for _, id := range ids {
		l.accepted[id] = true
	}
}

func (l *spanLedger) counts() (accepted, failed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.accepted), l.failed
}

// TestRunKill9LosesNoAcceptedSpan: OTel SDK exporters in several goroutines
// send spans to `tapline run`, which is killed with SIGKILL while they send,
// then started again on the same data directory. Every span whose export got
// a success response is stored in otel_traces exactly once, and no span is
// stored twice (each span is sent once; a failed export may or may not have
// been stored).
func TestRunKill9LosesNoAcceptedSpan(t *testing.T) {
	requireCHDB(t)
	dataDir := t.TempDir()
	const service, clients, perExport = "crash-test", 4, 100
	runArgs := func(grpcAddr, natsAddr string) []string {
		return []string{"run", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0",
			"--set", "log.format=json", "--set", "bus.embedded.listen=" + natsAddr,
			"--set", "collector.otlp_grpc=" + grpcAddr, "--set", "collector.otlp_http=127.0.0.1:0",
			"--set", "query.grpc.listen=127.0.0.1:0",
			// Messages delivered to the killed process come back after
			// ack_wait: keep the test short.
			"--set", "ingest.ack_wait=2s"}
	}
	grpcAddr, firstNATS := freeAddr(t), freeAddr(t)
	first := startProcess(t, nil, runArgs(grpcAddr, firstNATS)...)
	first.waitLog(t, "tapline run ready")
	firstJS := connectJetStream(t, firstNATS)

	sent := &spanLedger{accepted: map[string]bool{}}
	var next atomic.Uint64
	ctx, stopClients := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range clients {
		exp, err := otlptracegrpc.New(context.Background(), otlptracegrpc.WithEndpoint(grpcAddr),
			otlptracegrpc.WithInsecure(), otlptracegrpc.WithTimeout(5*time.Second),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { _ = exp.Shutdown(context.Background()) }()
			for ctx.Err() == nil {
				spans, ids := crashSpans(service, next.Add(perExport)-perExport+1, perExport)
				err := exp.ExportSpans(ctx, spans)
				if ctx.Err() != nil && err != nil {
					return // stopped by the test, not refused by the server
				}
				sent.record(ids, err)
				if err != nil {
					time.Sleep(10 * time.Millisecond) // the process is down
				}
			}
		}()
	}
	t.Cleanup(func() { stopClients(); wg.Wait() })

	// Kill while the clients keep sending, at a moment when ingest holds
	// delivered, unacknowledged messages: some exports are in flight, some
	// spans are in JetStream and not yet (or not known to be) in ClickHouse.
	require.Eventually(t, func() bool { a, _ := sent.counts(); return a >= 200*perExport },
		60*time.Second, 10*time.Millisecond, "spans accepted before the kill")
	require.Eventually(t, func() bool {
		info, err := ingestConsumer(firstJS)
		return err == nil && info.NumAckPending > 0
	}, 30*time.Second, time.Millisecond, "ingest holds unacknowledged messages")
	require.NoError(t, first.cmd.Process.Kill())
	<-first.done
	require.Eventually(t, func() bool { _, f := sent.counts(); return f >= clients },
		30*time.Second, 10*time.Millisecond, "exports fail while the process is down")
	stopClients()
	wg.Wait()
	accepted, failed := sent.counts()
	t.Logf("spans accepted: %d; exports failed: %d; spans sent: %d", accepted, failed, next.Load())

	// Restart on the same data directory and wait until ingest has
	// acknowledged everything in the stream.
	natsAddr := freeAddr(t)
	second := startProcess(t, nil, runArgs(freeAddr(t), natsAddr)...)
	ready := second.waitLog(t, "tapline run ready")
	js := connectJetStream(t, natsAddr)
	var info *jetstream.ConsumerInfo
	require.Eventually(t, func() bool {
		i, err := ingestConsumer(js)
		if err != nil {
			return false
		}
		info = i
		return info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream > 0
	}, 60*time.Second, 100*time.Millisecond, "ingest drains the stream after the restart: %+v", info)
	_, metrics, err := httpGet("http://" + ready["http"].(string) + "/metrics")
	require.NoError(t, err)
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "tapline_ingest_batches_total") || strings.HasPrefix(line, "tapline_ingest_redelivered_ledgered_total") {
			t.Logf("after the restart: %s", line)
		}
	}
	second.stop(t)

	// Read otel_traces with the process stopped.
	eng, err := chdb.Open(context.Background(), chdb.Options{
		Path: config.Default().Store.CHDBPath(dataDir), Database: config.Default().Store.Schema.Database,
		Conns: 1, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, eng.Close()) }()
	stored := spanCounts(t, eng, service)

	var missing, doubled []string
	for id := range sent.accepted {
		if stored[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id, n := range stored {
		if n > 1 {
			doubled = append(doubled, fmt.Sprintf("%s×%d", id, n))
		}
	}
	t.Logf("spans stored: %d (accepted %d)", len(stored), accepted)
	require.Empty(t, missing, "accepted spans missing after kill -9 (%d of %d)", len(missing), accepted)
	require.Empty(t, doubled, "spans stored more than once")
	require.GreaterOrEqual(t, len(stored), accepted)
}

// connectJetStream connects to the NATS server at addr for the test's
// duration.
func connectJetStream(t *testing.T, addr string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect("nats://"+addr, nats.MaxReconnects(0))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return js
}

// ingestConsumer reads the state of ingest's durable consumer.
func ingestConsumer(js jetstream.JetStream) (*jetstream.ConsumerInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, bus.StreamName, ingest.DefaultConsumer)
	if err != nil {
		return nil, err
	}
	return c.Info(ctx)
}

// spanCounts returns how many otel_traces rows each span id of service has.
func spanCounts(t *testing.T, eng store.Engine, service string) map[string]uint64 {
	t.Helper()
	rows, err := eng.Query(context.Background(),
		"SELECT SpanId, count() FROM otel_traces WHERE ServiceName = {service:String} GROUP BY SpanId",
		store.Params{"service": service})
	require.NoError(t, err)
	defer rows.Close()
	counts := map[string]uint64{}
	for rows.Next() {
		var id string
		var n uint64
		require.NoError(t, rows.Scan(&id, &n))
		counts[id] = n
	}
	require.NoError(t, rows.Err())
	return counts
}
