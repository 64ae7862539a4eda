package store

import (
	"context"
	"errors"
	"fmt"
)

// Engine is the small interface every ClickHouse engine implements: the
// embedded chDB engine and the ClickHouse server/cluster engine run the same
// SQL text behind it.
//
// SQL text never contains user input. Values are bound to ClickHouse query
// parameters written as {name:Type} in the text and passed in Params; both
// engines send them to ClickHouse separately from the query.
//
// Table names are unqualified: an engine runs every statement with its
// configured database as the current database.
type Engine interface {
	// Exec runs a statement that returns no rows (DDL, INSERT ... SELECT).
	Exec(ctx context.Context, query string, params Params) error
	// Query runs a SELECT and returns its rows decoded into Go types.
	Query(ctx context.Context, query string, params Params) (Rows, error)
	// PrepareBatch starts a batch insert of the named columns into table.
	// Column types are read from the table's definition.
	PrepareBatch(ctx context.Context, table string, columns []string, opts ...BatchOption) (Batch, error)
	// Ping checks that the engine answers.
	Ping(ctx context.Context) error
	// Database is the database the engine's statements run in.
	Database() string
	// Close releases the engine's connections. Safe to call twice.
	Close() error
}

// Params holds the values of a query's {name:Type} placeholders. Supported
// value types: string, []byte, bool, all integer and float types, time.Time
// (sent with nanoseconds, UTC), time.Duration (as nanoseconds), []string and
// other slices of those types, map[string]string. FormatParam turns a value
// into the text form ClickHouse parses.
type Params map[string]any

// Column describes one result or table column.
type Column struct {
	Name string
	Type string // ClickHouse type, e.g. "DateTime64(9)", "Map(LowCardinality(String), String)"
}

// Rows iterates over a query result. Values are decoded into Go types:
// String → string, (U)IntN → (u)intN, FloatN → floatN, Bool → bool,
// DateTime/DateTime64 → time.Time (UTC), Array(T) → []T, Map(K,V) → map[K]V,
// Nullable(T) → *T, LowCardinality(T) → T, UUID → string, Enum → string.
type Rows interface {
	Columns() []Column
	Next() bool
	// Scan copies the current row into dest, which are pointers to the Go
	// types above (or *any).
	Scan(dest ...any) error
	Err() error
	Close() error
}

// Batch collects rows for one insert. Append checks each value against its
// column type; Send writes all rows in one insert.
type Batch interface {
	Append(values ...any) error
	Rows() int
	Send(ctx context.Context) error
	// Abort drops the batch without sending it.
	Abort()
}

// BatchOption changes how a batch is inserted.
type BatchOption func(*BatchOptions)

// BatchOptions are the settings an engine applies to a batch insert.
type BatchOptions struct {
	// DedupToken is ClickHouse's insert_deduplication_token: a retried insert
	// with the same token is not stored twice where the table deduplicates.
	DedupToken string
}

// WithDedupToken sets the insert deduplication token of a batch.
func WithDedupToken(token string) BatchOption {
	return func(o *BatchOptions) { o.DedupToken = token }
}

// ApplyBatchOptions folds opts into a BatchOptions value.
func ApplyBatchOptions(opts []BatchOption) BatchOptions {
	var o BatchOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// ErrClosed is returned by an engine used after Close.
var ErrClosed = errors.New("store: engine closed")

// Error is an error reported by ClickHouse, with its numeric code
// (for example 60 UNKNOWN_TABLE, 62 SYNTAX_ERROR).
type Error struct {
	Code    int
	Name    string // e.g. "UNKNOWN_TABLE", when known
	Message string
}

func (e *Error) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("clickhouse error %d (%s): %s", e.Code, e.Name, e.Message)
	}
	return fmt.Sprintf("clickhouse error %d: %s", e.Code, e.Message)
}

// ErrorCode returns the ClickHouse error code in err's chain, or 0.
func ErrorCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}
