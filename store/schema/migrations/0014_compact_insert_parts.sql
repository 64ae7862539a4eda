-- Parts written by an insert stay in ClickHouse's Compact format (all
-- columns in one file) until merges make them larger than 64 MiB
-- (uncompressed); only then are they Wide (a file per column, and per
-- skip index). ClickHouse's default switches at 10 MiB, which one ingest
-- batch of spans exceeds (16 MiB of OTLP, about 25,000 spans, is about
-- 20 MB uncompressed), so every insert wrote a Wide part: a file and write
-- buffers for each of the table's many columns (map keys and values,
-- event and link arrays). That is a fixed cost of each insert: the same
-- batches went into a Compact copy of otel_traces 1.1 to 1.4 times as fast
-- as into a Wide one, and into otel_traces as migrated about 1.4 times
-- (docs/BENCHMARKS.md, Storage). Reads of the large merged parts, which
-- searches and trace reads mostly scan, are unchanged; queries over the
-- last minutes, whose parts are still small and Compact, cost a little
-- more (a listing of one service's operations: about 1.1 times).
--
-- The same holds for the other tables ingest writes in batches. The
-- setting applies to parts written from now on; existing parts keep their
-- format until they are merged.

-- name: otel_traces inserts write Compact parts
ALTER TABLE {{table "otel_traces"}}{{onCluster}}
    MODIFY SETTING min_bytes_for_wide_part = 67108864

-- name: otel_logs inserts write Compact parts
ALTER TABLE {{table "otel_logs"}}{{onCluster}}
    MODIFY SETTING min_bytes_for_wide_part = 67108864

-- name: access_events inserts write Compact parts
ALTER TABLE {{table "access_events"}}{{onCluster}}
    MODIFY SETTING min_bytes_for_wide_part = 67108864

-- name: tls_connections inserts write Compact parts
ALTER TABLE {{table "tls_connections"}}{{onCluster}}
    MODIFY SETTING min_bytes_for_wide_part = 67108864
