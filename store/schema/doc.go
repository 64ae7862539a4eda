// Package schema holds Tapline's ClickHouse schema: versioned migrations in
// migrations/*.sql (embedded), rendered for one node or a cluster, applied in
// order and recorded in the schema_migrations table.
//
// A migration file is an ordered list of named statements. A line
// "-- name: <statement name>" starts a statement; its text up to the next
// marker is a text/template rendered with Options:
//
//	{{table "t"}}        the table that stores rows: `db`.`t`, or `db`.`t_local` on a cluster
//	{{name "t"}}         the plain name `db`.`t` (views; the Distributed table on a cluster)
//	{{onCluster}}        " ON CLUSTER 'c'" on a cluster, else nothing
//	{{engine "E" "t" args...}}  E(args), or ReplicatedE('/clickhouse/tables/{shard}/db/t_local', '{replica}', args)
//	{{ttl "t"}}          the table's TTL clause from Options.Retention, or nothing
//	{{dedupWindow}}      the insert-deduplication window setting a non-replicated table needs
//	{{distributed "t" "shardingKey"}}  on a cluster, the Distributed table t over t_local; else nothing
//	{{if .TextIndexes}}  true where the server has text (full-text) indexes
//
// A statement that renders to nothing but blanks and comments is skipped.
// Every statement must be safe to run twice (IF NOT EXISTS): a migration
// interrupted half way is run again from its first statement.
//
// The package must not run queries built from user input: the only values in
// the SQL text come from Options, which Validate restricts to identifiers and
// whole durations.
package schema
