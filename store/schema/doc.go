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
// Retention: each table's TTL comes from Options.Retention when the table
// is created. Changing the retention later is applied by the next Migrate:
// it compares every table's TTL in system.tables with the options and runs
// ALTER TABLE ... MODIFY TTL (or REMOVE TTL for 0). ClickHouse then
// recomputes the TTL of existing parts in the background (a mutation, as
// materialize_ttl_after_modify is on by default) and drops expired parts;
// with ttl_only_drop_parts a part goes when all its rows have expired. Rows
// older than the retention are dropped on arrival.
//
// Cluster mode (Options.Cluster): every statement runs ON CLUSTER; rows live
// in Replicated*MergeTree tables named <table>_local (ZooKeeper path
// /clickhouse/tables/{shard}/<database>/<table>_local, replica {replica});
// a Distributed table under the plain name spreads inserts and gathers
// queries, so the rest of Tapline uses the same names on one node and on a
// cluster. Materialized views run on every node, from the node's _local
// table into the node's _local lookup table. The cluster's remote_servers
// entry should set internal_replication = true.
//
// The package must not run queries built from user input: the only values in
// the SQL text come from Options, which Validate restricts to identifiers and
// whole durations.
package schema
