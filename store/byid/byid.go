// Package byid defines the copies of span, access-event and TLS-connection
// rows that Tapline keeps sorted by id (migration 0016), for the timeline
// reads of the query API.
//
// otel_traces, access_events and tls_connections are sorted for search
// (by service, source, time), so the few rows of one trace or request lie
// in granules of their own, and reading them decompresses a granule of
// every column: 22 for a span, 45 for an access event. Each copy table
// holds, per row, its id, its time and one value, Row: the row's columns
// in RowBinary. A timeline then reads one granule of three columns.
//
// Rows are written to both tables by whoever writes the source table (the
// ingest, the API's own access events), with Append or Insert; a copy is
// not a view, because encoding the row in Go costs a fraction of doing it
// in a view.
package byid

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/rowbinary"
)

// Columns of every copy table, in insert order.
var columns = []string{"Id", "Timestamp", "Row"}

// Copy describes one copy table: which source columns its Row holds, in
// which order and with which types, and which of them is its id.
type Copy struct {
	table  string
	source string
	cols   []string
	types  []*rowbinary.Type
	ids    []string // the id columns: the first non-empty one is the id
}

// All are the copies, one per source table.
var All = []*Copy{Spans, Events, TLS}

// Of returns the copy of a source table, or nil.
func Of(source string) *Copy {
	for _, c := range All {
		if c.source == source {
			return c
		}
	}
	return nil
}

// Named returns the copy table with that name, or nil.
func Named(table string) *Copy {
	for _, c := range All {
		if c.table == table {
			return c
		}
	}
	return nil
}

// Spans is the copy of otel_traces, by trace id.
var Spans = mustCopy("otel_traces_by_id", "otel_traces", []string{"TraceId"}, [][2]string{
	{"Timestamp", "DateTime64(9)"},
	{"TraceId", "String"},
	{"SpanId", "String"},
	{"ParentSpanId", "String"},
	{"TraceState", "String"},
	{"SpanName", "String"},
	{"SpanKind", "String"},
	{"ServiceName", "String"},
	{"ResourceAttributes", "Map(String, String)"},
	{"ScopeName", "String"},
	{"ScopeVersion", "String"},
	{"SpanAttributes", "Map(String, String)"},
	{"Duration", "UInt64"},
	{"StatusCode", "String"},
	{"StatusMessage", "String"},
	{"Events.Timestamp", "Array(DateTime64(9))"},
	{"Events.Name", "Array(String)"},
	{"Events.Attributes", "Array(Map(String, String))"},
	{"Links.TraceId", "Array(String)"},
	{"Links.SpanId", "Array(String)"},
	{"Links.TraceState", "Array(String)"},
	{"Links.Attributes", "Array(Map(String, String))"},
})

// Events is the copy of access_events, by request id, or trace id for
// events without a request id. Raw (the original log line) is left out.
var Events = mustCopy("access_events_by_id", "access_events", []string{"RequestId", "TraceId"}, [][2]string{
	{"Timestamp", "DateTime64(9)"},
	{"Duration", "UInt64"},
	{"Source", "String"},
	{"ServiceName", "String"},
	{"Node", "String"},
	{"RequestId", "String"},
	{"TraceId", "String"},
	{"SpanId", "String"},
	{"Method", "String"},
	{"Scheme", "String"},
	{"Host", "String"},
	{"Path", "String"},
	{"Query", "String"},
	{"Route", "String"},
	{"Protocol", "String"},
	{"Status", "UInt16"},
	{"RequestBytes", "UInt64"},
	{"ResponseBytes", "UInt64"},
	{"ClientAddress", "String"},
	{"ClientPort", "UInt16"},
	{"UpstreamAddress", "String"},
	{"UpstreamStatus", "String"},
	{"UserAgent", "String"},
	{"TlsVersion", "String"},
	{"TlsCipher", "String"},
	{"TlsResumed", "Bool"},
	{"TlsServerName", "String"},
	{"MtlsVerified", "Bool"},
	{"PeerSpiffeId", "String"},
	{"PeerSubject", "String"},
	{"PeerIssuer", "String"},
	{"PeerSerial", "String"},
	{"PeerNotAfter", "DateTime('UTC')"},
	{"PeerFingerprint", "String"},
	{"Principal", "String"},
	{"PrincipalType", "String"},
	{"JwtIssuer", "String"},
	{"JwtSubject", "String"},
	{"JwtAudience", "String"},
	{"JwtScopes", "Array(String)"},
	{"Decision", "String"},
	{"Policy", "String"},
	{"Reason", "String"},
	{"ConnectionId", "String"},
	{"Attributes", "Map(String, String)"},
})

// TLS is the copy of tls_connections, by connection id.
var TLS = mustCopy("tls_connections_by_id", "tls_connections", []string{"ConnectionId"}, [][2]string{
	{"Timestamp", "DateTime64(9)"},
	{"Source", "String"},
	{"ServiceName", "String"},
	{"Node", "String"},
	{"Listener", "String"},
	{"ConnectionId", "String"},
	{"ClientAddress", "String"},
	{"ClientPort", "UInt16"},
	{"ServerName", "String"},
	{"Established", "Bool"},
	{"Failure", "String"},
	{"FailureDetail", "String"},
	{"HandshakeDuration", "UInt64"},
	{"TlsVersion", "String"},
	{"TlsCipher", "String"},
	{"TlsResumed", "Bool"},
	{"Alpn", "String"},
	{"MtlsVerified", "Bool"},
	{"PeerSpiffeId", "String"},
	{"PeerSubject", "String"},
	{"PeerIssuer", "String"},
	{"PeerSerial", "String"},
	{"PeerNotBefore", "DateTime('UTC')"},
	{"PeerNotAfter", "DateTime('UTC')"},
	{"PeerFingerprint", "String"},
	{"Attributes", "Map(String, String)"},
})

func mustCopy(table, source string, ids []string, cols [][2]string) *Copy {
	c := &Copy{table: table, source: source, ids: ids}
	for _, col := range cols {
		t, err := rowbinary.Parse(col[1])
		if err != nil {
			panic(fmt.Sprintf("byid: %s.%s: %v", table, col[0], err))
		}
		c.cols = append(c.cols, col[0])
		c.types = append(c.types, t)
	}
	for _, want := range append([]string{"Timestamp"}, ids...) {
		if c.index(want) < 0 {
			panic("byid: " + table + ": no column " + want)
		}
	}
	return c
}

func (c *Copy) index(col string) int {
	for i, name := range c.cols {
		if name == col {
			return i
		}
	}
	return -1
}

// Table is the copy table's name.
func (c *Copy) Table() string { return c.table }

// Source is the name of the table it copies.
func (c *Copy) Source() string { return c.source }

// IDColumns are the source columns that give a row its id: the first
// non-empty one.
func (c *Copy) IDColumns() []string { return append([]string(nil), c.ids...) }

// Columns are the source columns Row holds, in order.
func (c *Copy) Columns() []string { return append([]string(nil), c.cols...) }

// ColumnTypes are the ClickHouse types of Columns as Row encodes them: the
// source columns' types, with LowCardinality(String) as String (the same
// in RowBinary).
func (c *Copy) ColumnTypes() []string {
	out := make([]string, len(c.types))
	for i, t := range c.types {
		out[i] = t.String()
	}
	return out
}

// InsertColumns are the copy table's columns in the order an insert
// appends them: the id, the time, Row.
func InsertColumns() []string { return append([]string(nil), columns...) }

// Source is a source table's row that encodes its own copy: its id ("" for
// none), its time, and its columns in Row's layout (package otlprow's row
// types; TestCopiesByIDHoldTheSourceRows checks them against Columns and
// ColumnTypes).
type Source interface {
	CopyID() string
	CopyTime() time.Time
	AppendCopy(dst []byte) []byte
}

// Append adds rows to b, an insert into their copy table. A row without
// an id is not copied: no timeline asks for it.
func Append[R any, P interface {
	*R
	Source
}](b store.Batch, rows []R) error {
	var buf []byte
	for i := range rows {
		r := P(&rows[i])
		id := r.CopyID()
		if id == "" {
			continue
		}
		buf = r.AppendCopy(buf[:0])
		if err := b.Append(id, r.CopyTime(), buf); err != nil {
			return fmt.Errorf("byid: row %d: %w", i, err)
		}
	}
	return nil
}

// Insert writes rows into copy c in one insert (none when no row has an
// id), for writers that insert at once; the ingest builds its batches
// first and uses Append.
func Insert[R any, P interface {
	*R
	Source
}](ctx context.Context, eng store.Engine, c *Copy, rows []R) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := eng.PrepareBatch(ctx, c.table, InsertColumns())
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", c.table, err)
	}
	if err := Append[R, P](b, rows); err != nil {
		b.Abort()
		return fmt.Errorf("%s: %w", c.table, err)
	}
	if b.Rows() == 0 {
		b.Abort()
		return nil
	}
	if err := b.Send(ctx); err != nil {
		return fmt.Errorf("insert into %s: %w", c.table, err)
	}
	return nil
}

// Decode reads the source row a Row value holds.
func (c *Copy) Decode(row []byte) (Row, error) {
	d := rowbinary.NewBytesDecoder(row)
	out := make(Row, len(c.types))
	for i, t := range c.types {
		v, err := t.Decode(d)
		if err != nil {
			return nil, fmt.Errorf("byid: %s column %s: %w", c.table, c.cols[i], err)
		}
		out[i] = v
	}
	if rest := len(d.Rest()); rest != 0 {
		return nil, fmt.Errorf("byid: %s: %d bytes after the row", c.table, rest)
	}
	return out, nil
}

// Row is a decoded source row, in its copy's Columns order.
type Row []any

// Scan copies the row into dest, pointers to each column's Go type (as
// for store.Rows.Scan) or *any.
func (r Row) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("byid: Scan got %d destinations for %d columns", len(dest), len(r))
	}
	for i, d := range dest {
		if p, ok := d.(*any); ok {
			*p = r[i]
			continue
		}
		dv := reflect.ValueOf(d)
		if dv.Kind() != reflect.Pointer || dv.IsNil() {
			return fmt.Errorf("byid: destination %d (%T) is not a non-nil pointer", i, d)
		}
		v := reflect.ValueOf(r[i])
		if !v.IsValid() || !v.Type().AssignableTo(dv.Elem().Type()) {
			return fmt.Errorf("byid: column %d holds %T, not %s", i, r[i], dv.Elem().Type())
		}
		dv.Elem().Set(v)
	}
	return nil
}
