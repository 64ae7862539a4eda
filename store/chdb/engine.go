package chdb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/tapline/tapline/store"
)

// DefaultDatabase is the database an engine uses when Options.Database is
// empty.
const DefaultDatabase = "tapline"

// DefaultConns is the default size of an engine's connection pool.
const DefaultConns = 4

// Options configure Open.
type Options struct {
	// Path is the data directory, created if missing. chDB serves one data
	// directory per process: every engine open at the same time in one
	// process must use the same Path. Required.
	Path string
	// Database is the database every statement runs in; created if missing.
	// Default DefaultDatabase. Engines on one Path with different databases
	// are independent (tests use this for isolation).
	Database string
	// LibPath is libchdb.so. Default: DefaultLibPath().
	LibPath string
	// Conns is the number of connections. Queries use at most Conns-1 of
	// them at a time, so Exec and batch inserts always find one free
	// connection instead of queueing behind long queries. Default
	// DefaultConns.
	Conns int
	// Logger receives the engine's start and stop messages. Default
	// slog.Default().
	Logger *slog.Logger
}

// Engine is the embedded ClickHouse engine: ClickHouse running inside this
// process (chDB), reached through a small pool of connections to one data
// directory. It implements store.Engine.
//
// Calls into the library cannot be interrupted: a context is checked before
// a statement starts, while it waits for a connection and between the chunks
// of a query's result, but a running statement runs to its end.
type Engine struct {
	lib      *library
	path     string
	database string
	tmpDir   string
	log      *slog.Logger

	idle    chan *conn    // connections not in use
	readers chan struct{} // one token per connection a Query may hold
	done    chan struct{} // closed by Close

	mu     sync.Mutex
	closed bool

	columnsMu sync.Mutex
	columns   map[string][]tableColumn // by table name, see tableColumns

	blocks blockPool // batch blocks for reuse
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open loads libchdb.so, connects to the data directory and makes
// opts.Database the current database of every connection.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	if opts.Path == "" {
		return nil, errors.New("chdb: Options.Path (the data directory) is required")
	}
	if opts.Database == "" {
		opts.Database = DefaultDatabase
	}
	if !identifier.MatchString(opts.Database) {
		return nil, fmt.Errorf("chdb: database name %q: use letters, digits and underscores", opts.Database)
	}
	if opts.LibPath == "" {
		opts.LibPath = DefaultLibPath()
	}
	if opts.Conns == 0 {
		opts.Conns = DefaultConns
	}
	if opts.Conns < 1 {
		return nil, fmt.Errorf("chdb: Options.Conns must be at least 1, got %d", opts.Conns)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("chdb: data directory %s: %w", opts.Path, err)
	}
	tmpDir := filepath.Join(path, "tapline_insert")
	if err := os.MkdirAll(tmpDir, 0o750); err != nil {
		return nil, fmt.Errorf("chdb: data directory: %w", err)
	}
	lib, err := loadLibrary(opts.LibPath)
	if err != nil {
		return nil, err
	}
	// ClickHouse installs handlers for SIGSEGV and others that would take
	// the Go runtime's place; switch them off before the first connect.
	lib.setSignalHandlersEnabled(0)

	e := &Engine{
		lib:      lib,
		path:     path,
		database: opts.Database,
		tmpDir:   tmpDir,
		log:      opts.Logger,
		idle:     make(chan *conn, opts.Conns),
		readers:  make(chan struct{}, max(1, opts.Conns-1)),
		done:     make(chan struct{}),
		columns:  make(map[string][]tableColumn),
	}
	for range cap(e.readers) {
		e.readers <- struct{}{}
	}
	if err := e.connectAll(opts.Conns); err != nil {
		e.mu.Lock()
		e.shutdown()
		e.mu.Unlock()
		return nil, err
	}
	removeStaleInsertFiles(tmpDir)
	e.log.Info("chdb engine open", "path", path, "database", e.database, "conns", opts.Conns)
	return e, nil
}

// connectAll opens n connections, creates the database if needed and makes
// it current on each.
func (e *Engine) connectAll(n int) error {
	use := newStatement("USE "+quoteIdent(e.database), "Null", nil, nil)
	for i := range n {
		c, err := connect(e.lib, e.path)
		if err != nil {
			return err
		}
		e.idle <- c
		if i == 0 {
			create := newStatement("CREATE DATABASE IF NOT EXISTS "+quoteIdent(e.database), "Null", nil, nil)
			if _, err := c.query(create); err != nil {
				return fmt.Errorf("chdb: create database %s: %w", e.database, err)
			}
		}
		// USE holds for the rest of the connection's life (each chDB
		// connection keeps its own session).
		if _, err := c.query(use); err != nil {
			return fmt.Errorf("chdb: use database %s: %w", e.database, err)
		}
	}
	return nil
}

// removeStaleInsertFiles deletes insert files left behind by earlier
// processes (a crash between writing a file and removing it). Files of
// this process may belong to another engine on the same path and stay.
func removeStaleInsertFiles(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	own := insertFilePrefix()
	for _, ent := range entries {
		if strings.HasPrefix(ent.Name(), "insert-") && !strings.HasPrefix(ent.Name(), own) {
			_ = os.Remove(filepath.Join(dir, ent.Name()))
		}
	}
}

func insertFilePrefix() string { return "insert-" + strconv.Itoa(os.Getpid()) + "-" }

// Database is the database the engine's statements run in.
func (e *Engine) Database() string { return e.database }

// Path is the engine's data directory.
func (e *Engine) Path() string { return e.path }

// acquire takes a connection from the pool, waiting for one if all are in
// use. A query also takes a reader token, so that queries never hold every
// connection.
func (e *Engine) acquire(ctx context.Context, forQuery bool) (*conn, error) {
	if err := e.checkOpen(ctx); err != nil {
		return nil, err
	}
	if forQuery {
		select {
		case <-e.readers:
		case <-e.done:
			return nil, store.ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	select {
	case c := <-e.idle:
		if err := e.checkOpen(ctx); err != nil {
			e.release(c, forQuery)
			return nil, err
		}
		return c, nil
	case <-e.done:
		err := store.ErrClosed
		if forQuery {
			e.readers <- struct{}{}
		}
		return nil, err
	case <-ctx.Done():
		if forQuery {
			e.readers <- struct{}{}
		}
		return nil, ctx.Err()
	}
}

func (e *Engine) checkOpen(ctx context.Context) error {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return store.ErrClosed
	}
	return ctx.Err()
}

// release returns a connection to the pool, or closes it when the engine
// has been closed meanwhile.
func (e *Engine) release(c *conn, forQuery bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		c.close()
	} else {
		e.idle <- c
	}
	if forQuery {
		e.readers <- struct{}{}
	}
}

// Close closes the idle connections now and the others as their
// statements finish. Safe to call twice.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.shutdown()
	e.log.Info("chdb engine closed", "path", e.path, "database", e.database)
	return nil
}

// shutdown marks the engine closed and closes the idle connections; e.mu
// is held.
func (e *Engine) shutdown() {
	e.closed = true
	close(e.done)
	for {
		select {
		case c := <-e.idle:
			c.close()
		default:
			return
		}
	}
}

// Exec runs a statement that returns no rows.
func (e *Engine) Exec(ctx context.Context, query string, params store.Params) error {
	st, err := e.statement(query, "Null", params)
	if err != nil {
		return err
	}
	c, err := e.acquire(ctx, false)
	if err != nil {
		return err
	}
	defer e.release(c, false)
	_, err = c.query(st)
	return err
}

// Ping checks that the engine answers.
func (e *Engine) Ping(ctx context.Context) error {
	return e.Exec(ctx, "SELECT 1", nil)
}

// statement binds params to query, each value in store.ParamText's form.
func (e *Engine) statement(query, format string, params store.Params) (*statement, error) {
	names := make([]string, 0, len(params))
	values := make([]string, 0, len(params))
	for name, v := range params {
		text, err := store.ParamText(v)
		if err != nil {
			return nil, fmt.Errorf("chdb: parameter %s: %w", name, err)
		}
		names = append(names, name)
		values = append(values, text)
	}
	return newStatement(query, format, names, values), nil
}

// quoteIdent quotes a name checked by the caller (identifier or column
// name) for SQL text.
func quoteIdent(name string) string {
	return "`" + strings.ReplaceAll(strings.ReplaceAll(name, `\`, `\\`), "`", "\\`") + "`"
}

var _ store.Engine = (*Engine)(nil)
