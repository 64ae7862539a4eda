package schema_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store"
)

// Migration 0014: an ingest-sized batch becomes one Compact part, where
// ClickHouse's default (Wide from 10 MiB on) would write a file per column,
// and each table ingest writes carries the setting.
func TestBatchInsertsWriteCompactParts(t *testing.T) {
	ctx := context.Background()
	eng := openMigrated(t, "schema_compact_parts")

	for _, table := range []string{"otel_traces", "otel_logs", "access_events", "tls_connections"} {
		engine := strs(t, eng, "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}", store.Params{"t": table})
		require.Len(t, engine, 1, table)
		require.Contains(t, engine[0], "min_bytes_for_wide_part = 67108864", table)
	}

	// 20,000 spans with a 1 KB attribute each: a block of more than 20 MB.
	b, err := eng.PrepareBatch(ctx, "otel_traces", []string{"Timestamp", "TraceId", "SpanId", "ServiceName", "SpanAttributes"})
	require.NoError(t, err)
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	pad := strings.Repeat("x", 1000)
	for i := range 20000 {
		attrs := map[string]string{"payload": fmt.Sprintf("%d-%s", i, pad)}
		require.NoError(t, b.Append(at.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("%032x", i), fmt.Sprintf("%016x", i), "svc", attrs))
	}
	require.NoError(t, b.Send(ctx))

	rows, err := eng.Query(ctx, "SELECT part_type, rows, data_uncompressed_bytes FROM system.parts"+
		" WHERE database = currentDatabase() AND table = 'otel_traces' AND active", nil)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next(), "no part: %v", rows.Err())
	var (
		partType        string
		n, uncompressed uint64
	)
	require.NoError(t, rows.Scan(&partType, &n, &uncompressed))
	require.Equal(t, uint64(20000), n)
	require.Greater(t, uncompressed, uint64(10<<20), "the part is larger than ClickHouse's default threshold")
	require.Equal(t, "Compact", partType)
	require.False(t, rows.Next(), "one insert, one part")
}
