-- Evidence tables that hold no record in scope, or whose oldest record in
-- scope (the ledger has no service: all of it) is later than the period's
-- start plus slack_ms: the period is not fully covered.
SELECT toDate({from:DateTime64(9, 'UTC')}, 'UTC') AS day, concat('table ', t) AS subject, 'fail' AS severity, toUInt64(1) AS items,
       if(rows = 0, 'no record in scope',
          concat('oldest record ', toString(oldest), ' UTC is after the period start ', toString({from:DateTime64(9, 'UTC')}), ' UTC')) AS detail
FROM
(
    SELECT 'otel_traces' AS t, toDateTime64(min(Timestamp), 9, 'UTC') AS oldest, count() AS rows FROM otel_traces WHERE match(ServiceName, {scope_services:String})
    UNION ALL SELECT 'otel_logs' AS t, toDateTime64(min(Timestamp), 9, 'UTC') AS oldest, count() AS rows FROM otel_logs WHERE match(ServiceName, {scope_services:String})
    UNION ALL SELECT 'access_events' AS t, toDateTime64(min(Timestamp), 9, 'UTC') AS oldest, count() AS rows FROM access_events WHERE match(ServiceName, {scope_services:String})
    UNION ALL SELECT 'tls_connections' AS t, toDateTime64(min(Timestamp), 9, 'UTC') AS oldest, count() AS rows FROM tls_connections WHERE match(Listener, {scope_listeners:String})
    UNION ALL SELECT 'ingest_ledger' AS t, toDateTime64(min(InsertedAt), 9, 'UTC') AS oldest, count() AS rows FROM ingest_ledger
)
WHERE has({tables:Array(String)}, t)
  AND (rows = 0 OR oldest > {from:DateTime64(9, 'UTC')} + toIntervalMillisecond({slack_ms:UInt64}))
ORDER BY subject
