-- Events ingested per day: access events, TLS connections, spans and logs.
SELECT day, sum(n) AS population
FROM
(
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) GROUP BY day
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String}) GROUP BY day
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n FROM otel_traces
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) GROUP BY day
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n FROM otel_logs
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) GROUP BY day
)
GROUP BY day
ORDER BY day
