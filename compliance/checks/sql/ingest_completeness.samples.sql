-- The silences themselves (each gap between consecutive events of a
-- source longer than max_gap_ms), up to {samples} per day and source.
WITH
    minutes AS
    (
        SELECT concat('access_events/', Source) AS src, toStartOfMinute(Timestamp) AS m, min(Timestamp) AS first, max(Timestamp) AS last
        FROM access_events
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
        GROUP BY src, m
        UNION ALL
        SELECT 'tls_connections' AS src, toStartOfMinute(Timestamp) AS m, min(Timestamp) AS first, max(Timestamp) AS last
        FROM tls_connections
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
        GROUP BY src, m
        UNION ALL
        SELECT 'otel_traces' AS src, toStartOfMinute(Timestamp) AS m, min(Timestamp) AS first, max(Timestamp) AS last
        FROM otel_traces
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
        GROUP BY src, m
        UNION ALL
        SELECT 'otel_logs' AS src, toStartOfMinute(Timestamp) AS m, min(Timestamp) AS first, max(Timestamp) AS last
        FROM otel_logs
        WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
        GROUP BY src, m
    ),
    gaps AS
    (
        SELECT src, first AS resumed,
               lagInFrame(last) OVER (PARTITION BY src ORDER BY m ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS stopped,
               row_number() OVER (PARTITION BY src ORDER BY m) AS rn
        FROM minutes
    )
SELECT toDate(resumed, 'UTC') AS day, concat('source ', src, ' silent') AS subject, resumed AS ts, '' AS TraceId, '' AS RequestId,
       concat('no events from ', toString(stopped), ' to ', toString(resumed), ' UTC (',
              toString(round(dateDiff('millisecond', stopped, resumed) / 60000, 1)), ' min)') AS detail
FROM gaps
WHERE rn > 1 AND dateDiff('millisecond', stopped, resumed) > {max_gap_ms:UInt64}
  AND has({subjects:Array(String)}, subject)
ORDER BY day, subject, cityHash64(src, resumed, {seed:UInt64})
LIMIT {samples:UInt32} BY day, subject
