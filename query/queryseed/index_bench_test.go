package queryseed_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tapline/tapline/store"
)

// BenchmarkSkipIndexValue measures what otel_traces' skip indexes save the
// queries Tapline runs, on the benchmark's data: each query runs with the
// indexes and, as the baseline in the same run, without them. Both skip the
// query condition cache, which would otherwise remember matching granules
// between runs of the same condition. indexed/unindexed below 1 means
// the indexes pay. Each op runs the query once each way.
func BenchmarkSkipIndexValue(b *testing.B) {
	setup(b)
	const noCache = " SETTINGS use_query_condition_cache = 0"
	const noIndexes = ", use_skip_indexes = 0, query_plan_direct_read_from_text_index = 0"
	search := "SELECT TraceId, max(Timestamp) AS M FROM otel_traces WHERE Timestamp >= {s:DateTime64(9)} AND Timestamp < {e:DateTime64(9)} AND %s GROUP BY TraceId ORDER BY M DESC, TraceId DESC LIMIT 21"
	// Attribute equality as SearchTraces writes it for the default
	// (bloom-filter) layout.
	eq := func(k, v string) string {
		return "(SpanAttributes['" + k + "'] = '" + v + "' OR ResourceAttributes['" + k + "'] = '" + v + "')"
	}
	cases := []struct {
		name, cond string
		window     time.Duration
	}{
		{"attributes_first_scan", "ServiceName = 'orders' AND " + eq("customer.tier", "gold") + " AND " + eq("http.route", "/orders/{id}") + " AND Duration >= 30000000", 24 * time.Hour / 256},
		{"attributes_24h", "ServiceName = 'orders' AND " + eq("customer.tier", "gold") + " AND " + eq("http.route", "/orders/{id}") + " AND Duration >= 30000000", 24 * time.Hour},
		{"span_attribute_1in1000_24h", eq("tenant.id", "tenant-399"), 24 * time.Hour},
		{"request_id_attribute_24h", eq("tapline.request_id", "{rid}"), 24 * time.Hour},
		{"resource_attribute_24h", eq("host.name", "payments-7f9c-1"), 24 * time.Hour},
		{"key_exists_24h", "(mapContains(SpanAttributes, 'rpc.system') OR mapContains(ResourceAttributes, 'rpc.system'))", 24 * time.Hour},
		{"min_duration_400ms_24h", "Duration >= 400000000", 24 * time.Hour},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			params := func(i int) store.Params {
				return store.Params{"s": env.end.Add(-c.window), "e": env.end}
			}
			cond := c.cond
			if c.name == "request_id_attribute_24h" {
				// one nginx request id of the seeded data per call
				cond = "(SpanAttributes['tapline.request_id'] = {rid:String} OR ResourceAttributes['tapline.request_id'] = {rid:String})"
				params = func(i int) store.Params {
					return store.Params{"s": env.end.Add(-c.window), "e": env.end, "rid": env.requests[i%len(env.requests)]}
				}
			}
			sql := fmt.Sprintf(search, cond)
			compareP50(b, params, sql+noCache, "indexed", sql+noCache+noIndexes, "unindexed")
		})
	}
}

// BenchmarkAttributeIndexLayouts compares the two skip-index layouts for
// attribute filters on the benchmark's data: the text layout's text
// indexes on the 'key=value' items, queried as SearchTraces writes filters
// for them (has(items) confirmed on the map), against the bloom filters on
// the map values that migration 0013 made the default, queried on the map
// alone. The text indexes are added for the run under names of their own
// (and dropped after it), built for the whole table first; each query runs
// with only its own layout's indexes (ignore_data_skipping_indices), the
// two layouts taking turns. text/bloom above 1 means the bloom filters are
// faster.
func BenchmarkAttributeIndexLayouts(b *testing.B) {
	setup(b)
	ctx := b.Context()
	for _, q := range []string{
		"ALTER TABLE otel_traces ADD INDEX IF NOT EXISTS bench_text_span_items SpanAttributeItems TYPE text(tokenizer = 'array')",
		"ALTER TABLE otel_traces ADD INDEX IF NOT EXISTS bench_text_res_items ResourceAttributeItems TYPE text(tokenizer = 'array')",
		"ALTER TABLE otel_traces MATERIALIZE INDEX bench_text_span_items SETTINGS mutations_sync = 2",
		"ALTER TABLE otel_traces MATERIALIZE INDEX bench_text_res_items SETTINGS mutations_sync = 2",
	} {
		if err := env.eng.Exec(ctx, q, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		_ = env.eng.Exec(context.Background(), "ALTER TABLE otel_traces DROP INDEX IF EXISTS bench_text_span_items, DROP INDEX IF EXISTS bench_text_res_items", nil)
	})
	const (
		textOnly  = " SETTINGS use_query_condition_cache = 0, ignore_data_skipping_indices = 'idx_span_attr_value,idx_res_attr_value'"
		bloomOnly = " SETTINGS use_query_condition_cache = 0, ignore_data_skipping_indices = 'bench_text_span_items,bench_text_res_items'"
	)
	search := "SELECT TraceId, max(Timestamp) AS M FROM otel_traces WHERE Timestamp >= {s:DateTime64(9)} AND Timestamp < {e:DateTime64(9)} AND %s GROUP BY TraceId ORDER BY M DESC, TraceId DESC LIMIT 21"
	textEq := func(m, items, k string) string {
		return "(has(" + items + ", concat('" + k + "=', {v:String})) AND " + m + "['" + k + "'] = {v:String})"
	}
	bloomEq := func(m, k string) string { return m + "['" + k + "'] = {v:String}" }
	cases := []struct {
		name, key string
		resource  bool
		value     func(i int) string
	}{
		{"request_id", "tapline.request_id", false, func(i int) string { return env.requests[i%len(env.requests)] }},
		{"tenant_1in1000", "tenant.id", false, func(i int) string { return fmt.Sprintf("tenant-%d", 300+i%100) }},
		{"resource_host", "host.name", true, func(int) string { return "payments-7f9c-1" }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			m, items := "SpanAttributes", "SpanAttributeItems"
			if c.resource {
				m, items = "ResourceAttributes", "ResourceAttributeItems"
			}
			text := fmt.Sprintf(search, textEq(m, items, c.key)) + textOnly
			bloom := fmt.Sprintf(search, bloomEq(m, c.key)) + bloomOnly
			params := func(i int) store.Params {
				return store.Params{"s": env.end.Add(-24 * time.Hour), "e": env.end, "v": c.value(i)}
			}
			compareP50(b, params, text, "text", bloom, "bloom")
		})
	}
}

// compareP50 runs two queries b.N times each, taking turns so that load
// from other work slows both alike, and reports each one's median and
// the ratio of the first's to the second's.
func compareP50(b *testing.B, params func(i int) store.Params, sqlA, nameA, sqlB, nameB string) {
	b.Helper()
	lats := [2][]time.Duration{}
	for i := range b.N {
		for j, sql := range []string{sqlA, sqlB} {
			t0 := time.Now()
			if err := drain(sql, params(i)); err != nil {
				b.Fatal(err)
			}
			lats[j] = append(lats[j], time.Since(t0))
		}
	}
	a, _ := percentiles(lats[0])
	z, _ := percentiles(lats[1])
	b.ReportMetric(ms(a), nameA+"_p50_ms")
	b.ReportMetric(ms(z), nameB+"_p50_ms")
	b.ReportMetric(float64(a)/float64(z), nameA+"/"+nameB)
	b.ReportMetric(0, "ns/op")
}
