-- Events ingested per day: access events, TLS connections, spans and logs.
-- Whole days [rollup_from, rollup_to) are read from compliance_minutes, the
-- rest of the period from the source tables.
SELECT day, sum(n) AS population
FROM
(
    SELECT toDate(Minute, 'UTC') AS day, sum(Rows) AS n FROM compliance_minutes
    WHERE Minute >= toDateTime({rollup_from:DateTime64(9, 'UTC')}, 'UTC') AND Minute < toDateTime({rollup_to:DateTime64(9, 'UTC')}, 'UTC') AND if(Src = 'tls_connections', match(Listener, {scope_listeners:String}), match(ServiceName, {scope_services:String}))
    GROUP BY day
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')}) GROUP BY day
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')}) GROUP BY day
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n FROM otel_traces
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')}) GROUP BY day
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n FROM otel_logs
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String}) AND (Timestamp < {rollup_from:DateTime64(9, 'UTC')} OR Timestamp >= {rollup_to:DateTime64(9, 'UTC')}) GROUP BY day
)
GROUP BY day
ORDER BY day
