package schema_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/schema"
)

// benchSpans is how many spans each layout gets (TAPLINE_BENCH_SPANS).
func benchSpans(b *testing.B) int {
	if s := os.Getenv("TAPLINE_BENCH_SPANS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(b, err)
		return n
	}
	return 300_000
}

var spanColumns = []string{
	"Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind", "ServiceName",
	"ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "Duration", "StatusCode",
	"StatusMessage", "Events.Timestamp", "Events.Name", "Events.Attributes",
	"Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes",
}

// spanRow is a realistic span: 10 attributes, 2 events, random ids, spread
// over the last 24 hours.
func spanRow(rng *rand.Rand, base time.Time, i int) []any {
	hex := func(n int) string {
		const digits = "0123456789abcdef"
		b := make([]byte, n)
		for k := range b {
			b[k] = digits[rng.IntN(16)]
		}
		return string(b)
	}
	ts := base.Add(time.Duration(rng.Int64N(int64(24 * time.Hour))))
	service := fmt.Sprintf("service-%d", rng.IntN(8))
	route := fmt.Sprintf("/api/v1/items/%d", rng.IntN(5000))
	attrs := map[string]string{
		"http.request.method": []string{"GET", "POST", "PUT"}[rng.IntN(3)], "http.route": route,
		"url.path": route + "/" + hex(6), "http.response.status_code": strconv.Itoa([]int{200, 201, 404, 500}[rng.IntN(4)]),
		"client.address":      fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256)),
		"user_agent.original": "python-httpx/0.27", "tapline.request_id": hex(32), "server.address": "api.internal",
		"network.protocol.version": "1.1", "tapline.principal": "spiffe://example.org/ns/prod/sa/" + service,
	}
	return []any{
		ts, hex(32), hex(16), hex(16), "", "GET " + route[:14], "SPAN_KIND_SERVER", service,
		map[string]string{"service.name": service, "host.name": "node-" + strconv.Itoa(rng.IntN(20)), "k8s.namespace.name": "prod"},
		"tapline", "1.0", attrs, uint64(rng.Int64N(int64(time.Second))), "STATUS_CODE_UNSET", "",
		[]time.Time{ts.Add(time.Millisecond), ts.Add(2 * time.Millisecond)}, []string{"request.received", "response.sent"},
		[]map[string]string{{"bytes": "512"}, {"bytes": "2048"}},
		[]string{}, []string{}, []string{}, []map[string]string{},
	}
}

type benchQuery struct {
	name, sql string
	params    func(traceID string, start, end time.Time) store.Params
}

var benchQueries = []benchQuery{
	{"trace id, 24 h window", "SELECT count() FROM otel_traces WHERE TraceId = {id:String} AND Timestamp BETWEEN {s:DateTime64(9)} AND {e:DateTime64(9)}",
		func(id string, s, e time.Time) store.Params { return store.Params{"id": id, "s": s, "e": e} }},
	{"attribute k=v (items)", "SELECT count() FROM otel_traces WHERE has(SpanAttributeItems, {kv:String}) AND Timestamp BETWEEN {s:DateTime64(9)} AND {e:DateTime64(9)}",
		func(_ string, s, e time.Time) store.Params {
			return store.Params{"kv": "tapline.principal=spiffe://example.org/ns/prod/sa/nobody", "s": s, "e": e}
		}},
	{"attribute k=v (map)", "SELECT count() FROM otel_traces WHERE SpanAttributes[{k:String}] = {v:String} AND Timestamp BETWEEN {s:DateTime64(9)} AND {e:DateTime64(9)}",
		func(_ string, s, e time.Time) store.Params {
			return store.Params{"k": "tapline.principal", "v": "spiffe://example.org/ns/prod/sa/nobody", "s": s, "e": e}
		}},
	{"attribute key present", "SELECT count() FROM otel_traces WHERE mapContains(SpanAttributes, {k:String}) AND Timestamp BETWEEN {s:DateTime64(9)} AND {e:DateTime64(9)}",
		func(_ string, s, e time.Time) store.Params { return store.Params{"k": "no.such.key", "s": s, "e": e} }},
}

// BenchmarkSkipIndexes measures, on chDB, what the otel_traces skip indexes
// cost at insert and save at query time: the text-index layout (chDB's
// default), the bloom-filter layout and no skip indexes at all (the
// baseline). The layouts live in three databases of one chDB and take turns
// batch by batch and query by query, so a busy machine slows them alike.
// Run with -benchtime=1x; TAPLINE_BENCH_SPANS sets the size.
func BenchmarkSkipIndexes(b *testing.B) {
	n := benchSpans(b)
	base := time.Now().UTC().Add(-25 * time.Hour).Truncate(time.Hour)
	start, end := base, base.Add(24*time.Hour)
	layouts := []string{"none", schema.IndexesBloom, schema.IndexesText}
	ctx := context.Background()
	for b.Loop() {
		engines := map[string]store.Engine{}
		for _, layout := range layouts {
			eng := openChDB(b, fmt.Sprintf("bench_%s_%d", layout, time.Now().UnixNano()))
			engines[layout] = eng
			opts := schema.DefaultOptions()
			opts.Database = ""
			opts.Indexes = layout
			if layout == "none" {
				opts.Indexes = schema.IndexesText
			}
			_, err := schema.Migrate(ctx, eng, opts)
			require.NoError(b, err)
			if layout == "none" {
				for _, idx := range []string{"idx_trace_id", "idx_res_attr_key", "idx_res_attr_items", "idx_span_attr_key",
					"idx_span_attr_items", "idx_duration", "idx_lower_span_name"} {
					require.NoError(b, eng.Exec(ctx, "ALTER TABLE otel_traces DROP INDEX "+idx, nil))
				}
			}
		}
		insertTime := map[string]time.Duration{}
		rng := rand.New(rand.NewPCG(1, 2))
		var traceID string
		for done, turn := 0, 0; done < n; turn++ {
			var rows [][]any
			for k := 0; k < 10_000 && done < n; k++ {
				row := spanRow(rng, base, done)
				if done == n/2 {
					traceID = row[1].(string)
				}
				rows = append(rows, row)
				done++
			}
			for i := range layouts {
				layout := layouts[(i+turn)%len(layouts)]
				t0 := time.Now()
				batch, err := engines[layout].PrepareBatch(ctx, "otel_traces", spanColumns)
				require.NoError(b, err)
				for _, row := range rows {
					require.NoError(b, batch.Append(row...))
				}
				require.NoError(b, batch.Send(ctx))
				insertTime[layout] += time.Since(t0)
			}
		}
		diskMB := map[string]float64{}
		for _, layout := range layouts {
			eng := engines[layout]
			require.NoError(b, eng.Exec(ctx, "OPTIMIZE TABLE otel_traces FINAL", nil))
			rows, err := eng.Query(ctx, "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = currentDatabase() AND table = 'otel_traces' AND active", nil)
			require.NoError(b, err)
			require.True(b, rows.Next())
			var bytes uint64
			require.NoError(b, rows.Scan(&bytes))
			rows.Close()
			diskMB[layout] = float64(bytes) / 1e6
		}
		queryMS := map[string][]float64{}
		for _, q := range benchQueries {
			times := map[string][]float64{}
			for rep := range 11 {
				for i := range layouts {
					layout := layouts[(i+rep)%len(layouts)]
					t0 := time.Now()
					rows, err := engines[layout].Query(ctx, q.sql, q.params(traceID, start, end))
					require.NoError(b, err)
					for rows.Next() {
					}
					require.NoError(b, rows.Err())
					rows.Close()
					times[layout] = append(times[layout], float64(time.Since(t0).Microseconds())/1000)
				}
			}
			for _, layout := range layouts {
				slices.Sort(times[layout])
				queryMS[layout] = append(queryMS[layout], times[layout][len(times[layout])/2])
			}
		}
		for _, layout := range layouts {
			require.NoError(b, engines[layout].Exec(ctx, "DROP DATABASE "+engines[layout].Database(), nil))
		}
		none := float64(n) / insertTime["none"].Seconds()
		for _, layout := range layouts {
			rate := float64(n) / insertTime[layout].Seconds()
			b.ReportMetric(rate, layout+"-spans/s")
			b.ReportMetric(rate/none, layout+"-insert-vs-none")
			fmt.Printf("%-5s insert %8.0f spans/s (%.2f of none), %.1f MB on disk\n", layout, rate, rate/none, diskMB[layout])
			for i, q := range benchQueries {
				fmt.Printf("%-5s   %-24s p50 %7.1f ms (%.2fx the speed of none)\n", layout, q.name, queryMS[layout][i], queryMS["none"][i]/queryMS[layout][i])
			}
		}
	}
}
