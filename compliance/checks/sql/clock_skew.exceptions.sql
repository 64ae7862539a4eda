-- Per day and source node: events stamped more than max_future_ms after
-- they were ingested (clock ahead: fail) or ingested more than max_lag_ms
-- after their time (clock behind or ingest delay: warn). Per day and
-- service: traces with a span starting more than max_span_skew_ms before
-- the trace's root span (no child can start before the root, so some
-- parent/child pair on the way disagrees about the time: fail).
SELECT day, subject, severity, count() AS items,
       concat(toString(count()), ' events; worst ', toString(max(abs(skew_ms))), ' ms ',
              if(severity = 'fail', 'ahead of ingest', 'behind ingest')) AS detail
FROM
(
    SELECT toDate(Timestamp, 'UTC') AS day, dateDiff('millisecond', IngestTimestamp, Timestamp) AS skew_ms,
           if(skew_ms > {max_future_ms:Int64}, 'fail', 'warn') AS severity,
           concat(if(severity = 'fail', 'clock ahead: ', 'ingest lag: '), Source, ' ', if(Node != '', Node, ServiceName)) AS subject
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND (dateDiff('millisecond', IngestTimestamp, Timestamp) > {max_future_ms:Int64}
           OR dateDiff('millisecond', Timestamp, IngestTimestamp) > {max_lag_ms:Int64})
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, dateDiff('millisecond', IngestTimestamp, Timestamp) AS skew_ms,
           if(skew_ms > {max_future_ms:Int64}, 'fail', 'warn') AS severity,
           concat(if(severity = 'fail', 'clock ahead: ', 'ingest lag: '), 'tls ', if(Node != '', Node, Listener)) AS subject
    FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
      AND (dateDiff('millisecond', IngestTimestamp, Timestamp) > {max_future_ms:Int64}
           OR dateDiff('millisecond', Timestamp, IngestTimestamp) > {max_lag_ms:Int64})
)
GROUP BY day, subject, severity
UNION ALL
SELECT toDate(root_ts, 'UTC') AS day, concat('span before root: ', child_service, ' under ', root_service) AS subject,
       'fail' AS severity, count() AS items,
       concat(toString(count()), ' traces; worst ', toString(max(dateDiff('millisecond', child_ts, root_ts))), ' ms before the root span') AS detail
FROM
(
    SELECT cityHash64(TraceId) AS trace, anyIf(Timestamp, ParentSpanId = '') AS root_ts, anyIf(ServiceName, ParentSpanId = '') AS root_service,
           minIf((Timestamp, ServiceName), ParentSpanId != '') AS child, child.1 AS child_ts, child.2 AS child_service,
           countIf(ParentSpanId = '') AS roots, countIf(ParentSpanId != '') AS children
    FROM otel_traces
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
    GROUP BY trace
)
WHERE roots = 1 AND children > 0 AND dateDiff('millisecond', child_ts, root_ts) > {max_span_skew_ms:Int64}
GROUP BY day, subject
ORDER BY day, subject
