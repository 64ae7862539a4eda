-- Run before the migrations, every time: the database and the table that
-- records which migrations were applied.

-- name: create database
CREATE DATABASE IF NOT EXISTS {{quote .Database}}{{onCluster}};

-- schema_migrations: one row per applied migration file. On a cluster every
-- node is a replica of one table (no {shard} in its path), so each node
-- sees every record. Two processes migrating at once may both record a
-- version: readers take the earliest row per Version.
-- name: create schema_migrations
CREATE TABLE IF NOT EXISTS {{name "schema_migrations"}}{{onCluster}}
(
    Version    UInt32,
    Name       String,
    Checksum   String,
    AppliedAt  DateTime64(3, 'UTC')
)
ENGINE = {{if .Cluster}}ReplicatedReplacingMergeTree('/clickhouse/tables/{{.Database}}/schema_migrations', '{shard}-{replica}'){{else}}ReplacingMergeTree{{end}}
ORDER BY (Version);
