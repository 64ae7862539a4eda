-- The silences themselves (each gap between consecutive events of a
-- source longer than max_gap_ms), up to {samples} per day and source.
-- Whole days [rollup_from, rollup_to) are read from compliance_minutes, the
-- rest of the period from the source tables.
WITH
    minutes AS
    (
        SELECT src, m, min(f) AS first, max(l) AS last
        FROM
        (
            SELECT toString(Src) AS src, Minute AS m, min(First) AS f, max(Last) AS l
            FROM compliance_minutes
            WHERE Minute >= toDateTime({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Minute < toDateTime({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND if(Src = 'tls_connections', match(Listener, {scope_listeners:String}), match(ServiceName, {scope_services:String}))
            GROUP BY src, m
            UNION ALL
            SELECT concat('access_events/', Source) AS src, toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS m, min(Timestamp) AS f, max(Timestamp) AS l
            FROM access_events
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
            GROUP BY src, m
            UNION ALL
            SELECT 'tls_connections' AS src, toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS m, min(Timestamp) AS f, max(Timestamp) AS l
            FROM tls_connections
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
            GROUP BY src, m
            UNION ALL
            SELECT 'otel_traces' AS src, toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS m, min(Timestamp) AS f, max(Timestamp) AS l
            FROM otel_traces
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
            GROUP BY src, m
            UNION ALL
            SELECT 'otel_logs' AS src, toStartOfMinute(toDateTime(Timestamp, 'UTC')) AS m, min(Timestamp) AS f, max(Timestamp) AS l
            FROM otel_logs
            WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')})
            GROUP BY src, m
        )
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
