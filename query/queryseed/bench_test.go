package queryseed_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/query"
	"github.com/tapline/tapline/query/queryseed"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/chdb"
	"github.com/tapline/tapline/store/chdb/chdbtest"
	"github.com/tapline/tapline/store/schema"
)

// The benchmark's data: TAPLINE_BENCH_REQUESTS requests (default 3.3
// million: about 11.5 million spans and 10 million access events) over 24
// hours, seeded through JetStream and ingest into TAPLINE_BENCH_DIR (a
// temporary directory by default; give a directory to seed once and reuse
// it across runs).
const defaultRequests = 3_300_000

var env struct {
	once     sync.Once
	err      error
	eng      store.Engine
	dir, tmp string
	end      time.Time
	traces   []string
	requests []string
	spans    uint64
	events   uint64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if env.eng != nil {
		_ = env.eng.Close()
	}
	if env.tmp != "" {
		_ = os.RemoveAll(env.tmp)
	}
	os.Exit(code)
}

func benchRequests() int {
	if s := os.Getenv("TAPLINE_BENCH_REQUESTS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return defaultRequests
}

func one[T any](ctx context.Context, eng store.Engine, sql string) (T, error) {
	var v T
	rows, err := eng.Query(ctx, sql, nil)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	if rows.Next() {
		err = rows.Scan(&v)
	}
	return v, err
}

func column(ctx context.Context, eng store.Engine, sql string) ([]string, error) {
	rows, err := eng.Query(ctx, sql, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// setup opens (and, when empty, seeds) the benchmark's data once.
func setup(b *testing.B) {
	b.Helper()
	chdbtest.RequireLibrary(b)
	env.once.Do(func() {
		ctx := context.Background()
		env.dir = os.Getenv("TAPLINE_BENCH_DIR")
		if env.dir == "" {
			env.tmp, env.err = os.MkdirTemp("", "tapline-bench-")
			if env.err != nil {
				return
			}
			env.dir = env.tmp
		}
		logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		env.eng, env.err = chdb.Open(ctx, chdb.Options{Path: filepath.Join(env.dir, "clickhouse"), Database: schema.DefaultDatabase, Logger: logger})
		if env.err != nil {
			return
		}
		if _, env.err = schema.Migrate(ctx, env.eng, schema.DefaultOptions()); env.err != nil {
			return
		}
		if env.err = queryseed.PrepareLedger(ctx, env.eng); env.err != nil {
			return
		}
		n, err := one[uint64](ctx, env.eng, "SELECT count() FROM otel_traces")
		if env.err = err; err != nil {
			return
		}
		if n == 0 {
			o := queryseed.DefaultOptions(benchRequests())
			fmt.Fprintf(os.Stderr, "seeding %d requests through JetStream and ingest into %s\n", o.Requests, env.dir)
			st, err := queryseed.Seed(ctx, env.eng, o, filepath.Join(env.dir, "seed-nats"), logger, nil)
			if env.err = err; err != nil {
				return
			}
			fmt.Fprintln(os.Stderr, "seeded:", st)
			_ = os.RemoveAll(filepath.Join(env.dir, "seed-nats"))
		}
		if env.spans, env.err = one[uint64](ctx, env.eng, "SELECT count() FROM otel_traces"); env.err != nil {
			return
		}
		if env.events, env.err = one[uint64](ctx, env.eng, "SELECT count() FROM access_events WHERE Source != 'api'"); env.err != nil {
			return
		}
		var last time.Time
		if last, env.err = one[time.Time](ctx, env.eng, "SELECT max(Timestamp) FROM otel_traces"); env.err != nil {
			return
		}
		env.end = last.Truncate(time.Hour).Add(time.Hour)
		if env.traces, env.err = column(ctx, env.eng, "SELECT TraceId FROM otel_traces_trace_id_ts GROUP BY TraceId ORDER BY cityHash64(TraceId) LIMIT 500"); env.err != nil {
			return
		}
		env.requests, env.err = column(ctx, env.eng, "SELECT RequestId FROM access_events WHERE Source = 'nginx' ORDER BY cityHash64(RequestId) LIMIT 500")
	})
	if env.err != nil {
		b.Fatal(env.err)
	}
}

// client starts a query server on the benchmark's data and returns gRPC
// clients with a viewer's token.
func client(b *testing.B) (context.Context, taplinev1.TraceServiceClient, taplinev1.EventServiceClient) {
	b.Helper()
	cfg := query.Default()
	cfg.GRPC.Listen = "127.0.0.1:0"
	const token = "bench-token-0123456789"
	cfg.Auth.Tokens = []query.TokenConfig{{Name: "bench", Token: token, Role: query.RoleAdmin}}
	srv, err := query.New(cfg, env.eng, query.Options{Now: func() time.Time { return env.end }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	return ctx, taplinev1.NewTraceServiceClient(conn), taplinev1.NewEventServiceClient(conn)
}

// warmupCalls is how many calls run before the measured ones.
const warmupCalls = 20

// baselineSamples is how many times the naive query runs for the ratio.
const baselineSamples = 15

// measure runs call b.N times and reports its p50 and p95 latency; with a
// baseline (the same lookup as plain SQL without the API's time bounds and
// staging), it also reports p95 / baseline p95, measured in the same run.
func measure(b *testing.B, call func(i int) error, baseline func(i int) error) {
	b.Helper()
	// A server that has run a while holds the primary indexes and marks
	// of the parts it reads in its caches; the first calls after opening
	// the data load them. Warm up on ids the measured calls do not use.
	for i := range warmupCalls {
		if err := call(b.N + i); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	cpu0 := processCPU(b)
	for i := range b.N {
		t0 := time.Now()
		if err := call(i); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	cpu := processCPU(b) - cpu0
	b.StopTimer()
	p50, p95 := percentiles(lat)
	b.ReportMetric(ms(p50), "p50_ms")
	b.ReportMetric(ms(p95), "p95_ms")
	// CPU time of the whole process (API server and ClickHouse threads) per
	// call: what a call costs the machine, which moves far less than its
	// latency when other work shares the cores.
	b.ReportMetric(ms(cpu)/float64(b.N), "cpu_ms/op")
	b.ReportMetric(float64(env.spans)/1e6, "Mspans")
	b.ReportMetric(float64(env.events)/1e6, "Mevents")
	if baseline == nil {
		return
	}
	base := make([]time.Duration, 0, baselineSamples)
	for i := range baselineSamples {
		t0 := time.Now()
		if err := baseline(i); err != nil {
			b.Fatal(err)
		}
		base = append(base, time.Since(t0))
	}
	_, bp95 := percentiles(base)
	b.ReportMetric(ms(bp95), "naive_p95_ms")
	b.ReportMetric(float64(p95)/float64(bp95), "p95/naive")
}

func percentiles(d []time.Duration) (p50, p95 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.95)
}

// processCPU is the user and system CPU time this process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// drain runs a naive query and reads its rows.
func drain(sql string, params store.Params) error {
	rows, err := env.eng.Query(context.Background(), sql, params)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}

var entryServices = []string{"orders", "catalog", "payments", "users"}

func BenchmarkQueryAPI(b *testing.B) {
	setup(b)
	ctx, traces, events := client(b)
	day := func() (*timestamppb.Timestamp, *timestamppb.Timestamp) {
		return timestamppb.New(env.end.Add(-24 * time.Hour)), timestamppb.New(env.end)
	}
	start, end := day()
	dayParams := func(p store.Params) store.Params {
		p["s"], p["e"] = env.end.Add(-24*time.Hour), env.end
		return p
	}

	b.Run("GetTrace", func(b *testing.B) {
		measure(b, func(i int) error {
			_, err := traces.GetTrace(ctx, &taplinev1.GetTraceRequest{TraceId: env.traces[i%len(env.traces)]})
			return err
		}, func(i int) error {
			return drain("SELECT * FROM otel_traces WHERE TraceId = {id:String}", store.Params{"id": env.traces[i%len(env.traces)]})
		})
	})
	b.Run("GetRequest", func(b *testing.B) {
		measure(b, func(i int) error {
			_, err := traces.GetRequest(ctx, &taplinev1.GetRequestRequest{RequestId: env.requests[i%len(env.requests)]})
			return err
		}, func(i int) error {
			return drain("SELECT * FROM access_events WHERE RequestId = {id:String}", store.Params{"id": env.requests[i%len(env.requests)]})
		})
	})
	naiveSearch := "SELECT TraceId, max(Timestamp) AS M FROM otel_traces WHERE Timestamp >= {s:DateTime64(9)} AND Timestamp < {e:DateTime64(9)} %s GROUP BY TraceId ORDER BY M DESC LIMIT 21"
	b.Run("SearchTraces24h/service", func(b *testing.B) {
		measure(b, func(i int) error {
			_, err := traces.SearchTraces(ctx, &taplinev1.SearchTracesRequest{ServiceName: entryServices[i%4], StartTime: start, EndTime: end})
			return err
		}, func(i int) error {
			return drain(fmt.Sprintf(naiveSearch, "AND ServiceName = {svc:String}"), dayParams(store.Params{"svc": entryServices[i%4]}))
		})
	})
	b.Run("SearchTraces24h/none", func(b *testing.B) {
		measure(b, func(int) error {
			_, err := traces.SearchTraces(ctx, &taplinev1.SearchTracesRequest{StartTime: start, EndTime: end})
			return err
		}, func(int) error { return drain(fmt.Sprintf(naiveSearch, ""), dayParams(store.Params{})) })
	})
	b.Run("SearchTraces24h/attributes", func(b *testing.B) {
		tiers := []string{"gold", "platinum", "silver", "free"}
		measure(b, func(i int) error {
			_, err := traces.SearchTraces(ctx, &taplinev1.SearchTracesRequest{
				ServiceName: entryServices[i%4], Attributes: []string{"customer.tier=" + tiers[i%4], "http.route=/orders/{id}"},
				MinDuration: durationpb.New(30 * time.Millisecond), StartTime: start, EndTime: end})
			return err
		}, func(i int) error {
			return drain(fmt.Sprintf(naiveSearch, "AND ServiceName = {svc:String} AND SpanAttributes['customer.tier'] = {t:String} AND SpanAttributes['http.route'] = '/orders/{id}' AND Duration >= 30000000"),
				dayParams(store.Params{"svc": entryServices[i%4], "t": tiers[i%4]}))
		})
	})
	b.Run("SearchTraces24h/errors", func(b *testing.B) {
		measure(b, func(i int) error {
			_, err := traces.SearchTraces(ctx, &taplinev1.SearchTracesRequest{ErrorsOnly: true, ServiceName: entryServices[i%4], StartTime: start, EndTime: end})
			return err
		}, func(i int) error {
			return drain(fmt.Sprintf(naiveSearch, "AND ServiceName = {svc:String} AND StatusCode = 'Error'"), dayParams(store.Params{"svc": entryServices[i%4]}))
		})
	})
	naiveEvents := "SELECT * FROM access_events WHERE Timestamp >= {s:DateTime64(9)} AND Timestamp < {e:DateTime64(9)} %s ORDER BY Timestamp DESC LIMIT 21"
	b.Run("SearchEvents24h/none", func(b *testing.B) {
		measure(b, func(int) error {
			_, err := events.SearchEvents(ctx, &taplinev1.SearchEventsRequest{StartTime: start, EndTime: end})
			return err
		}, func(int) error { return drain(fmt.Sprintf(naiveEvents, ""), dayParams(store.Params{})) })
	})
	b.Run("SearchEvents24h/tap5xx", func(b *testing.B) {
		measure(b, func(int) error {
			_, err := events.SearchEvents(ctx, &taplinev1.SearchEventsRequest{Sources: []string{"tap"}, StatusClass: "5xx", StartTime: start, EndTime: end})
			return err
		}, func(int) error {
			return drain(fmt.Sprintf(naiveEvents, "AND Source = 'tap' AND Status >= 500 AND Status < 600"), dayParams(store.Params{}))
		})
	})
	// Listings and summaries, for information (no target): each reads the
	// whole window.
	b.Run("ListServices24h", func(b *testing.B) {
		measure(b, func(int) error {
			_, err := traces.ListServices(ctx, &taplinev1.ListServicesRequest{StartTime: start, EndTime: end})
			return err
		}, nil)
	})
	b.Run("ListAttributeKeys24h", func(b *testing.B) {
		measure(b, func(i int) error {
			_, err := traces.ListAttributeKeys(ctx, &taplinev1.ListAttributeKeysRequest{ServiceName: entryServices[i%4], StartTime: start, EndTime: end})
			return err
		}, nil)
	})
	b.Run("GetIdentities24h", func(b *testing.B) {
		measure(b, func(int) error {
			_, err := events.GetIdentities(ctx, &taplinev1.GetIdentitiesRequest{StartTime: start, EndTime: end})
			return err
		}, nil)
	})
	b.Run("GetTlsPosture24h", func(b *testing.B) {
		measure(b, func(int) error {
			_, err := events.GetTlsPosture(ctx, &taplinev1.GetTlsPostureRequest{StartTime: start, EndTime: end})
			return err
		}, nil)
	})
	b.Run("SearchEvents24h/principal", func(b *testing.B) {
		measure(b, func(i int) error {
			_, err := events.SearchEvents(ctx, &taplinev1.SearchEventsRequest{Principal: fmt.Sprintf("user%d@example.org", i%5000), StartTime: start, EndTime: end})
			return err
		}, func(i int) error {
			return drain(fmt.Sprintf(naiveEvents, "AND Principal = {p:String}"), dayParams(store.Params{"p": fmt.Sprintf("user%d@example.org", i%5000)}))
		})
	})
}
