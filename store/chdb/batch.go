package chdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/tapline/tapline/store"
	"github.com/tapline/tapline/store/rowbinary"
)

// Batch inserts take a path proven at scale rather than the obvious one.
//
// The obvious path is "INSERT INTO t FORMAT RowBinary\n" followed by the
// data in the query text. chDB ends inline insert data at the first two
// consecutive newline bytes ("\n\n"): binary data holds that pair about
// once in 64 KiB of random bytes, so large batches fail with "Cannot read
// all data" at a row that depends on the data (text formats escape
// newlines and never hit it). So a batch is encoded as RowBinary into a
// file in the data directory, inserted with
//
//	INSERT INTO t (cols) SELECT * FROM file(path, 'RowBinary', 'structure')
//
// and the file is removed. The column types come from system.columns, so
// the file's structure is exactly the table's and ClickHouse converts
// nothing.

var columnName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// tableColumn is one column of a table as system.columns describes it.
type tableColumn struct {
	name        string
	typ         *rowbinary.Type
	defaultKind string // "", DEFAULT, MATERIALIZED, ALIAS, EPHEMERAL
}

// tableColumns returns the columns of table in the engine's database,
// cached per table. A failed insert drops the cache entry, so a table
// changed by a migration is read again.
func (e *Engine) tableColumns(ctx context.Context, table string) ([]tableColumn, error) {
	e.columnsMu.Lock()
	cols, ok := e.columns[table]
	e.columnsMu.Unlock()
	if ok {
		return cols, nil
	}
	st, err := e.statement("SELECT name, type, default_kind FROM system.columns"+
		" WHERE database = currentDatabase() AND table = {table:String} ORDER BY position",
		resultFormat, store.Params{"table": table})
	if err != nil {
		return nil, err
	}
	rows, err := e.query(ctx, st, false)
	if err != nil {
		return nil, fmt.Errorf("chdb: columns of %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, typ, kind string
		if err := rows.Scan(&name, &typ, &kind); err != nil {
			return nil, fmt.Errorf("chdb: columns of %s: %w", table, err)
		}
		t, err := rowbinary.Parse(typ)
		if err != nil {
			return nil, fmt.Errorf("chdb: table %s column %s: %w", table, name, err)
		}
		cols = append(cols, tableColumn{name: name, typ: t, defaultKind: kind})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("chdb: columns of %s: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, &store.Error{Code: 60, Name: "UNKNOWN_TABLE",
			Message: fmt.Sprintf("table %s.%s does not exist", e.database, table)}
	}
	e.columnsMu.Lock()
	e.columns[table] = cols
	e.columnsMu.Unlock()
	return cols, nil
}

func (e *Engine) forgetColumns(table string) {
	e.columnsMu.Lock()
	delete(e.columns, table)
	e.columnsMu.Unlock()
}

// PrepareBatch starts a batch insert into table. With no columns named it
// inserts every column that takes a value (not MATERIALIZED or ALIAS), in
// table order.
func (e *Engine) PrepareBatch(ctx context.Context, table string, columns []string, opts ...store.BatchOption) (store.Batch, error) {
	if err := e.checkOpen(ctx); err != nil {
		return nil, err
	}
	if !identifier.MatchString(table) {
		return nil, fmt.Errorf("chdb: table name %q: use letters, digits and underscores", table)
	}
	all, err := e.tableColumns(ctx, table)
	if err != nil {
		return nil, err
	}
	cols, err := pickColumns(e.database, table, all, columns)
	var se *store.Error
	if errors.As(err, &se) && se.Code == codeNoSuchColumn {
		// The cached columns may predate an ALTER TABLE: read them again.
		e.forgetColumns(table)
		if all, err = e.tableColumns(ctx, table); err != nil {
			return nil, err
		}
		cols, err = pickColumns(e.database, table, all, columns)
	}
	if err != nil {
		return nil, err
	}
	return &batch{e: e, table: table, cols: cols, opts: store.ApplyBatchOptions(opts), data: e.buffers.get()}, nil
}

// codeNoSuchColumn is ClickHouse's NO_SUCH_COLUMN_IN_TABLE.
const codeNoSuchColumn = 16

// pickColumns returns the named columns of a table, or with no names all
// columns that take a value (not MATERIALIZED or ALIAS).
func pickColumns(database, table string, all []tableColumn, names []string) ([]tableColumn, error) {
	insertable := func(c tableColumn) bool { return c.defaultKind != "MATERIALIZED" && c.defaultKind != "ALIAS" }
	var cols []tableColumn
	if len(names) == 0 {
		for _, c := range all {
			if insertable(c) {
				cols = append(cols, c)
			}
		}
		return cols, nil
	}
	for _, name := range names {
		if !columnName.MatchString(name) {
			return nil, fmt.Errorf("chdb: column name %q: use letters, digits, underscores and dots", name)
		}
		i := slices.IndexFunc(all, func(c tableColumn) bool { return c.name == name })
		if i < 0 {
			return nil, &store.Error{Code: codeNoSuchColumn, Name: "NO_SUCH_COLUMN_IN_TABLE",
				Message: fmt.Sprintf("table %s.%s has no column %s", database, table, name)}
		}
		if !insertable(all[i]) {
			return nil, fmt.Errorf("chdb: column %s.%s is %s and takes no values", table, name, all[i].defaultKind)
		}
		cols = append(cols, all[i])
	}
	return cols, nil
}

// bufferPool keeps the buffers of sent batches for the next ones. A batch
// of spans is megabytes: growing a new buffer for each batch cost more than
// encoding the rows. It is a short free list, not a sync.Pool: a pool is
// emptied by every other garbage collection, which under ingest load came
// often enough that most batches grew their buffer from nothing again.
type bufferPool struct {
	mu   sync.Mutex
	free [][]byte
}

const (
	// maxPooledBuffers is how many idle buffers are kept: enough for the
	// batches a few inserting goroutines have in flight.
	maxPooledBuffers = 4
	// maxPooledBuffer is the largest buffer kept for reuse.
	maxPooledBuffer = 64 << 20
)

func (p *bufferPool) get() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.free)
	if n == 0 {
		return nil
	}
	b := p.free[n-1]
	p.free[n-1] = nil
	p.free = p.free[:n-1]
	return b[:0]
}

func (p *bufferPool) put(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBuffer {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) < maxPooledBuffers {
		p.free = append(p.free, b)
	}
}

// batch collects rows as RowBinary in memory until Send. Append encodes
// each value at once, so the caller may reuse its maps and slices.
type batch struct {
	e     *Engine
	table string
	cols  []tableColumn
	opts  store.BatchOptions
	data  []byte
	rows  int
	done  bool
}

// Append encodes one row. A value that does not fit its column is an error
// naming the column, and the batch stays as it was before the call.
func (b *batch) Append(values ...any) error {
	if b.done {
		return ErrBatchSent
	}
	if len(values) != len(b.cols) {
		return fmt.Errorf("chdb: batch into %s: got %d values for %d columns", b.table, len(values), len(b.cols))
	}
	start := len(b.data)
	for i, v := range values {
		var err error
		if b.data, err = b.cols[i].typ.Append(b.data, v); err != nil {
			b.data = b.data[:start]
			return fmt.Errorf("chdb: batch into %s: column %s: %w", b.table, b.cols[i].name, err)
		}
	}
	b.rows++
	return nil
}

func (b *batch) Rows() int { return b.rows }

// Abort drops the batch.
func (b *batch) Abort() {
	if !b.done {
		b.done = true
		b.e.buffers.put(b.data)
		b.data = nil
	}
}

// Send inserts all rows in one INSERT statement. A batch is sent once.
func (b *batch) Send(ctx context.Context) error {
	if b.done {
		return ErrBatchSent
	}
	b.done = true
	defer func() {
		b.e.buffers.put(b.data)
		b.data = nil
	}()
	if b.rows == 0 {
		return nil
	}
	f, err := os.CreateTemp(b.e.tmpDir, insertFilePrefix()+"*.rowbinary")
	if err != nil {
		return fmt.Errorf("chdb: batch into %s: %w", b.table, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b.data); err != nil {
		f.Close()
		return fmt.Errorf("chdb: batch into %s: write %s: %w", b.table, f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("chdb: batch into %s: write %s: %w", b.table, f.Name(), err)
	}
	if err := b.e.Exec(ctx, b.insertQuery(), store.Params{
		"tapline_file":      f.Name(),
		"tapline_structure": b.structure(),
	}); err != nil {
		b.e.forgetColumns(b.table)
		return fmt.Errorf("chdb: batch of %d rows into %s: %w", b.rows, b.table, err)
	}
	return nil
}

func (b *batch) insertQuery() string {
	var q strings.Builder
	q.WriteString("INSERT INTO ")
	q.WriteString(quoteIdent(b.table))
	q.WriteString(" (")
	for i, c := range b.cols {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(quoteIdent(c.name))
	}
	q.WriteString(")")
	if b.opts.DedupToken != "" {
		// Settings take literals, not parameters.
		q.WriteString(" SETTINGS insert_deduplication_token = ")
		q.WriteString(store.QuoteString(b.opts.DedupToken))
	}
	q.WriteString(" SELECT * FROM file({tapline_file:String}, 'RowBinary', {tapline_structure:String})")
	return q.String()
}

// structure is the file's column list in table-function form.
func (b *batch) structure() string {
	var s strings.Builder
	for i, c := range b.cols {
		if i > 0 {
			s.WriteString(", ")
		}
		s.WriteString(quoteIdent(c.name))
		s.WriteByte(' ')
		s.WriteString(c.typ.String())
	}
	return s.String()
}
