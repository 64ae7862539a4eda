package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/store"
)

// Open returns an engine for one test. It must be ready for use, and the
// function must arrange for it to be closed (t.Cleanup); the suite may also
// close it itself, which must then be harmless.
type Open func(t *testing.T) store.Engine

// Run runs every conformance test against engines from open.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e store.Engine)
	}{
		{"TypesRoundTrip", testTypesRoundTrip},
		{"AllByteValues", testAllByteValues},
		{"HostileParams", testHostileParams},
		{"ParamTypes", testParamTypes},
		{"Errors", testErrors},
		{"BatchErrors", testBatchErrors},
		{"ConcurrentQueries", testConcurrentQueries},
		{"LargeResult", testLargeResult},
		{"ErrorMidResult", testErrorMidResult},
		{"UnqualifiedNames", testUnqualifiedNames},
		{"DedupToken", testDedupToken},
		{"RandomBatches", testRandomBatches},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// createTable creates a MergeTree table with a name unique to the test and
// drops it when the test ends. columns is the column list without
// parentheses; settings, if any, follow SETTINGS.
func createTable(t *testing.T, e store.Engine, columns, orderBy, settings string) string {
	t.Helper()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := strings.ToLower("storetest_" + nonWord.ReplaceAllString(t.Name(), "_") + "_" + hex.EncodeToString(suffix))
	ddl := fmt.Sprintf("CREATE TABLE %s (%s) ENGINE = MergeTree ORDER BY %s", name, columns, orderBy)
	if settings != "" {
		ddl += " SETTINGS " + settings
	}
	require.NoError(t, e.Exec(t.Context(), ddl, nil))
	t.Cleanup(func() {
		// The test's context is gone by now.
		_ = e.Exec(context.Background(), "DROP TABLE IF EXISTS "+name, nil)
	})
	return name
}

// queryOne runs a query that returns one row and scans it into dest.
func queryOne(t *testing.T, e store.Engine, query string, params store.Params, dest ...any) {
	t.Helper()
	rows, err := e.Query(t.Context(), query, params)
	require.NoError(t, err, query)
	defer rows.Close()
	require.True(t, rows.Next(), "no row: %s (err %v)", query, rows.Err())
	require.NoError(t, rows.Scan(dest...), query)
	require.False(t, rows.Next(), "more than one row: %s", query)
	require.NoError(t, rows.Err())
}

// allBytes is a string holding every byte value once, NUL and invalid
// UTF-8 included.
func allBytes() string {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return string(b)
}

func testTypesRoundTrip(t *testing.T, e store.Engine) {
	table := createTable(t, e, `
		id UInt64,
		ts DateTime64(9),
		sec DateTime,
		day Date,
		s String,
		lc LowCardinality(String),
		attrs Map(LowCardinality(String), String),
		tags Array(String),
		events Nested(Name String, Time DateTime64(9), Attributes Map(LowCardinality(String), String)),
		big UInt64,
		neg Int64,
		f Float64,
		ok Bool,
		kind Enum8('unset' = 0, 'server' = 2),
		uid UUID,
		maybe Nullable(String)`, "id", "")

	ts := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC)
	type row struct {
		id     uint64
		ts     time.Time
		sec    time.Time
		day    time.Time
		s      string
		lc     string
		attrs  map[string]string
		tags   []string
		names  []string
		times  []time.Time
		eattrs []map[string]string
		big    uint64
		neg    int64
		f      float64
		ok     bool
		kind   string
		uid    string
		maybe  *string
	}
	present := "here"
	want := []row{
		{
			id: 1, ts: ts, sec: ts.Truncate(time.Second), day: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
			s: "héllo wörld 世界 🚀", lc: "server-ß",
			attrs: map[string]string{"http.route": "/users/{id}", "ключ": "значение", "": "empty key", "nul": "a\x00b"},
			tags:  []string{"a", "", "\n\n", "\x00"},
			names: []string{"exception", "retry"}, times: []time.Time{ts, ts.Add(time.Nanosecond)},
			eattrs: []map[string]string{{"exception.type": "ValueError"}, {}},
			big:    math.MaxUint64, neg: math.MinInt64, f: -0.125, ok: true, kind: "server",
			uid: "01234567-89ab-cdef-fedc-ba9876543210", maybe: &present,
		},
		{
			id: 2, ts: time.Unix(0, 1).UTC(), sec: time.Unix(0, 0).UTC(), day: time.Unix(0, 0).UTC(),
			s: "", lc: "", attrs: map[string]string{}, tags: []string{},
			names: []string{}, times: []time.Time{}, eattrs: []map[string]string{},
			big: 0, neg: 0, f: math.MaxFloat64, ok: false, kind: "unset",
			uid: "00000000-0000-0000-0000-000000000000", maybe: nil,
		},
		{
			id: 3, ts: time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC),
			sec: time.Date(2106, 2, 7, 6, 28, 15, 0, time.UTC), day: time.Date(2149, 6, 6, 0, 0, 0, 0, time.UTC),
			s: "a\x00b\x00", lc: "\x00", attrs: map[string]string{"k": allBytes()}, tags: []string{allBytes()},
			names: []string{"x"}, times: []time.Time{time.Unix(1, 999999999).UTC()},
			eattrs: []map[string]string{{"a": "b", "c": "d"}},
			big:    1 << 63, neg: -1, f: math.SmallestNonzeroFloat64, ok: true, kind: "server",
			uid: "ffffffff-ffff-ffff-ffff-ffffffffffff", maybe: new(string),
		},
	}

	b, err := e.PrepareBatch(t.Context(), table, []string{
		"id", "ts", "sec", "day", "s", "lc", "attrs", "tags", "events.Name", "events.Time",
		"events.Attributes", "big", "neg", "f", "ok", "kind", "uid", "maybe",
	})
	require.NoError(t, err)
	for _, r := range want {
		require.NoError(t, b.Append(r.id, r.ts, r.sec, r.day, r.s, r.lc, r.attrs, r.tags, r.names, r.times,
			r.eattrs, r.big, r.neg, r.f, r.ok, r.kind, r.uid, r.maybe))
	}
	require.Equal(t, len(want), b.Rows())
	require.NoError(t, b.Send(t.Context()))

	rows, err := e.Query(t.Context(), "SELECT id, ts, sec, day, s, lc, attrs, tags, events.Name, events.Time,"+
		" events.Attributes, big, neg, f, ok, kind, uid, maybe FROM "+table+" ORDER BY id", nil)
	require.NoError(t, err)
	defer rows.Close()
	wantTypes := []string{"UInt64", "DateTime64(9)", "DateTime", "Date", "String", "LowCardinality(String)",
		"Map(LowCardinality(String), String)", "Array(String)", "Array(String)", "Array(DateTime64(9))",
		"Array(Map(LowCardinality(String), String))", "UInt64", "Int64", "Float64", "Bool",
		"Enum8('unset' = 0, 'server' = 2)", "UUID", "Nullable(String)"}
	cols := rows.Columns()
	require.Len(t, cols, len(wantTypes))
	for i, c := range cols {
		assert.Equal(t, wantTypes[i], c.Type, "column %s", c.Name)
	}
	assert.Equal(t, "events.Name", cols[8].Name)
	var got []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.id, &r.ts, &r.sec, &r.day, &r.s, &r.lc, &r.attrs, &r.tags, &r.names,
			&r.times, &r.eattrs, &r.big, &r.neg, &r.f, &r.ok, &r.kind, &r.uid, &r.maybe))
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	require.Len(t, got, len(want))
	for i := range want {
		w, g := want[i], got[i]
		for _, tm := range append([]time.Time{g.ts, g.sec, g.day}, g.times...) {
			assert.Equal(t, time.UTC, tm.Location(), "times are returned in UTC")
		}
		assert.True(t, w.ts.Equal(g.ts), "ts: want %s got %s", w.ts.Format(time.RFC3339Nano), g.ts.Format(time.RFC3339Nano))
		assert.True(t, w.sec.Equal(g.sec), "DateTime: want %s got %s", w.sec, g.sec)
		assert.True(t, w.day.Equal(g.day), "Date: want %s got %s", w.day, g.day)
		require.Len(t, g.times, len(w.times))
		for j := range w.times {
			assert.True(t, w.times[j].Equal(g.times[j]), "events.Time[%d]", j)
		}
		w.ts, w.sec, w.day, w.times = g.ts, g.sec, g.day, g.times
		assert.Equal(t, w, g, "row %d", w.id)
	}
}

func testAllByteValues(t *testing.T, e store.Engine) {
	table := createTable(t, e, "id UInt32, s String", "id", "")
	b, err := e.PrepareBatch(t.Context(), table, []string{"id", "s"})
	require.NoError(t, err)
	// Every byte value alone, and all of them in one string.
	for i := range 256 {
		require.NoError(t, b.Append(uint32(i), []byte{byte(i)}))
	}
	require.NoError(t, b.Append(uint32(256), allBytes()))
	require.NoError(t, b.Send(t.Context()))

	rows, err := e.Query(t.Context(), "SELECT id, s FROM "+table+" ORDER BY id", nil)
	require.NoError(t, err)
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id uint32
		var s string
		require.NoError(t, rows.Scan(&id, &s))
		want := allBytes()
		if id < 256 {
			want = string([]byte{byte(id)})
		}
		require.Equal(t, []byte(want), []byte(s), "row %d", id)
		n++
	}
	require.NoError(t, rows.Err())
	require.Equal(t, 257, n)

	// The same bytes as a bound parameter, compared in ClickHouse and back.
	var got string
	var same uint8 // comparisons return UInt8
	queryOne(t, e, "SELECT {s:String}, {s:String} = unhex({h:String})",
		store.Params{"s": allBytes(), "h": hex.EncodeToString([]byte(allBytes()))}, &got, &same)
	assert.Equal(t, []byte(allBytes()), []byte(got))
	assert.Equal(t, uint8(1), same, "ClickHouse received the parameter byte for byte")
	var count uint64
	queryOne(t, e, "SELECT count() FROM "+table+" WHERE s = {s:String}", store.Params{"s": allBytes()}, &count)
	assert.Equal(t, uint64(1), count)
}

// hostile are strings that break naive quoting.
var hostile = []string{
	"it's",
	`back\slash`,
	`\'`,
	"tab\there",
	"new\nline",
	"\r\n",
	"'; DROP TABLE x; --",
	`"; DROP TABLE x; --`,
	"{s:String}",
	"\\N",
	"NULL",
	"`backtick`",
	"\x00",
	"",
	" ",
	"ümlaut 中文 🚀",
}

func testHostileParams(t *testing.T, e store.Engine) {
	table := createTable(t, e, "id UInt32, s String", "id", "")
	b, err := e.PrepareBatch(t.Context(), table, nil)
	require.NoError(t, err)
	for i, s := range hostile {
		require.NoError(t, b.Append(uint32(i), s))
	}
	require.NoError(t, b.Send(t.Context()))

	for i, s := range hostile {
		var got string
		queryOne(t, e, "SELECT {s:String}", store.Params{"s": s}, &got)
		assert.Equal(t, s, got, "SELECT {s:String} with %q", s)

		var id uint32
		queryOne(t, e, "SELECT id FROM "+table+" WHERE s = {s:String}", store.Params{"s": s}, &id)
		assert.Equal(t, uint32(i), id, "WHERE s = %q", s)
	}

	var arr []string
	queryOne(t, e, "SELECT {a:Array(String)}", store.Params{"a": hostile}, &arr)
	assert.Equal(t, hostile, arr)

	m := map[string]string{}
	for _, s := range hostile {
		m[s] = s + s
	}
	var gotMap map[string]string
	queryOne(t, e, "SELECT {m:Map(String, String)}", store.Params{"m": m}, &gotMap)
	assert.Equal(t, m, gotMap)

	var count uint64
	queryOne(t, e, "SELECT count() FROM "+table+" WHERE has({a:Array(String)}, s)", store.Params{"a": hostile}, &count)
	assert.Equal(t, uint64(len(hostile)), count, "every hostile string matched through an array parameter")
	queryOne(t, e, "SELECT count() FROM "+table, nil, &count)
	assert.Equal(t, uint64(len(hostile)), count, "the table is still there, whole")
}

func testParamTypes(t *testing.T, e store.Engine) {
	ts := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.FixedZone("CET", 3600))
	var (
		gotTS    time.Time
		gotU64   uint64
		gotI64   int64
		gotF     float64
		gotBool  bool
		gotNull  *string
		gotInts  []uint64
		gotDur   uint64
		gotMatch uint8
	)
	queryOne(t, e, "SELECT {ts:DateTime64(9)}, {u:UInt64}, {i:Int64}, {f:Float64}, {b:Bool}, {n:Nullable(String)},"+
		" {a:Array(UInt64)}, {d:UInt64}, {ts:DateTime64(9)} = toDateTime64('2024-02-29 22:59:59.123456789', 9, 'UTC')",
		store.Params{
			"ts": ts, "u": uint64(math.MaxUint64), "i": int64(math.MinInt64), "f": 0.1, "b": true, "n": nil,
			"a": []uint64{1, math.MaxUint64}, "d": 1500 * time.Millisecond,
		},
		&gotTS, &gotU64, &gotI64, &gotF, &gotBool, &gotNull, &gotInts, &gotDur, &gotMatch)
	assert.True(t, ts.Equal(gotTS), "DateTime64(9) parameter at ns precision: got %s", gotTS.Format(time.RFC3339Nano))
	assert.Equal(t, uint64(math.MaxUint64), gotU64)
	assert.Equal(t, int64(math.MinInt64), gotI64)
	assert.Equal(t, 0.1, gotF)
	assert.True(t, gotBool)
	assert.Nil(t, gotNull)
	assert.Equal(t, []uint64{1, math.MaxUint64}, gotInts)
	assert.Equal(t, uint64(1.5e9), gotDur)
	assert.Equal(t, uint8(1), gotMatch, "the time parameter is read as UTC")
}

func testErrors(t *testing.T, e store.Engine) {
	tests := []struct {
		name  string
		query string
		code  int
	}{
		{"unknown table", "SELECT * FROM storetest_no_such_table", 60},
		{"syntax", "SELEC 1", 62},
		{"unknown function", "SELECT no_such_function(1)", 46},
		{"unknown column", "SELECT no_such_column FROM system.one", 47},
		{"unbound parameter", "SELECT {missing:String}", 456},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, err := e.Query(t.Context(), tt.query, nil)
			if err == nil {
				// An engine may report the error while reading.
				for rows.Next() {
				}
				err = rows.Err()
				rows.Close()
			}
			require.Error(t, err)
			assert.Equal(t, tt.code, store.ErrorCode(err), "error: %v", err)

			err = e.Exec(t.Context(), tt.query, nil)
			assert.Equal(t, tt.code, store.ErrorCode(err), "Exec error: %v", err)
		})
	}
	t.Run("bad parameter value", func(t *testing.T) {
		rows, err := e.Query(t.Context(), "SELECT {n:UInt8}", store.Params{"n": "not a number"})
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		require.Error(t, err)
		assert.NotZero(t, store.ErrorCode(err), "error: %v", err)
	})
	t.Run("engine still works", func(t *testing.T) {
		var one uint8
		queryOne(t, e, "SELECT 1", nil, &one)
		assert.Equal(t, uint8(1), one)
	})
}

func testBatchErrors(t *testing.T, e store.Engine) {
	_, err := e.PrepareBatch(t.Context(), "storetest_no_such_table", nil)
	require.Error(t, err)
	assert.Equal(t, 60, store.ErrorCode(err), "error: %v", err)

	table := createTable(t, e, "id UInt64, name String, ts DateTime64(9)", "id", "")
	b, err := e.PrepareBatch(t.Context(), table, []string{"id", "name", "ts"})
	require.NoError(t, err)
	defer b.Abort()
	require.NoError(t, b.Append(uint64(1), "ok", time.Now()))

	tests := []struct {
		name   string
		values []any
		column string
	}{
		{"string into UInt64", []any{"1", "x", time.Now()}, "id"},
		{"negative into UInt64", []any{-1, "x", time.Now()}, "id"},
		{"int into String", []any{uint64(2), 42, time.Now()}, "name"},
		{"string into DateTime64", []any{uint64(2), "x", "2024-01-01"}, "ts"},
	}
	for _, tt := range tests {
		err := b.Append(tt.values...)
		require.Error(t, err, tt.name)
		assert.Contains(t, err.Error(), tt.column, "%s: the error names the column", tt.name)
	}
	assert.Error(t, b.Append(uint64(2)), "too few values")
	assert.Equal(t, 1, b.Rows(), "failed appends add nothing")
	require.NoError(t, b.Send(t.Context()))
	var count uint64
	queryOne(t, e, "SELECT count() FROM "+table, nil, &count)
	assert.Equal(t, uint64(1), count)
}

func testConcurrentQueries(t *testing.T, e store.Engine) {
	const goroutines, queries = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*queries)
	for g := range goroutines {
		wg.Go(func() {
			for q := range queries {
				n := uint64(100_000 + g*1000 + q)
				rows, err := e.Query(t.Context(), "SELECT sum(number), count() FROM numbers({n:UInt64})", store.Params{"n": n})
				if err != nil {
					errs <- err
					return
				}
				var sum, count uint64
				if !rows.Next() {
					errs <- fmt.Errorf("no row: %v", rows.Err())
					rows.Close()
					return
				}
				err = rows.Scan(&sum, &count)
				rows.Close()
				if err != nil {
					errs <- err
					return
				}
				if sum != n*(n-1)/2 || count != n {
					errs <- fmt.Errorf("n=%d: sum %d count %d", n, sum, count)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testLargeResult(t *testing.T, e store.Engine) {
	const n = 2_000_000
	rows, err := e.Query(t.Context(), "SELECT number, toString(number) FROM numbers({n:UInt64})", store.Params{"n": n})
	require.NoError(t, err)
	var count, sum uint64
	for rows.Next() {
		var v uint64
		var s string
		require.NoError(t, rows.Scan(&v, &s))
		if s != fmt.Sprint(v) {
			t.Fatalf("row %d: %q", v, s)
		}
		count++
		sum += v
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	assert.Equal(t, uint64(n), count)
	assert.Equal(t, uint64(n*(n-1)/2), sum)

	// Stop reading early, many times: the engine must stay usable.
	for range 10 {
		rows, err := e.Query(t.Context(), "SELECT number FROM numbers({n:UInt64})", store.Params{"n": n})
		require.NoError(t, err)
		require.True(t, rows.Next())
		require.NoError(t, rows.Close())
		require.NoError(t, rows.Close(), "Close twice")
	}
	var one uint8
	queryOne(t, e, "SELECT 1", nil, &one)
	assert.Equal(t, uint8(1), one)
}

func testErrorMidResult(t *testing.T, e store.Engine) {
	rows, err := e.Query(t.Context(), "SELECT throwIf(number = 1500000) FROM numbers(2000000)", nil)
	if err == nil {
		for rows.Next() {
		}
		err = rows.Err()
		rows.Close()
	}
	require.Error(t, err)
	assert.Equal(t, 395, store.ErrorCode(err), "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO: %v", err)
	var one uint8
	queryOne(t, e, "SELECT 1", nil, &one)
	assert.Equal(t, uint8(1), one)
}

func testUnqualifiedNames(t *testing.T, e store.Engine) {
	require.NotEmpty(t, e.Database())
	table := createTable(t, e, "id UInt8", "id", "")
	var db string
	queryOne(t, e, "SELECT database FROM system.tables WHERE name = {t:String}", store.Params{"t": table}, &db)
	assert.Equal(t, e.Database(), db, "unqualified CREATE TABLE lands in the engine's database")
	queryOne(t, e, "SELECT currentDatabase()", nil, &db)
	assert.Equal(t, e.Database(), db)
}

func testDedupToken(t *testing.T, e store.Engine) {
	table := createTable(t, e, "id UInt64, s String", "id", "non_replicated_deduplication_window = 100")
	insert := func(token string) {
		t.Helper()
		b, err := e.PrepareBatch(t.Context(), table, []string{"id", "s"}, store.WithDedupToken(token))
		require.NoError(t, err)
		for i := range 100 {
			require.NoError(t, b.Append(uint64(i), "same rows"))
		}
		require.NoError(t, b.Send(t.Context()))
	}
	count := func() uint64 {
		var n uint64
		queryOne(t, e, "SELECT count() FROM "+table, nil, &n)
		return n
	}
	insert("stream-1-100")
	insert("stream-1-100")
	assert.Equal(t, uint64(100), count(), "a retried batch with the same token is stored once")
	insert("stream-101-200")
	assert.Equal(t, uint64(200), count(), "another token is another batch")
	insert("it's a \\ token\n")
	insert("it's a \\ token\n")
	assert.Equal(t, uint64(300), count(), "tokens with quotes and backslashes work")
}

func testClose(t *testing.T, e store.Engine) {
	require.NoError(t, e.Ping(t.Context()))
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "Close twice")
	_, err := e.Query(t.Context(), "SELECT 1", nil)
	assert.True(t, errors.Is(err, store.ErrClosed), "Query after Close: %v", err)
	assert.True(t, errors.Is(e.Exec(t.Context(), "SELECT 1", nil), store.ErrClosed), "Exec after Close")
	assert.True(t, errors.Is(e.Ping(t.Context()), store.ErrClosed), "Ping after Close")
	_, err = e.PrepareBatch(t.Context(), "t", nil)
	assert.True(t, errors.Is(err, store.ErrClosed), "PrepareBatch after Close: %v", err)
}
