package schema_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/schema"
)

// Migration 0010 leaves otel_traces with the skip indexes that pay, in
// both layouts (docs/BENCHMARKS.md, Storage).
func TestOtelTracesSkipIndexes(t *testing.T) {
	for _, tc := range []struct {
		indexes string
		want    []string
	}{
		{schema.IndexesText, []string{"idx_duration", "idx_res_attr_items", "idx_span_attr_items", "idx_trace_id"}},
		{schema.IndexesBloom, []string{"idx_duration", "idx_res_attr_value", "idx_span_attr_value", "idx_trace_id"}},
	} {
		t.Run(tc.indexes, func(t *testing.T) {
			eng := openChDB(t, "schema_indexes_"+tc.indexes)
			opts := schema.DefaultOptions()
			opts.Database, opts.Indexes = "", tc.indexes
			_, err := schema.Migrate(context.Background(), eng, opts)
			require.NoError(t, err)
			require.Equal(t, tc.want, skipIndexes(t, eng, "otel_traces"))
		})
	}
}

// A database created with the text layout gets the bloom attribute indexes
// when migration 0013 runs under the default layout: the item indexes go,
// the value indexes come and are built for the rows already stored, and
// idx_trace_id keeps its type.
func TestTextLayoutMovesToBloomAttributeIndexes(t *testing.T) {
	ctx := context.Background()
	eng := openChDB(t, "schema_text_to_bloom")
	opts := schema.DefaultOptions()
	opts.Database, opts.Indexes = "", schema.IndexesText
	_, err := schema.Migrate(ctx, eng, opts)
	require.NoError(t, err)

	// Spans stored under the text layout, one of them with a rare value.
	b, err := eng.PrepareBatch(ctx, "otel_traces", []string{"Timestamp", "TraceId", "SpanId", "ServiceName", "SpanAttributes"})
	require.NoError(t, err)
	at := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	for i := range 20000 {
		attrs := map[string]string{"tenant.id": fmt.Sprintf("tenant-%d", i%50)}
		if i == 12345 {
			attrs["tenant.id"] = "the-rare-one"
		}
		require.NoError(t, b.Append(at.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("%032x", i), fmt.Sprintf("%016x", i), "svc", attrs))
	}
	require.NoError(t, b.Send(ctx))

	// As if this database had been migrated before 0013 existed.
	require.NoError(t, eng.Exec(ctx, "DELETE FROM schema_migrations WHERE Version = 13", nil))
	opts.Indexes = schema.IndexesAuto
	applied, err := schema.Migrate(ctx, eng, opts)
	require.NoError(t, err)
	require.Contains(t, applied, "0013_otel_traces_bloom_attribute_indexes.sql")
	require.Equal(t, []string{"idx_duration", "idx_res_attr_value", "idx_span_attr_value", "idx_trace_id"}, skipIndexes(t, eng, "otel_traces"))
	require.Equal(t, uint64(1), count(t, eng, "SELECT count() FROM system.data_skipping_indices"+
		" WHERE database = currentDatabase() AND table = 'otel_traces' AND name = 'idx_trace_id' AND type = 'text'", nil))

	// The rows stored before are found, and the new index prunes them once
	// the background mutation has built it.
	require.Eventually(t, func() bool {
		return count(t, eng, "SELECT count() FROM system.mutations WHERE database = currentDatabase() AND table = 'otel_traces' AND NOT is_done", nil) == 0
	}, time.Minute, 100*time.Millisecond)
	rare := store.Params{"v": "the-rare-one"}
	require.Equal(t, uint64(1), count(t, eng, "SELECT count() FROM otel_traces WHERE SpanAttributes['tenant.id'] = {v:String}", rare))
	text := strings.Join(strs(t, eng, "EXPLAIN indexes = 1 SELECT count() FROM otel_traces WHERE SpanAttributes['tenant.id'] = {v:String}", rare), "\n")
	_, skip, ok := strings.Cut(text, "Name: idx_span_attr_value")
	require.True(t, ok, "the query uses the new index:\n%s", text)
	var kept, total int
	_, granules, _ := strings.Cut(skip, "Granules: ")
	_, err = fmt.Sscanf(granules, "%d/%d", &kept, &total)
	require.NoError(t, err, text)
	require.Less(t, kept, total, "the index skips granules of the part stored before the migration:\n%s", text)
}

// chDB 26.5 was seen to answer `Timestamp < <DateTime>` on otel_traces with
// no rows while skip indexes were on, which is why the query package
// compares Timestamp only with DateTime64 values. Both forms must find the
// same rows on the table as migrated.
func TestOtelTracesDateTimeBounds(t *testing.T) {
	eng := openChDB(t, "schema_datetime_bounds")
	ctx := context.Background()
	opts := schema.DefaultOptions()
	opts.Database = "" // the engine's
	_, err := schema.Migrate(ctx, eng, opts)
	require.NoError(t, err)

	base := time.Date(2026, 11, 22, 9, 56, 0, 0, time.UTC)
	b, err := eng.PrepareBatch(ctx, "otel_traces", []string{
		"Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind", "ServiceName",
		"ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "Duration", "StatusCode", "StatusMessage",
		"Events.Timestamp", "Events.Name", "Events.Attributes", "Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes",
	})
	require.NoError(t, err)
	const traces, spansPerTrace = 50, 4
	for i := range traces {
		for j := range spansPerTrace {
			at := base.Add(time.Duration(i)*time.Second + time.Duration(j)*137*time.Millisecond)
			require.NoError(t, b.Append(
				at, fmt.Sprintf("%032x", i+1), fmt.Sprintf("%016x", i*spansPerTrace+j+1), "", "",
				"GET /x", "Server", fmt.Sprintf("svc%d", j), map[string]string{"service.name": fmt.Sprintf("svc%d", j)}, "", "",
				map[string]string{"tapline.request_id": fmt.Sprintf("r%d", i), "http.route": "/x"}, uint64(j+1)*uint64(time.Millisecond),
				"Ok", "", []time.Time{}, []string{}, []map[string]string{},
				[]string{}, []string{}, []string{}, []map[string]string{},
			))
		}
	}
	require.NoError(t, b.Send(ctx))

	for i := range traces {
		id := fmt.Sprintf("%032x", i+1)
		for _, typ := range []string{"DateTime", "DateTime64(9)"} {
			sql := "SELECT count() FROM otel_traces WHERE TraceId IN {ids:Array(String)}" +
				" AND Timestamp >= (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId = {id:String})" +
				" AND Timestamp < {end:" + typ + "}"
			n := count(t, eng, sql, store.Params{"ids": []string{id}, "id": id, "end": base.Add(time.Duration(i+1) * time.Second)})
			require.Equal(t, uint64(spansPerTrace), n, "trace %d, bound of type %s", i, typ)
		}
	}
}

func skipIndexes(t *testing.T, eng store.Engine, table string) []string {
	t.Helper()
	return strs(t, eng, "SELECT name FROM system.data_skipping_indices WHERE database = currentDatabase() AND table = {t:String} ORDER BY name",
		store.Params{"t": table})
}

// strs returns the first column of every row sql returns, as strings.
func strs(t *testing.T, eng store.Engine, sql string, params store.Params) []string {
	t.Helper()
	rows, err := eng.Query(context.Background(), sql, params)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	return slices.Clip(out)
}

func count(t *testing.T, eng store.Engine, sql string, params store.Params) uint64 {
	t.Helper()
	rows, err := eng.Query(context.Background(), sql, params)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next(), "no row: %v", rows.Err())
	var n uint64
	require.NoError(t, rows.Scan(&n))
	return n
}
