package schema_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// viewBefore0015 is access_events_id_ts_mv as migration 0004 created it:
// the time range of each id only.
const viewBefore0015 = `CREATE MATERIALIZED VIEW access_events_id_ts_mv TO access_events_id_ts AS SELECT
    arrayJoin(arrayFilter(x -> x != '', [RequestId, TraceId])) AS Id, min(Timestamp) AS Start, max(Timestamp) AS End
FROM access_events GROUP BY Id`

// BenchmarkLookupView measures what migration 0015's id lookup view (which
// also gathers related ids and connections) costs an insert into
// access_events, against the view of before, with the other views of the
// table as migrated. Each op inserts 25,000 events (8,334 requests of an
// nginx, a tap and an app hop) under one view, alternating; the figures
// are the median CPU time of an insert (the whole process: inserts and the
// background merges they start) under each, and their ratio.
//
//	go test ./store/schema -run '^$' -bench BenchmarkLookupView -benchtime 40x
func BenchmarkLookupView(b *testing.B) {
	ctx := context.Background()
	eng := openMigrated(b, "bench_lookup_view")
	rows, err := eng.Query(ctx, "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = 'access_events_id_ts_mv'", nil)
	require.NoError(b, err)
	var current string
	require.True(b, rows.Next())
	require.NoError(b, rows.Scan(&current))
	require.NoError(b, rows.Close())

	rng := rand.New(rand.NewPCG(1, 2))
	hex := func(n int) string {
		out := make([]byte, n)
		for i := range out {
			out[i] = "0123456789abcdef"[rng.IntN(16)]
		}
		return string(out)
	}
	cols := []string{"Timestamp", "Source", "ServiceName", "RequestId", "TraceId", "SpanId", "ConnectionId", "Path", "Status", "Principal"}
	var cost [2][]time.Duration
	b.ResetTimer()
	for i := range b.N {
		v := i % 2
		b.StopTimer()
		require.NoError(b, eng.Exec(ctx, "DROP VIEW IF EXISTS access_events_id_ts_mv", nil))
		require.NoError(b, eng.Exec(ctx, []string{viewBefore0015, current}[v], nil))
		batch, err := eng.PrepareBatch(ctx, "access_events", cols)
		require.NoError(b, err)
		at := time.Now().UTC().Add(-time.Hour)
		for r := range 8334 {
			req, trace := hex(32), hex(32)
			ts := at.Add(time.Duration(r) * time.Millisecond)
			require.NoError(b, batch.Append(ts, "nginx", "edge", req, "", "", "", "/orders", uint16(200), ""))
			require.NoError(b, batch.Append(ts.Add(time.Millisecond), "tap", "orders", req, trace, hex(16), "conn-"+hex(16), "/orders", uint16(200), "spiffe://example.org/ns/shop/sa/frontend"))
			require.NoError(b, batch.Append(ts.Add(2*time.Millisecond), "app", "orders", req, trace, hex(16), "", "/orders", uint16(200), ""))
		}
		b.StartTimer()
		c0 := processCPU(b)
		require.NoError(b, batch.Send(ctx))
		cost[v] = append(cost[v], processCPU(b)-c0)
	}
	b.StopTimer()
	if len(cost[1]) == 0 {
		return
	}
	median := func(d []time.Duration) float64 {
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[len(s)/2]) / float64(time.Millisecond)
	}
	b.ReportMetric(median(cost[0]), "before_cpu_ms/insert")
	b.ReportMetric(median(cost[1]), "0015_cpu_ms/insert")
	b.ReportMetric(median(cost[1])/median(cost[0]), "x-before")
}

// processCPU is the user and system CPU time this process has used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
