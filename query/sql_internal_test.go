package query

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	taplinev1 "github.com/tapline/tapline/api/tapline/v1"
	"github.com/tapline/tapline/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

func testServer(t *testing.T) *Server {
	t.Helper()
	now := time.Date(2025, 6, 2, 11, 0, 0, 0, time.UTC)
	return &Server{cfg: Default(), now: func() time.Time { return now }}
}

// golden compares SQL text and its parameters with testdata/sql/NAME.sql.
func golden(t *testing.T, name, sql string, params store.Params) {
	t.Helper()
	var b strings.Builder
	b.WriteString(sql)
	b.WriteString("\n\n-- parameters:\n")
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		v, err := json.Marshal(params[k])
		require.NoError(t, err)
		b.WriteString("-- " + k + " = " + string(v) + "\n")
	}
	path := filepath.Join("testdata", "sql", name+".sql")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create the golden file")
	require.Equal(t, string(want), b.String())
}

// hostile is a value that must never reach SQL text.
const hostile = `x' OR 1=1) --; DROP TABLE otel_traces; {p0:String}`

// hostileKey is hostile without "=", usable as an attribute key.
const hostileKey = `k' OR 1) --; DROP TABLE otel_traces; {p0:String}`

func TestTraceSearchSQL(t *testing.T) {
	s := testServer(t)
	req := &taplinev1.SearchTracesRequest{
		ServiceName: "orders" + hostile, SpanName: "POST /checkout" + hostile,
		Attributes: []string{"http.route=/checkout" + hostile, "span:db.system", "resource:!" + hostileKey, hostileKey + "!=v" + hostile},
		ErrorsOnly: true, MinDuration: durationpb.New(time.Millisecond), MaxDuration: durationpb.New(time.Second),
		StartTime: timestamppb.New(time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)),
		Principal: "spiffe://x" + hostile, RequestId: "r" + hostile, Limit: 20,
	}
	q, err := s.parseTraceSearch(req)
	require.NoError(t, err)
	sql, params := q.matchSQL(q.w.start)
	require.NotContains(t, sql, "orders")
	require.NotContains(t, sql, "DROP")
	require.NotContains(t, sql, "checkout")
	golden(t, "search_traces", sql, params)

	// With the text layout's item indexes, equality is answered from the
	// items first.
	q.itemIndexes = true
	sql, params = q.matchSQL(q.w.start)
	require.NotContains(t, sql, "DROP")
	golden(t, "search_traces_item_indexes", sql, params)
	q.itemIndexes = false

	page2 := &cursor{Version: cursorVersion, Filter: q.filter, Start: q.w.start.UnixNano(), End: q.w.end.UnixNano(),
		Time: q.w.end.Add(-time.Minute).UnixNano(), Key: "0af7651916cd43dd8448eb211c80319c"}
	req.Cursor = page2.encode()
	q, err = s.parseTraceSearch(req)
	require.NoError(t, err)
	sql, params = q.matchSQL(q.w.end.Add(-5 * time.Minute))
	golden(t, "search_traces_cursor", sql, params)
}

func TestEventSearchSQL(t *testing.T) {
	s := testServer(t)
	req := &taplinev1.SearchEventsRequest{
		Sources: []string{"nginx", "tap"}, ServiceName: "orders" + hostile, Principal: "p" + hostile,
		StatusClass: "5xx", Method: "post", PathPrefix: "/checkout" + hostile, Decision: "deny",
		TlsVersion: "1.3", RequestId: "r" + hostile, TraceId: "0AF7651916CD43DD8448EB211C80319C", Limit: 10,
	}
	q, err := s.parseEventSearch(req)
	require.NoError(t, err)
	sql, params := q.sql(q.w.start)
	require.NotContains(t, sql, "DROP")
	require.NotContains(t, sql, "checkout")
	golden(t, "search_events", sql, params)
}

func TestCursorChecks(t *testing.T) {
	s := testServer(t)
	req := &taplinev1.SearchTracesRequest{ServiceName: "orders"}
	q, err := s.parseTraceSearch(req)
	require.NoError(t, err)
	good := cursor{Version: cursorVersion, Filter: q.filter, Start: q.w.start.UnixNano(), End: q.w.end.UnixNano(),
		Time: q.w.end.Add(-time.Minute).UnixNano(), Key: "0af7651916cd43dd8448eb211c80319c"}
	tests := []struct {
		name   string
		cursor string
		err    string
	}{
		{"garbage", "!!!", "not a cursor"},
		{"not json", "bm90IGpzb24", "not a cursor"},
		{"other filters", func() string { c := good; c.Filter = "0000000000000000"; return c.encode() }(), "other filters"},
		{"time outside window", func() string { c := good; c.Time = c.End + 1; return c.encode() }(), "out of range"},
		{"bad key", func() string { c := good; c.Key = "'; DROP"; return c.encode() }(), "32 hex"},
		{"wrong version", func() string { c := good; c.Version = 9; return c.encode() }(), "not a cursor"},
		{"too long", strings.Repeat("A", 2000), "not a cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := proto.CloneOf(req)
			r.Cursor = tt.cursor
			_, err := s.parseTraceSearch(r)
			require.ErrorContains(t, err, tt.err)
		})
	}
	r := proto.CloneOf(req)
	r.Cursor = good.encode()
	_, err = s.parseTraceSearch(r)
	require.NoError(t, err)
}
