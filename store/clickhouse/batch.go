package clickhouse

import (
	"context"
	"fmt"
	"reflect"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/rowbinary"
)

// batch is a clickhouse-go batch: rows are buffered in columns client-side
// and sent as one native-format insert.
//
// clickhouse-go gives up on a whole batch when one value does not fit its
// column, and its conversions are looser than chDB's (it parses strings into
// DateTime64, wraps -1 into UInt64). So Append first checks every value with
// the RowBinary encoder the chDB engine uses, which gives both engines the
// same rules, and hands clickhouse-go the value in its canonical Go type. A
// rejected row adds nothing and the batch stays usable.
type batch struct {
	b       driver.Batch
	table   string
	names   []string
	types   []*rowbinary.Type // nil: a type rowbinary does not know, passed through
	direct  []bool            // values of exactly the Go type need no check
	row     []any
	scratch []byte
	err     error // set when clickhouse-go rejected a row after all
}

func newBatch(b driver.Batch, table string) *batch {
	cols := b.Columns()
	names, types := make([]string, len(cols)), make([]string, len(cols))
	for i, c := range cols {
		names[i], types[i] = c.Name(), string(c.Type())
	}
	out := newRowChecker(table, names, types)
	out.b = b
	return out
}

// newRowChecker prepares the per-column checks of a batch.
func newRowChecker(table string, names, types []string) *batch {
	out := &batch{
		table:  table,
		names:  names,
		types:  make([]*rowbinary.Type, len(names)),
		direct: make([]bool, len(names)),
		row:    make([]any, len(names)),
	}
	for i, text := range types {
		if t, err := rowbinary.Parse(text); err == nil {
			out.types[i] = t
			out.direct[i] = directTypes[t.String()]
		}
	}
	return out
}

// directTypes are column types for which a value of exactly the column's Go
// type is always valid.
var directTypes = map[string]bool{
	"String": true, "LowCardinality(String)": true, "Bool": true, "Float64": true, "Float32": true,
	"UInt8": true, "UInt16": true, "UInt32": true, "UInt64": true,
	"Int8": true, "Int16": true, "Int32": true, "Int64": true,
	"Array(String)": true, "Array(LowCardinality(String))": true,
	"Map(String, String)": true, "Map(LowCardinality(String), String)": true,
}

// Append adds one row. It takes the Go types store.Rows documents and the
// lossless alternatives the chDB engine takes (any integer type that fits,
// []byte for String, nil or a nil pointer for Nullable, ...).
func (b *batch) Append(values ...any) error {
	if b.err != nil {
		return b.err
	}
	if len(values) != len(b.names) {
		return fmt.Errorf("batch into %s: %d values for %d columns", b.table, len(values), len(b.names))
	}
	for i, v := range values {
		nv, err := b.canonical(i, v)
		if err != nil {
			return fmt.Errorf("batch into %s: column %s: %w", b.table, b.names[i], err)
		}
		b.row[i] = nv
	}
	if err := b.b.Append(b.row...); err != nil {
		b.err = fmt.Errorf("batch into %s: %w", b.table, storeError(err))
		return b.err
	}
	return nil
}

// canonical checks v against column i and returns it in the column's Go type.
func (b *batch) canonical(i int, v any) (any, error) {
	t := b.types[i]
	if t == nil || (b.direct[i] && reflect.TypeOf(v) == t.GoType()) {
		return v, nil
	}
	buf, err := t.Append(b.scratch[:0], v)
	b.scratch = buf[:0]
	if err != nil {
		return nil, err
	}
	return t.Decode(rowbinary.NewBytesDecoder(buf))
}

func (b *batch) Rows() int { return b.b.Rows() }

// Send writes the rows in one insert. clickhouse-go binds the insert to the
// context given to PrepareBatch; ctx is checked first.
func (b *batch) Send(ctx context.Context) error {
	if b.err != nil {
		_ = b.b.Abort()
		return b.err
	}
	if err := ctx.Err(); err != nil {
		_ = b.b.Abort()
		return err
	}
	if err := b.b.Send(); err != nil {
		return fmt.Errorf("batch into %s: %w", b.table, storeError(err))
	}
	return nil
}

// Abort drops the batch.
func (b *batch) Abort() { _ = b.b.Abort() }

var _ store.Batch = (*batch)(nil)
