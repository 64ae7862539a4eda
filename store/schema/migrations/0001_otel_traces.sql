-- otel_traces: one row per span, column for column the table of the
-- OpenTelemetry Collector contrib clickhouseexporter, so Grafana's ClickHouse
-- data source (OpenTelemetry mode) and existing SQL work unchanged.
--
-- Timestamp is the span start (ns, UTC); Duration is in nanoseconds.
-- SpanAttributeItems / ResourceAttributeItems are ALIAS columns holding the
-- maps as 'key=value' strings: has(SpanAttributeItems, 'http.route=/x') is
-- answered from the text index without reading the map.
--
-- Two index layouts: text indexes (tokenizer 'array') on servers with full
-- text indexes (ClickHouse 26.2 and later, chDB), bloom filters elsewhere.
--
-- Template: see package schema (table, engine, ttl, onCluster, distributed).

-- name: create otel_traces
CREATE TABLE IF NOT EXISTS {{table "otel_traces"}}{{onCluster}}
(
    Timestamp           DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId             String CODEC(ZSTD(1)),
    SpanId              String CODEC(ZSTD(1)),
    ParentSpanId        String CODEC(ZSTD(1)),
    TraceState          String CODEC(ZSTD(1)),
    SpanName            LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind            LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName         LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes  Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName           String CODEC(ZSTD(1)),
    ScopeVersion        String CODEC(ZSTD(1)),
    SpanAttributes      Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration            UInt64 CODEC(T64, ZSTD(1)),
    StatusCode          LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage       String CODEC(ZSTD(1)),
    Events Nested
    (
        Timestamp   DateTime64(9),
        Name        LowCardinality(String),
        Attributes  Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested
    (
        TraceId     String,
        SpanId      String,
        TraceState  String,
        Attributes  Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    ResourceAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(ResourceAttributes, 'Array(Tuple(String, String))')),
    SpanAttributeItems     Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2), CAST(SpanAttributes, 'Array(Tuple(String, String))')),
{{- if .TextIndexes}}
    INDEX idx_trace_id        TraceId TYPE text(tokenizer = 'array'),
    INDEX idx_res_attr_key    mapKeys(ResourceAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_res_attr_items  ResourceAttributeItems TYPE text(tokenizer = 'array'),
    INDEX idx_span_attr_key   mapKeys(SpanAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_span_attr_items SpanAttributeItems TYPE text(tokenizer = 'array'),
{{- else}}
    INDEX idx_trace_id        TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key    mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value  mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key   mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
{{- end}}
    INDEX idx_duration        Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
)
ENGINE = {{engine "MergeTree" "otel_traces"}}
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
{{ttl "otel_traces"}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1{{dedupWindow}};

-- name: distribute otel_traces
{{distributed "otel_traces" "cityHash64(TraceId)"}}
