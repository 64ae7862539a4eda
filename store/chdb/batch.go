package chdb

import (
	"bufio"
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
// newlines and never hit it). So a batch is written as one Native block
// (rowbinary.NativeBlock) into a file in the data directory, inserted with
//
//	INSERT INTO t (cols) SELECT * FROM file(path, 'Native')
//
// and the file is removed. The column types come from system.columns, so
// the block's types are the table's, except that LowCardinality columns
// are written as what they wrap and ClickHouse builds their dictionaries
// at insert. Native rather than RowBinary because ClickHouse reads it a
// column at a time: for spans the insert takes about a third of the CPU
// (docs/BENCHMARKS.md, "Storage").

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
	e.blocks.forget(table)
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
	key := poolKey(table, cols)
	block, err := e.blocks.get(key, cols)
	if err != nil {
		return nil, fmt.Errorf("chdb: batch into %s: %w", table, err)
	}
	return &batch{e: e, table: table, cols: cols, key: key, opts: store.ApplyBatchOptions(opts), block: block}, nil
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

// blockPool keeps the blocks of sent batches for the next batch into the
// same columns. A batch of spans is megabytes: growing new buffers for each
// batch cost more than encoding the rows. It is a short free list per
// table and column list, not a sync.Pool: a pool is emptied by every other
// garbage collection, which under ingest load came often enough that most
// batches grew their buffers from nothing again.
type blockPool struct {
	mu   sync.Mutex
	free map[string][]*rowbinary.NativeBlock
}

const (
	// maxPooledBlocks is how many idle blocks are kept per table and
	// column list: enough for the batches a few inserting goroutines have
	// in flight.
	maxPooledBlocks = 2
	// maxPooledBlock is the largest block (in bytes of data) kept.
	maxPooledBlock = 64 << 20
)

// get returns an empty block for the columns, reused or new.
func (p *blockPool) get(key string, cols []tableColumn) (*rowbinary.NativeBlock, error) {
	p.mu.Lock()
	if free := p.free[key]; len(free) > 0 {
		b := free[len(free)-1]
		free[len(free)-1] = nil
		p.free[key] = free[:len(free)-1]
		p.mu.Unlock()
		return b, nil
	}
	p.mu.Unlock()
	names := make([]string, len(cols))
	types := make([]*rowbinary.Type, len(cols))
	for i, c := range cols {
		names[i], types[i] = c.name, c.typ
	}
	return rowbinary.NewNativeBlock(names, types)
}

// put keeps a block for reuse, emptied, if there is room and it is not
// too large.
func (p *blockPool) put(key string, b *rowbinary.NativeBlock) {
	if b == nil || b.Size() > maxPooledBlock {
		return
	}
	b.Reset()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.free == nil {
		p.free = make(map[string][]*rowbinary.NativeBlock)
	}
	if len(p.free[key]) < maxPooledBlocks {
		p.free[key] = append(p.free[key], b)
	}
}

// forget drops the idle blocks of a table whose columns may have changed.
func (p *blockPool) forget(table string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key := range p.free {
		if strings.HasPrefix(key, table+"\x00") {
			delete(p.free, key)
		}
	}
}

// poolKey names a table and column list in the block pool.
func poolKey(table string, cols []tableColumn) string {
	var k strings.Builder
	k.WriteString(table)
	for _, c := range cols {
		k.WriteByte(0)
		k.WriteString(c.name)
		k.WriteByte(' ')
		k.WriteString(c.typ.String())
	}
	return k.String()
}

// batch collects rows in a Native block until Send. Append encodes each
// value at once, so the caller may reuse its maps and slices.
type batch struct {
	e     *Engine
	table string
	cols  []tableColumn
	key   string
	opts  store.BatchOptions
	block *rowbinary.NativeBlock
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
	if err := b.block.AppendRow(values); err != nil {
		return fmt.Errorf("chdb: batch into %s: %w", b.table, err)
	}
	return nil
}

func (b *batch) Rows() int { return b.block.Rows() }

// Abort drops the batch.
func (b *batch) Abort() {
	if !b.done {
		b.done = true
		b.e.blocks.put(b.key, b.block)
		b.block = nil
	}
}

// Send inserts all rows in one INSERT statement. A batch is sent once.
func (b *batch) Send(ctx context.Context) error {
	if b.done {
		return ErrBatchSent
	}
	b.done = true
	defer func() {
		b.e.blocks.put(b.key, b.block)
		b.block = nil
	}()
	rows := b.block.Rows()
	if rows == 0 {
		return nil
	}
	name, err := b.writeFile()
	if err != nil {
		return fmt.Errorf("chdb: batch into %s: %w", b.table, err)
	}
	defer os.Remove(name)
	if err := b.e.Exec(ctx, b.insertQuery(), store.Params{"tapline_file": name}); err != nil {
		b.e.forgetColumns(b.table)
		return fmt.Errorf("chdb: batch of %d rows into %s: %w", rows, b.table, err)
	}
	return nil
}

// writeFile writes the block into a new file in the engine's insert
// directory and returns its name.
func (b *batch) writeFile() (string, error) {
	f, err := os.CreateTemp(b.e.tmpDir, insertFilePrefix()+"*.native")
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	_, err = b.block.WriteTo(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write %s: %w", f.Name(), err)
	}
	return f.Name(), nil
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
	q.WriteString(" SELECT * FROM file({tapline_file:String}, 'Native')")
	return q.String()
}
