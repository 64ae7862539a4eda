-- Per-request and per-trace rollups for the compliance checks that judge
-- single requests (private_route_auth: the hops of a request joined by
-- request id) and single traces (the span part of clock_skew: each trace's
-- root span against its earliest child). Like the rollups of migration
-- 0011 they are kept by materialized views, count every source row in Rows
-- (no view filters rows out) and are read only for the whole days where
-- they agree with their source table; every other day is read from the
-- source table, so they make a report faster, never different.
--
-- Rows are per UTC day and service: a request or trace that crosses
-- midnight, or whose hops or spans arrived in different insert blocks or
-- belong to different services, has several rows, and the checks always
-- GROUP BY the request or trace again. Keeping the service in the key
-- lets a report's scope (bound at query time) drop the hops and spans of
-- services outside it, as the source-table queries do.
--
-- Existing rows: on one node each rollup is filled from its source table
-- once, before its view exists, and only while it is empty (running the
-- migration again never counts a row twice). On a cluster there is no
-- backfill: the days stored before the migration are read from the source
-- tables until they expire.
--
-- Unlike the rollups of 0011 these hold about as many rows as their source
-- tables (one per request or trace and service), so they have their source
-- tables' retention (a day expires whole, at its start plus the
-- retention; until its source rows are gone too it is read from them).

-- compliance_requests_daily: per day, service and request key (the
-- request id, else the trace id, else the hop itself, hashed as the check
-- hashes it): whether any hop was guarded (an authenticated principal, a
-- deny decision or a 401/403: the literals are the event package's
-- PrincipalAnonymous and DecisionDeny), the first hop's time, the highest
-- status, the distinct (route, path) pairs of the unguarded hops, on
-- which the check applies the public-route patterns at query time, and
-- the hops carrying any identity (revoked_identities' population).
-- name: create compliance_requests_daily
CREATE TABLE IF NOT EXISTS {{table "compliance_requests_daily"}}{{onCluster}}
(
    Day          Date,
    ServiceName  LowCardinality(String),
    Request      UInt64,
    Guarded      SimpleAggregateFunction(max, UInt8),
    First        SimpleAggregateFunction(min, DateTime64(9)),
    MaxStatus    SimpleAggregateFunction(max, UInt16),
    Open         SimpleAggregateFunction(groupUniqArrayArray, Array(Tuple(String, String))),
    Identified   SimpleAggregateFunction(sum, UInt64),
    Rows         SimpleAggregateFunction(sum, UInt64)
)
ENGINE = {{engine "AggregatingMergeTree" "compliance_requests_daily"}}
PARTITION BY Day
ORDER BY (Day, ServiceName, Request)
{{ttl "compliance_requests_daily"}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

-- name: distribute compliance_requests_daily
{{distributed "compliance_requests_daily" "rand()"}}

-- name: backfill compliance_requests_daily
{{if not .Cluster}}INSERT INTO {{name "compliance_requests_daily"}}
SELECT toDate(Timestamp, 'UTC') AS Day, ServiceName,
       multiIf(RequestId != '', cityHash64('r', RequestId), TraceId != '', cityHash64('t', TraceId),
               cityHash64(Timestamp, Source, ConnectionId, Path, ClientAddress, ClientPort)) AS Request,
       max((Principal != '' AND PrincipalType != 'anonymous') OR Decision = 'deny' OR Status IN (401, 403)) AS Guarded,
       min(Timestamp) AS First, max(Status) AS MaxStatus,
       groupUniqArrayIf((toString(Route), Path), NOT ((Principal != '' AND PrincipalType != 'anonymous') OR Decision = 'deny' OR Status IN (401, 403))) AS Open,
       countIf(Principal != '' OR PeerSpiffeId != '' OR PeerSerial != '' OR PeerFingerprint != '' OR JwtSubject != '') AS Identified,
       count() AS Rows
FROM {{name "access_events"}}
WHERE (SELECT count() FROM {{name "compliance_requests_daily"}}) = 0
GROUP BY Day, ServiceName, Request{{end}};

-- name: create compliance_requests_daily_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "compliance_requests_daily_mv"}}{{onCluster}}
TO {{table "compliance_requests_daily"}}
AS SELECT toDate(Timestamp, 'UTC') AS Day, ServiceName,
       multiIf(RequestId != '', cityHash64('r', RequestId), TraceId != '', cityHash64('t', TraceId),
               cityHash64(Timestamp, Source, ConnectionId, Path, ClientAddress, ClientPort)) AS Request,
       max((Principal != '' AND PrincipalType != 'anonymous') OR Decision = 'deny' OR Status IN (401, 403)) AS Guarded,
       min(Timestamp) AS First, max(Status) AS MaxStatus,
       groupUniqArrayIf((toString(Route), Path), NOT ((Principal != '' AND PrincipalType != 'anonymous') OR Decision = 'deny' OR Status IN (401, 403))) AS Open,
       countIf(Principal != '' OR PeerSpiffeId != '' OR PeerSerial != '' OR PeerFingerprint != '' OR JwtSubject != '') AS Identified,
       count() AS Rows
FROM {{table "access_events"}}
GROUP BY Day, ServiceName, Request;

-- compliance_traces_daily: per day, service and trace (its id's hash):
-- root spans and their latest start (a trace with exactly one root is
-- judged), child spans and their earliest start (the far future where a
-- row has none, so that min over rows ignores it).
-- name: create compliance_traces_daily
CREATE TABLE IF NOT EXISTS {{table "compliance_traces_daily"}}{{onCluster}}
(
    Day          Date,
    ServiceName  LowCardinality(String),
    Trace        UInt64,
    Roots        SimpleAggregateFunction(sum, UInt64),
    RootTs       SimpleAggregateFunction(max, DateTime64(9)),
    Children     SimpleAggregateFunction(sum, UInt64),
    ChildTs      SimpleAggregateFunction(min, DateTime64(9)),
    Rows         SimpleAggregateFunction(sum, UInt64)
)
ENGINE = {{engine "AggregatingMergeTree" "compliance_traces_daily"}}
PARTITION BY Day
ORDER BY (Day, ServiceName, Trace)
{{ttl "compliance_traces_daily"}}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1;

-- name: distribute compliance_traces_daily
{{distributed "compliance_traces_daily" "rand()"}}

-- name: backfill compliance_traces_daily
{{if not .Cluster}}INSERT INTO {{name "compliance_traces_daily"}}
SELECT toDate(Timestamp, 'UTC') AS Day, ServiceName, cityHash64(TraceId) AS Trace,
       countIf(ParentSpanId = '') AS Roots, maxIf(Timestamp, ParentSpanId = '') AS RootTs,
       countIf(ParentSpanId != '') AS Children,
       if(Children > 0, minIf(Timestamp, ParentSpanId != ''), toDateTime64('2261-12-31 23:59:59', 9, 'UTC')) AS ChildTs,
       count() AS Rows
FROM {{name "otel_traces"}}
WHERE (SELECT count() FROM {{name "compliance_traces_daily"}}) = 0
GROUP BY Day, ServiceName, Trace{{end}};

-- name: create compliance_traces_daily_mv
CREATE MATERIALIZED VIEW IF NOT EXISTS {{name "compliance_traces_daily_mv"}}{{onCluster}}
TO {{table "compliance_traces_daily"}}
AS SELECT toDate(Timestamp, 'UTC') AS Day, ServiceName, cityHash64(TraceId) AS Trace,
       countIf(ParentSpanId = '') AS Roots, maxIf(Timestamp, ParentSpanId = '') AS RootTs,
       countIf(ParentSpanId != '') AS Children,
       if(Children > 0, minIf(Timestamp, ParentSpanId != ''), toDateTime64('2261-12-31 23:59:59', 9, 'UTC')) AS ChildTs,
       count() AS Rows
FROM {{table "otel_traces"}}
GROUP BY Day, ServiceName, Trace
