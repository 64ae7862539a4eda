package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/tapline/tapline/store"
)

// Engine is the store.Engine of a ClickHouse server or cluster. It is safe
// for concurrent use; clickhouse-go keeps a pool of connections.
type Engine struct {
	conn     driver.Conn
	database string
	log      *slog.Logger
	closed   atomic.Bool
}

// Open connects to the server named by opts.DSN, creating the database
// (ON CLUSTER when opts.Cluster is set) if it does not exist, and checks
// that the server answers.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	dopts, err := opts.driverOptions()
	if err != nil {
		return nil, fmt.Errorf("clickhouse options: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := ch.Open(dopts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse open: %w", storeError(err))
	}
	err = storeError(conn.Ping(ctx))
	if store.ErrorCode(err) == codeUnknownDatabase {
		_ = conn.Close()
		if err = createDatabase(ctx, *dopts, opts.Cluster); err != nil {
			return nil, err
		}
		log.Info("clickhouse database created", "database", dopts.Auth.Database, "cluster", opts.Cluster)
		if conn, err = ch.Open(dopts); err != nil {
			return nil, fmt.Errorf("clickhouse open: %w", storeError(err))
		}
		err = storeError(conn.Ping(ctx))
	}
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("clickhouse ping %s: %w", strings.Join(dopts.Addr, ","), err)
	}
	return &Engine{conn: conn, database: dopts.Auth.Database, log: log}, nil
}

// createDatabase connects without a database and creates it.
func createDatabase(ctx context.Context, dopts ch.Options, cluster string) error {
	db := dopts.Auth.Database
	dopts.Auth.Database = ""
	dopts.MaxOpenConns, dopts.MaxIdleConns = 1, 1
	conn, err := ch.Open(&dopts)
	if err != nil {
		return fmt.Errorf("clickhouse open: %w", storeError(err))
	}
	defer conn.Close()
	stmt := "CREATE DATABASE IF NOT EXISTS " + quoteIdent(db)
	if cluster != "" {
		stmt += " ON CLUSTER " + quoteString(cluster)
	}
	if err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("create database %s: %w", db, storeError(err))
	}
	return nil
}

// queryContext attaches the bound parameters (and settings) to ctx the way
// clickhouse-go sends them: as query parameters the server substitutes.
func queryContext(ctx context.Context, params store.Params, settings ch.Settings) (context.Context, error) {
	var opts []ch.QueryOption
	if len(params) > 0 {
		p := make(ch.Parameters, len(params))
		for name, v := range params {
			text, err := store.ParamText(v)
			if err != nil {
				return nil, fmt.Errorf("parameter %s: %w", name, err)
			}
			p[name] = text
		}
		opts = append(opts, ch.WithParameters(p))
	}
	if len(settings) > 0 {
		opts = append(opts, ch.WithSettings(settings))
	}
	if len(opts) == 0 {
		return ctx, nil
	}
	return ch.Context(ctx, opts...), nil
}

// Exec runs a statement that returns no rows.
func (e *Engine) Exec(ctx context.Context, query string, params store.Params) error {
	if e.closed.Load() {
		return store.ErrClosed
	}
	qctx, err := queryContext(ctx, params, nil)
	if err != nil {
		return err
	}
	return storeError(e.conn.Exec(qctx, query))
}

// Query runs a SELECT and returns its rows decoded into store.Rows types.
func (e *Engine) Query(ctx context.Context, query string, params store.Params) (store.Rows, error) {
	if e.closed.Load() {
		return nil, store.ErrClosed
	}
	qctx, err := queryContext(ctx, params, nil)
	if err != nil {
		return nil, err
	}
	rows, err := e.conn.Query(qctx, query)
	if err != nil {
		return nil, storeError(err)
	}
	r, err := newRows(rows)
	if err != nil {
		_ = rows.Close()
		return nil, err
	}
	return r, nil
}

// PrepareBatch starts a batch insert into table; no columns means all the
// columns an INSERT takes, in table order. With a dedup token the
// insert carries insert_deduplication_token, so a retried batch is stored
// once by tables that deduplicate (Tapline's tables do). The batch holds no
// connection until Send.
func (e *Engine) PrepareBatch(ctx context.Context, table string, columns []string, opts ...store.BatchOption) (store.Batch, error) {
	if e.closed.Load() {
		return nil, store.ErrClosed
	}
	if table == "" {
		return nil, errors.New("clickhouse batch: table is required")
	}
	bo := store.ApplyBatchOptions(opts)
	var settings ch.Settings
	if bo.DedupToken != "" {
		settings = ch.Settings{"insert_deduplication_token": bo.DedupToken}
	}
	qctx, err := queryContext(ctx, nil, settings)
	if err != nil {
		return nil, err
	}
	query := "INSERT INTO " + quoteTable(table)
	if len(columns) > 0 {
		quoted := make([]string, len(columns))
		for i, c := range columns {
			quoted[i] = quoteIdent(c)
		}
		query += " (" + strings.Join(quoted, ", ") + ")"
	}
	b, err := e.conn.PrepareBatch(qctx, query, driver.WithReleaseConnection())
	if err != nil {
		return nil, fmt.Errorf("clickhouse batch into %s: %w", table, storeError(err))
	}
	return newBatch(b, table), nil
}

// Ping checks that the server answers.
func (e *Engine) Ping(ctx context.Context) error {
	if e.closed.Load() {
		return store.ErrClosed
	}
	return storeError(e.conn.Ping(ctx))
}

// Database is the database statements run in.
func (e *Engine) Database() string { return e.database }

// Close closes the connection pool. Safe to call twice.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	return e.conn.Close()
}

// quoteIdent quotes a ClickHouse identifier with backticks.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// quoteTable quotes "table" or "database.table".
func quoteTable(s string) string {
	if db, table, ok := strings.Cut(s, "."); ok {
		return quoteIdent(db) + "." + quoteIdent(table)
	}
	return quoteIdent(s)
}

func quoteString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

var _ store.Engine = (*Engine)(nil)
