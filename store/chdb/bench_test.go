package chdb_test

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/ch-go/proto"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/chdb"
	"github.com/tapline/tapline/store/chdb/chdbtest"
	"github.com/tapline/tapline/store/rowbinary"
	"github.com/tapline/tapline/store/schema"
)

// Insert benchmarks: realistic spans (10 span attributes, 5 resource
// attributes, 2 events with attributes, random ids, about 1.1 KB as JSON)
// into the otel_traces table of Tapline's migrations, in batches of
// benchBatch rows (TAPLINE_BENCH_BATCH to change it; ingest's default
// batch of 16 MiB of OTLP holds about 25,000 such spans). Each op inserts
// one batch per connection; rows/s is the whole step (encoding and insert),
// and x-json / x-noindex compare with the baseline measured in the same run.
//
//	go test -run '^$' -bench . -benchtime 4x ./store/chdb/
//	TAPLINE_BENCH_BATCH=25000 go test -run '^$' -bench 'InsertFormats/table=otel_traces' -benchtime 8x ./store/chdb/

const benchBatch = 10_000

// benchBatchSize is benchBatch, or TAPLINE_BENCH_BATCH when set.
func benchBatchSize(b *testing.B) int {
	s := os.Getenv("TAPLINE_BENCH_BATCH")
	if s == "" {
		return benchBatch
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("TAPLINE_BENCH_BATCH: want rows per batch, got %q", s)
	}
	return n
}

// spanColumns are the otel_traces columns a span row fills, in order.
var spanColumns = []string{
	"Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
	"ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "Duration",
	"StatusCode", "StatusMessage", "Events.Timestamp", "Events.Name", "Events.Attributes",
	"Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes",
}

// benchSpan has one field per column, with the column's name in JSON.
type benchSpan struct {
	Timestamp          string              `json:"Timestamp"`
	TraceID            string              `json:"TraceId"`
	SpanID             string              `json:"SpanId"`
	ParentSpanID       string              `json:"ParentSpanId"`
	TraceState         string              `json:"TraceState"`
	SpanName           string              `json:"SpanName"`
	SpanKind           string              `json:"SpanKind"`
	ServiceName        string              `json:"ServiceName"`
	ResourceAttributes map[string]string   `json:"ResourceAttributes"`
	ScopeName          string              `json:"ScopeName"`
	ScopeVersion       string              `json:"ScopeVersion"`
	SpanAttributes     map[string]string   `json:"SpanAttributes"`
	Duration           uint64              `json:"Duration"`
	StatusCode         string              `json:"StatusCode"`
	StatusMessage      string              `json:"StatusMessage"`
	EventsTimestamp    []string            `json:"Events.Timestamp"`
	EventsName         []string            `json:"Events.Name"`
	EventsAttributes   []map[string]string `json:"Events.Attributes"`
	LinksTraceID       []string            `json:"Links.TraceId"`
	LinksSpanID        []string            `json:"Links.SpanId"`
	LinksTraceState    []string            `json:"Links.TraceState"`
	LinksAttributes    []map[string]string `json:"Links.Attributes"`

	ts     time.Time
	events []time.Time
}

func (s *benchSpan) values() []any {
	return []any{
		s.ts, s.TraceID, s.SpanID, s.ParentSpanID, s.TraceState, s.SpanName, s.SpanKind,
		s.ServiceName, s.ResourceAttributes, s.ScopeName, s.ScopeVersion, s.SpanAttributes, s.Duration,
		s.StatusCode, s.StatusMessage, s.events, s.EventsName, s.EventsAttributes,
		s.LinksTraceID, s.LinksSpanID, s.LinksTraceState, s.LinksAttributes,
	}
}

var (
	benchServices = []string{"checkout", "payments", "users", "inventory", "gateway"}
	benchRoutes   = []string{"/api/v1/users/{id}", "/api/v1/orders", "/api/v1/orders/{id}/items", "/healthz", "/api/v1/cart"}
	benchMethods  = []string{"GET", "POST", "PUT", "DELETE"}
)

func randomHex(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return hex.EncodeToString(b)
}

func newBenchSpans(rng *rand.Rand, n int) []benchSpan {
	base := time.Now().UTC().Truncate(time.Hour)
	spans := make([]benchSpan, n)
	for i := range spans {
		svc := benchServices[rng.IntN(len(benchServices))]
		route := benchRoutes[rng.IntN(len(benchRoutes))]
		method := benchMethods[rng.IntN(len(benchMethods))]
		status := []string{"200", "201", "404", "500"}[rng.IntN(4)]
		ts := base.Add(time.Duration(rng.Int64N(int64(time.Hour))))
		dur := uint64(rng.Int64N(int64(500 * time.Millisecond)))
		s := benchSpan{
			ts: ts, ParentSpanID: randomHex(rng, 8), SpanName: method + " " + route,
			SpanKind: "Server", ServiceName: svc, ScopeName: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
			ScopeVersion: "0.63.0", Duration: dur, StatusCode: "Unset",
			ResourceAttributes: map[string]string{
				"service.name": svc, "service.version": "1." + strconv.Itoa(rng.IntN(20)) + ".0",
				"host.name": "node-" + strconv.Itoa(rng.IntN(50)), "k8s.pod.name": svc + "-" + randomHex(rng, 5),
				"telemetry.sdk.language": "go",
			},
			SpanAttributes: map[string]string{
				"http.request.method":       method,
				"http.route":                route,
				"url.path":                  strings.ReplaceAll(route, "{id}", strconv.Itoa(rng.IntN(100000))),
				"http.response.status_code": status,
				"client.address":            fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256)),
				"server.address":            svc + ".prod.svc.cluster.local",
				"user_agent.original":       "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
				"tapline.request_id":        randomHex(rng, 16),
				"tapline.principal":         "spiffe://prod.example.org/ns/shop/sa/" + svc,
				"network.protocol.version":  "1.1",
			},
			EventsName: []string{"request.received", "response.sent"},
			EventsAttributes: []map[string]string{
				{"message.type": "RECEIVED", "message.uncompressed_size": strconv.Itoa(rng.IntN(10000))},
				{"message.type": "SENT", "message.uncompressed_size": strconv.Itoa(rng.IntN(10000))},
			},
			events:       []time.Time{ts.Add(time.Microsecond), ts.Add(time.Duration(dur))},
			LinksTraceID: []string{}, LinksSpanID: []string{}, LinksTraceState: []string{},
			LinksAttributes: []map[string]string{},
		}
		if status == "500" {
			s.StatusCode, s.StatusMessage = "Error", "upstream connect error or disconnect/reset before headers"
		}
		s.Timestamp = ts.Format(store.TimeLayout)
		s.EventsTimestamp = []string{s.events[0].Format(store.TimeLayout), s.events[1].Format(store.TimeLayout)}
		spans[i] = s
	}
	renewIDs(rng, spans)
	return spans
}

// renewIDs gives the spans new trace and span ids, so that no two batches
// are alike (the tables deduplicate identical insert blocks).
func renewIDs(rng *rand.Rand, spans []benchSpan) {
	for i := range spans {
		spans[i].TraceID, spans[i].SpanID = randomHex(rng, 16), randomHex(rng, 8)
	}
}

// inserter inserts one batch of spans into table.
type inserter func(ctx context.Context, e store.Engine, table string, spans []benchSpan) error

// insertBatch is the engine's batch path (a Native block through a file).
func insertBatch(ctx context.Context, e store.Engine, table string, spans []benchSpan) error {
	b, err := e.PrepareBatch(ctx, table, spanColumns)
	if err != nil {
		return err
	}
	for i := range spans {
		if err := b.Append(spans[i].values()...); err != nil {
			return err
		}
	}
	return b.Send(ctx)
}

// encodeBatch is insertBatch without the insert.
func encodeBatch(ctx context.Context, e store.Engine, table string, spans []benchSpan) error {
	b, err := e.PrepareBatch(ctx, table, spanColumns)
	if err != nil {
		return err
	}
	defer b.Abort()
	for i := range spans {
		if err := b.Append(spans[i].values()...); err != nil {
			return err
		}
	}
	return nil
}

// rowBinaryEncoder encodes spans as RowBinary with the column types of
// otel_traces: the engine's batch path before it wrote Native blocks, kept
// as the baseline it is measured against.
type rowBinaryEncoder struct {
	types     []*rowbinary.Type
	structure string
}

func newRowBinaryEncoder(b testing.TB, e store.Engine) *rowBinaryEncoder {
	enc := &rowBinaryEncoder{}
	var parts []string
	for _, col := range spanColumns {
		rows, err := e.Query(b.Context(), "SELECT type FROM system.columns WHERE database = currentDatabase()"+
			" AND table = 'otel_traces' AND name = {c:String}", store.Params{"c": col})
		if err != nil {
			b.Fatal(err)
		}
		var typ string
		if !rows.Next() {
			b.Fatalf("otel_traces has no column %s", col)
		}
		if err := rows.Scan(&typ); err != nil {
			b.Fatal(err)
		}
		rows.Close()
		t, err := rowbinary.Parse(typ)
		if err != nil {
			b.Fatal(err)
		}
		enc.types = append(enc.types, t)
		parts = append(parts, "`"+col+"` "+typ)
	}
	enc.structure = strings.Join(parts, ", ")
	return enc
}

func (enc *rowBinaryEncoder) encode(buf []byte, spans []benchSpan) ([]byte, error) {
	buf = buf[:0]
	for i := range spans {
		for j, v := range spans[i].values() {
			var err error
			if buf, err = enc.types[j].Append(buf, v); err != nil {
				return buf, err
			}
		}
	}
	return buf, nil
}

// inserter returns the previous batch path: RowBinary into a file,
// INSERT ... SELECT FROM file(path, 'RowBinary', structure), with a buffer
// per connection kept between batches as the engine kept them.
func (enc *rowBinaryEncoder) inserter() inserter {
	bufs := make(chan []byte, 2)
	bufs <- nil
	bufs <- nil
	return func(ctx context.Context, e store.Engine, table string, spans []benchSpan) error {
		buf := <-bufs
		defer func() { bufs <- buf }()
		var err error
		if buf, err = enc.encode(buf, spans); err != nil {
			return err
		}
		return insertFile(ctx, e, table, buf, "RowBinary", enc.structure)
	}
}

// insertFile writes data into a file in the engine's data directory and
// inserts it from there in the given format.
func insertFile(ctx context.Context, e store.Engine, table string, data []byte, format, structure string) error {
	f, err := os.CreateTemp(e.(*chdb.Engine).Path(), "bench-*."+strings.ToLower(format))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	cols := "`" + strings.Join(spanColumns, "`, `") + "`"
	from := "file({path:String}, {format:String})"
	params := store.Params{"path": f.Name(), "format": format}
	if structure != "" {
		from = "file({path:String}, {format:String}, {structure:String})"
		params["structure"] = structure
	}
	return e.Exec(ctx, "INSERT INTO "+table+" ("+cols+") SELECT * FROM "+from, params)
}

// insertNative encodes the spans as a Native block with ch-go's column
// encoders and inserts it from a file, the way the engine does.
func insertNative(ctx context.Context, e store.Engine, table string, spans []benchSpan) error {
	data, err := encodeNative(spans)
	if err != nil {
		return err
	}
	return insertFile(ctx, e, table, data, "Native", "")
}

// lcStr and lcMap are columns of LowCardinality(String) and
// Map(LowCardinality(String), String).
func lcStr() *proto.ColLowCardinality[string] {
	return proto.NewLowCardinality[string](new(proto.ColStr))
}
func lcMap() *proto.ColMap[string, string] {
	return proto.NewMap[string, string](lcStr(), new(proto.ColStr))
}

// encodeNative encodes spans as one Native block with ch-go's column
// encoders.
func encodeNative(spans []benchSpan) ([]byte, error) {
	ts := new(proto.ColDateTime64).WithPrecision(proto.PrecisionNano)
	traceID, spanID, parent, state := new(proto.ColStr), new(proto.ColStr), new(proto.ColStr), new(proto.ColStr)
	name, kind, svc := lcStr(), lcStr(), lcStr()
	res := lcMap()
	scope, scopeV := new(proto.ColStr), new(proto.ColStr)
	attrs := lcMap()
	dur := new(proto.ColUInt64)
	code := lcStr()
	msg := new(proto.ColStr)
	evTS := proto.NewArray[time.Time](new(proto.ColDateTime64).WithPrecision(proto.PrecisionNano))
	evName := proto.NewArray[string](lcStr())
	evAttr := proto.NewArray[map[string]string](lcMap())
	lTrace, lSpan, lState := proto.NewArray[string](new(proto.ColStr)), proto.NewArray[string](new(proto.ColStr)), proto.NewArray[string](new(proto.ColStr))
	lAttr := proto.NewArray[map[string]string](lcMap())
	for i := range spans {
		s := &spans[i]
		ts.Append(s.ts)
		traceID.Append(s.TraceID)
		spanID.Append(s.SpanID)
		parent.Append(s.ParentSpanID)
		state.Append(s.TraceState)
		name.Append(s.SpanName)
		kind.Append(s.SpanKind)
		svc.Append(s.ServiceName)
		res.Append(s.ResourceAttributes)
		scope.Append(s.ScopeName)
		scopeV.Append(s.ScopeVersion)
		attrs.Append(s.SpanAttributes)
		dur.Append(s.Duration)
		code.Append(s.StatusCode)
		msg.Append(s.StatusMessage)
		evTS.Append(s.events)
		evName.Append(s.EventsName)
		evAttr.Append(s.EventsAttributes)
		lTrace.Append(s.LinksTraceID)
		lSpan.Append(s.LinksSpanID)
		lState.Append(s.LinksTraceState)
		lAttr.Append(s.LinksAttributes)
	}
	cols := []proto.ColInput{ts, traceID, spanID, parent, state, name, kind, svc, res, scope, scopeV, attrs, dur, code, msg, evTS, evName, evAttr, lTrace, lSpan, lState, lAttr}
	var input proto.Input
	for i, c := range cols {
		input = append(input, proto.InputColumn{Name: spanColumns[i], Data: c})
	}
	var buf proto.Buffer
	// Version 0: the plain Native format, no protocol block info.
	if err := (proto.Block{Columns: len(input), Rows: len(spans)}).EncodeRawBlock(&buf, 0, input); err != nil {
		return nil, err
	}
	return buf.Buf, nil
}

// insertJSONEachRow sends the rows as JSON in the query text, the
// baseline: text formats never contain the "\n\n" that ends inline data.
func insertJSONEachRow(ctx context.Context, e store.Engine, table string, spans []benchSpan) error {
	var q strings.Builder
	q.WriteString("INSERT INTO " + table + " FORMAT JSONEachRow\n")
	enc := json.NewEncoder(&q)
	for i := range spans {
		if err := enc.Encode(&spans[i]); err != nil {
			return err
		}
	}
	return e.Exec(ctx, q.String(), nil)
}

// openBenchEngine opens an engine with Tapline's schema applied, forcing
// the given skip-index layout (schema.IndexesText or IndexesBloom).
func openBenchEngine(b testing.TB, indexes string) store.Engine {
	e := chdbtest.Open(b, func(o *chdb.Options) { o.Conns = 4 })
	opts := schema.DefaultOptions()
	opts.Database, opts.Indexes = "", indexes
	if _, err := schema.Migrate(b.Context(), e, opts); err != nil {
		b.Fatal(err)
	}
	return e
}

// benchInsert runs insert on conns goroutines at once, one batch each per
// op, reports rows/s and rows/cpu-s and, if baseline is set, the ratios to
// it under ratioName (wall clock) and ratioName-cpu. It returns the rates.
func benchInsert(b *testing.B, e store.Engine, newTable tableSetup, conns int, insert inserter, baseline insertRate, ratioName string) insertRate {
	table := newTable(b)
	rng := rand.New(rand.NewPCG(1, uint64(conns)))
	batches := make([][]benchSpan, conns)
	size := benchBatchSize(b)
	for i := range batches {
		batches[i] = newBenchSpans(rng, size)
	}
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		for _, spans := range batches {
			renewIDs(rng, spans)
		}
		cpuStart := processCPU(b)
		b.StartTimer()
		var wg sync.WaitGroup
		errs := make([]error, conns)
		for i := range conns {
			wg.Go(func() { errs[i] = insert(b.Context(), e, table, batches[i]) })
		}
		wg.Wait()
		b.StopTimer()
		cpu += processCPU(b) - cpuStart
		b.StartTimer()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	rows := float64(b.N * conns * size)
	rate := insertRate{wall: rows / b.Elapsed().Seconds(), cpu: rows / cpu.Seconds()}
	b.ReportMetric(rate.wall, "rows/s")
	b.ReportMetric(rate.cpu, "rows/cpu-s")
	b.ReportMetric(0, "ns/op") // an op is a batch; rows/s is the figure
	if baseline.wall > 0 {
		b.ReportMetric(rate.wall/baseline.wall, ratioName)
		b.ReportMetric(rate.cpu/baseline.cpu, ratioName+"-cpu")
	}
	return rate
}

// insertRate is rows per second of wall-clock time and rows per second of
// the process's CPU time (Go and ClickHouse threads together). The CPU
// figure is the one to compare when other work shares the machine; the
// wall-clock one shows what running on two connections at once gains.
type insertRate struct{ wall, cpu float64 }

// tableSetup returns the table a benchmark run inserts into, empty.
type tableSetup func(b *testing.B) string

// freshCopy returns a setup that creates an empty copy of otel_traces
// (without its materialized view) for each run, with the named indexes
// dropped, and drops it after the run, so that no run pays for the merges
// of another.
func freshCopy(e store.Engine, dropIndexes ...string) tableSetup {
	return func(b *testing.B) string {
		suffix := make([]byte, 4)
		_, _ = crand.Read(suffix)
		name := "bench_" + hex.EncodeToString(suffix)
		exec(b, e, "CREATE TABLE "+name+" AS otel_traces")
		b.Cleanup(func() { _ = e.Exec(context.Background(), "DROP TABLE IF EXISTS "+name, nil) })
		for _, idx := range dropIndexes {
			exec(b, e, "ALTER TABLE "+name+" DROP INDEX "+idx)
		}
		return name
	}
}

// droppedBy0010 are the text-layout skip indexes that migration 0010
// dropped from otel_traces, for measuring the table as it was before.
var droppedBy0010 = []string{
	"idx_res_attr_key mapKeys(ResourceAttributes) TYPE text(tokenizer = 'array')",
	"idx_span_attr_key mapKeys(SpanAttributes) TYPE text(tokenizer = 'array')",
	"idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8",
}

// freshCopyAdding is freshCopy with the given index definitions added.
func freshCopyAdding(e store.Engine, addIndexes ...string) tableSetup {
	return func(b *testing.B) string {
		name := freshCopy(e)(b)
		for _, def := range addIndexes {
			exec(b, e, "ALTER TABLE "+name+" ADD INDEX "+def)
		}
		return name
	}
}

// freshNull returns a setup for a Null-engine copy of otel_traces: the
// insert parses the data and stores nothing.
func freshNull(e store.Engine) tableSetup {
	return func(b *testing.B) string {
		exec(b, e, "CREATE TABLE IF NOT EXISTS null_traces AS otel_traces ENGINE = Null")
		return "null_traces"
	}
}

// migrated returns a setup for otel_traces itself, as migrated (with the
// trace-id materialized view), emptied before each run.
func migrated(e store.Engine) tableSetup {
	return func(b *testing.B) string {
		exec(b, e, "TRUNCATE TABLE otel_traces")
		exec(b, e, "TRUNCATE TABLE otel_traces_trace_id_ts")
		return "otel_traces"
	}
}

// migratedWide is migrated with the part format of before migration 0014:
// ClickHouse's default, Wide parts (a file per column) from 10 MiB on.
func migratedWide(e store.Engine) tableSetup {
	return func(b *testing.B) string {
		table := migrated(e)(b)
		exec(b, e, "ALTER TABLE otel_traces MODIFY SETTING min_bytes_for_wide_part = 10485760")
		b.Cleanup(func() {
			_ = e.Exec(context.Background(), "ALTER TABLE otel_traces MODIFY SETTING min_bytes_for_wide_part = 67108864", nil)
		})
		return table
	}
}

// BenchmarkInsertFormats compares the insert formats, and one against two
// connections inserting at once, into otel_traces as migrated (the default
// skip indexes and its materialized views), the same with the Wide parts of
// before migration 0014 ("otel_traces-wide"), and into a copy without skip
// indexes or views ("plain"). A Null table (parsing only, nothing stored) and
// encoding alone show where the time goes.
func BenchmarkInsertFormats(b *testing.B) {
	chdbtest.RequireLibrary(b)
	e := openBenchEngine(b, schema.IndexesAuto)
	tables := []struct {
		name  string
		setup tableSetup
	}{
		{"otel_traces", migrated(e)},
		{"otel_traces-wide", migratedWide(e)},
		{"plain", freshCopy(e, tableIndexes(b, e, "otel_traces")...)},
		{"null", freshNull(e)},
	}
	rb := newRowBinaryEncoder(b, e)
	formats := []struct {
		name   string
		insert inserter
	}{
		{"JSONEachRow", insertJSONEachRow},
		{"RowBinary", rb.inserter()},  // the engine's path before Native
		{"Native", insertBatch},       // the engine's path
		{"Native-chgo", insertNative}, // ch-go's column encoders
	}
	var baseline insertRate // JSONEachRow, one connection, into otel_traces
	for _, table := range tables {
		for _, conns := range []int{1, 2} {
			if table.name == "null" && conns == 2 {
				continue
			}
			for _, f := range formats {
				isBaseline := table.name == "otel_traces" && conns == 1 && f.name == "JSONEachRow"
				b.Run(fmt.Sprintf("table=%s/format=%s/conns=%d", table.name, f.name, conns), func(b *testing.B) {
					if isBaseline {
						// The last run of this sub-benchmark sets the baseline.
						baseline = benchInsert(b, e, table.setup, conns, f.insert, insertRate{}, "")
						return
					}
					benchInsert(b, e, table.setup, conns, f.insert, baseline, "x-json")
				})
			}
		}
	}
	var rbBuf []byte
	b.Run("encode-only/format=RowBinary", func(b *testing.B) {
		benchInsert(b, e, migrated(e), 1, func(_ context.Context, _ store.Engine, _ string, spans []benchSpan) error {
			var err error
			rbBuf, err = rb.encode(rbBuf, spans)
			return err
		}, baseline, "x-json")
	})
	b.Run("encode-only/format=Native", func(b *testing.B) {
		benchInsert(b, e, migrated(e), 1, encodeBatch, baseline, "x-json")
	})
	b.Run("encode-only/format=Native-chgo", func(b *testing.B) {
		benchInsert(b, e, migrated(e), 1, func(_ context.Context, _ store.Engine, _ string, spans []benchSpan) error {
			_, err := encodeNative(spans)
			return err
		}, baseline, "x-json")
	})
}

// BenchmarkInsertSkipIndexes measures what each skip index of otel_traces
// costs at insert: empty copies of the table without any index (the
// baseline), with all, and with one only; for the text-index layout (chDB's)
// and the bloom-filter layout (older servers); plus otel_traces as migrated,
// whose trace-id materialized view also runs. RowBinary, one connection.
func BenchmarkInsertSkipIndexes(b *testing.B) {
	chdbtest.RequireLibrary(b)
	for _, layout := range []string{schema.IndexesText, schema.IndexesBloom} {
		e := openBenchEngine(b, layout)
		indexes := tableIndexes(b, e, "otel_traces")
		var baseline insertRate
		b.Run("layout="+layout+"/indexes=none", func(b *testing.B) {
			baseline = benchInsert(b, e, freshCopy(e, indexes...), 1, insertBatch, insertRate{}, "")
		})
		b.Run("layout="+layout+"/indexes=all", func(b *testing.B) {
			benchInsert(b, e, freshCopy(e), 1, insertBatch, baseline, "x-noindex")
		})
		if layout == schema.IndexesText {
			b.Run("layout="+layout+"/indexes=all+trace_id_mv", func(b *testing.B) {
				benchInsert(b, e, migrated(e), 1, insertBatch, baseline, "x-noindex")
			})
			// The exporter's seven indexes, as otel_traces had them before
			// migration 0010 dropped three.
			b.Run("layout="+layout+"/indexes=before_0010", func(b *testing.B) {
				benchInsert(b, e, freshCopyAdding(e, droppedBy0010...), 1, insertBatch, baseline, "x-noindex")
			})
			// Both cores: two connections inserting at once.
			var baseline2 insertRate
			b.Run("layout="+layout+"/indexes=none/conns=2", func(b *testing.B) {
				baseline2 = benchInsert(b, e, freshCopy(e, indexes...), 2, insertBatch, insertRate{}, "")
			})
			b.Run("layout="+layout+"/indexes=all+trace_id_mv/conns=2", func(b *testing.B) {
				benchInsert(b, e, migrated(e), 2, insertBatch, baseline2, "x-noindex")
			})
			b.Run("layout="+layout+"/indexes=before_0010/conns=2", func(b *testing.B) {
				benchInsert(b, e, freshCopyAdding(e, droppedBy0010...), 2, insertBatch, baseline2, "x-noindex")
			})
		}
		for _, idx := range indexes {
			var others []string
			for _, o := range indexes {
				if o != idx {
					others = append(others, o)
				}
			}
			b.Run("layout="+layout+"/indexes=only_"+idx, func(b *testing.B) {
				benchInsert(b, e, freshCopy(e, others...), 1, insertBatch, baseline, "x-noindex")
			})
		}
	}
}

// processCPU is the user and system CPU time this process has used so far,
// its Go and ClickHouse threads together.
func processCPU(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func exec(b *testing.B, e store.Engine, query string) {
	b.Helper()
	if err := e.Exec(b.Context(), query, nil); err != nil {
		b.Fatal(err)
	}
}

// tableIndexes lists a table's skip indexes.
func tableIndexes(b *testing.B, e store.Engine, table string) []string {
	rows, err := e.Query(b.Context(),
		"SELECT name FROM system.data_skipping_indices WHERE database = currentDatabase() AND table = {t:String}",
		store.Params{"t": table})
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			b.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return names
}

// freshCopyCodec is freshCopy with every column's codec replaced by the
// one returned for its name ("" keeps the column's codec).
func freshCopyCodec(e store.Engine, codec func(column string) string, dropIndexes ...string) tableSetup {
	return func(b *testing.B) string {
		name := freshCopy(e, dropIndexes...)(b)
		for _, col := range spanColumns {
			c := codec(col)
			if c == "" {
				continue
			}
			exec(b, e, "ALTER TABLE "+name+" MODIFY COLUMN `"+col+"` CODEC("+c+")")
		}
		return name
	}
}

// BenchmarkInsertCodecs compares the exporter's ZSTD(1) column codecs with
// LZ4 (ClickHouse's default) at insert, with the kept skip indexes and
// without any.
func BenchmarkInsertCodecs(b *testing.B) {
	chdbtest.RequireLibrary(b)
	e := openBenchEngine(b, schema.IndexesText)
	indexes := tableIndexes(b, e, "otel_traces")
	lz4 := func(col string) string {
		switch col {
		case "Timestamp":
			return "Delta(8), LZ4"
		case "Duration":
			return "T64, LZ4"
		}
		return "LZ4"
	}
	for _, conns := range []int{1, 2} {
		var baseline insertRate
		b.Run(fmt.Sprintf("codec=zstd/indexes=all/conns=%d", conns), func(b *testing.B) {
			baseline = benchInsert(b, e, freshCopy(e), conns, insertBatch, insertRate{}, "")
		})
		b.Run(fmt.Sprintf("codec=lz4/indexes=all/conns=%d", conns), func(b *testing.B) {
			benchInsert(b, e, freshCopyCodec(e, lz4), conns, insertBatch, baseline, "x-zstd")
		})
		b.Run(fmt.Sprintf("codec=zstd/indexes=none/conns=%d", conns), func(b *testing.B) {
			benchInsert(b, e, freshCopy(e, indexes...), conns, insertBatch, baseline, "x-zstd")
		})
		b.Run(fmt.Sprintf("codec=lz4/indexes=none/conns=%d", conns), func(b *testing.B) {
			benchInsert(b, e, freshCopyCodec(e, lz4, indexes...), conns, insertBatch, baseline, "x-zstd")
		})
	}
}

// BenchmarkInsertPartFormat compares the part format of migration 0014
// (Compact parts up to 64 MiB) with ClickHouse's default (Wide from 10 MiB
// on), on two copies of otel_traces with its skip indexes (without the
// views, which the setting does not change). Each op inserts the same batch
// into both copies, one after the other, alternating which goes first, so
// that both see the same machine and each other's background merges; the
// figures are per copy, and x-wide is the Compact copy's rate over the Wide
// one's. Batches of 10,000 and 25,000 spans (about what ingest's default
// 16 MiB batch holds), on one connection.
//
//	go test -run '^$' -bench BenchmarkInsertPartFormat -benchtime 20x ./store/chdb/
func BenchmarkInsertPartFormat(b *testing.B) {
	chdbtest.RequireLibrary(b)
	e := openBenchEngine(b, schema.IndexesAuto)
	for _, size := range []int{10_000, 25_000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			compact := freshCopy(e)(b)
			wide := freshCopy(e)(b)
			exec(b, e, "ALTER TABLE "+wide+" MODIFY SETTING min_bytes_for_wide_part = 10485760")
			rng := rand.New(rand.NewPCG(1, uint64(size)))
			spans := newBenchSpans(rng, size)
			tables := []string{compact, wide}
			var wall, cpu [2]time.Duration
			b.ResetTimer()
			for i := range b.N {
				renewIDs(rng, spans)
				for k := range 2 {
					t := (i + k) % 2
					start, cpuStart := time.Now(), processCPU(b)
					if err := insertBatch(b.Context(), e, tables[t], spans); err != nil {
						b.Fatal(err)
					}
					wall[t] += time.Since(start)
					cpu[t] += processCPU(b) - cpuStart
				}
			}
			b.StopTimer()
			rows := float64(b.N * size)
			rate := func(d time.Duration) float64 { return rows / d.Seconds() }
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(rate(wall[0]), "compact_rows/s")
			b.ReportMetric(rate(wall[1]), "wide_rows/s")
			b.ReportMetric(rate(cpu[0]), "compact_rows/cpu-s")
			b.ReportMetric(rate(cpu[1]), "wide_rows/cpu-s")
			b.ReportMetric(wall[1].Seconds()/wall[0].Seconds(), "x-wide")
			b.ReportMetric(cpu[1].Seconds()/cpu[0].Seconds(), "x-wide-cpu")
		})
	}
}
