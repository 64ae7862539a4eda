-- Copies of the span, access-event and TLS-connection rows sorted by id,
-- for the timelines of GetTrace and GetRequest.
--
-- otel_traces, access_events and tls_connections are sorted for search, so
-- the rows of one trace or request lie in granules of their own, and each
-- read decompresses a granule of every column asked for: 22 for a span,
-- 45 for an access event. Each copy holds per row its id, its time and
-- Row: the columns the API returns, in RowBinary (package store/byid names
-- them). A timeline reads one small granule of three columns per part.
--
-- Id is the trace id of a span, the request id of an access event (its
-- trace id when it has none) and the connection id of a TLS connection;
-- rows without one are not copied. The writers of the source tables (the
-- ingest, the API's own access events) write the copies too: encoding the
-- row in Go costs a fraction of a view doing it.
--
-- Rows stored before are copied once. On a cluster, those statements are
-- left out (as in 0012): run them on each node; until then the query API
-- reads a trace or request the copies do not hold from the source tables.

-- name: create otel_traces_by_id
CREATE TABLE IF NOT EXISTS {{table "otel_traces_by_id"}}{{onCluster}}
(
    Id        String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    Row       String CODEC(LZ4)
)
ENGINE = {{engine "MergeTree" "otel_traces_by_id"}}
PARTITION BY toDate(Timestamp)
ORDER BY (Id, Timestamp)
{{ttl "otel_traces_by_id"}}
SETTINGS index_granularity = 1024, ttl_only_drop_parts = 1, min_bytes_for_wide_part = 67108864{{dedupWindow}};

-- name: distribute otel_traces_by_id
{{distributed "otel_traces_by_id" "cityHash64(Id)"}}

-- name: create access_events_by_id
CREATE TABLE IF NOT EXISTS {{table "access_events_by_id"}}{{onCluster}}
(
    Id        String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    Row       String CODEC(LZ4)
)
ENGINE = {{engine "MergeTree" "access_events_by_id"}}
PARTITION BY toDate(Timestamp)
ORDER BY (Id, Timestamp)
{{ttl "access_events_by_id"}}
SETTINGS index_granularity = 1024, ttl_only_drop_parts = 1, min_bytes_for_wide_part = 67108864{{dedupWindow}};

-- name: distribute access_events_by_id
{{distributed "access_events_by_id" "cityHash64(Id)"}}

-- name: create tls_connections_by_id
CREATE TABLE IF NOT EXISTS {{table "tls_connections_by_id"}}{{onCluster}}
(
    Id        String CODEC(ZSTD(1)),
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    Row       String CODEC(LZ4)
)
ENGINE = {{engine "MergeTree" "tls_connections_by_id"}}
PARTITION BY toDate(Timestamp)
ORDER BY (Id, Timestamp)
{{ttl "tls_connections_by_id"}}
SETTINGS index_granularity = 1024, ttl_only_drop_parts = 1, min_bytes_for_wide_part = 67108864{{dedupWindow}};

-- name: distribute tls_connections_by_id
{{distributed "tls_connections_by_id" "cityHash64(Id)"}}

-- name: copy the spans stored before
{{if not .Cluster}}INSERT INTO {{name "otel_traces_by_id"}} (Id, Timestamp, Row)
SELECT TraceId, Timestamp, formatRowNoNewline('RowBinary',
    Timestamp, TraceId, SpanId, ParentSpanId, TraceState, SpanName, SpanKind, ServiceName,
    ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration, StatusCode, StatusMessage,
    Events.Timestamp, Events.Name, Events.Attributes,
    Links.TraceId, Links.SpanId, Links.TraceState, Links.Attributes)
FROM {{name "otel_traces"}}
WHERE TraceId != ''
  AND (SELECT count() FROM {{name "otel_traces_by_id"}}) = 0{{end}}

-- name: copy the access events stored before
{{if not .Cluster}}INSERT INTO {{name "access_events_by_id"}} (Id, Timestamp, Row)
SELECT if(RequestId != '', RequestId, TraceId), Timestamp, formatRowNoNewline('RowBinary',
    Timestamp, Duration, Source, ServiceName, Node, RequestId, TraceId, SpanId,
    Method, Scheme, Host, Path, Query, Route, Protocol, Status,
    RequestBytes, ResponseBytes, ClientAddress, ClientPort, UpstreamAddress, UpstreamStatus, UserAgent,
    TlsVersion, TlsCipher, TlsResumed, TlsServerName, MtlsVerified,
    PeerSpiffeId, PeerSubject, PeerIssuer, PeerSerial, PeerNotAfter, PeerFingerprint,
    Principal, PrincipalType, JwtIssuer, JwtSubject, JwtAudience, JwtScopes,
    Decision, Policy, Reason, ConnectionId, Attributes)
FROM {{name "access_events"}}
WHERE (RequestId != '' OR TraceId != '')
  AND (SELECT count() FROM {{name "access_events_by_id"}}) = 0{{end}}

-- name: copy the TLS connections stored before
{{if not .Cluster}}INSERT INTO {{name "tls_connections_by_id"}} (Id, Timestamp, Row)
SELECT ConnectionId, Timestamp, formatRowNoNewline('RowBinary',
    Timestamp, Source, ServiceName, Node, Listener, ConnectionId, ClientAddress, ClientPort,
    ServerName, Established, Failure, FailureDetail, HandshakeDuration,
    TlsVersion, TlsCipher, TlsResumed, Alpn, MtlsVerified,
    PeerSpiffeId, PeerSubject, PeerIssuer, PeerSerial, PeerNotBefore, PeerNotAfter,
    PeerFingerprint, Attributes)
FROM {{name "tls_connections"}}
WHERE ConnectionId != ''
  AND (SELECT count() FROM {{name "tls_connections_by_id"}}) = 0{{end}}
