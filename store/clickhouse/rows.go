package clickhouse

import (
	"fmt"
	"reflect"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tapline/tapline/store"
)

// rows decodes clickhouse-go rows into the Go types store.Rows documents.
type rows struct {
	rows    driver.Rows
	columns []store.Column
	types   []*chType
	holders []any // pointers to clickhouse-go's scan types
	values  []any // the current row, converted
	err     error
	closed  bool
}

func newRows(r driver.Rows) (*rows, error) {
	cts := r.ColumnTypes()
	out := &rows{
		rows:    r,
		columns: make([]store.Column, len(cts)),
		types:   make([]*chType, len(cts)),
		holders: make([]any, len(cts)),
		values:  make([]any, len(cts)),
	}
	for i, ct := range cts {
		out.columns[i] = store.Column{Name: ct.Name(), Type: ct.DatabaseTypeName()}
		t, err := parseType(ct.DatabaseTypeName())
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", ct.Name(), err)
		}
		out.types[i] = t
		out.holders[i] = reflect.New(ct.ScanType()).Interface()
	}
	return out, nil
}

func (r *rows) Columns() []store.Column { return r.columns }

func (r *rows) Next() bool {
	if r.err != nil || r.closed || !r.rows.Next() {
		return false
	}
	if err := r.rows.Scan(r.holders...); err != nil {
		r.err = storeError(err)
		return false
	}
	for i, h := range r.holders {
		v, err := fromDriver(r.types[i], reflect.ValueOf(h).Elem().Interface())
		if err != nil {
			r.err = fmt.Errorf("column %s: %w", r.columns[i].Name, err)
			return false
		}
		r.values[i] = v
	}
	return true
}

// Scan copies the current row into dest: pointers to the column's Go type,
// or *any.
func (r *rows) Scan(dest ...any) error {
	if len(dest) != len(r.values) {
		return fmt.Errorf("scan: %d destinations for %d columns", len(dest), len(r.values))
	}
	for i, d := range dest {
		if err := assign(d, r.values[i]); err != nil {
			return fmt.Errorf("scan column %s (%s): %w", r.columns[i].Name, r.columns[i].Type, err)
		}
	}
	return nil
}

// assign stores v into the pointer dest.
func assign(dest, v any) error {
	if p, ok := dest.(*any); ok {
		*p = v
		return nil
	}
	dv := reflect.ValueOf(dest)
	if dv.Kind() != reflect.Pointer || dv.IsNil() {
		return fmt.Errorf("destination %T is not a non-nil pointer", dest)
	}
	target := dv.Elem()
	if v == nil {
		target.Set(reflect.Zero(target.Type()))
		return nil
	}
	val := reflect.ValueOf(v)
	if !val.Type().AssignableTo(target.Type()) {
		return fmt.Errorf("cannot store %T in %T", v, dest)
	}
	target.Set(val)
	return nil
}

func (r *rows) Err() error {
	if r.err != nil {
		return r.err
	}
	return storeError(r.rows.Err())
}

// Close ends the result; clickhouse-go reads what is left of it. Safe to
// call twice.
func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return storeError(r.rows.Close())
}

var _ store.Rows = (*rows)(nil)
