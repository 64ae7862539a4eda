package chdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/rowbinary"
)

// resultFormat is the output format queries use: binary values after a
// header that names and types the columns.
const resultFormat = "RowBinaryWithNamesAndTypes"

// Query runs a SELECT and returns its rows. The result streams from the
// engine in chunks while the caller reads; the Rows hold a connection until
// they are read to the end or closed, so always Close them.
func (e *Engine) Query(ctx context.Context, query string, params store.Params) (store.Rows, error) {
	st, err := e.statement(query, resultFormat, params)
	if err != nil {
		return nil, err
	}
	r, err := e.query(ctx, st, true)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// query runs st and returns its rows. A Query streams on a reader
// connection; the engine's own lookups (streaming false) run whole on any
// free connection, so that they never wait for reader connections.
func (e *Engine) query(ctx context.Context, st *statement, streaming bool) (*rows, error) {
	c, err := e.acquire(ctx, streaming)
	if err != nil {
		return nil, err
	}
	r := &rows{ctx: ctx, release: func() { e.release(c, streaming) }}
	if err := r.start(c, st, streaming); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// start runs st on c, as a stream when streaming is set and the statement
// can stream, and otherwise whole. It reads the header right away, so that
// errors such as an unknown table come from Query itself rather than from
// the first Next.
func (r *rows) start(c *conn, st *statement, streaming bool) error {
	if streaming {
		s, err := c.startStream(st)
		if err == nil {
			r.stream = s
			first, err := s.next()
			if err != nil {
				return err
			}
			if r.pending, err = r.readHeader(first); err != nil {
				return err
			}
			r.dec = rowbinary.NewDecoder(r.nextChunk)
			return nil
		}
		if !isStreamingUnsupported(err) {
			return err
		}
		// Statements such as SHOW or DESCRIBE do not stream: run them whole.
	}
	data, err := c.query(st)
	if err != nil {
		return err
	}
	rest, err := r.readHeader(data)
	if err != nil {
		return err
	}
	r.dec = rowbinary.NewBytesDecoder(rest)
	return nil
}

// readHeader reads the column names and types at the start of data and
// returns the rows after them.
func (r *rows) readHeader(data []byte) ([]byte, error) {
	if len(data) == 0 {
		return nil, errors.New("chdb: the result has no header")
	}
	d := rowbinary.NewBytesDecoder(data)
	names, types, err := d.Header()
	if err != nil {
		return nil, fmt.Errorf("chdb: %w", err)
	}
	rest := d.Rest()
	r.header = data[:len(data)-len(rest)]
	r.types = types
	r.cols = make([]store.Column, len(names))
	for i := range names {
		r.cols[i] = store.Column{Name: names[i], Type: types[i].String()}
	}
	return rest, nil
}

func isStreamingUnsupported(err error) bool {
	var se *store.Error
	return errors.As(err, &se) && strings.Contains(se.Message, "Streaming query is not supported")
}

// rows implements store.Rows over a RowBinaryWithNamesAndTypes result.
type rows struct {
	ctx      context.Context
	stream   *stream // nil when the result came whole
	dec      *rowbinary.Decoder
	release  func()
	cols     []store.Column
	types    []*rowbinary.Type
	header   []byte // the header bytes every streamed chunk starts with
	pending  []byte // rows of the first chunk, not yet decoded
	current  []any
	err      error
	fetchErr error // the error ClickHouse reported while streaming
	closed   bool
}

// cause returns the error ClickHouse reported, if it did, in place of the
// decoding error it caused.
func (r *rows) cause(err error) error {
	if err != nil && r.fetchErr != nil {
		return r.fetchErr
	}
	return err
}

// nextChunk feeds the decoder from the stream. Every chunk chDB streams is
// a RowBinaryWithNamesAndTypes document of its own, whole rows after the
// same header, so the header is checked and skipped.
func (r *rows) nextChunk() ([]byte, error) {
	if rest := r.pending; rest != nil {
		r.pending = nil
		return rest, nil
	}
	if r.stream == nil {
		return nil, io.EOF
	}
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	data, err := r.stream.next()
	if err != nil {
		r.fetchErr = err
		return nil, err
	}
	if data == nil {
		return nil, io.EOF
	}
	rest, ok := bytes.CutPrefix(data, r.header)
	if !ok {
		return nil, errors.New("chdb: a result chunk starts with another header")
	}
	return rest, nil
}

func (r *rows) Columns() []store.Column { return r.cols }

// Next decodes the next row. At the end, or on an error, it closes the rows
// and returns false.
func (r *rows) Next() bool {
	if r.closed {
		return false
	}
	more, err := r.dec.More()
	if err != nil || !more {
		r.err = r.cause(err)
		r.Close()
		return false
	}
	if r.current == nil {
		r.current = make([]any, len(r.types))
	}
	for i, t := range r.types {
		v, err := t.Decode(r.dec)
		if err != nil {
			r.err = r.cause(fmt.Errorf("chdb: column %s: %w", r.cols[i].Name, err))
			r.Close()
			return false
		}
		r.current[i] = v
	}
	return true
}

// Scan copies the current row into dest: pointers to each column's Go type
// (see store.Rows), *any, or *[]byte for String columns.
func (r *rows) Scan(dest ...any) error {
	if r.current == nil || r.err != nil {
		return errors.New("chdb: Scan called without a current row")
	}
	if len(dest) != len(r.current) {
		return fmt.Errorf("chdb: Scan got %d destinations for %d columns", len(dest), len(r.current))
	}
	for i, d := range dest {
		if err := assign(d, r.current[i]); err != nil {
			return fmt.Errorf("chdb: column %s (%s): %w", r.cols[i].Name, r.cols[i].Type, err)
		}
	}
	return nil
}

// assign stores v in the variable dest points to. The destination's type
// must be v's type (as documented on store.Rows): conversions are left out
// on purpose, so that code written against this engine behaves the same on
// the ClickHouse server engine.
func assign(dest, v any) error {
	switch d := dest.(type) {
	case *any:
		*d = v
		return nil
	case *[]byte:
		if s, ok := v.(string); ok {
			*d = []byte(s)
			return nil
		}
	}
	dv := reflect.ValueOf(dest)
	if dv.Kind() != reflect.Pointer || dv.IsNil() {
		return fmt.Errorf("destination %T is not a non-nil pointer", dest)
	}
	target := dv.Elem()
	if v == nil {
		switch target.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Slice, reflect.Map:
			target.Set(reflect.Zero(target.Type()))
			return nil
		}
		return fmt.Errorf("cannot store NULL in %s", target.Type())
	}
	vv := reflect.ValueOf(v)
	if !vv.Type().AssignableTo(target.Type()) {
		return fmt.Errorf("cannot store %s in %s", vv.Type(), target.Type())
	}
	target.Set(vv)
	return nil
}

func (r *rows) Err() error { return r.err }

// Close stops the query if it is still running and returns the connection
// to the pool. Safe to call twice.
func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.stream != nil {
		r.stream.close()
	}
	r.release()
	return nil
}
