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
// ingest, the API's own access events); a copy is not a view, because
// encoding the row in Go costs a fraction of doing it in a view.
package byid

import (
	"fmt"
	"reflect"

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
	keys   []int // indexes of the id columns: the first non-empty one is the id
	time   int   // index of the Timestamp column
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

func mustCopy(table, source string, keys []string, cols [][2]string) *Copy {
	c := &Copy{table: table, source: source, time: -1}
	for i, col := range cols {
		t, err := rowbinary.Parse(col[1])
		if err != nil {
			panic(fmt.Sprintf("byid: %s.%s: %v", table, col[0], err))
		}
		c.cols = append(c.cols, col[0])
		c.types = append(c.types, t)
		if col[0] == "Timestamp" {
			c.time = i
		}
	}
	for _, k := range keys {
		i := c.index(k)
		if i < 0 {
			panic("byid: " + table + ": no id column " + k)
		}
		c.keys = append(c.keys, i)
	}
	if c.time < 0 {
		panic("byid: " + table + ": no Timestamp column")
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

// NewEncoder returns an encoder of rows into one insert into the copy
// table. An encoder is not safe for concurrent use.
func (c *Copy) NewEncoder() *Encoder { return &Encoder{c: c} }

// Encoder encodes source rows given as values, for writers of few rows
// (the API's own access events, test loaders). The ingest encodes its
// mapped rows directly (AppendCopy in package otlprow), in the same
// layout.
type Encoder struct {
	c   *Copy
	buf []byte
}

// Append adds one source row to b, an insert into the copy table, with
// values in Columns order (values past them, such as access_events' Raw,
// are ignored). A row without an id is not copied: no timeline asks for
// it.
func (e *Encoder) Append(b store.Batch, values []any) error {
	c := e.c
	if len(values) < len(c.cols) {
		return fmt.Errorf("byid: %d values for the %d columns of %s", len(values), len(c.cols), c.table)
	}
	id := ""
	for _, k := range c.keys {
		if s, _ := values[k].(string); s != "" {
			id = s
			break
		}
	}
	if id == "" {
		return nil
	}
	row := e.buf[:0]
	var err error
	for i, t := range c.types {
		if row, err = t.Append(row, values[i]); err != nil {
			return fmt.Errorf("byid: %s column %s: %w", c.table, c.cols[i], err)
		}
	}
	e.buf = row
	return b.Append(id, values[c.time], row)
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
