-- Per day and source node: events stamped more than max_future_ms after
-- they were ingested (clock ahead: fail) or ingested more than max_lag_ms
-- after their time (clock behind or ingest delay: warn). Per day and
-- service: traces with a span starting more than max_span_skew_ms before
-- the trace's root span (no child can start before the root, so some
-- parent/child pair on the way disagrees about the time: fail).
-- The event times of whole days [rollup_from, rollup_to) are read from
-- compliance_skew_daily and the spans of those days from
-- compliance_traces_daily (per trace, service and day; regrouped by trace,
-- since a trace's rows may span days, services and insert blocks); the rest
-- of the period from the source tables.
WITH spans AS
(
    SELECT Trace AS trace, Roots AS r, RootTs AS r_ts, Children AS c, ChildTs AS c_ts, ServiceName AS service
    FROM compliance_traces_daily
    WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC')
      AND match(ServiceName, {scope_services:String})
    UNION ALL
    SELECT cityHash64(TraceId) AS trace, ParentSpanId = '' AS r, if(ParentSpanId = '', Timestamp, toDateTime64(0, 9)) AS r_ts,
           ParentSpanId != '' AS c, if(ParentSpanId != '', Timestamp, toDateTime64('2261-12-31 23:59:59', 9, 'UTC')) AS c_ts,
           ServiceName AS service
    FROM otel_traces
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
),
skewed AS
(
    -- numbers only (times as Int64 nanoseconds, which aggregate faster
    -- than DateTime64): the traces with one root and a child starting
    -- more than max_span_skew_ms before it
    SELECT trace FROM spans
    GROUP BY trace
    HAVING sum(r) = 1 AND sum(c) > 0
       AND max(toUnixTimestamp64Nano(r_ts)) - min(toUnixTimestamp64Nano(c_ts)) > {max_span_skew_ms:Int64} * 1000000
)
SELECT day, subject, severity, sum(n) AS items,
       concat(toString(sum(n)), ' events; worst ', toString(max(worst)), ' ms ',
              if(severity = 'fail', 'ahead of ingest', 'behind ingest')) AS detail
FROM
(
    SELECT Day AS day, if(SkewMs > {max_future_ms:Int64}, 'fail', 'warn') AS severity,
           concat(if(severity = 'fail', 'clock ahead: ', 'ingest lag: '), Source, ' ', Reporter) AS subject,
           sum(Rows) AS n, max(abs(SkewMs)) AS worst
    FROM compliance_skew_daily
    WHERE Day >= toDate({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Day < toDate({rollup_to:DateTime64(9, 'UTC')}, 'UTC')
      AND if(Origin = 'tls_connections', match(Listener, {scope_listeners:String}), match(ServiceName, {scope_services:String}))
      AND (SkewMs > {max_future_ms:Int64} OR -SkewMs > {max_lag_ms:Int64})
    GROUP BY day, subject, severity
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, if(dateDiff('millisecond', IngestTimestamp, Timestamp) > {max_future_ms:Int64}, 'fail', 'warn') AS severity,
           concat(if(severity = 'fail', 'clock ahead: ', 'ingest lag: '), Source, ' ', if(Node != '', Node, ServiceName)) AS subject,
           count() AS n, max(abs(dateDiff('millisecond', IngestTimestamp, Timestamp))) AS worst
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
      AND (dateDiff('millisecond', IngestTimestamp, Timestamp) > {max_future_ms:Int64}
           OR dateDiff('millisecond', Timestamp, IngestTimestamp) > {max_lag_ms:Int64})
    GROUP BY day, subject, severity
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, if(dateDiff('millisecond', IngestTimestamp, Timestamp) > {max_future_ms:Int64}, 'fail', 'warn') AS severity,
           concat(if(severity = 'fail', 'clock ahead: ', 'ingest lag: '), 'tls ', if(Node != '', Node, Listener)) AS subject,
           count() AS n, max(abs(dateDiff('millisecond', IngestTimestamp, Timestamp))) AS worst
    FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
      AND (dateDiff('millisecond', IngestTimestamp, Timestamp) > {max_future_ms:Int64}
           OR dateDiff('millisecond', Timestamp, IngestTimestamp) > {max_lag_ms:Int64})
    GROUP BY day, subject, severity
)
GROUP BY day, subject, severity
UNION ALL
SELECT toDate(root_ts, 'UTC') AS day, concat('span before root: ', child.2, ' under ', root_service) AS subject,
       'fail' AS severity, count() AS items,
       concat(toString(count()), ' traces; worst ', toString(max(dateDiff('millisecond', child.1, root_ts))), ' ms before the root span') AS detail
FROM
(
    SELECT trace, max(r_ts) AS root_ts, anyIf(service, r > 0) AS root_service, min((c_ts, service)) AS child
    FROM spans
    WHERE trace IN (SELECT trace FROM skewed)
    GROUP BY trace
)
WHERE dateDiff('millisecond', child.1, root_ts) > {max_span_skew_ms:Int64}
GROUP BY day, subject
ORDER BY day, subject
