-- Successful TLS connections at the tap, and TLS requests seen at the edge
-- sources, per day.
SELECT day, sum(n) AS population
FROM
(
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n
    FROM tls_connections
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(Listener, {scope_listeners:String})
      AND Established
    GROUP BY day
    UNION ALL
    SELECT toDate(Timestamp, 'UTC') AS day, count() AS n
    FROM access_events
    WHERE Timestamp >= {from:DateTime64(9, 'UTC')} AND Timestamp < {to:DateTime64(9, 'UTC')} AND match(ServiceName, {scope_services:String})
      AND Source IN {edge_sources:Array(String)} AND TlsVersion != ''
    GROUP BY day
)
GROUP BY day
ORDER BY day
