-- otel_logs: one row per log record, column for column the table of the
-- OpenTelemetry Collector contrib clickhouseexporter (its current layout:
-- EventName column, no TimestampTime, ordered by five-minute bucket first).
--
-- Two index layouts, as in otel_traces: text indexes where the server has
-- them (ClickHouse 26.2 and later, chDB), bloom filters elsewhere.
-- The exporter's optional MATERIALIZED k8s.* columns are left out: Tapline
-- writes these rows itself and they would cost insert time; a later
-- migration can add any that queries need.

-- name: create otel_logs
CREATE TABLE IF NOT EXISTS {{table "otel_logs"}}{{onCluster}}
(
    Timestamp           DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId             String CODEC(ZSTD(1)),
    SpanId              String CODEC(ZSTD(1)),
    TraceFlags          UInt8,
    SeverityText        LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber      UInt8,
    ServiceName         LowCardinality(String) CODEC(ZSTD(1)),
    Body                String CODEC(ZSTD(1)),
    ResourceSchemaUrl   LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes  Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeSchemaUrl      LowCardinality(String) CODEC(ZSTD(1)),
    ScopeName           String CODEC(ZSTD(1)),
    ScopeVersion        LowCardinality(String) CODEC(ZSTD(1)),
    ScopeAttributes     Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    LogAttributes       Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    EventName           String CODEC(ZSTD(1)),
{{- if .TextIndexes}}
    INDEX idx_trace_id         TraceId TYPE text(tokenizer = 'array'),
    INDEX idx_res_attr_key     mapKeys(ResourceAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_res_attr_value   mapValues(ResourceAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_scope_attr_key   mapKeys(ScopeAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_log_attr_key     mapKeys(LogAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_log_attr_value   mapValues(LogAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_lower_body       lower(Body) TYPE text(tokenizer = 'splitByNonAlpha')
{{- else}}
    INDEX idx_trace_id         TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key     mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value   mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_key   mapKeys(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_scope_attr_value mapValues(ScopeAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key     mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value   mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_lower_body       lower(Body) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
{{- end}}
)
ENGINE = {{engine "MergeTree" "otel_logs"}}
PARTITION BY toDate(Timestamp)
ORDER BY (toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp)
{{ttl "otel_logs"}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1{{dedupWindow}};

-- name: distribute otel_logs
{{distributed "otel_logs" "rand()"}}
