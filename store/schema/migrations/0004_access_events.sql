-- access_events: one row per request per hop. Source is where the row was
-- seen: nginx, mesh (Envoy/Istio), tap (Tapline's proxy), app, api.
-- Times are UTC; Duration is in nanoseconds; unknown strings are ''.

-- name: create access_events
CREATE TABLE IF NOT EXISTS {{table "access_events"}}{{onCluster}}
(
    Timestamp        DateTime64(9) CODEC(Delta, ZSTD(1)),
    Duration         UInt64 CODEC(ZSTD(1)),
    Source           LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName      LowCardinality(String) CODEC(ZSTD(1)),
    Node             LowCardinality(String) CODEC(ZSTD(1)),
    RequestId        String CODEC(ZSTD(1)),
    TraceId          String CODEC(ZSTD(1)),
    SpanId           String CODEC(ZSTD(1)),
    Method           LowCardinality(String) CODEC(ZSTD(1)),
    Scheme           LowCardinality(String) CODEC(ZSTD(1)),
    Host             LowCardinality(String) CODEC(ZSTD(1)),
    Path             String CODEC(ZSTD(1)),
    Query            String CODEC(ZSTD(1)),
    Route            LowCardinality(String) CODEC(ZSTD(1)),
    Protocol         LowCardinality(String) CODEC(ZSTD(1)),
    Status           UInt16 CODEC(ZSTD(1)),
    RequestBytes     UInt64 CODEC(ZSTD(1)),
    ResponseBytes    UInt64 CODEC(ZSTD(1)),
    ClientAddress    String CODEC(ZSTD(1)),
    ClientPort       UInt16 CODEC(ZSTD(1)),
    UpstreamAddress  String CODEC(ZSTD(1)),
    UpstreamStatus   String CODEC(ZSTD(1)),
    UserAgent        String CODEC(ZSTD(1)),
    TlsVersion       LowCardinality(String) CODEC(ZSTD(1)),
    TlsCipher        LowCardinality(String) CODEC(ZSTD(1)),
    TlsResumed       Bool CODEC(ZSTD(1)),
    TlsServerName    LowCardinality(String) CODEC(ZSTD(1)),
    MtlsVerified     Bool CODEC(ZSTD(1)),
    PeerSpiffeId     String CODEC(ZSTD(1)),
    PeerSubject      String CODEC(ZSTD(1)),
    PeerIssuer       String CODEC(ZSTD(1)),
    PeerSerial       String CODEC(ZSTD(1)),
    PeerNotAfter     DateTime('UTC') CODEC(ZSTD(1)),
    PeerFingerprint  String CODEC(ZSTD(1)),
    Principal        String CODEC(ZSTD(1)),
    PrincipalType    LowCardinality(String) CODEC(ZSTD(1)),
    JwtIssuer        String CODEC(ZSTD(1)),
    JwtSubject       String CODEC(ZSTD(1)),
    JwtAudience      String CODEC(ZSTD(1)),
    JwtScopes        Array(String) CODEC(ZSTD(1)),
    Decision         LowCardinality(String) CODEC(ZSTD(1)),
    Policy           LowCardinality(String) CODEC(ZSTD(1)),
    Reason           LowCardinality(String) CODEC(ZSTD(1)),
    ConnectionId     String CODEC(ZSTD(1)),
    Attributes       Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Raw              String CODEC(ZSTD(1)),
    IngestTimestamp  DateTime64(3) DEFAULT now64(3) CODEC(Delta, ZSTD(1)),
    INDEX idx_request_id RequestId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_trace_id   TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_principal  Principal TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = {{engine "MergeTree" "access_events"}}
PARTITION BY toDate(Timestamp)
ORDER BY (toStartOfFiveMinutes(Timestamp), Source, ServiceName, Timestamp)
{{ttl "access_events"}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1{{dedupWindow}};

-- name: distribute access_events
{{distributed "access_events" "rand()"}}

-- access_events_id_ts: first and last time each request id and trace id was
-- seen, so a lookup by id reads access_events only within [Start, End].
-- Read it with GROUP BY Id (min(Start), max(End)).
-- name: create access_events_id_ts
CREATE TABLE IF NOT EXISTS {{table "access_events_id_ts"}}{{onCluster}}
(
    Id     String CODEC(ZSTD(1)),
    Start  SimpleAggregateFunction(min, DateTime64(9)) CODEC(ZSTD(1)),
    End    SimpleAggregateFunction(max, DateTime64(9)) CODEC(ZSTD(1))
)
ENGINE = {{engine "AggregatingMergeTree" "access_events_id_ts"}}
PARTITION BY toStartOfWeek(Start)
ORDER BY (Id)
{{ttl "access_events_id_ts"}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

-- name: distribute access_events_id_ts
{{distributed "access_events_id_ts" "cityHash64(Id)"}}

-- name: create access_events_id_ts_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "access_events_id_ts_mv"}}{{onCluster}}
TO {{table "access_events_id_ts"}}
AS SELECT
    arrayJoin(arrayFilter(x -> x != '', [RequestId, TraceId])) AS Id,
    min(Timestamp) AS Start,
    max(Timestamp) AS End
FROM {{table "access_events"}}
GROUP BY Id;
