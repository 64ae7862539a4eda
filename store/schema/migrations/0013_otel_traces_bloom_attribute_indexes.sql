-- Attribute filters on otel_traces use bloom filters on the map values, not
-- text indexes on the 'key=value' items, unless store.schema.indexes is
-- "text". Measured on 11.4 million spans (docs/BENCHMARKS.md, Storage):
-- trace searches with attribute filters stayed within 1.5x of the text
-- indexes either way (faster on whole-table lookups, slower on some 24-hour
-- searches) and well inside their targets, while the text index on every
-- key=value of every span was the most expensive part of an insert: the
-- bloom layout inserts about 1.4x as many spans per second.
--
-- A database created with the text layout gets the bloom indexes added
-- (built for the existing parts by a background mutation) and its two item
-- indexes dropped. idx_trace_id keeps the type it was created with: the
-- text and bloom trace-id indexes pruned alike, and both cost little.
-- Where the bloom indexes already exist (the bloom layout, and every
-- database created after this migration) the statements change nothing.

-- name: bloom-filter indexes on the attribute values
{{- if not .TextIndexes}}
ALTER TABLE {{table "otel_traces"}}{{onCluster}}
    ADD INDEX IF NOT EXISTS idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    ADD INDEX IF NOT EXISTS idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1
{{- end}}

-- name: build them for existing parts
{{- if not .TextIndexes}}
ALTER TABLE {{table "otel_traces"}}{{onCluster}}
    MATERIALIZE INDEX idx_res_attr_value,
    MATERIALIZE INDEX idx_span_attr_value
{{- end}}

-- name: drop the text indexes on the attribute items
{{- if not .TextIndexes}}
ALTER TABLE {{table "otel_traces"}}{{onCluster}}
    DROP INDEX IF EXISTS idx_res_attr_items,
    DROP INDEX IF EXISTS idx_span_attr_items
{{- end}}
