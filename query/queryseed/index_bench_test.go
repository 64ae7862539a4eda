package queryseed_test

import (
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
	eq := func(k, v string) string {
		kv := "'" + k + "=" + v + "'"
		return "((has(SpanAttributeItems, " + kv + ") AND SpanAttributes['" + k + "'] = '" + v + "') OR (has(ResourceAttributeItems, " + kv + ") AND ResourceAttributes['" + k + "'] = '" + v + "'))"
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
				cond = "((has(SpanAttributeItems, concat('tapline.request_id=', {rid:String})) AND SpanAttributes['tapline.request_id'] = {rid:String}) OR (has(ResourceAttributeItems, concat('tapline.request_id=', {rid:String})) AND ResourceAttributes['tapline.request_id'] = {rid:String}))"
				params = func(i int) store.Params {
					return store.Params{"s": env.end.Add(-c.window), "e": env.end, "rid": env.requests[i%len(env.requests)]}
				}
			}
			sql := fmt.Sprintf(search, cond)
			// With and without the indexes take turns, so that load from
			// other work slows both alike.
			with := make([]time.Duration, 0, b.N)
			without := make([]time.Duration, 0, b.N)
			for i := range b.N {
				for _, v := range []struct {
					sql string
					lat *[]time.Duration
				}{{sql + noCache, &with}, {sql + noCache + noIndexes, &without}} {
					t0 := time.Now()
					if err := drain(v.sql, params(i)); err != nil {
						b.Fatal(err)
					}
					*v.lat = append(*v.lat, time.Since(t0))
				}
			}
			p50, _ := percentiles(with)
			base, _ := percentiles(without)
			b.ReportMetric(ms(p50), "indexed_p50_ms")
			b.ReportMetric(ms(base), "unindexed_p50_ms")
			b.ReportMetric(float64(p50)/float64(base), "indexed/unindexed")
			b.ReportMetric(0, "ns/op")
		})
	}
}
