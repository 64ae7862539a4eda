-- Rollups for the compliance checks: what the checks aggregate, per UTC day
-- (per minute for the silences), kept by materialized views on the source
-- tables so that a report over whole days reads thousands of rows, not
-- millions. Every rollup row counts its source rows in Rows, and no view
-- filters rows out: for any day the rollup's sum(Rows) must equal the
-- source table's count(). The checks compare the two per day and read a
-- rollup only for the whole days where they agree; every other day (the
-- period's partial edge days, days before the rollups existed, days a
-- backfill or a view missed) is read from the source table. A rollup can
-- make a report faster, never different.
--
-- The engines are AggregatingMergeTree with SimpleAggregateFunction
-- columns (sum, min, max, any): rows of one key merge in the background,
-- not at insert, so readers always GROUP BY and aggregate again.
--
-- Existing rows: on one node each rollup is filled from its source table
-- by an INSERT ... SELECT before its view is created, once (only while the
-- rollup is empty: running the migration again never counts a row twice).
-- Rows inserted while the migration runs may miss the rollup; their days
-- are then read from the source tables, as above. On a cluster there is no
-- backfill (an INSERT cannot run ON CLUSTER): the days stored before the
-- migration are read from the source tables until they expire.
--
-- No TTL: a day whose source rows have expired no longer agrees with its
-- rollup and is read (as empty) from the source table.

-- name: create compliance_access_daily
CREATE TABLE IF NOT EXISTS {{table "compliance_access_daily"}}{{onCluster}}
(
    Day             Date,
    Source          LowCardinality(String),
    ServiceName     LowCardinality(String),
    Caller          String,
    Identified      Bool,
    MtlsVerified    Bool,
    PeerTrustDomain LowCardinality(String),
    TlsVersion      LowCardinality(String),
    TlsCipher       LowCardinality(String),
    JwtIssuer       LowCardinality(String),
    JwtAudience     String,
    Status          UInt16,
    Rows            SimpleAggregateFunction(sum, UInt64)
)
ENGINE = {{engine "AggregatingMergeTree" "compliance_access_daily"}}
PARTITION BY toYYYYMM(Day)
ORDER BY (Day, Source, ServiceName, Caller, Identified, MtlsVerified, PeerTrustDomain, TlsVersion, TlsCipher, JwtIssuer, JwtAudience, Status)
SETTINGS index_granularity = 8192;

-- name: distribute compliance_access_daily
{{distributed "compliance_access_daily" "rand()"}}

-- name: backfill compliance_access_daily
{{if not .Cluster}}INSERT INTO {{name "compliance_access_daily"}}
SELECT toDate(Timestamp, 'UTC') AS Day, Source, ServiceName,
       multiIf(PeerSpiffeId != '', PeerSpiffeId, Principal != '', Principal, ClientAddress) AS Caller,
       PeerSpiffeId != '' OR Principal != '' AS Identified, MtlsVerified,
       extract(PeerSpiffeId, '^spiffe://([^/]+)') AS PeerTrustDomain, TlsVersion, TlsCipher, JwtIssuer, JwtAudience, Status,
       count() AS Rows
FROM {{name "access_events"}}
WHERE (SELECT count() FROM {{name "compliance_access_daily"}}) = 0
GROUP BY Day, Source, ServiceName, Caller, Identified, MtlsVerified, PeerTrustDomain, TlsVersion, TlsCipher, JwtIssuer, JwtAudience, Status{{end}};

-- name: create compliance_access_daily_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "compliance_access_daily_mv"}}{{onCluster}}
TO {{table "compliance_access_daily"}}
AS SELECT toDate(Timestamp, 'UTC') AS Day, Source, ServiceName,
       multiIf(PeerSpiffeId != '', PeerSpiffeId, Principal != '', Principal, ClientAddress) AS Caller,
       PeerSpiffeId != '' OR Principal != '' AS Identified, MtlsVerified,
       extract(PeerSpiffeId, '^spiffe://([^/]+)') AS PeerTrustDomain, TlsVersion, TlsCipher, JwtIssuer, JwtAudience, Status,
       count() AS Rows
FROM {{table "access_events"}}
GROUP BY Day, Source, ServiceName, Caller, Identified, MtlsVerified, PeerTrustDomain, TlsVersion, TlsCipher, JwtIssuer, JwtAudience, Status;

-- name: create compliance_tls_daily
CREATE TABLE IF NOT EXISTS {{table "compliance_tls_daily"}}{{onCluster}}
(
    Day          Date,
    Listener     LowCardinality(String),
    Established  Bool,
    Failure      LowCardinality(String),
    TlsVersion   LowCardinality(String),
    TlsCipher    LowCardinality(String),
    Rows         SimpleAggregateFunction(sum, UInt64)
)
ENGINE = {{engine "AggregatingMergeTree" "compliance_tls_daily"}}
PARTITION BY toYYYYMM(Day)
ORDER BY (Day, Listener, Established, Failure, TlsVersion, TlsCipher)
SETTINGS index_granularity = 8192;

-- name: distribute compliance_tls_daily
{{distributed "compliance_tls_daily" "rand()"}}

-- name: backfill compliance_tls_daily
{{if not .Cluster}}INSERT INTO {{name "compliance_tls_daily"}}
SELECT toDate(Timestamp, 'UTC') AS Day, Listener, Established, Failure, TlsVersion, TlsCipher, count() AS Rows
FROM {{name "tls_connections"}}
WHERE (SELECT count() FROM {{name "compliance_tls_daily"}}) = 0
GROUP BY Day, Listener, Established, Failure, TlsVersion, TlsCipher{{end}};

-- name: create compliance_tls_daily_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "compliance_tls_daily_mv"}}{{onCluster}}
TO {{table "compliance_tls_daily"}}
AS SELECT toDate(Timestamp, 'UTC') AS Day, Listener, Established, Failure, TlsVersion, TlsCipher, count() AS Rows
FROM {{table "tls_connections"}}
GROUP BY Day, Listener, Established, Failure, TlsVersion, TlsCipher;

-- compliance_certs_daily: client certificates in use per day, from TLS
-- connections (Origin tls_connections, by Listener) and access events
-- (Origin access_events, by ServiceName). Cert is the certificate's key as
-- the checks compute it; HasNotAfter tells rows with a certificate from the
-- others, which are counted too.
-- name: create compliance_certs_daily
CREATE TABLE IF NOT EXISTS {{table "compliance_certs_daily"}}{{onCluster}}
(
    Day          Date,
    Origin       LowCardinality(String),
    Listener     LowCardinality(String),
    ServiceName  LowCardinality(String),
    Established  Bool,
    HasNotAfter  Bool,
    Cert         UInt64,
    NotAfter     SimpleAggregateFunction(max, DateTime('UTC')),
    LastUsed     SimpleAggregateFunction(max, DateTime('UTC')),
    Subject      SimpleAggregateFunction(any, String),
    SpiffeId     SimpleAggregateFunction(any, String),
    Serial       SimpleAggregateFunction(any, String),
    Rows         SimpleAggregateFunction(sum, UInt64)
)
ENGINE = {{engine "AggregatingMergeTree" "compliance_certs_daily"}}
PARTITION BY toYYYYMM(Day)
ORDER BY (Day, Origin, Listener, ServiceName, Established, HasNotAfter, Cert)
SETTINGS index_granularity = 8192;

-- name: distribute compliance_certs_daily
{{distributed "compliance_certs_daily" "rand()"}}

-- name: backfill compliance_certs_daily
{{if not .Cluster}}INSERT INTO {{name "compliance_certs_daily"}}
SELECT toDate(Timestamp, 'UTC') AS Day, 'tls_connections' AS Origin, Listener, '' AS ServiceName, Established,
       PeerNotAfter > toDateTime(0, 'UTC') AS HasNotAfter,
       if(PeerFingerprint != '', cityHash64(PeerFingerprint), cityHash64(PeerIssuer, PeerSerial, PeerSubject)) AS Cert,
       max(PeerNotAfter) AS NotAfter, max(toDateTime(Timestamp, 'UTC')) AS LastUsed,
       any(PeerSubject) AS Subject, any(PeerSpiffeId) AS SpiffeId, any(PeerSerial) AS Serial, count() AS Rows
FROM {{name "tls_connections"}}
WHERE (SELECT count() FROM {{name "compliance_certs_daily"}}) = 0
GROUP BY Day, Listener, Established, HasNotAfter, Cert
UNION ALL
SELECT toDate(Timestamp, 'UTC') AS Day, 'access_events' AS Origin, '' AS Listener, ServiceName, true AS Established,
       PeerNotAfter > toDateTime(0, 'UTC') AS HasNotAfter,
       if(PeerFingerprint != '', cityHash64(PeerFingerprint), cityHash64(PeerIssuer, PeerSerial, PeerSubject)) AS Cert,
       max(PeerNotAfter) AS NotAfter, max(toDateTime(Timestamp, 'UTC')) AS LastUsed,
       any(PeerSubject) AS Subject, any(PeerSpiffeId) AS SpiffeId, any(PeerSerial) AS Serial, count() AS Rows
FROM {{name "access_events"}}
WHERE (SELECT count() FROM {{name "compliance_certs_daily"}}) = 0
GROUP BY Day, ServiceName, HasNotAfter, Cert{{end}};

-- name: create compliance_certs_daily_tls_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "compliance_certs_daily_tls_mv"}}{{onCluster}}
TO {{table "compliance_certs_daily"}}
AS SELECT toDate(Timestamp, 'UTC') AS Day, 'tls_connections' AS Origin, Listener, '' AS ServiceName, Established,
       PeerNotAfter > toDateTime(0, 'UTC') AS HasNotAfter,
       if(PeerFingerprint != '', cityHash64(PeerFingerprint), cityHash64(PeerIssuer, PeerSerial, PeerSubject)) AS Cert,
       max(PeerNotAfter) AS NotAfter, max(toDateTime(Timestamp, 'UTC')) AS LastUsed,
       any(PeerSubject) AS Subject, any(PeerSpiffeId) AS SpiffeId, any(PeerSerial) AS Serial, count() AS Rows
FROM {{table "tls_connections"}}
GROUP BY Day, Listener, Established, HasNotAfter, Cert;

-- name: create compliance_certs_daily_access_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "compliance_certs_daily_access_mv"}}{{onCluster}}
TO {{table "compliance_certs_daily"}}
AS SELECT toDate(Timestamp, 'UTC') AS Day, 'access_events' AS Origin, '' AS Listener, ServiceName, true AS Established,
       PeerNotAfter > toDateTime(0, 'UTC') AS HasNotAfter,
       if(PeerFingerprint != '', cityHash64(PeerFingerprint), cityHash64(PeerIssuer, PeerSerial, PeerSubject)) AS Cert,
       max(PeerNotAfter) AS NotAfter, max(toDateTime(Timestamp, 'UTC')) AS LastUsed,
       any(PeerSubject) AS Subject, any(PeerSpiffeId) AS SpiffeId, any(PeerSerial) AS Serial, count() AS Rows
FROM {{table "access_events"}}
GROUP BY Day, ServiceName, HasNotAfter, Cert;

-- compliance_skew_daily: event time minus ingest time (milliseconds) per
-- day and reporter: access events by Source and node (else service), TLS
-- connections (Source 'tls') by node (else listener).
-- name: create compliance_skew_daily
CREATE TABLE IF NOT EXISTS {{table "compliance_skew_daily"}}{{onCluster}}
(
    Day          Date,
    Origin       LowCardinality(String),
    Source       LowCardinality(String),
    Reporter     LowCardinality(String),
    Listener     LowCardinality(String),
    ServiceName  LowCardinality(String),
    SkewMs       Int64,
    Rows         SimpleAggregateFunction(sum, UInt64)
)
ENGINE = {{engine "AggregatingMergeTree" "compliance_skew_daily"}}
PARTITION BY toYYYYMM(Day)
ORDER BY (Day, Origin, Source, Reporter, Listener, ServiceName, SkewMs)
SETTINGS index_granularity = 8192;

-- name: distribute compliance_skew_daily
{{distributed "compliance_skew_daily" "rand()"}}

-- name: backfill compliance_skew_daily
{{if not .Cluster}}INSERT INTO {{name "compliance_skew_daily"}}
SELECT toDate(Timestamp, 'UTC') AS Day, 'access_events' AS Origin, Source, if(Node != '', Node, ServiceName) AS Reporter,
       '' AS Listener, ServiceName, dateDiff('millisecond', IngestTimestamp, Timestamp) AS SkewMs, count() AS Rows
FROM {{name "access_events"}}
WHERE (SELECT count() FROM {{name "compliance_skew_daily"}}) = 0
GROUP BY Day, Source, Reporter, ServiceName, SkewMs
UNION ALL
SELECT toDate(Timestamp, 'UTC') AS Day, 'tls_connections' AS Origin, 'tls' AS Source, if(Node != '', Node, Listener) AS Reporter,
       Listener, '' AS ServiceName, dateDiff('millisecond', IngestTimestamp, Timestamp) AS SkewMs, count() AS Rows
FROM {{name "tls_connections"}}
WHERE (SELECT count() FROM {{name "compliance_skew_daily"}}) = 0
GROUP BY Day, Reporter, Listener, SkewMs{{end}};

-- name: create compliance_skew_daily_access_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "compliance_skew_daily_access_mv"}}{{onCluster}}
TO {{table "compliance_skew_daily"}}
AS SELECT toDate(Timestamp, 'UTC') AS Day, 'access_events' AS Origin, Source, if(Node != '', Node, ServiceName) AS Reporter,
       '' AS Listener, ServiceName, dateDiff('millisecond', IngestTimestamp, Timestamp) AS SkewMs, count() AS Rows
FROM {{table "access_events"}}
GROUP BY Day, Source, Reporter, ServiceName, SkewMs;

-- name: create compliance_skew_daily_tls_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "compliance_skew_daily_tls_mv"}}{{onCluster}}
TO {{table "compliance_skew_daily"}}
AS SELECT toDate(Timestamp, 'UTC') AS Day, 'tls_connections' AS Origin, 'tls' AS Source, if(Node != '', Node, Listener) AS Reporter,
       Listener, '' AS ServiceName, dateDiff('millisecond', IngestTimestamp, Timestamp) AS SkewMs, count() AS Rows
FROM {{table "tls_connections"}}
GROUP BY Day, Reporter, Listener, SkewMs;

-- compliance_minutes: per source and minute, the first and last event time
-- and the count: access events (Src access_events/<Source>), TLS
-- connections, spans and logs. The silences between minutes are exact.
-- name: create compliance_minutes
CREATE TABLE IF NOT EXISTS {{table "compliance_minutes"}}{{onCluster}}
(
    Minute       DateTime('UTC'),
    Src          LowCardinality(String),
    Listener     LowCardinality(String),
    ServiceName  LowCardinality(String),
    First        SimpleAggregateFunction(min, DateTime64(9)),
    Last         SimpleAggregateFunction(max, DateTime64(9)),
    Rows         SimpleAggregateFunction(sum, UInt64)
)
ENGINE = {{engine "AggregatingMergeTree" "compliance_minutes"}}
PARTITION BY toYYYYMM(Minute)
ORDER BY (Minute, Src, Listener, ServiceName)
SETTINGS index_granularity = 8192;

-- name: distribute compliance_minutes
{{distributed "compliance_minutes" "rand()"}}

-- name: backfill compliance_minutes
{{if not .Cluster}}INSERT INTO {{name "compliance_minutes"}}
SELECT toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS Minute, concat('access_events/', Source) AS Src, '' AS Listener, ServiceName,
       min(Timestamp) AS First, max(Timestamp) AS Last, count() AS Rows
FROM {{name "access_events"}}
WHERE (SELECT count() FROM {{name "compliance_minutes"}}) = 0
GROUP BY Minute, Src, ServiceName
UNION ALL
SELECT toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS Minute, 'tls_connections' AS Src, Listener, '' AS ServiceName,
       min(Timestamp) AS First, max(Timestamp) AS Last, count() AS Rows
FROM {{name "tls_connections"}}
WHERE (SELECT count() FROM {{name "compliance_minutes"}}) = 0
GROUP BY Minute, Listener
UNION ALL
SELECT toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS Minute, 'otel_traces' AS Src, '' AS Listener, ServiceName,
       min(Timestamp) AS First, max(Timestamp) AS Last, count() AS Rows
FROM {{name "otel_traces"}}
WHERE (SELECT count() FROM {{name "compliance_minutes"}}) = 0
GROUP BY Minute, ServiceName
UNION ALL
SELECT toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS Minute, 'otel_logs' AS Src, '' AS Listener, ServiceName,
       min(Timestamp) AS First, max(Timestamp) AS Last, count() AS Rows
FROM {{name "otel_logs"}}
WHERE (SELECT count() FROM {{name "compliance_minutes"}}) = 0
GROUP BY Minute, ServiceName{{end}};

-- name: create compliance_minutes_access_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "compliance_minutes_access_mv"}}{{onCluster}}
TO {{table "compliance_minutes"}}
AS SELECT toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS Minute, concat('access_events/', Source) AS Src, '' AS Listener, ServiceName,
       min(Timestamp) AS First, max(Timestamp) AS Last, count() AS Rows
FROM {{table "access_events"}}
GROUP BY Minute, Src, ServiceName;

-- name: create compliance_minutes_tls_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "compliance_minutes_tls_mv"}}{{onCluster}}
TO {{table "compliance_minutes"}}
AS SELECT toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS Minute, 'tls_connections' AS Src, Listener, '' AS ServiceName,
       min(Timestamp) AS First, max(Timestamp) AS Last, count() AS Rows
FROM {{table "tls_connections"}}
GROUP BY Minute, Listener;

-- name: create compliance_minutes_traces_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "compliance_minutes_traces_mv"}}{{onCluster}}
TO {{table "compliance_minutes"}}
AS SELECT toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS Minute, 'otel_traces' AS Src, '' AS Listener, ServiceName,
       min(Timestamp) AS First, max(Timestamp) AS Last, count() AS Rows
FROM {{table "otel_traces"}}
GROUP BY Minute, ServiceName;

-- name: create compliance_minutes_logs_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "compliance_minutes_logs_mv"}}{{onCluster}}
TO {{table "compliance_minutes"}}
AS SELECT toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS Minute, 'otel_logs' AS Src, '' AS Listener, ServiceName,
       min(Timestamp) AS First, max(Timestamp) AS Last, count() AS Rows
FROM {{table "otel_logs"}}
GROUP BY Minute, ServiceName
