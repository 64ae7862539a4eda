-- Parts written by an insert stay in ClickHouse's Compact format (all
-- columns in one file) until merges make them larger than 256 MiB
-- (uncompressed); only then are they Wide (a file per column, and per
-- skip index). ClickHouse's default switches at 10 MiB, which one ingest
-- batch of spans exceeds (16 MiB of OTLP is about 40 MiB as a block), so
-- every insert wrote a Wide part: a file and a pair of write buffers for
-- each of the table's many columns (map keys and values, event and link
-- arrays). That fixed cost of each insert was the largest one left: a
-- 10,000-span insert into otel_traces ran about 1.7 times as fast with
-- Compact parts, a 25,000-span insert about 1.4 times (docs/BENCHMARKS.md,
-- Storage). Reads are unchanged for the data that matters: the large
-- merged parts searches and trace reads scan are Wide as before.
--
-- The same holds for the other tables ingest writes in batches. The
-- setting applies to parts written from now on; existing parts keep their
-- format until they are merged.

-- name: otel_traces inserts write Compact parts
ALTER TABLE {{table "otel_traces"}}{{onCluster}}
    MODIFY SETTING min_bytes_for_wide_part = 268435456

-- name: otel_logs inserts write Compact parts
ALTER TABLE {{table "otel_logs"}}{{onCluster}}
    MODIFY SETTING min_bytes_for_wide_part = 268435456

-- name: access_events inserts write Compact parts
ALTER TABLE {{table "access_events"}}{{onCluster}}
    MODIFY SETTING min_bytes_for_wide_part = 268435456

-- name: tls_connections inserts write Compact parts
ALTER TABLE {{table "tls_connections"}}{{onCluster}}
    MODIFY SETTING min_bytes_for_wide_part = 268435456
