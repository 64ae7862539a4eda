-- otel_traces keeps only the skip indexes that pay for a query Tapline runs.
-- Every index is built at each insert and each merge; these three were
-- measured on 11.4 million spans over 24 hours (docs/BENCHMARKS.md,
-- Storage) and dropped:
--
-- - idx_lower_span_name (tokenbf_v1 on lower(SpanName)): no Tapline query
--   filters on lower(SpanName); span names are matched exactly, and
--   SpanName is part of the primary key.
-- - idx_span_attr_key and idx_res_attr_key (the attribute key sets): they
--   only serve "key exists" filters, and the keys Tapline's spans carry
--   occur in most granules (the index kept 1,116 of 1,461 granules for
--   rpc.system), so they cost every insert and rarely skip a granule.
--
-- Kept, because they decide whether a query reads a few granules or the
-- whole window: idx_trace_id (trace fetch and trace summaries: 4 granules
-- instead of 169 per trace), idx_span_attr_items / idx_res_attr_items and,
-- in the bloom layout, idx_span_attr_value / idx_res_attr_value (attribute
-- filters of trace search: a request id over 24 hours in about 0.1 s
-- instead of 28 s), and idx_duration (minmax, min/max duration filters).
--
-- Both index layouts (text and bloom filter) get the same drops; IF EXISTS
-- makes the statement a no-op where an index was never created. Dropping
-- an index removes its files from the existing parts as a light mutation.

-- name: drop otel_traces skip indexes that do not pay
ALTER TABLE {{table "otel_traces"}}{{onCluster}}
    DROP INDEX IF EXISTS idx_lower_span_name,
    DROP INDEX IF EXISTS idx_span_attr_key,
    DROP INDEX IF EXISTS idx_res_attr_key;
