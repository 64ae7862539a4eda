// Package store is Tapline's storage plumbing: the Engine interface that both
// ClickHouse engines implement (store/chdb, embedded; store/clickhouse, a
// server or cluster), the value formatting shared by them, and the schema
// migrations (store/schema).
//
// It must not know about traces, events or reports: it moves rows and
// parameters, and nothing in it builds SQL from user input.
package store
