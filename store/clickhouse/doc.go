// Package clickhouse is the store.Engine for a ClickHouse server or cluster,
// over the native protocol of github.com/ClickHouse/clickhouse-go/v2.
//
// It runs the same SQL text as the embedded chDB engine: query parameters
// travel to the server separately from the text (server-side binding of
// {name:Type} placeholders), results are decoded into the Go types store.Rows
// documents, and ClickHouse exceptions become *store.Error.
//
// It must not build SQL from values: only table and column names the caller
// passes to PrepareBatch are written into the text, quoted as identifiers.
package clickhouse
