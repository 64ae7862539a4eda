// Package schematest checks Tapline's schema migrations against a live
// engine: the embedded chDB engine in store/schema's tests, a ClickHouse
// server in store/clickhouse's when one is configured.
package schematest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/schema"
)

// Tables are the tables (not views) the migrations create, in order.
var Tables = []string{
	"otel_traces", "otel_traces_trace_id_ts", "otel_logs", "access_events", "access_events_id_ts",
	"tls_connections", "ingest_ledger", "compliance_runs", "compliance_findings", "schema_migrations",
	"otel_traces_by_id", "access_events_by_id", "tls_connections_by_id",
}

// Run migrates eng's (empty) database with opts and checks the result:
// every migration is applied once, a second run changes nothing, a row goes
// into every table, the materialized views fill their lookup tables, TTL
// changes are applied and an edited migration is refused. It returns the
// DESCRIBE of every table, for a golden file.
func Run(t *testing.T, eng store.Engine, opts schema.Options) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	applied, err := schema.Migrate(ctx, eng, opts)
	require.NoError(t, err)
	require.Equal(t, migrationFiles(t), applied, "first run applies every migration, in order")
	before := snapshot(t, ctx, eng)

	again, err := schema.Migrate(ctx, eng, opts)
	require.NoError(t, err)
	require.Empty(t, again, "second run changes nothing")
	require.Equal(t, before, snapshot(t, ctx, eng), "second run leaves every table as it was")
	require.Equal(t, uint64(len(applied)), count(t, ctx, eng, "SELECT count() FROM (SELECT Version FROM schema_migrations GROUP BY Version)"))

	describe := describeAll(t, ctx, eng)
	t.Run("insert a row into each table", func(t *testing.T) { insertEveryTable(t, ctx, eng) })
	t.Run("trace id lookup view", func(t *testing.T) { traceIDView(t, ctx, eng) })
	t.Run("access event id lookup view", func(t *testing.T) { accessIDView(t, ctx, eng) })
	t.Run("ttl change", func(t *testing.T) { ttlChange(t, ctx, eng, opts) })
	t.Run("edited migration", func(t *testing.T) { editedMigration(t, ctx, eng, opts) })
	return describe
}

func migrationFiles(t *testing.T) []string {
	t.Helper()
	stmts, err := schema.Render(schema.DefaultOptions())
	require.NoError(t, err)
	var files []string
	for _, s := range stmts {
		if s.Migration != "bootstrap" && (len(files) == 0 || files[len(files)-1] != s.Migration) {
			files = append(files, s.Migration)
		}
	}
	return files
}

// snapshot is every table's CREATE statement and row count.
func snapshot(t *testing.T, ctx context.Context, eng store.Engine) map[string]string {
	t.Helper()
	rows, err := eng.Query(ctx, "SELECT name, create_table_query, ifNull(total_rows, 0) FROM system.tables WHERE database = {db:String} ORDER BY name",
		store.Params{"db": eng.Database()})
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var (
			name, create string
			total        uint64
		)
		require.NoError(t, rows.Scan(&name, &create, &total))
		out[name] = fmt.Sprintf("%s\nrows: %d", create, total)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, out)
	return out
}

func count(t *testing.T, ctx context.Context, eng store.Engine, query string) uint64 {
	t.Helper()
	rows, err := eng.Query(ctx, query, nil)
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next(), "no row from %s: %v", query, rows.Err())
	var n uint64
	require.NoError(t, rows.Scan(&n))
	return n
}

type column struct{ name, typ, kind string }

func columns(t *testing.T, ctx context.Context, eng store.Engine, table string) []column {
	t.Helper()
	rows, err := eng.Query(ctx,
		"SELECT name, type, default_kind FROM system.columns WHERE database = {db:String} AND table = {t:String} ORDER BY position",
		store.Params{"db": eng.Database(), "t": table})
	require.NoError(t, err)
	defer rows.Close()
	var out []column
	for rows.Next() {
		var c column
		require.NoError(t, rows.Scan(&c.name, &c.typ, &c.kind))
		out = append(out, c)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, out, "table %s has no columns", table)
	return out
}

// describeAll lists every table's columns as DESCRIBE shows them.
func describeAll(t *testing.T, ctx context.Context, eng store.Engine) string {
	t.Helper()
	var b strings.Builder
	for _, table := range Tables {
		fmt.Fprintf(&b, "%s\n", table)
		for _, c := range columns(t, ctx, eng, table) {
			fmt.Fprintf(&b, "    %s %s", c.name, c.typ)
			if c.kind != "" {
				fmt.Fprintf(&b, " %s", c.kind)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// recent is a time an hour ago, at a whole second: rows must be younger
// than the tables' retention, or ClickHouse drops them on arrival.
func recent() time.Time { return time.Now().UTC().Add(-time.Hour).Truncate(time.Second) }

var sampleTime = recent().Add(123456789)

// sample is a value of a column type, in the Go type store.Batch takes.
func sample(t *testing.T, typ string) any {
	t.Helper()
	typ = strings.TrimSpace(typ)
	for _, wrapper := range []string{"LowCardinality(", "SimpleAggregateFunction(min, ", "SimpleAggregateFunction(max, ", "SimpleAggregateFunction(groupUniqArrayArray, "} {
		if strings.HasPrefix(typ, wrapper) {
			return sample(t, strings.TrimSuffix(strings.TrimPrefix(typ, wrapper), ")"))
		}
	}
	switch {
	case typ == "String":
		return "sample 'value'\t\\"
	case typ == "UInt8":
		return uint8(1)
	case typ == "UInt16":
		return uint16(443)
	case typ == "UInt32":
		return uint32(7)
	case typ == "UInt64":
		return uint64(1<<64 - 1)
	case typ == "Bool":
		return true
	case typ == "Date":
		return sampleTime.Truncate(24 * time.Hour)
	case strings.HasPrefix(typ, "DateTime"):
		return sampleTime
	case typ == "Map(LowCardinality(String), String)", typ == "Map(String, String)":
		return map[string]string{"k": "v"}
	case typ == "Map(LowCardinality(String), UInt64)":
		return map[string]uint64{"otel_traces": 3}
	case typ == "Array(String)", typ == "Array(LowCardinality(String))":
		return []string{"a"} // one element, like every array of a Nested column
	case typ == "Array(UInt64)":
		return []uint64{7}
	case typ == "Array(DateTime64(9))":
		return []time.Time{sampleTime}
	case typ == "Array(Map(LowCardinality(String), String))":
		return []map[string]string{{"k": "v"}}
	}
	t.Fatalf("schematest: no sample value for column type %s: add one", typ)
	return nil
}

func insertEveryTable(t *testing.T, ctx context.Context, eng store.Engine) {
	for _, table := range Tables {
		if table == "schema_migrations" {
			continue // Migrate writes it; a sample row would be a bogus record
		}
		var (
			names  []string
			values []any
		)
		for _, c := range columns(t, ctx, eng, table) {
			if c.kind == "ALIAS" || c.kind == "MATERIALIZED" {
				continue
			}
			names = append(names, c.name)
			values = append(values, sample(t, c.typ))
		}
		b, err := eng.PrepareBatch(ctx, table, names)
		require.NoError(t, err, table)
		require.NoError(t, b.Append(values...), table)
		require.NoError(t, b.Send(ctx), table)
		require.GreaterOrEqual(t, count(t, ctx, eng, "SELECT count() FROM "+table), uint64(1), table)
	}
}

func insertRows(t *testing.T, ctx context.Context, eng store.Engine, table string, columns []string, rows ...[]any) {
	t.Helper()
	b, err := eng.PrepareBatch(ctx, table, columns)
	require.NoError(t, err)
	for _, r := range rows {
		require.NoError(t, b.Append(r...))
	}
	require.NoError(t, b.Send(ctx))
}

func traceIDView(t *testing.T, ctx context.Context, eng store.Engine) {
	t0 := recent().Add(900 * time.Millisecond)
	t1 := t0.Add(2500 * time.Millisecond)
	cols := []string{"Timestamp", "TraceId", "SpanId", "ServiceName"}
	insertRows(t, ctx, eng, "otel_traces", cols,
		[]any{t1, "trace-view-1", "s2", "svc"},
		[]any{t0, "trace-view-1", "s1", "svc"},
		[]any{t0, "", "s3", "svc"})
	insertRows(t, ctx, eng, "otel_traces", cols, []any{t0.Add(time.Second), "trace-view-1", "s4", "svc"})

	rows, err := eng.Query(ctx,
		"SELECT min(Start), max(End), count() FROM otel_traces_trace_id_ts WHERE TraceId = {id:String} GROUP BY TraceId",
		store.Params{"id": "trace-view-1"})
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next(), "the view wrote no row: %v", rows.Err())
	var (
		start, end time.Time
		n          uint64
	)
	require.NoError(t, rows.Scan(&start, &end, &n))
	require.Equal(t, t0.Truncate(time.Second), start, "Start is the first span's second")
	require.Equal(t, t1.Truncate(time.Second), end, "End is the last span's second")
	require.NotZero(t, n)
	require.False(t, rows.Next())
	require.Zero(t, count(t, ctx, eng, "SELECT count() FROM otel_traces_trace_id_ts WHERE TraceId = ''"),
		"spans without a trace id are not looked up")
}

func accessIDView(t *testing.T, ctx context.Context, eng store.Engine) {
	t0 := recent().Add(5)
	t1 := t0.Add(time.Millisecond)
	insertRows(t, ctx, eng, "access_events", []string{"Timestamp", "Source", "RequestId", "TraceId"},
		[]any{t0, "nginx", "req-view-1", ""},
		[]any{t1, "tap", "req-view-1", "trace-view-2"})
	rows, err := eng.Query(ctx,
		"SELECT Id, min(Start), max(End) FROM access_events_id_ts WHERE Id IN ('req-view-1', 'trace-view-2') GROUP BY Id ORDER BY Id",
		nil)
	require.NoError(t, err)
	defer rows.Close()
	type span struct{ start, end time.Time }
	got := map[string]span{}
	for rows.Next() {
		var (
			id string
			s  span
		)
		require.NoError(t, rows.Scan(&id, &s.start, &s.end))
		got[id] = s
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[string]span{
		"req-view-1":   {t0, t1},
		"trace-view-2": {t1, t1},
	}, got)
	require.Zero(t, count(t, ctx, eng, "SELECT count() FROM access_events_id_ts WHERE Id = ''"))
}

// engineFull is system.tables.engine_full of a table.
func engineFull(t *testing.T, ctx context.Context, eng store.Engine, table string) string {
	t.Helper()
	rows, err := eng.Query(ctx, "SELECT engine_full FROM system.tables WHERE database = {db:String} AND name = {t:String}",
		store.Params{"db": eng.Database(), "t": table})
	require.NoError(t, err)
	defer rows.Close()
	require.True(t, rows.Next(), "no table %s", table)
	var s string
	require.NoError(t, rows.Scan(&s))
	return s
}

func ttlChange(t *testing.T, ctx context.Context, eng store.Engine, opts schema.Options) {
	shorter := opts
	shorter.Retention.Traces = 7 * 24 * time.Hour
	shorter.Retention.Logs = 0
	applied, err := schema.Migrate(ctx, eng, shorter)
	require.NoError(t, err)
	sort.Strings(applied)
	require.Equal(t, []string{"ttl compliance_traces_daily", "ttl otel_logs", "ttl otel_traces", "ttl otel_traces_by_id", "ttl otel_traces_trace_id_ts"}, applied)
	require.Contains(t, engineFull(t, ctx, eng, "otel_traces"), "TTL toDateTime(Timestamp) + toIntervalDay(7)")
	require.Contains(t, engineFull(t, ctx, eng, "otel_traces_trace_id_ts"), "TTL toDateTime(Start) + toIntervalDay(7)")
	require.Contains(t, engineFull(t, ctx, eng, "otel_traces_by_id"), "TTL toDateTime(Timestamp) + toIntervalDay(7)")
	require.NotContains(t, engineFull(t, ctx, eng, "otel_logs"), "TTL")

	again, err := schema.Migrate(ctx, eng, shorter)
	require.NoError(t, err)
	require.Empty(t, again, "an applied TTL is not applied again")

	back, err := schema.Migrate(ctx, eng, opts)
	require.NoError(t, err)
	require.Len(t, back, 5)
	require.Contains(t, engineFull(t, ctx, eng, "otel_logs"), "TTL toDateTime(Timestamp) + toIntervalDay(30)")
}

func editedMigration(t *testing.T, ctx context.Context, eng store.Engine, opts schema.Options) {
	// Record version 3 as applied with another checksum, earlier than the
	// real record: Migrate must refuse to go on and name the file.
	err := eng.Exec(ctx, "INSERT INTO schema_migrations (Version, Name, Checksum, AppliedAt) "+
		"SELECT 3, '0003_otel_logs.sql', 'edited', toDateTime64('2000-01-01 00:00:00', 3, 'UTC')", nil)
	require.NoError(t, err)
	_, err = schema.Migrate(ctx, eng, opts)
	require.ErrorIs(t, err, schema.ErrChecksum)
	require.ErrorContains(t, err, "0003_otel_logs.sql")
}
