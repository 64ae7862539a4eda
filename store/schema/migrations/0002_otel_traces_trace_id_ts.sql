-- otel_traces_trace_id_ts: first and last second each trace id was seen,
-- filled by a materialized view on otel_traces (as the clickhouseexporter
-- does). A trace fetch reads this table first, then otel_traces only within
-- [Start, End + 1 second]: Start and End are DateTime (seconds, rounded down),
-- so the last span of a trace can be up to a second after End.
-- Read it with GROUP BY TraceId (min(Start), max(End)): rows of one trace
-- merge in the background, not at insert.

-- name: create otel_traces_trace_id_ts
CREATE TABLE IF NOT EXISTS {{table "otel_traces_trace_id_ts"}}{{onCluster}}
(
    TraceId  String CODEC(ZSTD(1)),
    Start    SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End      SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
)
ENGINE = {{engine "AggregatingMergeTree" "otel_traces_trace_id_ts"}}
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
{{ttl "otel_traces_trace_id_ts"}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

-- name: distribute otel_traces_trace_id_ts
{{distributed "otel_traces_trace_id_ts" "cityHash64(TraceId)"}}

-- In cluster mode the view runs on every node: it reads the rows inserted
-- into the node's otel_traces_local and writes to its own local lookup table.
-- name: create otel_traces_trace_id_ts_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "otel_traces_trace_id_ts_mv"}}{{onCluster}}
TO {{table "otel_traces_trace_id_ts"}}
AS SELECT
    TraceId,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM {{table "otel_traces"}}
WHERE TraceId != ''
GROUP BY TraceId;
