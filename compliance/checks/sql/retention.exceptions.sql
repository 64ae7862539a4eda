-- Evidence tables that are empty, or whose oldest record is later than the
-- period's start plus slack_ms: the period is not fully covered.
SELECT toDate({from:DateTime64(9, 'UTC')}, 'UTC') AS day, concat('table ', t) AS subject, 'fail' AS severity, toUInt64(1) AS items,
       if(rows = 0, 'table is empty',
          concat('oldest record ', toString(oldest), ' UTC is after the period start ', toString({from:DateTime64(9, 'UTC')}), ' UTC')) AS detail
FROM
(
    SELECT 'otel_traces' AS t, toDateTime64(min(Timestamp), 9, 'UTC') AS oldest, count() AS rows FROM otel_traces
    UNION ALL SELECT 'otel_logs' AS t, toDateTime64(min(Timestamp), 9, 'UTC') AS oldest, count() AS rows FROM otel_logs
    UNION ALL SELECT 'access_events' AS t, toDateTime64(min(Timestamp), 9, 'UTC') AS oldest, count() AS rows FROM access_events
    UNION ALL SELECT 'tls_connections' AS t, toDateTime64(min(Timestamp), 9, 'UTC') AS oldest, count() AS rows FROM tls_connections
    UNION ALL SELECT 'ingest_ledger' AS t, toDateTime64(min(InsertedAt), 9, 'UTC') AS oldest, count() AS rows FROM ingest_ledger
)
WHERE has({tables:Array(String)}, t)
  AND (rows = 0 OR oldest > {from:DateTime64(9, 'UTC')} + toIntervalMillisecond({slack_ms:UInt64}))
ORDER BY subject
