package schema_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tapline/tapline/ingest/otlprow"
	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/byid"
	"github.com/tapline/tapline/store/rowbinary"
	"github.com/tapline/tapline/store/schema"
)

// sample holds one row of each source table with every column set, and an
// access event without ids (not copied).
type sample struct {
	spans  []otlprow.Span
	access []otlprow.Access
	tls    []otlprow.TLS
}

// values are the rows of sample, per copy, as the source's values.
func (s sample) values() map[*byid.Copy][][]any {
	out := map[*byid.Copy][][]any{}
	for i := range s.spans {
		out[byid.Spans] = append(out[byid.Spans], s.spans[i].AppendValues(nil))
	}
	for i := range s.access {
		out[byid.Events] = append(out[byid.Events], s.access[i].AppendValues(nil))
	}
	for i := range s.tls {
		out[byid.TLS] = append(out[byid.TLS], s.tls[i].AppendValues(nil))
	}
	return out
}

func sampleRows(at time.Time) sample {
	span := otlprow.Span{
		Timestamp: at, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", ParentSpanID: "00f067aa0ba902b6",
		TraceState: "k=v", SpanName: "GET /orders/{id}", SpanKind: "Server", ServiceName: "orders",
		ResourceAttributes: map[string]string{"service.name": "orders", "host.name": "node-1"},
		ScopeName:          "otelhttp", ScopeVersion: "0.60.0",
		SpanAttributes: map[string]string{"http.route": "/orders/{id}", "http.response.status_code": "200"},
		Duration:       1500000, StatusCode: "Ok", StatusMessage: "fine",
		EventTimestamps: []time.Time{at.Add(time.Millisecond)}, EventNames: []string{"retry"},
		EventAttributes: []map[string]string{{"attempt": "2"}},
		LinkTraceIDs:    []string{"5bf92f3577b34da6a3ce929d0e0e4736"}, LinkSpanIDs: []string{"10f067aa0ba902b7"},
		LinkTraceStates: []string{""}, LinkAttributes: []map[string]string{{"link": "parent"}},
	}
	access := otlprow.Access{
		Timestamp: at, Duration: 2000000, Source: "tap", ServiceName: "orders", Node: "node-1",
		RequestID: "req-1", TraceID: span.TraceID, SpanID: span.SpanID, Method: "GET", Scheme: "https",
		Host: "orders.internal", Path: "/orders/7", Query: "x=1", Route: "/orders/{id}", Protocol: "HTTP/1.1",
		Status: 200, RequestBytes: 12, ResponseBytes: 345, ClientAddress: "10.0.0.7", ClientPort: 51234,
		UpstreamAddress: "127.0.0.1:8000", UpstreamStatus: "200", UserAgent: "curl/8",
		TLSVersion: "TLS 1.3", TLSCipher: "TLS_AES_128_GCM_SHA256", TLSResumed: true, TLSServerName: "orders.internal",
		MTLSVerified: true, PeerSPIFFEID: "spiffe://example.org/ns/shop/sa/web", PeerSubject: "CN=web",
		PeerIssuer: "CN=ca", PeerSerial: "01", PeerNotAfter: at.Add(24 * time.Hour).Truncate(time.Second),
		PeerFingerprint: "ab:cd", Principal: "spiffe://example.org/ns/shop/sa/web", PrincipalType: "spiffe",
		JWTIssuer: "https://idp", JWTSubject: "alice", JWTAudience: "orders", JWTScopes: []string{"read", "write"},
		Decision: "allow", Policy: "default", Reason: "", ConnectionID: "conn-1",
		Attributes: map[string]string{"k": "v"}, Raw: "raw line",
	}
	orphan := access
	orphan.RequestID, orphan.Source, orphan.Timestamp = "", "app", at.Add(time.Millisecond)
	noIDs := access
	noIDs.RequestID, noIDs.TraceID, noIDs.Timestamp = "", "", at.Add(2*time.Millisecond)
	tls := otlprow.TLS{
		Timestamp: at.Add(-time.Second), Source: "tap", ServiceName: "orders", Node: "node-1", Listener: "tap",
		ConnectionID: "conn-1", ClientAddress: "10.0.0.7", ClientPort: 51234, ServerName: "orders.internal",
		Established: true, Failure: "", FailureDetail: "", HandshakeDuration: 900000,
		TLSVersion: "TLS 1.3", TLSCipher: "TLS_AES_128_GCM_SHA256", TLSResumed: false, ALPN: "h2", MTLSVerified: true,
		PeerSPIFFEID: "spiffe://example.org/ns/shop/sa/web", PeerSubject: "CN=web", PeerIssuer: "CN=ca",
		PeerSerial: "01", PeerNotBefore: at.Add(-time.Hour).Truncate(time.Second),
		PeerNotAfter: at.Add(time.Hour).Truncate(time.Second), PeerFingerprint: "ab:cd",
		Attributes: map[string]string{"k": "v"},
	}
	return sample{
		spans:  []otlprow.Span{span},
		access: []otlprow.Access{access, orphan, noIDs},
		tls:    []otlprow.TLS{tls},
	}
}

var sourceColumns = map[*byid.Copy][]string{
	byid.Spans:  otlprow.SpanColumns(),
	byid.Events: otlprow.AccessColumns(),
	byid.TLS:    otlprow.TLSColumns(),
}

// copied reads a copy table: per id, the rows Row holds, decoded.
func copied(t *testing.T, eng store.Engine, c *byid.Copy) map[string][]byid.Row {
	t.Helper()
	rows, err := eng.Query(context.Background(), "SELECT Id, Row FROM "+c.Table()+" ORDER BY Id, Timestamp", nil)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string][]byid.Row{}
	for rows.Next() {
		var id, raw string
		require.NoError(t, rows.Scan(&id, &raw))
		row, err := c.Decode([]byte(raw))
		require.NoError(t, err, "%s row of %s", c.Table(), id)
		out[id] = append(out[id], row)
	}
	require.NoError(t, rows.Err())
	return out
}

// rowID is a source row's id in copy c: the first non-empty of its id
// columns.
func rowID(c *byid.Copy, r []any) string {
	for _, col := range c.IDColumns() {
		if v := r[slices.Index(c.Columns(), col)].(string); v != "" {
			return v
		}
	}
	return ""
}

// want is what a copy should hold for rows: per id, the values of the
// copied columns.
func want(c *byid.Copy, rows [][]any) map[string][]byid.Row {
	out := map[string][]byid.Row{}
	for _, r := range rows {
		if id := rowID(c, r); id != "" {
			out[id] = append(out[id], byid.Row(r[:len(c.Columns())]))
		}
	}
	return out
}

// Migration 0016: the copies by id hold, in Row, exactly the source row's
// columns, whether the ingest encoded them (package byid) or the migration
// copied rows stored before (formatRowNoNewline): both decode to the
// source's values, and Row's types are the source columns' types.
func TestCopiesByIDHoldTheSourceRows(t *testing.T) {
	ctx := context.Background()
	eng := openMigrated(t, "schema_by_id")
	at := time.Date(2026, 11, 20, 10, 0, 0, 123456789, time.UTC)
	smp := sampleRows(at)
	src := smp.values()

	for c := range src {
		got := map[string]string{}
		rows, err := eng.Query(ctx, "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
			store.Params{"t": c.Source()})
		require.NoError(t, err)
		for rows.Next() {
			var name, typ string
			require.NoError(t, rows.Scan(&name, &typ))
			got[name] = strings.ReplaceAll(strings.ReplaceAll(typ, "LowCardinality(String)", "String"), "DateTime64(9, 'UTC')", "DateTime64(9)")
		}
		require.NoError(t, rows.Err())
		rows.Close()
		for i, col := range c.Columns() {
			require.Equal(t, got[col], c.ColumnTypes()[i], "%s.%s", c.Source(), col)
		}
	}

	// Rows stored before 0016: in the source tables only, then 0016 again.
	for c, rows := range src {
		b, err := eng.PrepareBatch(ctx, c.Source(), sourceColumns[c])
		require.NoError(t, err)
		for _, r := range rows {
			require.NoError(t, b.Append(r...))
		}
		require.NoError(t, b.Send(ctx))
		require.Empty(t, copied(t, eng, c), "only writers of the source write %s", c.Table())
	}
	require.NoError(t, eng.Exec(ctx, "DELETE FROM schema_migrations WHERE Version = 16", nil))
	opts := schema.DefaultOptions()
	opts.Database = ""
	applied, err := schema.Migrate(ctx, eng, opts)
	require.NoError(t, err)
	require.Equal(t, []string{"0016_rows_by_id.sql"}, applied)
	for c, rows := range src {
		require.Equal(t, want(c, rows), copied(t, eng, c), "%s filled by the migration", c.Table())
	}

	// Rows encoded from the declared column types (package rowbinary): the
	// same.
	for c, rows := range src {
		require.NoError(t, eng.Exec(ctx, "TRUNCATE TABLE "+c.Table(), nil))
		var types []*rowbinary.Type
		for _, text := range c.ColumnTypes() {
			typ, err := rowbinary.Parse(text)
			require.NoError(t, err)
			types = append(types, typ)
		}
		b, err := eng.PrepareBatch(ctx, c.Table(), byid.InsertColumns())
		require.NoError(t, err)
		for _, r := range rows {
			id := rowID(c, r)
			if id == "" {
				continue
			}
			var enc []byte
			for i, typ := range types {
				enc, err = typ.Append(enc, r[i])
				require.NoError(t, err, "%s.%s", c.Table(), c.Columns()[i])
			}
			require.NoError(t, b.Append(id, r[slices.Index(c.Columns(), "Timestamp")], enc))
		}
		require.NoError(t, b.Send(ctx))
		require.Equal(t, want(c, rows), copied(t, eng, c), "%s encoded from its declared types", c.Table())
	}

	// Rows the writers encode (byid.Insert over the otlprow rows, as the
	// ingest and the API's sink do): the same.
	for c, insert := range map[*byid.Copy]func() error{
		byid.Spans:  func() error { return byid.Insert(ctx, eng, byid.Spans, smp.spans) },
		byid.Events: func() error { return byid.Insert(ctx, eng, byid.Events, smp.access) },
		byid.TLS:    func() error { return byid.Insert(ctx, eng, byid.TLS, smp.tls) },
	} {
		require.NoError(t, eng.Exec(ctx, "TRUNCATE TABLE "+c.Table(), nil))
		require.NoError(t, insert())
		require.Equal(t, want(c, src[c]), copied(t, eng, c), "%s written by its writers (AppendCopy)", c.Table())
	}
}
