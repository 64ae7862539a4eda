-- Rows in scope in the evidence tables (whole tables; the ledger all of
-- it), reported on the period's first day.
SELECT toDate({from:DateTime64(9, 'UTC')}, 'UTC') AS day, sum(rows) AS population
FROM
(
    SELECT 'otel_traces' AS t, count() AS rows FROM otel_traces WHERE match(ServiceName, {scope_services:String})
    UNION ALL SELECT 'otel_logs' AS t, count() AS rows FROM otel_logs WHERE match(ServiceName, {scope_services:String})
    UNION ALL SELECT 'access_events' AS t, count() AS rows FROM access_events WHERE match(ServiceName, {scope_services:String})
    UNION ALL SELECT 'tls_connections' AS t, count() AS rows FROM tls_connections WHERE match(Listener, {scope_listeners:String})
    UNION ALL SELECT 'ingest_ledger' AS t, count() AS rows FROM ingest_ledger
)
WHERE has({tables:Array(String)}, t)
