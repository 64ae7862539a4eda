package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/tapline/tapline/bus"
	"github.com/tapline/tapline/exporters/natsexporter/natsexportertest"
	"github.com/tapline/tapline/ingest"
	"github.com/tapline/tapline/loadgen"
	"github.com/tapline/tapline/store/chdb"
)

// Load settings of BenchmarkPipeline. TAPLINE_BENCH_DURATION changes how
// long each phase sends (default 20s); TAPLINE_BENCH_RATE the rate of the
// paced phase (default 30000 spans/s); TAPLINE_BENCH_SET adds settings to
// `tapline run` ("ingest.batch_max_bytes=4MiB ...").
const (
	benchWorkers     = 8
	benchSpansPerReq = 512
	benchSteadyRate  = 30000 // spans/s of the memory measurement
	probeService     = "freshness-probe"
	probeEvery       = 100 * time.Millisecond
	pollEvery        = 250 * time.Millisecond // paced phase: freshness is a target
	pollEveryMax     = time.Second            // max phase: freshness only indicative
	benchToken       = "bench-token-0123456789abcdef"
)

func benchDuration(b *testing.B) time.Duration {
	return envDuration(b, "TAPLINE_BENCH_DURATION", 20*time.Second)
}

// envDuration is the positive duration in the environment variable name,
// or def when it is not set.
func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		b.Fatalf("%s: want a duration, got %q", name, s)
	}
	return d
}

// BenchmarkPipeline measures the all-in-one pipeline: OTLP/gRPC spans from
// the load generator (package loadgen, 8 connections, 512-span requests, in
// this process on the same machine) into `tapline run`, until they are
// queryable in otel_traces.
//
// max: first the two stages alone, as baselines in the same run: the
// collector alone (`tapline collector` into a JetStream server, receive →
// PubAck) at full speed, then the ingest alone (`tapline ingest` draining
// what the collector stored into chDB); then `tapline run` at full speed.
// spans/s is accepted spans over the time from the first request until
// ingest acknowledged the last message (acknowledged means inserted:
// queryable). Stage shares are each stage's time per span alone over the
// sum of both.
//
// paced: `tapline run` with the load paced at 30,000 spans/s (or
// TAPLINE_BENCH_RATE): the process's peak RSS and freshness at that rate.
//
// Freshness: a probe span (a span name of its own) is exported every 100 ms
// with the OTel SDK's exporter; a poller lists the probe service's span names
// through the query API every 250 ms in the paced phase (every second in the
// max phase, where the overloaded process's freshness is only indicative and
// four listings a second would take CPU from the pipeline being measured;
// TAPLINE_BENCH_MAX_POLL changes it); freshness is the time from a probe's
// success response to the start of the first listing that shows it
// (resolution: the poll interval). The listings are real queries on the same
// process: their count and mean time are reported with the figures.
func BenchmarkPipeline(b *testing.B) {
	requireCHDBBench(b)
	d := benchDuration(b)
	b.Run("max", func(b *testing.B) {
		for range b.N {
			collectorRate, collectorCPU, filled := benchCollectorAlone(b, d)
			ingestRate, ingestCPU := benchIngestAlone(b, filled)
			r := benchRun(b, d, 0, benchMaxPoll(b))
			b.ReportMetric(r.rate, "spans/s")
			b.ReportMetric(r.accepted, "accepted_spans/s")
			b.ReportMetric(r.freshP50.Seconds(), "p50_fresh_s")
			b.ReportMetric(r.freshP99.Seconds(), "p99_fresh_s")
			b.ReportMetric(r.rssMiB, "peak_rss_MiB")
			b.ReportMetric(r.cpuPerSpan, "run_cpu_us/span")
			b.ReportMetric(r.loadAvg, "loadavg")
			b.ReportMetric(r.listingMs, "listing_ms")
			b.ReportMetric(collectorRate.rate, "collector_spans/s")
			b.ReportMetric(ingestRate, "ingest_spans/s")
			b.ReportMetric(r.rate/collectorRate.rate, "x-collector")
			b.ReportMetric(r.rate/ingestRate, "x-ingest")
			collectorPer, ingestPer := 1/collectorRate.rate, 1/ingestRate
			b.ReportMetric(collectorPer/(collectorPer+ingestPer), "share_collector")
			b.ReportMetric(ingestPer/(collectorPer+ingestPer), "share_ingest")
			b.ReportMetric(collectorCPU, "collector_cpu_us/span")
			b.ReportMetric(ingestCPU, "ingest_cpu_us/span")
			b.Logf("collector alone %.0f spans/s (load avg %.1f); ingest alone %.0f spans/s; run: %+v",
				collectorRate.rate, collectorRate.loadAvg, ingestRate, r)
		}
	})
	rate := benchSteadyRate
	if s := os.Getenv("TAPLINE_BENCH_RATE"); s != "" {
		var err error
		if rate, err = strconv.Atoi(s); err != nil || rate <= 0 {
			b.Fatalf("TAPLINE_BENCH_RATE: want spans per second, got %q", s)
		}
	}
	b.Run("paced", func(b *testing.B) {
		for range b.N {
			r := benchRun(b, d, float64(rate), pollEvery)
			b.ReportMetric(r.rate, "spans/s")
			b.ReportMetric(r.accepted, "accepted_spans/s")
			b.ReportMetric(r.freshP50.Seconds(), "p50_fresh_s")
			b.ReportMetric(r.freshP99.Seconds(), "p99_fresh_s")
			b.ReportMetric(r.rssMiB, "peak_rss_MiB")
			b.ReportMetric(r.cpuPerSpan, "run_cpu_us/span")
			b.ReportMetric(r.loadAvg, "loadavg")
			b.ReportMetric(r.listingMs, "listing_ms")
			b.Logf("run at %d spans/s: %+v", rate, r)
		}
	})
}

func requireCHDBBench(b *testing.B) {
	b.Helper()
	if _, err := os.Stat(chdb.DefaultLibPath()); err != nil {
		if os.Getenv("CI") != "" {
			b.Fatalf("libchdb.so missing under CI: run `make libchdb`")
		}
		b.Skipf("libchdb.so missing: run `make libchdb` (set CI=true to fail instead)")
	}
}

// stageRate is one phase's throughput and the machine's load meanwhile.
type stageRate struct {
	rate    float64
	loadAvg float64
}

// sharedBus is the JetStream server the collector-alone phase fills and the
// ingest-alone phase drains.
type sharedBus struct {
	srv   *natsexportertest.Server
	spans int64
	dir   string
}

// benchCollectorAlone runs `tapline collector` into a JetStream server in
// this process and sends at full speed for d.
func benchCollectorAlone(b *testing.B, d time.Duration) (stageRate, float64, sharedBus) {
	b.StopTimer()
	srv := natsexportertest.RunServer(b, natsexportertest.Options{MaxPayload: 8 << 20})
	srv.CreateStream(b)
	grpcAddr := freeAddr(b)
	p := startProcess(b, []string{"TAPLINE_BUS_URL=" + srv.URL()}, "collector",
		"--set", "http.addr=127.0.0.1:0", "--set", "log.format=json", "--set", "collector.nginx_syslog=off",
		"--set", "collector.otlp_grpc="+grpcAddr, "--set", "collector.otlp_http=127.0.0.1:0")
	p.waitLog(b, "tapline collector ready")
	gen := newGenerator(b, grpcAddr, 0)
	b.StartTimer()
	cpu0 := p.cpu(b)
	load0 := loadAvg()
	res := gen.Run(context.Background(), d)
	cpu := p.cpu(b) - cpu0
	b.StopTimer()
	if res.Failures > 0 {
		b.Logf("collector alone: %d requests failed, first: %v", res.Failures, res.FirstError)
	}
	p.stop(b)
	return stageRate{rate: res.AcceptedRate(), loadAvg: (load0 + loadAvg()) / 2},
		cpu.Seconds() * 1e6 / float64(res.AcceptedSpans),
		sharedBus{srv: srv, spans: res.AcceptedSpans, dir: b.TempDir()}
}

// benchIngestAlone runs `tapline ingest` on the stream the collector phase
// filled and times it from ready until every message is acknowledged.
func benchIngestAlone(b *testing.B, filled sharedBus) (float64, float64) {
	b.StopTimer()
	p := startProcess(b, []string{"TAPLINE_BUS_URL=" + filled.srv.URL()}, "ingest",
		"--data-dir", filled.dir, "--set", "http.addr=127.0.0.1:0", "--set", "log.format=json")
	p.waitLog(b, "tapline ingest ready")
	js := benchJetStream(b, filled.srv.URL())
	b.StartTimer()
	start := time.Now()
	cpu0 := p.cpu(b)
	waitDrained(b, js, 10*time.Minute)
	took := time.Since(start)
	cpu := p.cpu(b) - cpu0
	b.StopTimer()
	p.stop(b)
	return float64(filled.spans) / took.Seconds(), cpu.Seconds() * 1e6 / float64(filled.spans)
}

// runResult is what one `tapline run` phase measured.
type runResult struct {
	rate, accepted     float64 // spans/s accepted → queryable; accepted alone
	freshP50, freshP99 time.Duration
	freshMax           time.Duration
	probes             int
	rssMiB             float64 // peak
	cpuPerSpan         float64 // µs of the tapline process's CPU per span
	loadAvg            float64
	failures           int64
	listings           int     // freshness listings made
	listingMs          float64 // their mean time
}

// benchMaxPoll is how often the max phase lists the probes: pollEveryMax,
// or TAPLINE_BENCH_MAX_POLL (e.g. 250ms, the paced phase's interval).
func benchMaxPoll(b *testing.B) time.Duration {
	return envDuration(b, "TAPLINE_BENCH_MAX_POLL", pollEveryMax)
}

// benchRun runs `tapline run` on a new data directory and sends at rate
// (0: full speed) for d, with freshness probes listed every poll.
func benchRun(b *testing.B, d time.Duration, rate float64, poll time.Duration) runResult {
	b.StopTimer()
	dir := b.TempDir()
	cfgFile := filepath.Join(dir, "tapline.yaml")
	if err := os.WriteFile(cfgFile, []byte(`
query:
  auth:
    tokens:
      - name: bench
        token: `+benchToken+`
        role: viewer
`), 0o600); err != nil {
		b.Fatal(err)
	}
	grpcAddr, natsAddr := freeAddr(b), freeAddr(b)
	args := []string{"run", "--config", cfgFile, "--data-dir", filepath.Join(dir, "data"),
		"--http-addr", "127.0.0.1:0", "--set", "log.format=json", "--set", "collector.nginx_syslog=off",
		"--set", "bus.embedded.listen=" + natsAddr, "--set", "query.grpc.listen=127.0.0.1:0",
		"--set", "collector.otlp_grpc=" + grpcAddr, "--set", "collector.otlp_http=127.0.0.1:0"}
	// TAPLINE_BENCH_SET: more "key=value" settings for tapline run,
	// separated by spaces (e.g. "ingest.batch_max_bytes=4MiB").
	for _, kv := range strings.Fields(os.Getenv("TAPLINE_BENCH_SET")) {
		args = append(args, "--set", kv)
	}
	p := startProcess(b, nil, args...)
	ready := p.waitLog(b, "tapline run ready")
	base := "http://" + ready["http"].(string)
	js := benchJetStream(b, "nats://"+natsAddr)
	gen := newGenerator(b, grpcAddr, rate)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rss := sampleRSS(ctx, p.cmd.Process.Pid)
	pr := startProbes(b, ctx, grpcAddr, base, poll)

	b.StartTimer()
	start := time.Now()
	cpu0 := p.cpu(b)
	load0 := loadAvg()
	res := gen.Run(context.Background(), d)
	pr.stopSending()
	waitDrained(b, js, 10*time.Minute)
	took := time.Since(start)
	cpu := p.cpu(b) - cpu0
	b.StopTimer()
	load := (load0 + loadAvg()) / 2
	fresh := pr.wait(b, 30*time.Second)
	pr.mu.Lock()
	polls, pollMean := pr.polls, pr.pollTime/time.Duration(max(pr.polls, 1))
	pr.mu.Unlock()
	cancel()
	peak := <-rss
	p.stop(b)
	if res.Failures > 0 {
		b.Logf("run: %d requests failed, first: %v", res.Failures, res.FirstError)
	}
	r := runResult{
		rate:       float64(res.AcceptedSpans) / took.Seconds(),
		accepted:   res.AcceptedRate(),
		probes:     len(fresh),
		rssMiB:     float64(peak) / (1 << 20),
		cpuPerSpan: cpu.Seconds() * 1e6 / float64(res.AcceptedSpans),
		loadAvg:    load,
		failures:   res.Failures,
		listings:   polls,
		listingMs:  float64(pollMean) / 1e6,
	}
	if len(fresh) > 0 {
		slices.Sort(fresh)
		r.freshP50 = fresh[len(fresh)/2]
		r.freshP99 = fresh[min(len(fresh)-1, len(fresh)*99/100)]
		r.freshMax = fresh[len(fresh)-1]
	}
	return r
}

func newGenerator(b *testing.B, endpoint string, rate float64) *loadgen.Generator {
	b.Helper()
	gen, err := loadgen.New(loadgen.Config{Endpoint: endpoint, Workers: benchWorkers,
		SpansPerRequest: benchSpansPerReq, Rate: rate, Service: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = gen.Close() })
	return gen
}

// probes exports one span every probeEvery and finds them with the query
// API.
type probes struct {
	stop  chan struct{}
	done  chan struct{}
	every time.Duration // how often the poller lists the probes

	mu       sync.Mutex
	acked    map[string]time.Time // span name → success response
	seen     map[string]time.Time // span name → first listing that showed it
	polls    int
	pollTime time.Duration
}

func startProbes(b *testing.B, ctx context.Context, grpcAddr, base string, poll time.Duration) *probes {
	b.Helper()
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	if err != nil {
		b.Fatal(err)
	}
	pr := &probes{stop: make(chan struct{}), done: make(chan struct{}), every: poll,
		acked: map[string]time.Time{}, seen: map[string]time.Time{}}
	res := resource.NewSchemaless(semconv.ServiceName(probeService))
	go func() {
		defer close(pr.done)
		defer func() { _ = exp.Shutdown(context.Background()) }()
		tick := time.NewTicker(probeEvery)
		defer tick.Stop()
		for n := uint64(1); ; n++ {
			select {
			case <-pr.stop:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var tid trace.TraceID
			tid[0] = 0xf7
			for i := range 8 {
				tid[15-i] = byte(n >> (8 * i))
			}
			now := time.Now()
			name := fmt.Sprintf("probe-%06d", n)
			stub := tracetest.SpanStub{
				Name: name, SpanKind: trace.SpanKindServer, StartTime: now, EndTime: now.Add(time.Millisecond),
				SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
					TraceID: tid, SpanID: trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled}),
				Resource: res, InstrumentationScope: instrumentation.Scope{Name: "probe"},
			}
			if err := exp.ExportSpans(ctx, []sdktrace.ReadOnlySpan{stub.Snapshot()}); err != nil {
				continue
			}
			at := time.Now()
			pr.mu.Lock()
			pr.acked[name] = at
			pr.mu.Unlock()
		}
	}()
	go pr.poll(ctx, base)
	return pr
}

// poll lists the probe service's operations (one span name per probe)
// until ctx ends. The listing is cheap: otel_traces is ordered by service
// first, and the window is the last minute.
func (pr *probes) poll(ctx context.Context, base string) {
	tick := time.NewTicker(pr.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		q := url.Values{
			"startTime": {time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)},
			"endTime":   {time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)},
		}
		sent := time.Now()
		names, err := listOperations(ctx, base+"/api/v1/services/"+probeService+"/operations?"+q.Encode())
		if err != nil {
			continue
		}
		pr.mu.Lock()
		pr.polls++
		pr.pollTime += time.Since(sent)
		for _, n := range names {
			// Visible by the time the listing started: ClickHouse reads
			// the parts committed when a query starts.
			if _, ok := pr.seen[n]; !ok {
				pr.seen[n] = sent
			}
		}
		pr.mu.Unlock()
	}
}

func listOperations(ctx context.Context, u string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list operations: %s", resp.Status)
	}
	var body struct {
		Operations []struct {
			Name string `json:"name"`
		} `json:"operations"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	names := make([]string, len(body.Operations))
	for i, op := range body.Operations {
		names[i] = op.Name
	}
	return names, nil
}

func (pr *probes) stopSending() {
	close(pr.stop)
	<-pr.done
}

// wait waits until every acknowledged probe was seen (at most max) and
// returns their freshness; a probe never seen counts as max.
func (pr *probes) wait(b *testing.B, max time.Duration) []time.Duration {
	deadline := time.Now().Add(max)
	for {
		pr.mu.Lock()
		missing := 0
		for id := range pr.acked {
			if _, ok := pr.seen[id]; !ok {
				missing++
			}
		}
		pr.mu.Unlock()
		if missing == 0 || time.Now().After(deadline) {
			if missing > 0 {
				b.Logf("%d probes never seen within %s", missing, max)
			}
			break
		}
		time.Sleep(pr.every)
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	var fresh []time.Duration
	for id, acked := range pr.acked {
		if seen, ok := pr.seen[id]; ok {
			fresh = append(fresh, max0(seen.Sub(acked)))
		} else {
			fresh = append(fresh, max)
		}
	}
	return fresh
}

func max0(d time.Duration) time.Duration { return max(d, 0) }

// waitDrained waits until ingest's consumer acknowledged every message in
// the stream.
func waitDrained(b *testing.B, js jetstream.JetStream, limit time.Duration) {
	b.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := js.Stream(ctx, bus.StreamName)
		var si *jetstream.StreamInfo
		if err == nil {
			si, err = s.Info(ctx)
		}
		var ci *jetstream.ConsumerInfo
		if err == nil {
			var c jetstream.Consumer
			if c, err = js.Consumer(ctx, bus.StreamName, ingest.DefaultConsumer); err == nil {
				ci, err = c.Info(ctx)
			}
		}
		cancel()
		if err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 && ci.AckFloor.Stream >= si.State.LastSeq {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatalf("ingest did not drain the stream within %s", limit)
}

func benchJetStream(b *testing.B, u string) jetstream.JetStream {
	b.Helper()
	nc, err := nats.Connect(u)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	return js
}

// sampleRSS samples the resident set size of pid every 100 ms until ctx
// ends, then sends the largest.
func sampleRSS(ctx context.Context, pid int) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss := readRSS(pid); rss > peak {
				peak = rss
			}
			select {
			case <-ctx.Done():
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// readRSS is VmRSS of pid in bytes, 0 if unreadable.
func readRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// loadAvg is the one-minute load average, 0 if unreadable.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	return f
}

// cpu is the process's CPU time so far (user and system).
func (p *subprocess) cpu(b *testing.B) time.Duration {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (100 per second).
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
