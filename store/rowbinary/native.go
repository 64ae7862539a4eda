package rowbinary

import (
	"encoding/binary"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// NativeBlock collects rows column by column and writes them as one block of
// ClickHouse's Native format, the layout ClickHouse keeps columns in: for
// each column its name, its type and all its values together. ClickHouse
// reads a Native block in bulk, column by column, where RowBinary costs a
// call per value; for spans with attribute maps that is most of the insert.
//
// Values are taken in the same Go types as Type.Append takes, and each
// leaf value is laid out exactly as in RowBinary (a String's length and
// bytes, a number's little-endian bytes), only grouped by column:
//
//   - Nullable(T): a byte per row (1 = NULL), then the T column with a zero
//     value in the NULL rows;
//   - Array(T): each row's end offset into the elements (UInt64), then the
//     T column of all elements;
//   - Map(K, V): as Array(Tuple(K, V)): the offsets, then all keys, then all
//     values;
//   - Tuple: each element's column in turn.
//
// LowCardinality(T) is written as T and named so in the block's header:
// ClickHouse builds the dictionary itself when it converts the block to the
// table's type at insert, as it does for RowBinary.
type NativeBlock struct {
	names []string
	types []string // header types, LowCardinality removed
	cols  []*nativeColumn
	rows  int
	// marks is scratch space for rolling back a failed row.
	marks []int
}

// NewNativeBlock returns an empty block for the given columns.
func NewNativeBlock(names []string, types []*Type) (*NativeBlock, error) {
	if len(names) != len(types) {
		return nil, fmt.Errorf("rowbinary: %d names for %d types", len(names), len(types))
	}
	b := &NativeBlock{names: names}
	for i, t := range types {
		c, err := newNativeColumn(t)
		if err != nil {
			return nil, fmt.Errorf("rowbinary: column %s: %w", names[i], err)
		}
		b.cols = append(b.cols, c)
		b.types = append(b.types, StripLowCardinality(t.text))
	}
	return b, nil
}

// Rows is the number of rows appended since the block was made or reset.
func (b *NativeBlock) Rows() int { return b.rows }

// Size is the number of bytes of column data in the block; WriteTo adds
// the counts and each column's name and type.
func (b *NativeBlock) Size() int {
	n := 0
	for _, c := range b.cols {
		n += c.size()
	}
	return n
}

// Reset empties the block and keeps its buffers for the next rows.
func (b *NativeBlock) Reset() {
	for _, c := range b.cols {
		c.reset()
	}
	b.rows = 0
}

// AppendRow appends one row, a value per column. A value that does not fit
// its column is an error naming the column, and the block stays as it was
// before the call.
func (b *NativeBlock) AppendRow(values []any) error {
	if len(values) != len(b.cols) {
		return fmt.Errorf("rowbinary: got %d values for %d columns", len(values), len(b.cols))
	}
	b.marks = b.marks[:0]
	for _, c := range b.cols {
		b.marks = c.mark(b.marks)
	}
	for i, c := range b.cols {
		if err := c.append(values[i]); err != nil {
			marks := b.marks
			for _, c := range b.cols {
				marks = c.rollback(marks)
			}
			return fmt.Errorf("column %s: %w", b.names[i], err)
		}
	}
	b.rows++
	return nil
}

// WriteTo writes the block: column and row counts, then each column's
// name, type and data.
func (b *NativeBlock) WriteTo(w io.Writer) (int64, error) {
	var total int64
	write := func(p []byte) error {
		n, err := w.Write(p)
		total += int64(n)
		return err
	}
	head := binary.AppendUvarint(nil, uint64(len(b.cols)))
	head = binary.AppendUvarint(head, uint64(b.rows))
	if err := write(head); err != nil {
		return total, err
	}
	for i, c := range b.cols {
		head = head[:0]
		head = appendString(head, b.names[i])
		head = appendString(head, b.types[i])
		if err := write(head); err != nil {
			return total, err
		}
		if err := c.writeTo(write); err != nil {
			return total, err
		}
	}
	return total, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// nativeColumn holds one column, or one part of a composite column, of a
// block.
type nativeColumn struct {
	typ *Type
	// data: a leaf's values in RowBinary layout; Nullable's null map;
	// Array's and Map's end offsets (UInt64, little-endian).
	data []byte
	// elems: Nullable [values]; Array [elements]; Map [keys, values];
	// Tuple a column per field.
	elems []*nativeColumn
	// count is an Array's or Map's number of elements so far.
	count uint64
	// zero is a Nullable's value for NULL rows in its values column.
	zero []byte
}

func newNativeColumn(t *Type) (*nativeColumn, error) {
	c := &nativeColumn{typ: t}
	switch t.kind {
	case kindNothing:
		return nil, fmt.Errorf("type %s cannot be written as Native", t.text)
	case kindNullable:
		inner := t.elems[0]
		switch {
		case inner.kind == kindString:
			c.zero = []byte{0}
		case leafSize(inner) > 0:
			c.zero = make([]byte, leafSize(inner))
		default:
			return nil, fmt.Errorf("type %s cannot be written as Native", t.text)
		}
	}
	for _, e := range t.elems {
		if t.kind != kindNullable && t.kind != kindArray && t.kind != kindMap && t.kind != kindTuple {
			break
		}
		ec, err := newNativeColumn(e)
		if err != nil {
			return nil, err
		}
		c.elems = append(c.elems, ec)
	}
	return c, nil
}

// leafSize is the size of a fixed-size value, 0 for others.
func leafSize(t *Type) int {
	switch t.kind {
	case kindInt8, kindUInt8, kindBool, kindEnum8:
		return 1
	}
	return fixedSize(t)
}

func (c *nativeColumn) append(v any) error {
	var err error
	switch c.typ.kind {
	case kindNullable:
		inner, null := c.typ.nullableValue(v)
		if null {
			c.data = append(c.data, 1)
			c.elems[0].data = append(c.elems[0].data, c.zero...)
			return nil
		}
		c.data = append(c.data, 0)
		return c.elems[0].append(inner)
	case kindArray:
		return c.appendArray(v)
	case kindMap:
		return c.appendMap(v)
	case kindTuple:
		items, ok := v.([]any)
		if !ok || len(items) != len(c.elems) {
			return c.typ.mismatch(v)
		}
		for i, e := range c.elems {
			if err := e.append(items[i]); err != nil {
				return err
			}
		}
		return nil
	}
	c.data, err = c.typ.Append(c.data, v)
	return err
}

func (c *nativeColumn) appendArray(v any) error {
	elem := c.elems[0]
	if s, ok := v.([]string); ok && elem.typ.kind == kindString {
		for _, x := range s {
			elem.data = binary.AppendUvarint(elem.data, uint64(len(x)))
			elem.data = append(elem.data, x...)
		}
		c.endRow(len(s))
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return c.typ.mismatch(v)
	}
	for i := range rv.Len() {
		if err := elem.append(rv.Index(i).Interface()); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
	}
	c.endRow(rv.Len())
	return nil
}

func (c *nativeColumn) appendMap(v any) error {
	keys, vals := c.elems[0], c.elems[1]
	if m, ok := v.(map[string]string); ok && keys.typ.kind == kindString && vals.typ.kind == kindString {
		for k, x := range m {
			keys.data = binary.AppendUvarint(keys.data, uint64(len(k)))
			keys.data = append(keys.data, k...)
			vals.data = binary.AppendUvarint(vals.data, uint64(len(x)))
			vals.data = append(vals.data, x...)
		}
		c.endRow(len(m))
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map {
		return c.typ.mismatch(v)
	}
	for it := rv.MapRange(); it.Next(); {
		if err := keys.append(it.Key().Interface()); err != nil {
			return fmt.Errorf("map key: %w", err)
		}
		if err := vals.append(it.Value().Interface()); err != nil {
			return fmt.Errorf("map value of %v: %w", it.Key().Interface(), err)
		}
	}
	c.endRow(rv.Len())
	return nil
}

// endRow records the end offset of an Array or Map row of n elements.
func (c *nativeColumn) endRow(n int) {
	c.count += uint64(n)
	c.data = binary.LittleEndian.AppendUint64(c.data, c.count)
}

// mark appends the column's state (its buffers' lengths, an Array's or
// Map's count) to marks, depth first, for rollback.
func (c *nativeColumn) mark(marks []int) []int {
	marks = append(marks, len(c.data), int(c.count))
	for _, e := range c.elems {
		marks = e.mark(marks)
	}
	return marks
}

// rollback restores the state mark recorded and returns the marks after
// this column's.
func (c *nativeColumn) rollback(marks []int) []int {
	c.data, c.count = c.data[:marks[0]], uint64(marks[1])
	marks = marks[2:]
	for _, e := range c.elems {
		marks = e.rollback(marks)
	}
	return marks
}

func (c *nativeColumn) reset() {
	c.data, c.count = c.data[:0], 0
	for _, e := range c.elems {
		e.reset()
	}
}

func (c *nativeColumn) size() int {
	n := len(c.data)
	for _, e := range c.elems {
		n += e.size()
	}
	return n
}

// writeTo writes the column's data: its own buffer, then its parts'.
func (c *nativeColumn) writeTo(write func([]byte) error) error {
	if len(c.data) > 0 {
		if err := write(c.data); err != nil {
			return err
		}
	}
	for _, e := range c.elems {
		if err := e.writeTo(write); err != nil {
			return err
		}
	}
	return nil
}

// StripLowCardinality removes every LowCardinality(…) wrapper from a type's
// text, leaving what it wraps: "Map(LowCardinality(String), String)"
// becomes "Map(String, String)". Quoted parts (enum names, time zones) are
// left alone.
func StripLowCardinality(text string) string {
	const wrapper = "LowCardinality("
	for {
		i := indexUnquoted(text, wrapper)
		if i < 0 {
			return text
		}
		open := i + len(wrapper) - 1
		end := matchingParen(text, open)
		if end < 0 {
			return text
		}
		text = text[:i] + text[open+1:end] + text[end+1:]
	}
}

// indexUnquoted is strings.Index outside single-quoted parts.
func indexUnquoted(s, sub string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '\'':
			quoted = !quoted
		case !quoted && strings.HasPrefix(s[i:], sub):
			return i
		}
	}
	return -1
}

// matchingParen returns the index of the parenthesis closing the one at
// open, or -1.
func matchingParen(s string, open int) int {
	depth, quoted := 0, false
	for i := open; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '\'':
			quoted = !quoted
		case quoted:
		case s[i] == '(':
			depth++
		case s[i] == ')':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
